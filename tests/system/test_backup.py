"""Backups restore (docs/operations.md): pg_dump in custom format, pg_restore into a new database, and every
response and score is found again.

Two scratch databases beside the test database (<name>_backup_src and <name>_backup_dst), made and dropped
here; the commands run as an operator would run them, against DATABASE_URL.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import dj_database_url
import psycopg
import pytest
from django.conf import settings
from psycopg import sql

pytestmark = pytest.mark.postgres

BASE_DIR = Path(settings.BASE_DIR)
TABLES = [
    "surveys_practice", "surveys_visit", "surveys_dyad", "surveys_invitation", "surveys_response",
    "surveys_answer", "surveys_domainscore", "surveys_item", "auth_user",
]


def url_for(config: dict, name: str) -> str:
    user = quote(config.get("USER") or "", safe="")
    password = config.get("PASSWORD") or ""
    auth = f"{user}:{quote(password, safe='')}@" if password else (f"{user}@" if user else "")
    return f"postgres://{auth}{config.get('HOST') or '127.0.0.1'}:{config.get('PORT') or 5432}/{name}"


@pytest.fixture
def scratch():
    """Two empty scratch databases; dropped afterwards, whatever happens."""
    for tool in ("pg_dump", "pg_restore"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool} (postgresql-client)")
    config = dj_database_url.parse(os.environ["DATABASE_URL"])
    names = {side: f"{config['NAME']}_backup_{side}" for side in ("src", "dst")}

    def run(statement):
        with psycopg.connect(url_for(config, "postgres"), autocommit=True) as admin:
            for name in names.values():
                admin.execute(sql.SQL(statement).format(sql.Identifier(name)))

    run("DROP DATABASE IF EXISTS {} WITH (FORCE)")
    run("CREATE DATABASE {}")
    try:
        yield {side: url_for(config, name) for side, name in names.items()}
    finally:
        run("DROP DATABASE IF EXISTS {} WITH (FORCE)")


def manage(database_url, *args, tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        "DATABASE_URL": database_url,
        "DATABASE_POOL": "0",
        "HEALING_VAR_DIR": str(tmp_path),
        "CELERY_TASK_ALWAYS_EAGER": "1",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def census(database_url) -> dict:
    """Row counts of the tables that hold the data, and a checksum of every score."""
    with psycopg.connect(database_url) as db:
        counts = {t: db.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()[0] for t in TABLES}
        scores = db.execute(
            "SELECT r.id, r.visit_id, r.respondent, r.process_index, r.outcome_index, s.domain, s.score "
            "FROM surveys_domainscore s JOIN surveys_response r ON r.id = s.response_id ORDER BY r.id, s.domain"
        ).fetchall()
    counts["scores_sha256"] = hashlib.sha256(repr(scores).encode()).hexdigest()
    return counts


def exports(database_url, tmp_path) -> dict[str, str]:
    """sha256 of `export_scores` (CSV) for each practice."""
    with psycopg.connect(database_url) as db:
        slugs = [slug for (slug,) in db.execute("SELECT slug FROM surveys_practice ORDER BY slug")]
    return {
        slug: hashlib.sha256(manage(database_url, "export_scores", "--practice", slug, tmp_path=tmp_path).encode()).hexdigest()
        for slug in slugs
    }


def test_a_dump_restores_every_response_and_score(scratch, tmp_path, capsys):
    source, target = scratch["src"], scratch["dst"]
    manage(source, "migrate", "--noinput", tmp_path=tmp_path)
    manage(source, "seed_demo", "--practices", "2", "--clinicians", "3", "--visits", "120", "--seed", "3", tmp_path=tmp_path)
    before, exported_before = census(source), exports(source, tmp_path)
    assert before["surveys_response"] > 0 and before["surveys_domainscore"] > 0

    # The procedure in docs/operations.md.
    dump = tmp_path / "healing.dump"
    subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--file", str(dump), source], check=True, timeout=300)
    listing = subprocess.run(["pg_restore", "--list", str(dump)], check=True, capture_output=True, text=True, timeout=60)
    assert "TABLE DATA public surveys_response" in listing.stdout
    subprocess.run(
        ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--dbname", target, str(dump)],
        check=True, timeout=300,
    )

    after, exported_after = census(target), exports(target, tmp_path)
    with capsys.disabled():
        print(f"\n[backup] dump {dump.stat().st_size / 1024:.0f} KiB; restored {json.dumps(after)}", flush=True)
    assert after == before
    assert exported_after == exported_before
    # The restored database is current (no migration pending) and takes new writes (sequences came along).
    manage(target, "migrate", "--check", tmp_path=tmp_path)
    with psycopg.connect(target) as db:
        clinician = db.execute(
            "SELECT u.username, p.slug FROM surveys_membership m JOIN auth_user u ON u.id = m.user_id "
            "JOIN surveys_practice p ON p.id = m.practice_id WHERE m.role = 'clinician' ORDER BY u.username LIMIT 1"
        ).fetchone()
    line = manage(target, "create_visit", "--practice", clinician[1], "--clinician", clinician[0], "--patient", "RESTORED-1", tmp_path=tmp_path)
    assert json.loads(line.strip().splitlines()[-1])["visit"] > 0
