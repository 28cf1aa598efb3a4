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


def test_a_report_builds_on_sqlite_with_the_filesystem_broker(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CELERY_", "REPORTS_", "PYTEST_"))}
    env.update(HEALING_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="healing.settings",
               EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend")
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
