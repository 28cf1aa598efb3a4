"""bench reports: the reports of the latest closed quarter (the reporting period: docs/privacy.md) for 20 practices
x 10 clinicians over 100,000 visits, 2 workers (<= 60 s; the target was set for a month, a quarter holds three).

Setup (not timed): the 100,000-visit seed, VACUUM ANALYZE, a Celery worker (`celery -A healing worker -c 2`)
on Redis (database 13 by default: --broker-url), reports written to a temporary folder.
Ours: from the first `manage.py request_report --practice SLUG --start ... --end ...` to the last report
finished, each waited for with the same command's `--wait` (which prints {"report": ID, "status": ..., "html",
"zip"}). Every practice report fans out one task per clinician, so 20 reports are 20 + 200 + 20 tasks.
There is no raw baseline for a whole report run; the figure is compared with the target.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as bench  # noqa: E402

TARGET_S = 60


def request(slug: str, start, end, wait: bool = False) -> dict:
    from django.core.management import call_command

    out = io.StringIO()
    call_command("request_report", practice=slug, start=str(start), end=str(end), wait=wait, stdout=out)
    return json.loads(out.getvalue().strip().splitlines()[-1])


def main():
    def extra(parser):
        parser.add_argument("--broker-url", default=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/13"))

    args = bench.arguments("reports", __doc__, extra)
    size = (
        {"practices": 2, "clinicians": 3, "visits": 1500}
        if args.small
        else {"practices": 20, "clinicians": 10, "visits": 100_000}
    )
    reports_dir = tempfile.mkdtemp(prefix="healing-bench-reports-")
    os.environ.update({"CELERY_BROKER_URL": args.broker_url, "REPORTS_DIR": reports_dir, "CELERY_TASK_ALWAYS_EAGER": "0"})
    with bench.bench_database("reports", args.database_url, args.keep) as url:
        import redis
        from django.utils import timezone

        from demo.seed import seed_demo
        from plumbing.period import released_quarter

        redis.Redis.from_url(args.broker_url).flushdb()  # this benchmark's own broker database: no stale tasks
        bench.log(f"reports: seeding {size['visits']} visits")
        seed_demo(size["practices"], size["clinicians"], size["visits"], seed=7)
        bench.vacuum_analyze()
        quarter = released_quarter(timezone.localdate(), timezone.localdate())
        start, end = quarter.start, quarter.end
        slugs = [f"demo-{n}" for n in range(1, size["practices"] + 1)]

        env = {**os.environ, "DATABASE_URL": url}
        celery = Path(sys.executable).with_name("celery")
        worker = subprocess.Popen(
            [str(celery), "-A", "healing", "worker", "-c", "2", "--loglevel", "warning", "--without-mingle",
             "--without-gossip", "-n", f"bench-{os.getpid()}@%h"],
            cwd=bench.ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(3 if args.small else 5)  # the worker's start-up is not the reports' cost
            if worker.poll() is not None:
                raise SystemExit(f"reports: the worker stopped: {worker.stderr.read()[-2000:]}")
            load = bench.machine()
            bench.log(f"reports: requesting {len(slugs)} reports for {start}..{end}")
            began = time.perf_counter()
            requested = [request(slug, start, end) for slug in slugs]
            finished = [request(slug, start, end, wait=True) for slug in slugs]
            ours = time.perf_counter() - began
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        statuses = {r["status"] for r in finished}
        bench.log(f"reports: {len(finished)} reports {statuses} in {ours:.1f} s")
        from reports.models import Report

        tasks = Report.objects.count() + sum(r.parts.count() for r in Report.objects.all()) + Report.objects.count()

    bench.emit(
        {
            "bench": "reports",
            "small": args.small,
            "data": {**size, "period": f"{start}..{end}", "reports": len(requested), "tasks_about": tasks},
            "ours_s": round(ours, 2),
            "ours": "first request_report to the last report done, 2 worker processes",
            "baseline_s": None,
            "baseline": "none: compared with the target",
            "ratio": bench.ratio(ours, TARGET_S),
            "ratio_to": "target",
            "statuses": sorted(statuses),
            "target": {"ours_s_max": TARGET_S},
            "met": ours <= TARGET_S and statuses == {"done"},
            "machine_before": load,
        }
    )


if __name__ == "__main__":
    main()
