"""Is any Celery worker alive? Each worker says so every few seconds; pages that wait for one ask.

A queued report otherwise looks the same whether its worker is busy or dead: "Queued 0 %", for as long as
REPORTS_STALE_AFTER allows (40 minutes). So every worker process starts a heartbeat thread when it is ready,
which writes the time into its WorkerHeartbeat row every WORKER_HEARTBEAT_SECONDS, whatever its tasks are
doing; a page showing unfinished work says so when no row has moved for WORKER_SILENT_AFTER seconds (a minute
by default). A thread, not a periodic task: a task would wait behind a long report on a busy worker and make it
look dead.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from .models import WorkerHeartbeat

logger = logging.getLogger(__name__)


def record_heartbeat(hostname: str, now: dt.datetime | None = None) -> None:
    WorkerHeartbeat.objects.update_or_create(hostname=hostname, defaults={"seen_at": now or timezone.now()})


def forget_worker(hostname: str) -> None:
    """A worker stopping on purpose takes its row with it."""
    WorkerHeartbeat.objects.filter(hostname=hostname).delete()


def last_seen() -> dt.datetime | None:
    """When the most recently seen worker last said it was alive; None if none ever did."""
    return WorkerHeartbeat.objects.aggregate(last=Max("seen_at"))["last"]


def workers_silent(now: dt.datetime | None = None) -> bool:
    """True when no worker has been seen for WORKER_SILENT_AFTER seconds: queued work is waiting for nobody."""
    seen = last_seen()
    silent_after = dt.timedelta(seconds=settings.WORKER_SILENT_AFTER)
    return seen is None or (now or timezone.now()) - seen > silent_after


def _beat(hostname: str, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            record_heartbeat(hostname)
        except Exception as exc:  # the database may be away or busy for a moment: the next beat tries again
            logger.warning("Could not record the worker heartbeat: %s", exc)
        finally:
            connection.close()
        stop.wait(settings.WORKER_HEARTBEAT_SECONDS)


_stop = threading.Event()


@worker_ready.connect
def start_heartbeat(sender=None, **kwargs):
    hostname = getattr(sender, "hostname", None) or "celery"
    threading.Thread(target=_beat, args=(hostname, _stop), name="heartbeat", daemon=True).start()


@worker_shutdown.connect
def stop_heartbeat(sender=None, **kwargs):
    _stop.set()
    try:
        forget_worker(getattr(sender, "hostname", None) or "celery")
    except Exception as exc:
        logger.warning("Could not remove the worker heartbeat: %s", exc)
    finally:
        connection.close()
