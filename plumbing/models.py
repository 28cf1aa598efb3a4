"""Plumbing's one table: when each Celery worker was last seen alive (plumbing/workers.py)."""

from django.db import models


class WorkerHeartbeat(models.Model):
    """One row per worker (its Celery host name), moved forward every few seconds while the worker runs."""

    hostname = models.CharField(max_length=255, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self):
        return f"{self.hostname} at {self.seen_at:%Y-%m-%d %H:%M:%S}"
