"""Reads of the API app, scoped: a practice's keys for the people who may manage them."""

from __future__ import annotations

from django.db.models import F, QuerySet
from django.http import Http404

from surveys.models import Practice

from .models import ApiKey


def practice_keys(practice: Practice) -> QuerySet[ApiKey]:
    """The practice's keys, live first, newest first (the practice comes from selectors.practice_for)."""
    return (
        ApiKey.objects.filter(practice=practice)
        .select_related("created_by")
        .order_by(F("revoked_at").desc(nulls_first=True), "-created_at", "-id")
    )


def practice_key(practice: Practice, key_id: int) -> ApiKey:
    """One key of this practice; another practice's key, or none: Http404."""
    key = ApiKey.objects.select_related("practice").filter(practice=practice, pk=key_id).first()
    if key is None:
        raise Http404("No such API key.")
    return key
