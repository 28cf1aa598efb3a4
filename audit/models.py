"""An append-only audit trail: who did what, when, to which object, in which practice, from where.

Never answer contents: an event names objects, it does not copy them.
"""

from django.conf import settings
from django.db import models


class Action(models.TextChoices):
    SIGN_IN = "sign_in", "Signed in"
    SIGN_IN_FAILED = "sign_in_failed", "Sign-in failed"
    SIGN_OUT = "sign_out", "Signed out"
    EXPORT = "export", "Exported data"
    REPORT_DOWNLOAD = "report_download", "Downloaded a report"
    REPORT_REQUEST = "report_request", "Requested a report"
    VISIT_IMPORT = "visit_import", "Imported visits"
    CARDS_PRINTED = "cards_printed", "Printed invitation cards"
    ADMIN_CHANGE = "admin_change", "Changed data in admin"
    PATIENT_FORGOTTEN = "patient_forgotten", "Erased a patient's answers"
    CONTACTS_PURGED = "contacts_purged", "Deleted used or expired contact details"
    API_KEY_CREATED = "api_key_created", "Created an API key"
    API_KEY_REVOKED = "api_key_revoked", "Revoked an API key"
    MESSAGES_QUEUED = "messages_queued", "Queued invitation messages"
    RELEASE_REFUSED = "release_refused", "Was refused row-level data"


class AppendOnlyError(Exception):
    """Audit events are written once and never changed or removed."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit events cannot be changed.")

    def delete(self):
        raise AppendOnlyError("Audit events cannot be deleted.")


class AuditEvent(models.Model):
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # No cascading: a deleted account or practice must not rewrite history (the table is append-only),
    # so these keep the old id and the names are kept as text beside them.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True, help_text="Who, as named at the time (or the command line).")
    action = models.CharField(max_length=32, choices=Action.choices, db_index=True)
    practice = models.ForeignKey(
        "surveys.Practice", null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    client_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True, help_text="Counts and names; never answers.")

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["practice", "at"])]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name or '-'} {self.get_action_display()}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events cannot be deleted.")
