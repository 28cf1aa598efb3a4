"""Reports built by real Celery workers: separate processes, Redis as the broker, the test PostgreSQL database.

The worker and the request_report command run as subprocesses (as an operator would run them), so they see only
what the test committed (transaction=True) and talk to the broker named here, whatever this process uses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.db import connection

from reports import services
from reports.models import Report, ReportPart
from tests import factories
from tests.reports.helpers import answered_dyad, export_means, period, read_zip

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(django_settings.BASE_DIR)
CELERY = str(Path(sys.executable).with_name("celery"))
VISIBILITY_TIMEOUT = 6  # seconds: how long Redis keeps a dead worker's unacknowledged task before handing it out again
TEST_DELAY = 2  # seconds each clinician section takes in the kill test, so there is a moment to kill the worker


def broker_url() -> str:
    """CI's Redis database (CELERY_BROKER_URL) when it names one, else a dedicated one (db 14)."""
    url = os.environ.get("CELERY_BROKER_URL", "")
    return url if url.startswith("redis://") else "redis://127.0.0.1:6379/14"


def database_url() -> str:
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def redis_broker():
    import redis

    url = broker_url()
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"needs Redis at {url} for a real Celery worker (CI starts one)")
    client.flushdb()
    yield url
    client.flushdb()


@pytest.fixture
def worker_env(redis_broker, tmp_path, settings):
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("CELERY_", "REPORTS_", "PYTEST_", "DATABASE_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="healing.settings",
        DATABASE_URL=database_url(),
        DATABASE_POOL="0",
        CELERY_BROKER_URL=redis_broker,
        CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT),
        REPORTS_DIR=str(settings.REPORTS_DIR),
        HEALING_VAR_DIR=str(tmp_path / "var"),
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def workers(worker_env, tmp_path):
    """Start worker processes (each in its own process group); whatever is left is stopped at teardown."""
    started: list[subprocess.Popen] = []

    def start(name: str, **extra_env) -> subprocess.Popen:
        log = open(tmp_path / f"{name}.log", "wb")
        process = subprocess.Popen(
            [CELERY, "-A", "healing", "worker", "--pool=prefork", "-c", "2", "--loglevel=info", "-n", f"{name}@%h",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=BASE_DIR, env={**worker_env, **extra_env}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in started:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def kill(process: subprocess.Popen) -> None:
    """SIGKILL the whole worker: the main process and its pool children, with no chance to clean up."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def request_report(env: dict, *args: str, timeout: float = 180) -> dict:
    start, end = period()
    result = subprocess.run(
        [sys.executable, "manage.py", "request_report", "--practice", "a", "--start", start.isoformat(),
         "--end", end.isoformat(), *args],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=timeout,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def wait_for(condition, timeout: float, what: str, logs: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(logs.glob("*.log")))
    pytest.fail(f"timed out waiting for {what}\n{tails}")


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_a_worker_builds_the_report_and_its_numbers_match_the_export(workers, worker_env, scored_practice, tmp_path):  # noqa: F811
    workers("one")

    result = request_report(worker_env, "--wait", "--timeout", "120")

    report = Report.objects.get(pk=result["report"])
    assert result["status"] == "done" == report.status
    assert Path(result["html"]) == services.report_file(report, "html")
    assert Path(result["zip"]) == services.report_file(report, "zip")
    spanish = services.report_file(report, "html", language="es")
    assert spanish.name.endswith(".es.html") and spanish.exists()
    assert [p.name for p in files_under(tmp_path / "reports")] == sorted(
        [Path(result["html"]).name, spanish.name, Path(result["zip"]).name]
    )
    assert (report.claims, report.builds) == (1, 1)
    assert list(ReportPart.objects.filter(report=report).values_list("claims", flat=True)) == [1, 1]

    files = read_zip(report)
    practice_rows = {r["domain"]: r for r in files["domains.csv"] if r["scope"] == "practice" and r["respondent"] == "patient"}
    expected = export_means("a", report.start, report.end)
    assert expected and {d: float(practice_rows[d]["mean"]) for d in expected} == pytest.approx(expected, abs=1e-9)
    small = [r for r in files["domains.csv"] if r["clinician"] == "clin-a2"]
    assert small and all(r["suppressed"] == "1" and r["mean"] == "" for r in small)
    assert Path(result["html"]).read_text().count("plotly.js v") == 1


def test_a_report_survives_a_killed_worker_and_completes_once(workers, worker_env, scored_practice, tmp_path):  # noqa: F811
    extra = factories.member(scored_practice, "clin-a3", "clinician")
    answered_dyad(scored_practice, extra, "A3-0", 4)
    first = workers("first", REPORTS_TEST_DELAY=str(TEST_DELAY))

    report_id = request_report(worker_env)["report"]

    def parts_in_flight():
        return list(ReportPart.objects.filter(report_id=report_id, claims__gte=1, done_at__isnull=True)
                    .values_list("clinician_id", flat=True))

    wait_for(parts_in_flight, 60, "the first worker to start on a clinician", tmp_path)
    kill(first)
    interrupted = set(parts_in_flight())  # claimed and unfinished when the worker died
    assert interrupted
    assert Report.objects.get(pk=report_id).status == Report.Status.RUNNING
    # Redis hands a dead worker's unacknowledged tasks out again once the visibility timeout has passed; a new
    # worker looks for them as it starts.
    time.sleep(VISIBILITY_TIMEOUT + 1)
    workers("second", REPORTS_TEST_DELAY=str(TEST_DELAY))

    wait_for(lambda: Report.objects.get(pk=report_id).finished, 120, "the report to finish", tmp_path)

    report = Report.objects.get(pk=report_id)
    assert report.status == Report.Status.DONE, report.error
    assert (report.claims, report.builds, report.attempt) == (1, 1, 1)
    assert (report.parts_done, report.parts_total) == (3, 3)
    claims = dict(ReportPart.objects.filter(report=report).values_list("clinician_id", "claims"))
    assert all(claims[c] == 2 for c in interrupted)  # taken again by the second worker after the kill
    assert all(n == 1 for c, n in claims.items() if c not in interrupted)
    assert not ReportPart.objects.filter(report=report, done_at__isnull=True).exists()
    names = [p.name for p in files_under(tmp_path / "reports")]
    assert names == sorted([services.report_file(report, "html").name, services.report_file(report, "html", "es").name,
                            services.report_file(report, "zip").name])
    assert not any(name.endswith(".tmp") for name in names)
    rows = read_zip(report)["domains.csv"]
    assert {r["clinician"] for r in rows} == {"", "clin-a", "clin-a2", "clin-a3"}
