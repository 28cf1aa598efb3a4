"""The worker's start-up hook: views imported and catalogs loaded, then the live objects frozen."""

import gc
import runpy
import sys
from pathlib import Path

import plumbing.runtime
from plumbing.runtime import load_and_freeze

ROOT = Path(__file__).resolve().parents[2]


def test_load_and_freeze_imports_the_views_and_freezes_what_is_alive():
    gc.unfreeze()
    try:
        load_and_freeze()
        assert "front.dashboard_views" in sys.modules
        # Everything alive after the import (modules, URLconf, catalogs) is out of the collector's generations.
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()


def test_gunicorn_runs_the_hook_in_each_worker(monkeypatch):
    calls = []
    monkeypatch.setattr(plumbing.runtime, "load_and_freeze", lambda: calls.append("frozen"))
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    config["post_worker_init"](worker=None)
    assert calls == ["frozen"]
