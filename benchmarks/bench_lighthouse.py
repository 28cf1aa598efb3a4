"""bench lighthouse (the "pages" target): the practice dashboard and "My relationships" in Lighthouse, desktop
and mobile, on demo data.

The site as production serves it: seed_demo's data (its command's default sizes) on PostgreSQL, static files
collected and compressed (`collectstatic`, as the Docker image does; WhiteNoise serves the gzip/brotli copies),
gunicorn with DEBUG off. A manager and a clinician of the first demo practice sign in through the sign-in form;
Lighthouse 12 (from the npm registry, `npx --yes lighthouse@12`) loads each page with their session cookie in
Chromium (CHROME_PATH, default /usr/bin/chromium), with its mobile defaults (simulated slow 4G and a 4x slower
CPU) and with `--preset=desktop`. With --runs N, each figure is the median of N runs.

Targets (docs/performance.md): performance >= 90, total blocking time <= 300 ms, accessibility 100.
Prints one JSON object: {"pages": [{page, form_factor, performance, accessibility, tbt_ms, cls, lcp_ms, ...}],
"met": ..., and the keys every benchmark has}. Each row also lists the accessibility audits that failed, so a
score under 100 says why.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as bench  # noqa: E402
from bench_submit import PRODUCTION_LIKE, free_port, wait_until_serving  # noqa: E402

TARGETS = {"performance": 90, "tbt_ms": 300, "accessibility": 100}
LIGHTHOUSE = ["npx", "--yes", "lighthouse@12"]
CHROME_FLAGS = ("--headless=new --no-sandbox --disable-gpu --disable-background-networking "
                "--disable-component-update --disable-sync --no-first-run")
FORM_FACTORS = {"mobile": [], "desktop": ["--preset=desktop"]}


def sign_in(base: str, username: str, password: str) -> str:
    """The Cookie header of a signed-in session, from the sign-in form as a browser submits it."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login = base + "/accounts/login/"
    page = opener.open(login).read().decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": csrf})
    request = urllib.request.Request(login, data=body.encode(), headers={"Referer": login})
    opener.open(request).read()
    cookies = {cookie.name: cookie.value for cookie in jar}
    if "sessionid" not in cookies:
        raise RuntimeError(f"{username} could not sign in")
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


# Lighthouse's own trace sometimes misses the navigation on a busy machine ("NO_NAVSTART"): such a run says
# nothing about the page, so it is run again, at most this many times in all.
ATTEMPTS = 3


def lighthouse(url: str, cookie: str, form_factor: str, out: Path) -> dict:
    """One Lighthouse run (its whole report written to `out`); the figures we report from it."""
    env = {**os.environ, "CHROME_PATH": os.environ.get("CHROME_PATH", "/usr/bin/chromium")}
    for attempt in range(1, ATTEMPTS + 1):
        run = subprocess.run(
            [*LIGHTHOUSE, url, "--quiet", "--output=json", f"--output-path={out}",
             "--only-categories=performance,accessibility", f"--chrome-flags={CHROME_FLAGS}",
             f"--extra-headers={json.dumps({'Cookie': cookie})}", *FORM_FACTORS[form_factor]],
            env=env, timeout=300, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        report = json.loads(out.read_text()) if run.returncode == 0 else {"runtimeError": run.stderr[-500:]}
        if not report.get("runtimeError"):
            break
        bench.log(f"pages: Lighthouse failed (attempt {attempt} of {ATTEMPTS}):", str(report["runtimeError"])[:200])
    else:
        raise RuntimeError(report["runtimeError"])
    if report["finalDisplayedUrl"].split("?")[0] != url.split("?")[0]:
        raise RuntimeError(f"Lighthouse ended on {report['finalDisplayedUrl']}, not {url}: not signed in?")
    audits, categories = report["audits"], report["categories"]
    failing = [ref["id"] for ref in categories["accessibility"]["auditRefs"]
               if ref["weight"] and audits[ref["id"]]["score"] is not None and audits[ref["id"]]["score"] < 1]
    return {
        "performance": round(categories["performance"]["score"] * 100),
        "accessibility": round(categories["accessibility"]["score"] * 100),
        "tbt_ms": round(audits["total-blocking-time"]["numericValue"]),
        "cls": round(audits["cumulative-layout-shift"]["numericValue"], 3),
        "lcp_ms": round(audits["largest-contentful-paint"]["numericValue"]),
        "fcp_ms": round(audits["first-contentful-paint"]["numericValue"]),
        "transfer_kb": round(audits["total-byte-weight"]["numericValue"] / 1024),
        "accessibility_failures": failing,
    }


def median_run(runs: list[dict]) -> dict:
    row = {key: statistics.median(run[key] for run in runs) for key in runs[0] if key != "accessibility_failures"}
    row["accessibility_failures"] = sorted({audit for run in runs for audit in run["accessibility_failures"]})
    return row


def main():
    args = bench.arguments(
        "lighthouse", __doc__,
        extra=lambda p: (
            p.add_argument("--runs", type=int, default=1, help="Lighthouse runs per page and form factor"),
            p.add_argument("--reports", type=Path, help="Keep Lighthouse's JSON reports in this folder"),
            p.add_argument("--form-factors", default="mobile,desktop", help="Comma-separated: mobile, desktop"),
            p.add_argument("--pages", default="dashboard,my_relationships", help="Comma-separated page names"),
        ),
    )
    chrome = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
    if not shutil.which("npx") or not Path(chrome).exists():
        bench.emit({"bench": "lighthouse", "small": args.small, "skipped": f"needs node's npx and Chromium at {chrome}",
                    "data": None, "ours_s": None, "baseline_s": None, "ratio": None, "target": None, "met": None})
        return
    if args.reports:
        args.reports.mkdir(parents=True, exist_ok=True)
    with bench.bench_database("lighthouse", args.database_url, keep=args.keep) as url, \
            tempfile.TemporaryDirectory() as tmp:
        from demo.seed import DEMO_PASSWORD, seed_demo
        from django.urls import reverse

        # The command's defaults, as `make run` seeds them (--small: fewer visits, same pages).
        demo = seed_demo(practices=2, clinicians=6, visits=300 if args.small else 1200, seed=7)
        practice = demo.first_practice.slug
        pages = [
            ("dashboard", reverse("practice_dashboard", args=[practice]), "manager1"),
            ("my_relationships", reverse("my_relationships", args=[practice]), demo.first_clinician.username),
        ]
        env = {**os.environ, **PRODUCTION_LIKE, "DATABASE_URL": url, "WHITENOISE_USE_FINDERS": "0"}
        bench.log("pages: collectstatic (compressed copies, as the image has them)")
        subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity=0"],
                       cwd=bench.ROOT, env=env, check=True)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        gunicorn = Path(sys.executable).with_name("gunicorn")
        server = subprocess.Popen(
            [str(gunicorn), "healing.wsgi:application", "--bind", f"127.0.0.1:{port}", "--config", "gunicorn.conf.py",
             "--workers", "2", "--log-level", "warning", "--access-logfile", "/dev/null"],
            cwd=bench.ROOT, env=env, start_new_session=True,
        )
        rows = []
        try:
            wait_until_serving(port)
            cookies = {username: sign_in(base, username, DEMO_PASSWORD) for _name, _path, username in pages}
            for name, path, username in pages:
                if name not in args.pages.split(","):
                    continue
                for form_factor in args.form_factors.split(","):
                    runs = []
                    for i in range(args.runs):
                        bench.log(f"pages: {name} {form_factor} run {i + 1}/{args.runs}")
                        out = (args.reports or Path(tmp)) / f"{name}-{form_factor}-{i + 1}.json"
                        runs.append(lighthouse(base + path, cookies[username], form_factor, out))
                    rows.append({"page": name, "form_factor": form_factor, **median_run(runs)})
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    met = all(row["performance"] >= TARGETS["performance"] and row["tbt_ms"] <= TARGETS["tbt_ms"]
              and row["accessibility"] >= TARGETS["accessibility"] for row in rows)
    bench.emit({
        "bench": "lighthouse",
        "small": args.small,
        "tool": f"{' '.join(LIGHTHOUSE)} (mobile defaults; --preset=desktop), Chromium {chrome}",
        "runs": args.runs,
        "data": "seed_demo --practices 2 --clinicians 6 --visits " + ("300" if args.small else "1200"),
        "pages": rows,
        # The common keys of every benchmark: here the slowest largest contentful paint, with no baseline (the
        # targets are scores, in "pages").
        "ours_s": max(row["lcp_ms"] for row in rows) / 1000 if rows else None,
        "baseline_s": None,
        "ratio": None,
        "target": "each page, desktop and mobile: performance >= 90, total blocking time <= 300 ms, accessibility 100",
        "met": met,
    })


if __name__ == "__main__":
    main()
