"""Celery tasks: thin wrappers over reports.services, which hold the logic and the idempotency.

Transient database faults retry with exponential backoff; anything else (or retries running out) marks the
report failed with the reason, for the manager to see and retry. acks_late + reject_on_worker_lost (also set
globally) bring a task back when its worker dies, and the services' claims make that harmless.
"""

from __future__ import annotations

import logging
import smtplib

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError

from . import services

log = logging.getLogger(__name__)

TRANSIENT = (OperationalError, InterfaceError)


def describe(exc: BaseException) -> str:
    """The reason a manager reads on the report page."""
    if isinstance(exc, SoftTimeLimitExceeded):
        return f"The build took longer than the time limit ({settings.CELERY_TASK_SOFT_TIME_LIMIT} s)."
    if isinstance(exc, TRANSIENT):
        return f"The database was unavailable, also after retrying: {exc}".strip()
    return f"The build failed: {type(exc).__name__}: {exc}".strip()


class ReportTask(DjangoTask):
    autoretry_for = TRANSIENT
    retry_backoff = 2  # seconds: 2, 4, 8, ... with jitter
    retry_backoff_max = 120
    retry_jitter = True
    max_retries = 6
    acks_late = True
    reject_on_worker_lost = True

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        report_id, attempt = args[0], args[1]
        log.error("report %s attempt %s failed in %s: %r", report_id, attempt, self.name, exc)
        try:
            services.mark_failed(report_id, attempt, describe(exc))
        except Exception:  # the database may be what failed; the report then shows as stale and can be retried
            log.exception("could not mark report %s failed", report_id)


@shared_task(base=ReportTask, bind=True)
def build_report(self, report_id: int, attempt: int):
    services.start_report(report_id, attempt, claim=self.request.id)


@shared_task(base=ReportTask, bind=True)
def build_report_part(self, report_id: int, attempt: int, clinician_id: int):
    services.build_part(report_id, attempt, clinician_id, claim=self.request.id)


@shared_task(base=ReportTask, bind=True)
def assemble_report(self, report_id: int, attempt: int):
    services.assemble_report(report_id, attempt, claim=self.request.id)


@shared_task(
    base=DjangoTask,
    autoretry_for=TRANSIENT + (smtplib.SMTPException, ConnectionError, TimeoutError),
    retry_backoff=10,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
    acks_late=True,
)
def notify_report_ready(report_id: int, attempt: int):
    services.notify_report_ready(report_id, attempt)


@shared_task(base=DjangoTask, autoretry_for=TRANSIENT, retry_backoff=5, max_retries=6, acks_late=True)
def build_monthly_reports():
    services.request_monthly_reports()
