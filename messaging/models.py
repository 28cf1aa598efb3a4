"""Invitation links sent by email or SMS: one row per message, each with its own single-use link.

Only token hashes are stored (README.md), so a message's link can only be made when it is sent: the task
makes a token inside the worker, stores its hash here and sends it; the raw token lives in memory only.
Every message's link opens the same invitation, which stays single-use because answering sets
Invitation.used_at, and expires with it. No contact details are kept here: they are read from the
invitation at send time, so the data-minimisation purge needs to know nothing of this table.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from surveys.models import Invitation


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class Kind(models.TextChoices):
    INVITE = "invite", "Invitation"
    REMINDER = "reminder", "Reminder"


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    # Not sent because it was no longer needed or possible: the questionnaire was answered or expired,
    # or the contact detail was deleted, before the worker got to it. Not a fault, so not "failed".
    CANCELLED = "cancelled", "Not needed"


class OutboundMessage(models.Model):
    invitation = models.ForeignKey(Invitation, on_delete=models.CASCADE, related_name="messages")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.INVITE)
    # The hash of the link in this message; empty until the worker makes it. A retry makes a new link.
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    # While a worker is sending: its lease on the message. A second holder of the same task waits it out,
    # and a worker that died mid-send only delays the message until then.
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    # Why the last attempt failed, in our own words: never the address, the number or a provider's reply.
    last_error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(channel__in=Channel.values), name="message_channel_known"),
            models.CheckConstraint(condition=Q(kind__in=Kind.values), name="message_kind_known"),
            models.CheckConstraint(condition=Q(status__in=Status.values), name="message_status_known"),
            models.CheckConstraint(
                condition=Q(status="sent", sent_at__isnull=False) | (~Q(status="sent") & Q(sent_at__isnull=True)),
                name="message_sent_at_iff_sent",
            ),
            # A double click, or two managers at once, queue one message per channel, not two.
            models.UniqueConstraint(
                fields=["invitation", "channel"], condition=Q(status="queued"), name="one_queued_message_per_channel"
            ),
            # One reminder per invitation and channel, ever, even if the hourly sweep ran twice at once.
            models.UniqueConstraint(
                fields=["invitation", "channel"], condition=Q(kind="reminder"), name="one_reminder_per_channel"
            ),
        ]
        indexes = [
            # The reminder sweep: invitations whose invite went out long enough ago.
            models.Index(fields=["kind", "status", "sent_at"], name="message_kind_status_sent"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} by {self.get_channel_display()} for invitation {self.invitation_id}"
