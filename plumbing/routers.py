"""Dashboard and report reads from a read replica, when one is configured; everything else on the primary.

PostgreSQL stays the system of record ("default"). With DATABASE_REPLICA_URL set, settings add a "replica"
alias (a streaming-replication standby) and this router. Only code that asks for it reads from the replica:

    with use_replica():                  # or @replica_reads on a view
        panels = practice_panels(...)

Reads inside the block go to "replica" when that alias exists, otherwise to "default", so the same code runs
with or without a replica. Writes can never reach the replica, three times over:
- `db_for_write` always answers "default", inside a block or not (a row read from the replica and saved
  goes to the primary; `select_for_update` counts as a write, so locks are taken on the primary);
- `allow_migrate` is false for the replica, so no schema change is ever sent to it;
- settings open the replica's connections with `default_transaction_read_only`, so even an explicit
  `.using("replica")` write fails in the database (a hot standby refuses it anyway).

A replica lags its primary by a little (usually well under a second): fine for dashboards and monthly reports,
never for the submit path, sign-in or anything that reads its own writes, which is why reads default to the
primary and only these two code paths opt in.

The flag is a ContextVar, so it is per thread (gunicorn threads, Celery's prefork children) and per asyncio task.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings

PRIMARY = "default"
REPLICA = "replica"

_reads_from_replica: ContextVar[bool] = ContextVar("reads_from_replica", default=False)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


@contextmanager
def use_replica() -> Iterator[None]:
    """Within the block, ORM reads go to the replica when one is configured."""
    token = _reads_from_replica.set(True)
    try:
        yield
    finally:
        _reads_from_replica.reset(token)


def replica_reads(view):
    """Decorator form of `use_replica`, for views (and tasks) that only read."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        with use_replica():
            return view(*args, **kwargs)

    return wrapped


def reading_from_replica() -> bool:
    """Whether a read made now would go to the replica."""
    return _reads_from_replica.get() and replica_configured()


class ReplicaRouter:
    """DATABASE_ROUTERS entry: see the module docstring."""

    def db_for_read(self, model, **hints):
        return REPLICA if reading_from_replica() else PRIMARY

    def db_for_write(self, model, **hints):
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        # Both aliases hold the same rows: an object read from the replica may point at one from the primary.
        aliases = {PRIMARY, REPLICA}
        return obj1._state.db in aliases and obj2._state.db in aliases

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == PRIMARY
