"""Every benchmark runs end to end at tiny sizes (--small) and prints one JSON object with the agreed keys.

Figures are not asserted (no timed assertions in tests): docs/performance.md holds them. Each script makes
and drops its own database on the test server, named apart by BENCH_DB_SUFFIX.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(path.name for path in (ROOT / "benchmarks").glob("bench_*.py"))
KEYS = {"bench", "small", "data", "ours_s", "baseline_s", "ratio", "target", "met", "machine"}


def server_url() -> str:
    db = settings.DATABASES["default"]
    credentials = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgresql://{credentials}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/postgres"


def test_there_is_a_benchmark_for_each_target():
    assert SCRIPTS == ["bench_dashboard.py", "bench_lighthouse.py", "bench_reports.py", "bench_seed.py", "bench_submit.py"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_benchmark_prints_one_json_object_with_the_agreed_keys(script):
    env = {**os.environ, "BENCH_DB_SUFFIX": f"_smoke{os.getpid()}"}
    env.pop("DATABASE_URL", None)  # the script is told where to go, and makes its own database there
    run = subprocess.run(
        [sys.executable, f"benchmarks/{script}", "--small", "--database-url", server_url()],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, run.stdout
    result = json.loads(lines[0])
    assert KEYS <= set(result), sorted(KEYS - set(result))
    assert result["bench"] == script.removeprefix("bench_").removesuffix(".py")
    assert result["small"] is True
    assert result["ours_s"] > 0
