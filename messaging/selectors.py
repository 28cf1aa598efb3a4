"""Reads for sending invitations: which can be sent, and what happened to the messages of a list page."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from surveys.models import Invitation, Practice, Respondent

from .models import Channel, Kind, OutboundMessage, Status


def sendable_invitations(practice: Practice, now: dt.datetime | None = None) -> QuerySet[Invitation]:
    """The practice's patient invitations that can still be answered and have an email address or a phone number."""
    return Invitation.objects.filter(
        Q(contact_email__gt="") | Q(contact_phone__gt=""),
        visit__practice=practice,
        respondent=Respondent.PATIENT,
        used_at__isnull=True,
        expires_at__gt=now or timezone.now(),
    )


def with_channels(invitations: QuerySet[Invitation]) -> QuerySet[Invitation]:
    """Whether each invitation has an email address and a phone number, without reading either."""
    return invitations.annotate(
        has_email=ExpressionWrapper(Q(contact_email__gt=""), output_field=BooleanField()),
        has_phone=ExpressionWrapper(Q(contact_phone__gt=""), output_field=BooleanField()),
    )


def unsent_invitations(practice: Practice, now: dt.datetime | None = None) -> QuerySet[Invitation]:
    """Sendable invitations with a channel whose link has not gone out and is not waiting to: what
    "Send to all not yet sent" reaches (a failed or cancelled message does not count as sent)."""
    taken = OutboundMessage.objects.filter(Q(status=Status.QUEUED) | Q(status=Status.SENT, kind=Kind.INVITE), invitation=OuterRef("pk"))
    return sendable_invitations(practice, now).filter(
        Q(contact_email__gt="") & ~Exists(taken.filter(channel=Channel.EMAIL))
        | Q(contact_phone__gt="") & ~Exists(taken.filter(channel=Channel.SMS))
    )


def practice_invitation(practice: Practice, invitation_id: int) -> QuerySet[Invitation]:
    """One patient invitation of this practice, as a queryset for the services; another practice's id: 404."""
    invitations = Invitation.objects.filter(pk=invitation_id, visit__practice=practice, respondent=Respondent.PATIENT)
    if not invitations.exists():
        raise Http404("No such invitation for you.")
    return invitations


def visit_invitations(practice: Practice, visits) -> QuerySet[Invitation]:
    """The patient invitations of some of the practice's visits (those of an import, say)."""
    return Invitation.objects.filter(visit__in=visits, visit__practice=practice, respondent=Respondent.PATIENT)


def with_messages(invitations: QuerySet[Invitation]) -> QuerySet[Invitation]:
    """Prefetch each invitation's messages (one more query for the whole page) and whether it can be sent to."""
    return with_channels(invitations).prefetch_related(
        Prefetch("messages", queryset=OutboundMessage.objects.order_by("-created_at", "-id"))
    )


@dataclass(frozen=True)
class Delivery:
    """The latest message on one channel, as the invitations list shows it."""

    channel: str
    kind: str
    status: str
    at: dt.datetime
    reason: str
    attempts: int

    @property
    def retrying(self) -> bool:
        return self.status == Status.QUEUED and bool(self.reason)


def deliveries(invitation: Invitation) -> list[Delivery]:
    """Per channel, the newest message of an invitation prefetched by `with_messages`, email first."""
    latest: dict[str, OutboundMessage] = {}
    for message in invitation.messages.all():  # newest first
        latest.setdefault(message.channel, message)
    return [
        Delivery(
            channel=channel,
            kind=message.kind,
            status=message.status,
            at=message.sent_at or message.created_at,
            reason=message.last_error,
            attempts=message.attempts,
        )
        for channel, message in sorted(latest.items(), key=lambda item: Channel.values.index(item[0]))
    ]
