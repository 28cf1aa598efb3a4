"""The embedded default of `make run`: SQLite and kombu's filesystem broker, no server, a real worker process.

Everything runs as subprocesses in a fresh HEALING_VAR_DIR, exactly as a fresh clone would, whatever database
and broker this test process uses.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.worker

BASE_DIR = Path(settings.BASE_DIR)
CELERY = str(Path(sys.executable).with_name("celery"))


def manage(env, *args, timeout=180) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def embedded_env(tmp_path, **extra) -> dict:
    """A fresh clone's environment: no database, broker or report settings from this test process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CELERY_", "REPORTS_", "PYTEST_"))}
    env.update(HEALING_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="healing.settings",
               EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend", **extra)
    return env


def test_a_report_builds_on_sqlite_with_the_filesystem_broker(tmp_path):
    env = embedded_env(tmp_path)
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo", "--practices", "1", "--clinicians", "3", "--visits", "120")
    log = open(tmp_path / "worker.log", "wb")
    # As `make run` starts it: default settings, one process.
    worker = subprocess.Popen(
        [CELERY, "-A", "healing", "worker", "--loglevel=info", "--concurrency=1"],
        cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        today = dt.date.today()
        out = manage(env, "request_report", "--practice", "demo-1", "--start", str(today - dt.timedelta(days=365)),
                     "--end", str(today), "--wait", "--timeout", "120")
    except BaseException:
        print((tmp_path / "worker.log").read_text(errors="replace")[-4000:])
        raise
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=20)

    result = json.loads(out.strip().splitlines()[-1])
    assert result["status"] == "done"
    html, archive = Path(result["html"]), Path(result["zip"])
    assert html.is_relative_to(tmp_path / "var" / "reports") and html.stat().st_size > 1_000_000  # plotly.js inside
    assert {"domains.csv", "codebook.csv"} <= set(zipfile.ZipFile(archive).namelist())
    assert list((tmp_path / "var" / "broker" / "queue").iterdir()) == []  # every message was taken and acknowledged


BURST = """
import datetime as dt
from django.utils import timezone
from plumbing.period import released_quarter
from reports import services
from reports.models import Report
from reports.selectors import practice_clinicians
from surveys.models import Practice

practice = Practice.objects.get(slug="demo-1")
quarter, asked = released_quarter(timezone.localdate(), timezone.localdate()), []
while len(asked) < 50:
    asked.append(services.request_report(practice, quarter.start, quarter.end))
    for clinician in practice_clinicians(practice):
        if len(asked) < 50:
            asked.append(services.request_report(practice, quarter.start, quarter.end, kind=Report.Kind.CLINICIAN,
                                                 clinician=clinician))
    quarter = released_quarter(quarter.start - dt.timedelta(days=1), timezone.localdate())
print(len({report.pk for report in asked}))
"""

PROGRESS = """
from plumbing.workers import workers_silent
from reports.models import Report
print(Report.objects.filter(status="done").count(), Report.objects.exclude(status__in=["done", "queued", "running"]).count(),
      workers_silent())
"""


def test_a_burst_of_fifty_report_requests_completes_without_a_worker_death_and_a_dead_worker_shows(tmp_path):
    """What killed `make run`'s worker: many reports, each fanning out a task per clinician, asked at once.
    Then the worker is killed outright, and within WORKER_SILENT_AFTER the reports pages can tell."""
    env = embedded_env(tmp_path, WORKER_HEARTBEAT_SECONDS="1", WORKER_SILENT_AFTER="3")
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo", "--practices", "1", "--clinicians", "3", "--visits", "120")
    log = open(tmp_path / "worker.log", "wb")
    worker = subprocess.Popen(  # as `make run` starts it
        [CELERY, "-A", "healing", "worker", "-B", "--loglevel=warning", "--concurrency=1"],
        cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        assert manage(env, "shell", "-v", "0", "-c", BURST).split() == ["50"]
        deadline = time.monotonic() + 400
        while True:
            done, failed, silent = manage(env, "shell", "-v", "0", "-c", PROGRESS).split()
            if int(done) + int(failed) == 50 or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert (int(done), int(failed)) == (50, 0)
        assert worker.poll() is None, "the worker died"
        assert silent == "False"  # it has been beating all along

        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=20)
        time.sleep(4)
        assert manage(env, "shell", "-v", "0", "-c", PROGRESS).split()[2] == "True"
    except BaseException:
        print((tmp_path / "worker.log").read_text(errors="replace")[-4000:])
        raise
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=20)
    assert "Traceback" not in (tmp_path / "worker.log").read_text(errors="replace")
