"""Every read of survey data, scoped to what the asking user may see.

A lookup of a practice-owned object that the user may not see answers Http404, never data.
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone

from . import scoring
from .models import DomainScore, Invitation, Practice, Respondent, Response, Role, Visit
from .permissions import practices_for
from .tokens import hash_token, looks_like_token


def invitation_for_token(token: str) -> Invitation | None:
    """The patient invitation behind a link, or None for anything unknown (junk never hits the database)."""
    if not looks_like_token(token):
        return None
    return (
        Invitation.objects.select_related("visit", "instrument_version")
        .filter(token_hash=hash_token(token), respondent=Respondent.PATIENT)
        .first()
    )


def invitation_state(invitation: Invitation | None) -> str:
    if invitation is None:
        return "unknown"
    if invitation.used_at is not None:
        return "used"
    if invitation.expires_at <= timezone.now():
        return "expired"
    return "open"


def clinician_visits(user) -> QuerySet[Visit]:
    """The signed-in clinician's own visits, newest first, with their wave's invitations and responses."""
    return (
        Visit.objects.filter(dyad__clinician=user, practice__in=practices_for(user, Role.CLINICIAN))
        .select_related("dyad__patient", "practice")
        .prefetch_related(Prefetch("invitations", queryset=Invitation.objects.select_related("response")))
    )


def pending_clinician_visits(user) -> QuerySet[Visit]:
    """Visits whose clinician questionnaire is still open to this clinician."""
    return clinician_visits(user).filter(
        invitations__respondent=Respondent.CLINICIAN,
        invitations__used_at__isnull=True,
        invitations__expires_at__gt=timezone.now(),
    )


def clinician_invitation(user, visit_id: int) -> Invitation:
    """The clinician questionnaire of a visit, for that visit's clinician only (anyone else: 404)."""
    invitation = (
        Invitation.objects.select_related("visit__dyad__patient", "visit__practice", "instrument_version")
        .filter(
            visit_id=visit_id,
            respondent=Respondent.CLINICIAN,
            visit__dyad__clinician=user,
            visit__practice__in=practices_for(user, Role.CLINICIAN),
        )
        .first()
    )
    if invitation is None:
        raise Http404("No such visit for you.")
    return invitation


def practice_for(user, slug: str, role: str = Role.MANAGER) -> Practice:
    practice = practices_for(user, role).filter(slug=slug).first()
    if practice is None:
        raise Http404("No such practice for you.")
    return practice


def practice_visits(practice: Practice) -> QuerySet[Visit]:
    return (
        Visit.objects.filter(practice=practice)
        .select_related("dyad__patient", "dyad__clinician")
        .prefetch_related(
            Prefetch(
                "responses",
                queryset=Response.objects.prefetch_related(Prefetch("scores", queryset=DomainScore.objects.all())),
            ),
            "invitations",
        )
    )


def scores_by_respondent(visit: Visit) -> dict[str, dict[str, float | None]]:
    """{respondent: {domain: score}} from a visit whose responses and scores were prefetched."""
    return {r.respondent: {s.domain: s.score for s in r.scores.all()} for r in visit.responses.all()}


def wave_gaps(visit: Visit) -> list[scoring.Gap]:
    """Clinician-minus-patient gaps for a visit's wave; empty until both have answered."""
    scores = scores_by_respondent(visit)
    if Respondent.PATIENT not in scores or Respondent.CLINICIAN not in scores:
        return []
    return scoring.wave_gaps(scores[Respondent.CLINICIAN], scores[Respondent.PATIENT])


def has_visits() -> bool:
    return Visit.objects.exists()


def practice_by_slug(slug: str) -> Practice | None:
    """Unscoped lookup for the command line (run by operators, not web users)."""
    return Practice.objects.filter(slug=slug).first()


def export_responses(practice: Practice) -> QuerySet[Response]:
    return (
        Response.objects.filter(practice=practice)
        .select_related("visit", "dyad__clinician", "dyad__patient", "instrument_version__instrument")
        .prefetch_related("scores")
        .order_by("submitted_at", "id")
    )
