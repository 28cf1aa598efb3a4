"""Every write of the API app: make and revoke keys, check a key, create a visit for an EHR. Each is audited here,
so no entry point can skip it.

Keys are "hk_" + secrets.token_urlsafe(32): 256 random bits, so, like the patient tokens (surveys/tokens.py),
they need no salt or slow hash; the database keeps only the SHA-256. A key is found by the hash of what the
client sent, so the comparison that matters happens on digests: timing can tell a caller at most something about
a hash they cannot invert, never about a key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from audit import services as audit
from audit.models import Action
from interchange.ehr import selectors as import_selectors
from interchange.ehr.parse import ImportRow
from surveys import services as survey_services
from surveys.models import Invitation, Practice, Respondent, Role, Visit
from surveys.permissions import practices_for

from .models import LIVE_NAME_TAKEN, PREFIX_LENGTH, ApiKey
from .payloads import VisitRequest

KEY_PREFIX = "hk_"
KEY_BYTES = 32
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")

# audit/models.py has no actions for API keys yet: until API_KEY_CREATED / API_KEY_REVOKED are added there, key
# changes are recorded as ADMIN_CHANGE with detail {"api_key": "created" | "revoked"}.
KEY_CREATED = getattr(Action, "API_KEY_CREATED", Action.ADMIN_CHANGE)
KEY_REVOKED = getattr(Action, "API_KEY_REVOKED", Action.ADMIN_CHANGE)


class ApiError(Exception):
    """A request the API refuses, with a message the integrator can act on."""


class NotAllowed(ApiError):
    pass


class NotReady(ApiError):
    """The site cannot take visits yet (no instruments loaded): the operator's to fix, not the caller's."""


class InvalidVisit(ApiError):
    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))


class DuplicateVisit(ApiError):
    """The same clinician, patient and date is already a visit (as in the visit import)."""

    def __init__(self, visit_id: int):
        self.visit_id = visit_id
        super().__init__(f"This visit already exists (visit {visit_id}).")


# --- keys --------------------------------------------------------------------------------------


def new_raw_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def looks_like_key(raw_key: str) -> bool:
    """Cheap shape check so junk never reaches the database."""
    body = raw_key[len(KEY_PREFIX) :]
    return raw_key.startswith(KEY_PREFIX) and 20 <= len(body) <= 128 and set(body) <= _KEY_CHARS


def _check_manager(user, practice: Practice) -> None:
    if not practices_for(user, Role.MANAGER).filter(pk=practice.pk).exists():
        raise NotAllowed("Only a manager of this practice can manage its API keys.")


def create_key(practice: Practice, name: str, created_by, *, request=None) -> tuple[ApiKey, str]:
    """A new live key for the practice; returns it with the raw key, which is never stored and shown only now.

    Raises ValidationError for a blank or too long name, or one a live key of the practice already has.
    """
    _check_manager(created_by, practice)
    raw_key = new_raw_key()
    key = ApiKey(
        practice=practice,
        name=(name or "").strip(),
        prefix=raw_key[:PREFIX_LENGTH],
        key_hash=hash_key(raw_key),
        created_by=created_by,
    )
    key.full_clean()
    try:
        with transaction.atomic():
            key.save()
            _record_key_created(key, created_by, request)
    except IntegrityError:
        # The same name made live by someone else between full_clean and save.
        raise ValidationError(LIVE_NAME_TAKEN) from None
    return key, raw_key


def _record_key_created(key: ApiKey, created_by, request) -> None:
    audit.record(
        KEY_CREATED, actor=created_by, request=request, practice=key.practice, obj=key,
        api_key="created", name=key.name, prefix=key.prefix,
    )


def revoke_key(key: ApiKey, revoked_by, *, request=None) -> bool:
    """Revoke a live key, at once and for good. False (and nothing recorded) when it was already revoked."""
    _check_manager(revoked_by, key.practice)
    now = timezone.now()
    with transaction.atomic():
        # Conditional UPDATE: two revocations at once record one event.
        revoked = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=now) == 1
        if revoked:
            key.revoked_at = now
            audit.record(
                KEY_REVOKED, actor=revoked_by, request=request, practice=key.practice, obj=key,
                api_key="revoked", name=key.name, prefix=key.prefix,
            )
    return revoked


def authenticate(practice_slug: str, raw_key: str) -> ApiKey | None:
    """The live key `raw_key` of the practice `practice_slug`, or None when it is not a live key at all.

    A live key of another practice raises Http404, as for any other practice's object (docs/privacy.md): the caller
    learns nothing about which practices exist. Marks the key as used.
    """
    if not looks_like_key(raw_key):
        return None
    digest = hash_key(raw_key)
    key = ApiKey.objects.select_related("practice").filter(key_hash=digest, revoked_at__isnull=True).first()
    if key is None or not hmac.compare_digest(key.key_hash, digest):
        return None
    if key.practice.slug != practice_slug:
        raise Http404("No such practice for this key.")
    key.last_used_at = timezone.now()
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=key.last_used_at)
    return key


# --- visits ------------------------------------------------------------------------------------


def create_visit(key: ApiKey, visit: VisitRequest, *, request=None) -> survey_services.NewVisit:
    """A visit with its pair of questionnaires for the key's practice, by the visit import's rules.

    The same checks as a one-row import (interchange.ehr.selectors.plan_import): the clinician must be a clinician of this
    practice (an unknown username and someone from elsewhere get the same answer), and a visit with the same
    clinician, patient and date is never created twice: DuplicateVisit names the one there is. Requests of one
    practice are serialised by locking its row (PostgreSQL), so two identical requests at once make one visit.
    Contact details go on the patient's invitation and nowhere else.
    """
    practice = key.practice
    row = ImportRow(
        line=1,
        date=visit.date or timezone.localdate(),
        clinician=visit.clinician,
        patient=visit.patient,
        email=visit.email,
        phone=visit.phone,
    )
    with transaction.atomic():
        Practice.objects.select_for_update().filter(pk=practice.pk).first()
        plan = import_selectors.plan_import(practice, [row])
        if plan.errors:
            raise InvalidVisit({"clinician": "No clinician with this username in this practice."})
        if plan.already_imported:
            existing = Visit.objects.filter(
                practice=practice,
                dyad__clinician__username=row.clinician,
                dyad__patient__reference=row.patient,
                date=row.date,
            ).values_list("pk", flat=True).first()
            raise DuplicateVisit(existing)
        try:
            new_visit = survey_services.create_visit(practice, plan.clinicians[row.clinician], row.patient, row.date)
        except survey_services.ServiceError as exc:
            # The request was checked above, so what is left is the site's state (no instrument loaded).
            raise NotReady(str(exc)) from exc
        if row.email or row.phone:
            Invitation.objects.filter(visit=new_visit.visit, respondent=Respondent.PATIENT).update(
                contact_email=row.email, contact_phone=row.phone
            )
        audit.record(
            Action.VISIT_IMPORT,
            request=request,
            actor_name=f"API key {key.prefix}… ({key.name})"[:150],
            practice=practice,
            obj=new_visit.visit,
            via="api",
            api_key=key.pk,
            created=1,
        )
    return new_visit
