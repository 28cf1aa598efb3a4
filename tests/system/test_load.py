"""Load and faults through the real stack: gunicorn (2 workers) on loopback, PostgreSQL, plain HTTP clients.

Each test starts from the pytest-django test database (transactional, so the server's own connections see the
rows), sends its requests from a thread pool of http.client connections the way a browser would (GET the page
for the CSRF cookie and token, then POST with `Origin: null`, as no-referrer pages do), and prints its figures:

    200 concurrent submissions on distinct links -> 200 responses saved
    50 concurrent submissions on one link        -> exactly 1 saved, 49 told "already completed" (409)
    the database connection killed mid-submission -> nothing saved, and the patient can send again

Bounded: at most a few hundred requests, every request and the server have timeouts, the server is stopped
at the end of the module whatever happens. Needs PostgreSQL (row locks, pg_terminate_backend).
"""

from __future__ import annotations

import collections
import http.client
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from surveys.models import Answer, DomainScore, Invitation, Response
from tests import factories

pytestmark = [pytest.mark.postgres, pytest.mark.load, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(settings.BASE_DIR)
WORKERS, THREADS = 2, 4
REQUEST_TIMEOUT = 60
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def database_url(settings_dict) -> str:
    user = quote(settings_dict.get("USER") or "", safe="")
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{quote(password, safe='')}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or "5432"
    return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn in its own process group, against the test database, stopped by stop() (or at exit)."""

    def __init__(self, database: str, log: Path):
        self.port = free_port()
        self.log = log
        env = {
            **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},  # set by tests/e2e
            "DJANGO_SETTINGS_MODULE": "healing.settings",
            "DATABASE_URL": database,
            # The production configuration, minus what needs TLS on loopback.
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",  # nothing is sent here
            "SMS_BACKEND": "messaging.sms.LocmemSmsBackend",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "SECURE_HSTS_SECONDS": "0",
            "SECURE_COOKIES": "0",
            # Every request comes from 127.0.0.1: per-address limits would be the only thing measured.
            "SURVEY_RATE_LIMIT": "0",
            "SURVEY_MISS_LIMIT": "0",
            # psycopg's pool as in production, sized to the threads: at most WORKERS * THREADS connections.
            "DATABASE_POOL": "1",
            "DATABASE_POOL_MAX": str(THREADS),
            "LOG_LEVEL": "WARNING",
        }
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "healing.wsgi:application",
                "--bind", f"127.0.0.1:{self.port}",
                "--workers", str(WORKERS), "--threads", str(THREADS), "--worker-class", "gthread",
                "--timeout", "60", "--graceful-timeout", "5", "--backlog", "512",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_until_ready()

    def _wait_until_ready(self, seconds=30):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.tail()}")
            try:
                status, _, _ = request("GET", self.port, reverse("login"), timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn was not ready after {seconds}s:\n{self.tail()}")

    def tail(self, lines=40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


def request(method, port, path, body=None, headers=None, timeout=REQUEST_TIMEOUT):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read().decode("utf-8", "replace")
    finally:
        conn.close()


class Tab:
    """One browser tab on a questionnaire: its own CSRF cookie, then a POST like the form sends."""

    def __init__(self, port, path):
        self.port, self.path = port, path

    def open(self):
        status, headers, html = request("GET", self.port, self.path)
        assert status == 200, (status, html[:300])
        cookie = next(v for k, v in headers if k.lower() == "set-cookie" and v.startswith("csrftoken="))
        self.cookie = cookie.split(";", 1)[0]
        self.token = CSRF_INPUT.search(html).group(1)
        return self

    def send(self, answers):
        body = urlencode({**answers, "csrfmiddlewaretoken": self.token, "lang": "en", "comment": ""})
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": self.cookie,
            "Origin": "null",  # what a browser sends from a no-referrer page
        }
        status, _, html = request("POST", self.port, self.path, body=body, headers=headers)
        return status, html


def release_together(tabs_and_answers, pool_size):
    """Send every POST at once (a barrier holds them until all threads are ready); returns (status, html) or errors."""
    barrier = threading.Barrier(len(tabs_and_answers), timeout=60)

    def go(pair):
        tab, answers = pair
        try:
            barrier.wait()
            return tab.send(answers)
        except Exception as exc:  # counted and reported, never hidden
            return ("error", repr(exc))

    with ThreadPoolExecutor(max_workers=pool_size) as pool:
        return list(pool.map(go, tabs_and_answers, timeout=180))


def open_tabs(port, paths, pool_size=16):
    with ThreadPoolExecutor(max_workers=pool_size) as pool:
        return list(pool.map(lambda p: Tab(port, p).open(), paths, timeout=180))


def report(capsys, line: str):
    with capsys.disabled():
        print(f"\n[load] {line}", flush=True)


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        database = database_url(connection.settings_dict)
    running = Server(database, tmp_path_factory.mktemp("gunicorn") / "gunicorn.log")
    try:
        yield running
    finally:
        running.stop()


def link_path(new_visit) -> str:
    return reverse("patient_questionnaire", args=[new_visit.patient_token])


def assert_complete(response_row, item_count):
    assert response_row.answers.count() == item_count
    assert response_row.scores.count() == 6
    assert not response_row.scores.filter(score__isnull=True).exists()


def test_200_concurrent_submissions_on_distinct_links_all_save(server, practice_a, clinician_a, capsys):
    visits = [factories.visit(practice_a, clinician_a, f"PL-{n:03d}") for n in range(200)]
    answers = factories.full_answers(factories.patient_invitation(visits[0]))
    tabs = open_tabs(server.port, [link_path(v) for v in visits])

    started = time.monotonic()
    results = release_together([(tab, answers) for tab in tabs], pool_size=len(tabs))
    elapsed = time.monotonic() - started

    statuses = collections.Counter(r[0] for r in results)
    saved = Response.objects.count()
    errors = [r for r in results if r[0] not in (302,)]
    duplicates = Response.objects.count() - Response.objects.values("invitation").distinct().count()
    report(
        capsys,
        f"distinct links: sent={len(results)} saved={saved} duplicates={duplicates} errors={len(errors)} "
        f"statuses={dict(statuses)} in {elapsed:.2f}s ({len(results) / elapsed:.0f} submissions/s, "
        f"gunicorn {WORKERS} workers x {THREADS} threads)",
    )
    assert errors == [], (errors[:3], server.tail())
    assert saved == 200 and duplicates == 0
    assert Answer.objects.count() == 200 * len(answers)
    assert DomainScore.objects.count() == 200 * 6
    assert not Invitation.objects.filter(respondent="patient", used_at__isnull=True).exists()


def test_50_concurrent_submissions_on_one_link_save_exactly_one(server, visit_a, capsys):
    answers = factories.full_answers(factories.patient_invitation(visit_a))
    tabs = open_tabs(server.port, [link_path(visit_a)] * 50)

    started = time.monotonic()
    results = release_together([(tab, answers) for tab in tabs], pool_size=50)
    elapsed = time.monotonic() - started

    statuses = collections.Counter(r[0] for r in results)
    thanked = [r for r in results if r[0] == 302]
    told_done = [r for r in results if r[0] == 409 and "already completed" in r[1]]
    errors = [r for r in results if r[0] not in (302, 409)]
    saved = Response.objects.filter(visit=visit_a.visit).count()
    report(
        capsys,
        f"one link: sent={len(results)} saved={saved} duplicates={max(saved - 1, 0)} "
        f"already-completed={len(told_done)} errors={len(errors)} statuses={dict(statuses)} in {elapsed:.2f}s",
    )
    assert errors == [], (errors[:3], server.tail())
    assert len(thanked) == 1 and len(told_done) == 49
    assert saved == 1
    assert_complete(Response.objects.get(visit=visit_a.visit), len(answers))
    assert Answer.objects.count() == len(answers)


def test_a_connection_killed_mid_submission_saves_nothing_and_the_patient_can_send_again(server, visit_a, capsys):
    """Hold a lock the submission needs to commit, find the blocked server backend, terminate it, and look:
    no response, no answers, the link still open.

    Django makes foreign keys DEFERRABLE INITIALLY DEFERRED, so they are checked at COMMIT, each taking FOR KEY
    SHARE on the row it points to. With the instrument's item rows held FOR UPDATE here, the submission claims
    the link and writes its response, answers and scores, then waits at COMMIT: the worst moment to lose it."""
    invitation = factories.patient_invitation(visit_a)
    answers = factories.full_answers(invitation)
    tab = Tab(server.port, link_path(visit_a)).open()
    dsn = database_url(connection.settings_dict)

    with psycopg.connect(dsn, autocommit=False) as blocker, psycopg.connect(dsn, autocommit=True) as watcher:
        blocker.execute(
            "SELECT id FROM surveys_item WHERE version_id = %s ORDER BY id FOR UPDATE", [invitation.instrument_version_id]
        )
        outcome = {}
        sender = threading.Thread(target=lambda: outcome.update(result=tab.send(answers)))
        sender.start()

        pid, query = None, ""
        deadline = time.monotonic() + 20
        while pid is None and time.monotonic() < deadline:
            row = watcher.execute(
                "SELECT pid, query FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid NOT IN (pg_backend_pid(), %s)",
                [blocker.info.backend_pid],
            ).fetchone()
            if row:
                pid, query = row
            else:
                time.sleep(0.05)
        assert pid is not None, f"the submission never blocked\n{server.tail()}"
        # Everything is written in its transaction (it holds the write locks of each table), nothing committed.
        wrote = {
            table
            for (table,) in watcher.execute(
                "SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE l.pid = %s AND l.mode = 'RowExclusiveLock' AND c.relkind = 'r'",
                [pid],
            ).fetchall()
        }
        killed = watcher.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
        blocker.rollback()
        sender.join(timeout=REQUEST_TIMEOUT)
        assert not sender.is_alive()

    status, html = outcome["result"]
    invitation.refresh_from_db()
    left = (Response.objects.filter(visit=visit_a.visit).count(), Answer.objects.count(), DomainScore.objects.count())
    report(
        capsys,
        f"connection killed mid-submission (waiting at {query.strip()[:20]!r}, wrote {sorted(wrote)}): "
        f"backend terminated={killed}, the request got {status}; "
        f"left behind responses/answers/scores={left}, link open={invitation.used_at is None}",
    )
    assert killed is True
    assert {"surveys_invitation", "surveys_response", "surveys_answer", "surveys_domainscore"} <= wrote, (wrote, query)
    assert status == 500 and "Something went wrong" in html
    assert left == (0, 0, 0)
    assert invitation.used_at is None

    # The patient sends again (same tab, same token): saved once, complete.
    status, _ = tab.send(answers)
    assert status == 302, server.tail()
    assert_complete(Response.objects.get(visit=visit_a.visit), len(answers))
    # The server recovered: the next request works.
    again_status, again_html = tab.send(answers)
    assert again_status == 409 and "already completed" in again_html
    report(capsys, "connection killed mid-submission: the retry saved one complete response; the server recovered")
