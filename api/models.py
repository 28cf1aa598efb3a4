"""Per-practice API keys for EHR integration (docs/api.md).

A key is shown once, when it is made; the database keeps its SHA-256 and the first characters for people to
tell keys apart. A revoked key stays, for the audit trail and the list, and never works again.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

PREFIX_LENGTH = 8
LIVE_NAME_TAKEN = "This practice already has a live key with this name."


class ApiKey(models.Model):
    practice = models.ForeignKey("surveys.Practice", on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, help_text="What the key is for, e.g. the EHR system that holds it.")
    prefix = models.CharField(max_length=PREFIX_LENGTH, help_text="The key's first characters, to recognise it by.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False, help_text="SHA-256 of the key (hex).")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="api_key_has_name"),
            models.CheckConstraint(condition=~Q(key_hash=""), name="api_key_has_hash"),
            # Live keys of a practice have distinct names, so the list and the audit trail can tell them apart.
            models.UniqueConstraint(
                fields=["practice", "name"],
                condition=Q(revoked_at__isnull=True),
                name="api_key_live_name_unique_in_practice",
                violation_error_message=LIVE_NAME_TAKEN,
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None
