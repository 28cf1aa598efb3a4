"""Celery tasks on the "messages" queue: thin wrappers over messaging.services.

Only a message's id goes through the broker: the link is made inside the worker (services.send_message).
Transient faults (a provider's 5xx, a timeout, the mail server unreachable, the database away) retry with
exponential backoff; a permanent refusal, or retries running out, marks the message failed with the reason,
for the manager to see on the invitations list and send again.
"""

from __future__ import annotations

import logging
import smtplib

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError

from . import services
from .sms import SendError, TransientSendError

log = logging.getLogger(__name__)


def describe(exc: BaseException) -> str:
    """The reason a manager reads. Only our own exceptions' words: others' may quote an address or a number."""
    if isinstance(exc, TransientSendError):
        return f"{exc} Gave up after retrying."
    if isinstance(exc, SendError):
        return str(exc)
    if isinstance(exc, SoftTimeLimitExceeded):
        return "Sending took too long."
    if isinstance(exc, (OperationalError, InterfaceError)):
        return "The database was unavailable, also after retrying."
    return f"Not sent because of an internal error ({type(exc).__name__})."


class SendTask(DjangoTask):
    autoretry_for = (TransientSendError, smtplib.SMTPException, OSError, OperationalError, InterfaceError)
    retry_backoff = 30  # seconds: up to 30, 60, 120, 240, 480 with jitter
    retry_backoff_max = 1800
    retry_jitter = True
    max_retries = 5
    acks_late = True
    reject_on_worker_lost = True
    soft_time_limit = 120
    time_limit = 180

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        if isinstance(exc, services.MessageBusy):
            return  # another worker has it; that worker records how it went
        try:
            services.mark_failed(args[0], describe(exc))
        except Exception:  # the database may be what failed; the message then stays queued and can be sent again
            log.exception("could not mark message %s failed", args[0])


@shared_task(base=SendTask, bind=True, name="messaging.tasks.send_message")
def send_message(self, message_id: int) -> str:
    try:
        return services.send_message(message_id)
    except services.MessageBusy as busy:
        raise self.retry(exc=busy, countdown=busy.seconds) from None


@shared_task(base=DjangoTask, name="messaging.tasks.send_messages", acks_late=True)
def send_messages(message_ids: list[int]) -> int:
    return services.fan_out(message_ids)


@shared_task(
    base=DjangoTask,
    name="messaging.tasks.queue_reminders",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=30,
    max_retries=3,
    acks_late=True,
)
def queue_reminders() -> int:
    """The hourly sweep: reminders that are due, and any message whose task was lost."""
    services.requeue_stale()
    return services.queue_reminders().messages


@shared_task(
    base=DjangoTask,
    name="messaging.tasks.send_self_assessment_reminders",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=30,
    max_retries=3,
    acks_late=True,
)
def send_self_assessment_reminders() -> int:
    """The daily sweep: one e-mail per clinician and period whose competencies self-assessment is due."""
    return services.send_self_assessment_reminders()
