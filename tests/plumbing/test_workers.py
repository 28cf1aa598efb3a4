"""The worker heartbeat (plumbing/workers.py): silent means no worker said it was alive for a minute."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.utils import timezone

from plumbing import workers
from plumbing.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db


def test_no_worker_ever_seen_is_silent():
    assert workers.last_seen() is None
    assert workers.workers_silent()


def test_a_worker_is_silent_once_its_last_beat_is_older_than_the_limit(settings):
    settings.WORKER_SILENT_AFTER = 60
    now = timezone.now()
    workers.record_heartbeat("celery@a", now - dt.timedelta(seconds=59))
    assert not workers.workers_silent(now)
    assert workers.workers_silent(now + dt.timedelta(seconds=2))


def test_one_live_worker_among_dead_ones_is_enough():
    now = timezone.now()
    workers.record_heartbeat("celery@dead", now - dt.timedelta(hours=1))
    workers.record_heartbeat("celery@alive", now)
    assert not workers.workers_silent(now)
    assert WorkerHeartbeat.objects.count() == 2


def test_a_worker_beats_while_it_runs_and_takes_its_row_away_when_it_stops(settings, monkeypatch):
    settings.WORKER_HEARTBEAT_SECONDS = 0.01
    monkeypatch.setattr(workers.connection, "close", lambda: None)  # the test's transaction is the connection
    stop = threading.Event()
    beats = []
    monkeypatch.setattr(workers, "record_heartbeat", lambda hostname: (beats.append(hostname), len(beats) >= 3 and stop.set()))

    workers._beat("celery@host", stop)  # returns once stopped
    assert beats == ["celery@host"] * 3

    workers.WorkerHeartbeat.objects.create(hostname="celery@host", seen_at=timezone.now())
    workers.forget_worker("celery@host")
    assert not WorkerHeartbeat.objects.exists()
