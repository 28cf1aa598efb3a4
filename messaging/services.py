"""Sending patients their questionnaire link by email and SMS, and one reminder if they have not answered.

Queueing (`queue_invites`, `queue_reminders`) writes one OutboundMessage row per message and hands its id to a
Celery task after commit. The task (`send_message`) makes the link inside the worker: a fresh token whose hash
goes on the row, so the raw token is never stored and never travels through the broker. See docs/messaging.md.

Contact details are read from the invitation when a message is sent and go nowhere else: not in a log line,
not in a row of this app, not in `last_error`, not in an audit event.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from audit.models import Action
from audit.services import record
from plumbing.tasks import task
from surveys import links
from surveys import selectors as survey_selectors
from surveys import services as survey_services
from surveys.models import Invitation, Practice, Respondent, Role
from surveys.permissions import practices_for
from surveys.tokens import hash_token, new_token

from . import selectors, sms
from .models import Channel, Kind, OutboundMessage, Status
from .sms import PermanentSendError, SendError, TransientSendError

logger = logging.getLogger(__name__)

ERROR_LENGTH = OutboundMessage._meta.get_field("last_error").max_length
# How long a worker holds a message while sending it: longer than the send task's hard time limit, so a live
# worker always finishes (or is killed) before another may take the message over.
LEASE = dt.timedelta(seconds=300)


class MessagingError(Exception):
    """A request we refuse, with a message a person can act on."""


class MessageBusy(Exception):
    """Another worker is sending this message: look again once its lease has ended."""

    def __init__(self, message_id: int, seconds: float):
        super().__init__(message_id, seconds)  # as args, so it pickles for Celery
        self.message_id = message_id
        self.seconds = max(1, int(seconds) + 1)

    def __str__(self):
        return f"message {self.message_id} is being sent by another worker"


@dataclass(frozen=True)
class Queued:
    invitations: int
    email: int
    sms: int

    @property
    def messages(self) -> int:
        return self.email + self.sms


# --- queueing ----------------------------------------------------------------------------------


def queue_invites(
    practice: Practice,
    invitations: QuerySet[Invitation] | None = None,
    *,
    requested_by,
    scope: str,
    only_unsent: bool = False,
    request=None,
) -> Queued:
    """Queue the link, by every channel it has contact details for, to each open patient invitation given.

    `invitations` narrows the practice's sendable invitations (None: all of them); anything outside the
    practice, answered, expired or without contact details is left out. A channel that already has a message
    waiting is left alone (a double click queues nothing twice); with `only_unsent`, so is one whose link
    was already sent. The request is audit-logged with counts only.
    """
    if not practices_for(requested_by, Role.MANAGER).filter(pk=practice.pk).exists():
        raise MessagingError("Only a manager of this practice can send its invitations.")
    now = timezone.now()
    candidates = selectors.sendable_invitations(practice, now)
    if invitations is not None:
        candidates = candidates.filter(pk__in=invitations.values("pk"))
    skip = Q(status=Status.SENT, kind=Kind.INVITE) if only_unsent else None
    with transaction.atomic():
        queued = _queue(candidates, Kind.INVITE, now, skip=skip)
        record(
            Action.MESSAGES_QUEUED,
            actor=requested_by,
            request=request,
            practice=practice,
            obj=invitations.first() if scope == "one" and invitations is not None else None,
            kind=Kind.INVITE,
            scope=scope,
            invitations=queued.invitations,
            email=queued.email,
            sms=queued.sms,
        )
    return queued


def queue_reminders(now: dt.datetime | None = None) -> Queued:
    """The hourly sweep: one reminder for each open patient invitation whose link went out at least
    INVITATION_REMINDER_DAYS ago, by the channels that carried it, unless it was already reminded.

    The wait starts again when a manager sends the link again. Answered or expired invitations are never
    reminded, and the task checks again just before sending. Two sweeps at once still make one reminder per
    channel: the database allows no second one.
    """
    days = settings.INVITATION_REMINDER_DAYS
    if days <= 0:
        return Queued(0, 0, 0)
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=days)
    sent_invites = OutboundMessage.objects.filter(invitation=OuterRef("invitation_id"), kind=Kind.INVITE, status=Status.SENT)
    # Candidate (invitation, channel) pairs: a sent invite on that channel, the contact still there.
    due = (
        OutboundMessage.objects.filter(
            kind=Kind.INVITE,
            status=Status.SENT,
            sent_at__lte=cutoff,
            invitation__respondent=Respondent.PATIENT,
            invitation__used_at__isnull=True,
            invitation__expires_at__gt=now,
        )
        .filter(
            Q(channel=Channel.EMAIL, invitation__contact_email__gt="")
            | Q(channel=Channel.SMS, invitation__contact_phone__gt="")
        )
        .exclude(Exists(sent_invites.filter(sent_at__gt=cutoff)))
        .exclude(Exists(OutboundMessage.objects.filter(invitation=OuterRef("invitation_id"), kind=Kind.REMINDER)))
        .values_list("invitation_id", "channel", "invitation__visit__practice_id")
        .distinct()
    )
    pairs = sorted(set(due))
    if not pairs:
        return Queued(0, 0, 0)
    with transaction.atomic():
        created = _create(((invitation_id, channel) for invitation_id, channel, _ in pairs), Kind.REMINDER, now)
        by_practice: dict[int, Counter] = {}
        practice_of = {invitation_id: practice_id for invitation_id, _, practice_id in pairs}
        for invitation_id, channel in created:
            by_practice.setdefault(practice_of[invitation_id], Counter())[channel] += 1
        for practice_id, counts in sorted(by_practice.items()):
            record(
                Action.MESSAGES_QUEUED,
                actor_name="scheduled task",
                practice=Practice(pk=practice_id),
                kind=Kind.REMINDER,
                scope="reminders",
                invitations=len({i for i, _ in created if practice_of[i] == practice_id}),
                email=counts[Channel.EMAIL],
                sms=counts[Channel.SMS],
            )
    return _summary(created)


def _queue(candidates: QuerySet[Invitation], kind: str, now: dt.datetime, skip: Q | None) -> Queued:
    """Messages for the candidates' channels that have contact details, minus those `skip` (or a queued one) rules out."""
    channels = list(selectors.with_channels(candidates).values_list("pk", "has_email", "has_phone"))
    pairs = [(pk, Channel.EMAIL) for pk, email, _ in channels if email] + [
        (pk, Channel.SMS) for pk, _, phone in channels if phone
    ]
    if skip is not None and pairs:
        taken = set(
            OutboundMessage.objects.filter(skip, invitation__in=candidates).values_list("invitation_id", "channel")
        )
        pairs = [pair for pair in pairs if pair not in taken]
    return _summary(_create(pairs, kind, now))


def _create(pairs, kind: str, now: dt.datetime) -> list[tuple[int, str]]:
    """Insert queued messages and send their ids to the workers after commit; returns the pairs inserted.

    A pair that already has a queued message (or, for reminders, any reminder) is skipped by the database's
    unique constraints rather than by a read-then-write race. The rows inserted here are the queued ones
    stamped with this call's `now`: bulk inserts that skip conflicts do not report the ids they made.
    """
    rows = [OutboundMessage(invitation_id=pk, channel=channel, kind=kind, created_at=now) for pk, channel in pairs]
    if not rows:
        return []
    OutboundMessage.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    created = list(
        OutboundMessage.objects.filter(kind=kind, status=Status.QUEUED, attempts=0, created_at=now)
        .order_by("pk")
        .values_list("pk", "invitation_id", "channel")
    )
    ids = [pk for pk, _, _ in created]
    transaction.on_commit(lambda: _enqueue(ids))
    return [(invitation_id, channel) for _, invitation_id, channel in created]


FAN_OUT_ABOVE = 10  # messages; more are handed to the workers in batches, off the web request
FAN_OUT_BATCH = 500


def _enqueue(ids: list[int]) -> None:
    """Hand messages to the workers. Runs after commit: if the broker is down the rows stay queued, and the
    hourly sweep (`requeue_stale`) hands them over again, so the manager's request does not fail for it."""
    try:
        if len(ids) <= FAN_OUT_ABOVE:
            for pk in ids:
                task("messaging.tasks.send_message").delay(pk)
            return
        for start in range(0, len(ids), FAN_OUT_BATCH):
            task("messaging.tasks.send_messages").delay(ids[start : start + FAN_OUT_BATCH])
    except Exception:
        logger.exception("could not queue %d message(s); the hourly sweep will queue them again", len(ids))


# Longer than a message's whole retry schedule (about 16 minutes of waits), so anything still queued after this
# has lost its task (the broker was down, or lost it), not merely waiting for a retry.
STALE_AFTER = dt.timedelta(hours=1)


def requeue_stale(now: dt.datetime | None = None, limit: int = 5000) -> int:
    """Hand queued messages whose task was lost to the workers again (oldest first). Harmless if the task was
    only late: a message already sent, or being sent, is not sent twice."""
    now = now or timezone.now()
    ids = list(
        OutboundMessage.objects.filter(status=Status.QUEUED, created_at__lte=now - STALE_AFTER)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    if ids:
        logger.warning("queueing %d stale message(s) again", len(ids))
        _enqueue(ids)
    return len(ids)


def fan_out(ids: list[int]) -> int:
    """One send task per message (run by the batch task in a worker; redelivery is harmless: tasks claim)."""
    for pk in ids:
        task("messaging.tasks.send_message").delay(pk)
    return len(ids)


def _summary(created: list[tuple[int, str]]) -> Queued:
    channels = Counter(channel for _, channel in created)
    return Queued(
        invitations=len({invitation_id for invitation_id, _ in created}),
        email=channels[Channel.EMAIL],
        sms=channels[Channel.SMS],
    )


# --- sending (in the worker) -------------------------------------------------------------------


def send_message(message_id: int) -> str:
    """Send one queued message; returns its status afterwards. Safe to run again for the same message.

    A message no longer queued (sent, failed, cancelled) is left alone, so a redelivered task sends nothing.
    The attempt is claimed with a conditional UPDATE (still queued, same attempt count, no live lease) that
    also stores the new link's hash and takes a lease, committed before anything is sent: the link works as
    soon as the message arrives, and of two workers holding the same task only one sends; the other gets
    MessageBusy and looks again after the lease. A worker that dies between sending and recording it leaves
    the message queued, so after the lease its redelivery sends it again (at least once, never lost).
    """
    message = OutboundMessage.objects.select_related("invitation__visit__practice").filter(pk=message_id).first()
    if message is None:
        return "missing"
    if message.status != Status.QUEUED:
        return message.status
    now = timezone.now()
    if message.claimed_until and message.claimed_until > now:
        raise MessageBusy(message.pk, (message.claimed_until - now).total_seconds())
    free = Q(pk=message.pk, status=Status.QUEUED, attempts=message.attempts) & (
        Q(claimed_until__isnull=True) | Q(claimed_until__lte=now)
    )
    invitation = message.invitation
    reason = _not_needed(message, invitation, now)
    if reason:
        OutboundMessage.objects.filter(free).update(status=Status.CANCELLED, last_error=reason)
        logger.info("message %s not sent: %s", message.pk, reason)
        return Status.CANCELLED
    token = new_token()
    claimed = OutboundMessage.objects.filter(free).update(
        attempts=F("attempts") + 1, token_hash=hash_token(token), claimed_until=now + LEASE
    )
    if claimed != 1:
        raise MessageBusy(message.pk, LEASE.total_seconds())
    mine = OutboundMessage.objects.filter(pk=message.pk, status=Status.QUEUED, attempts=message.attempts + 1)
    try:
        _deliver(message, invitation, token)
    except PermanentSendError as exc:
        mine.update(status=Status.FAILED, last_error=str(exc)[:ERROR_LENGTH], claimed_until=None)
        logger.warning("message %s failed: %s", message.pk, exc)
        return Status.FAILED
    except TransientSendError as exc:
        # Still queued: the task retries. The reason shows on the invitations list meanwhile.
        mine.update(last_error=str(exc)[:ERROR_LENGTH], claimed_until=None)
        logger.info("message %s attempt %s failed: %s", message.pk, message.attempts + 1, exc)
        raise
    mine.update(status=Status.SENT, sent_at=timezone.now(), last_error="", claimed_until=None)
    logger.info("message %s sent: %s %s for invitation %s", message.pk, message.kind, message.channel, invitation.pk)
    return Status.SENT


def mark_failed(message_id: int, reason: str) -> bool:
    """Give up on a queued message, with a reason the manager reads (ours: never contact data)."""
    return bool(
        OutboundMessage.objects.filter(pk=message_id, status=Status.QUEUED).update(
            status=Status.FAILED, last_error=reason[:ERROR_LENGTH], claimed_until=None
        )
    )


def _not_needed(message: OutboundMessage, invitation: Invitation, now: dt.datetime) -> str:
    """Why this message should not go out any more, or ""."""
    if invitation.respondent != Respondent.PATIENT:
        return "Not sent: only patients get their link by message."
    if invitation.used_at is not None:
        return "Not sent: the questionnaire was already answered."
    if invitation.expires_at <= now:
        return "Not sent: the link had expired."
    if message.channel == Channel.EMAIL and not invitation.contact_email:
        return "Not sent: there is no email address any more."
    if message.channel == Channel.SMS and not invitation.contact_phone:
        return "Not sent: there is no phone number any more."
    return ""


def send_self_assessment_reminders(today: dt.date | None = None) -> int:
    """E-mail each clinician whose competencies self-assessment for the current period is due, once per period.

    Each reminder is claimed (`surveys.services.claim_self_assessment_reminder`, a row with a unique key) in the
    transaction that sends it: a second sweep, or two at once, send nothing more, and a send that fails gives
    the claim back, so the next daily sweep tries again. Clinicians without an e-mail address are skipped.
    Returns how many were sent.
    """
    sent = 0
    for practice, clinician, period_start in survey_selectors.self_assessment_reminders_due(today):
        context = {
            "name": clinician.get_full_name() or clinician.get_username(),
            "practice": practice.name,
            "url": links.self_assessment_url(practice),
            "period": period_start,
            "months": practice.self_assessment_months,
        }
        try:
            with transaction.atomic():
                if not survey_services.claim_self_assessment_reminder(practice, clinician, period_start):
                    continue
                subject = " ".join(render_to_string("messaging/self_assessment_subject.txt", context).split())
                _send_email(clinician.email, subject, render_to_string("messaging/self_assessment_body.txt", context))
        except SendError as exc:
            logger.warning("self-assessment reminder not sent: practice=%s user=%s (%s)", practice.slug, clinician.pk, exc)
            continue
        sent += 1
    if sent:
        logger.info("self-assessment reminders sent: %d", sent)
    return sent


def message_context(invitation: Invitation, token: str, kind: str) -> dict:
    """What an email or SMS says. `minutes` is what this practice's patients take (the median over the last year,
    rounded up), as on the QR cards: issue 14 found messages promising "about 3 minutes" where it was 4.8."""
    practice = invitation.visit.practice
    return {
        "practice": practice.name,
        "url": links.patient_url(token),
        "expires": timezone.localdate(invitation.expires_at),
        "reminder": kind == Kind.REMINDER,
        "minutes": survey_selectors.typical_minutes_to_complete(practice),
    }


def _deliver(message: OutboundMessage, invitation: Invitation, token: str) -> None:
    context = message_context(invitation, token, message.kind)
    if message.channel == Channel.EMAIL:
        subject = " ".join(render_to_string("messaging/email_subject.txt", context).split())
        body = render_to_string("messaging/email_body.txt", context)
        _send_email(invitation.contact_email, subject, body)
    else:
        body = render_to_string("messaging/sms.txt", context).strip()
        _send_sms(invitation.contact_phone, body)


def _send_email(to: str, subject: str, body: str) -> None:
    email = EmailMessage(
        subject,
        body,
        settings.DEFAULT_FROM_EMAIL,
        [to],
        # An automatic message: out-of-office replies should not answer it (RFC 3834).
        headers={"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"},
    )
    try:
        email.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = sorted({code for code, _ in exc.recipients.values()})
        raise _smtp_error("refused the address", codes[-1] if codes else 0) from None
    except smtplib.SMTPResponseException as exc:
        raise _smtp_error("refused the message", exc.smtp_code) from None
    except smtplib.SMTPNotSupportedError:
        raise PermanentSendError("The mail server does not support what this message needs.") from None
    except smtplib.SMTPException as exc:
        raise TransientSendError(f"The mail server failed ({type(exc).__name__}).") from None
    except OSError as exc:
        raise TransientSendError(f"Could not reach the mail server ({type(exc).__name__}).") from None


def _smtp_error(what: str, code: int) -> SendError:
    # SMTP replies often quote the address, so only the reply code is kept. 4xx: try later; 5xx: give up.
    if 400 <= code < 500:
        return TransientSendError(f"The mail server {what} for now (SMTP {code}).")
    return PermanentSendError(f"The mail server {what} (SMTP {code}).")


def _send_sms(to: str, body: str) -> None:
    try:
        sms.get_backend().send(to, body)
    except SendError:
        raise
    except OSError as exc:
        raise TransientSendError(f"Could not reach the SMS provider ({type(exc).__name__}).") from None
