"""Every read of survey data, scoped to what the asking user may see.

A lookup of a practice-owned object that the user may not see answers Http404, never data.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass

from django.db import connections, router
from django.db.models import (
    Aggregate,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.http import Http404
from django.utils import timezone

from measurement import scoring
from measurement.gaps import PairedGap, item_pair_gaps, mirrored_pairs
from measurement.instruments import spec_for_version
from plumbing.period import Period

from .models import (
    Answer,
    CardLink,
    Dyad,
    InstrumentVersion,
    Invitation,
    Membership,
    Practice,
    Respondent,
    Response,
    Role,
    SelfAssessment,
    SelfAssessmentReminder,
    Visit,
)
from .permissions import practices_for
from .tokens import hash_short_code, hash_token, looks_like_token, normalize_short_code


def invitation_for_token(token: str) -> Invitation | None:
    """The patient invitation behind a link, with its visit and instrument version; None for anything unknown
    (junk never hits the database).

    A link is the invitation's own (made with the visit) or one handed out for it later whose table is registered
    (`register_link_source`: QR cards' `CardLink`, messaging's emails and SMS): one query either way. Each of those
    is a scalar subquery, which PostgreSQL runs once and then ORs with the invitation's own hash, each through its unique index;
    a join instead would make the OR span two tables and scan them.

    The SQL is written once per process (`_token_lookup`), not compiled by the ORM on every request: on the
    patient's POST the compilation took longer than the query. The rows still load as the ORM loads them
    (each value through its field's converters), the version without its JSON texts (deferred: only
    spec_for_version reads them, once per process and version).
    """
    if not looks_like_token(token):
        return None
    token_hash = hash_token(token)
    db = router.db_for_read(Invitation)
    connection = connections[db]
    sql, parts = _token_lookup(db)
    with connection.cursor() as cursor:
        cursor.execute(sql, [token_hash] * (1 + len(_link_sources)) + [Respondent.PATIENT])
        row = cursor.fetchone()
    if row is None:
        return None
    invitation, visit, version = _load(connection, db, parts, row)
    invitation.visit, invitation.instrument_version = visit, version
    return invitation


def invitation_for_short_code(typed: str) -> Invitation | None:
    """The patient invitation behind a QR card's short code as a person typed it (any case, with or without
    dashes); None for anything unknown (junk never hits the database). Rate-limited by the view
    (plumbing.ratelimit.limit_short_codes): the code has 60 bits, not 256."""
    code = normalize_short_code(typed)
    if code is None:
        return None
    card = (
        CardLink.objects.select_related("invitation__visit", "invitation__instrument_version")
        .filter(code_hash=hash_short_code(code), invitation__respondent=Respondent.PATIENT)
        .first()
    )
    return None if card is None else card.invitation


_link_sources: list = []


def register_link_source(model) -> None:
    """Let links handed out after the visit's own (QR cards; another app's emails) open invitations too: `model` has a unique `token_hash` and an
    `invitation` foreign key. Called from that app's AppConfig.ready(), before any request, so surveys never
    imports the apps built on it."""
    if model not in _link_sources:
        _link_sources.append(model)
        _token_lookup.cache_clear()


@functools.cache
def _token_lookup(db: str) -> tuple[str, tuple]:
    """The token lookup's SQL on database `db` and, per model, the fields it reads, in column order."""
    parts = (
        ("i", Invitation, tuple(Invitation._meta.concrete_fields)),
        ("v", Visit, tuple(Visit._meta.concrete_fields)),
        ("iv", InstrumentVersion,
         tuple(f for f in InstrumentVersion._meta.concrete_fields if f.name not in {"definition", "title"})),
    )
    quote = connections[db].ops.quote_name
    columns = ", ".join(f"{alias}.{quote(f.column)}" for alias, _, fields in parts for f in fields)
    sql = (
        f"SELECT {columns} FROM {quote(Invitation._meta.db_table)} i"
        f" INNER JOIN {quote(Visit._meta.db_table)} v ON v.id = i.visit_id"
        f" INNER JOIN {quote(InstrumentVersion._meta.db_table)} iv ON iv.id = i.instrument_version_id"
        " WHERE (i.token_hash = %s"
        + "".join(
            f" OR i.id = (SELECT m.{quote(source._meta.get_field('invitation').column)}"
            f" FROM {quote(source._meta.db_table)} m WHERE m.{quote(source._meta.get_field('token_hash').column)} = %s)"
            for source in _link_sources
        )
        + ") AND i.respondent = %s"
    )
    return sql, tuple((model, fields) for _, model, fields in parts)


def _load(connection, db: str, parts, row) -> list:
    """Model instances from one row, each value through the converters the ORM would apply."""
    instances, start = [], 0
    for model, fields in parts:
        values = []
        for field, value in zip(fields, row[start:start + len(fields)]):
            col = field.get_col(model._meta.db_table)
            for convert in connection.ops.get_db_converters(col) + col.get_db_converters(connection):
                value = convert(value, col, connection)
            values.append(value)
        instances.append(model.from_db(db, [f.attname for f in fields], values))
        start += len(fields)
    return instances


@dataclass(frozen=True)
class VisitPeople:
    clinician: str
    practice: str
    min_n: int


def visit_people(visit: Visit) -> VisitPeople:
    """Who the questionnaire is about, named on the form: the clinician (display name) and the practice (one query)."""
    first, last, username, practice, min_n = Dyad.objects.filter(pk=visit.dyad_id).values_list(
        "clinician__first_name", "clinician__last_name", "clinician__username", "practice__name",
        "practice__min_reporting_n",
    ).get()
    return VisitPeople(clinician=f"{first} {last}".strip() or username, practice=practice, min_n=min_n)


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


def clinician_visits_to_answer(user, now=None) -> QuerySet[Visit]:
    """The signed-in clinician's visits whose own questionnaire is still open (not sent, not expired), newest
    first: what "Still to fill" lists. An expired questionnaire can no longer be answered, so it is not listed
    as something to do (issue 14); the visits list shows it as expired."""
    now = now or timezone.now()
    return clinician_visits(user).filter(
        invitations__respondent=Respondent.CLINICIAN,
        invitations__used_at__isnull=True,
        invitations__expires_at__gt=now,
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


def latest_patient_response_shared() -> Subquery:
    """Whether a dyad's most recent patient response was shared with the clinician (for annotating dyads):
    only those dyads appear by name on the clinician's pages; a later unshared answer withdraws the consent."""
    return Subquery(
        Response.objects.filter(dyad_id=OuterRef("pk"), respondent=Respondent.PATIENT)
        .order_by("-submitted_at", "-id")
        .values("shared_with_clinician")[:1]
    )


def clinician_dyad(user, practice: Practice, dyad_id: int) -> Dyad:
    """One of the signed-in clinician's own dyads in this practice whose patient shared their latest answers with
    them (docs/privacy.md). Anyone else's, and an unshared one: 404, the same answer."""
    dyad = (
        Dyad.objects.select_related("patient")
        .filter(pk=dyad_id, practice=practice, clinician=user)
        .annotate(shared=latest_patient_response_shared())
        .filter(shared=True)
        .first()
    )
    if dyad is None:
        raise Http404("No such dyad for you.")
    return dyad


def practice_for(user, slug: str, role: str = Role.MANAGER) -> Practice:
    practice = practices_for(user, role).filter(slug=slug).first()
    if practice is None:
        raise Http404("No such practice for you.")
    return practice


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


# --- manager tools: the invitations list and printable QR cards (front/manager_views.py) --------------

INVITATION_STATUSES = ("open", "opened", "completed", "expired")


def invitation_status(invitation: Invitation, now=None) -> str:
    """The manager's view of a patient invitation: `invitation_state`, with open split by whether it was opened."""
    if now is None:
        state = invitation_state(invitation)
    elif invitation.used_at is not None:
        state = "used"
    else:
        state = "expired" if invitation.expires_at <= now else "open"
    if state == "used":
        return "completed"
    if state == "open" and invitation.opened_at is not None:
        return "opened"
    return state


def _status_filter(status: str, now) -> Q:
    """The database twin of invitation_status: keep the two in step."""
    not_used, live = Q(used_at__isnull=True), Q(expires_at__gt=now)
    return {
        "completed": Q(used_at__isnull=False),
        "expired": not_used & ~live,
        "opened": not_used & live & Q(opened_at__isnull=False),
        "open": not_used & live & Q(opened_at__isnull=True),
    }[status]


def practice_invitations(
    practice: Practice,
    status: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    now=None,
) -> QuerySet[Invitation]:
    """A practice's patient invitations, newest visit first, with all a list row shows in one query."""
    invitations = (
        Invitation.objects.filter(visit__practice=practice, respondent=Respondent.PATIENT)
        .select_related("visit__dyad__clinician", "visit__dyad__patient")
        .order_by("-visit__date", "-created_at", "-id")
    )
    if status:
        invitations = invitations.filter(_status_filter(status, now or timezone.now()))
    if start:
        invitations = invitations.filter(visit__date__gte=start)
    if end:
        invitations = invitations.filter(visit__date__lte=end)
    return invitations


def printable_invitations(practice: Practice, date: dt.date, now=None) -> QuerySet[Invitation]:
    """Patient invitations of a day's visits that can still be answered: the ones a QR card is printed for (with
    the patient and the clinician each card names)."""
    return Invitation.objects.select_related("visit__dyad__patient", "visit__dyad__clinician").filter(
        visit__practice=practice,
        visit__date=date,
        respondent=Respondent.PATIENT,
        used_at__isnull=True,
        expires_at__gt=now or timezone.now(),
    )


# --- time to complete: what cards, emails and SMS promise, and the dashboard's tile ------------------------------


class MedianSeconds(Aggregate):
    """PostgreSQL's percentile_cont(0.5) over an interval, in seconds: the median computed in the database."""

    function = "percentile_cont"
    template = "percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM %(expressions)s))"
    output_field = FloatField()


def median_minutes_to_complete(practice: Practice, period: Period) -> float | None:
    """Median time from opening a patient questionnaire to sending it, over the period's patient responses (of
    its clinician and version, when the period names them)."""
    start, end = period.bounds
    responses = Response.objects.filter(
        practice=practice, respondent=Respondent.PATIENT, submitted_at__gte=start, submitted_at__lt=end,
        started_at__isnull=False,
    )
    if period.clinician_id:
        responses = responses.filter(dyad__clinician_id=period.clinician_id)
    if period.version_id:
        responses = responses.filter(instrument_version_id=period.version_id)
    if connections[responses.db].vendor == "postgresql":
        duration = ExpressionWrapper(F("submitted_at") - F("started_at"), output_field=DurationField())
        seconds = responses.aggregate(median=MedianSeconds(duration))["median"]
    else:
        durations = [(s - o).total_seconds() for s, o in responses.values_list("submitted_at", "started_at")]
        seconds = statistics.median(durations) if durations else None
    return None if seconds is None else float(seconds) / 60


def typical_minutes_to_complete(practice: Practice, default: int = 5) -> int:
    """What the practice's patients take, rounded up to a whole minute: the median over the last year, or
    `default` before anyone has answered. Cards, emails and SMS tell patients this, not a number we made up
    (issue 14: they said "about 3 minutes" where the practice's median was 4.8)."""
    median = median_minutes_to_complete(practice, Period.last_days(365))
    return default if median is None else max(1, math.ceil(median))


# --- the competencies self-assessment: periodic, per clinician and practice (docs/instruments.md) ---------------

SELF_ASSESSMENT_INSTRUMENT = "competencies"


def self_assessment_period(practice: Practice, day: dt.date) -> dt.date:
    """First day of the practice's self-assessment period holding `day`: periods of 1, 3, 6 or 12 months
    counted from January, so a quarterly practice's periods are the calendar quarters."""
    months = practice.self_assessment_months
    return dt.date(day.year, (day.month - 1) // months * months + 1, 1)


def next_self_assessment_period(practice: Practice, day: dt.date) -> dt.date:
    start = self_assessment_period(practice, day)
    month = start.month - 1 + practice.self_assessment_months
    return dt.date(start.year + month // 12, month % 12 + 1, 1)


def self_assessment_version() -> InstrumentVersion | None:
    """The current version of the competencies self-assessment; None until it is loaded."""
    return InstrumentVersion.objects.filter(instrument__slug=SELF_ASSESSMENT_INSTRUMENT, is_current=True).first()


def self_assessment_taken(user, practice: Practice, period_start: dt.date) -> SelfAssessment | None:
    return SelfAssessment.objects.filter(clinician=user, practice=practice, period_start=period_start).first()


def due_self_assessments(user, today: dt.date | None = None) -> list[Practice]:
    """The practices where the signed-in clinician has not taken this period's self-assessment (one query for the
    practices, one for what was taken; a person is a clinician in few practices)."""
    today = today or timezone.localdate()
    practices = list(practices_for(user, Role.CLINICIAN))
    taken = set(SelfAssessment.objects.filter(clinician=user).values_list("practice_id", "period_start"))
    return [p for p in practices if (p.pk, self_assessment_period(p, today)) not in taken]


def own_self_assessments(user, practice: Practice) -> list[SelfAssessment]:
    """A clinician's own self-assessments in a practice, oldest period first: only they see them."""
    return list(SelfAssessment.objects.filter(clinician=user, practice=practice).order_by("period_start"))


def self_assessment_reminders_due(today: dt.date | None = None) -> list[tuple[Practice, object, dt.date]]:
    """(practice, clinician, period start) for every clinician with an e-mail address whose self-assessment for
    the current period is due and who has not been reminded in it: what the scheduled reminder sends."""
    today = today or timezone.localdate()
    memberships = list(
        Membership.objects.filter(role=Role.CLINICIAN, user__is_active=True)
        .exclude(user__email="")
        .select_related("practice", "user")
        .order_by("practice_id", "user_id")
    )
    periods = {m.practice_id: self_assessment_period(m.practice, today) for m in memberships}
    taken = set(
        SelfAssessment.objects.filter(period_start__in=set(periods.values())).values_list(
            "practice_id", "clinician_id", "period_start"
        )
    )
    reminded = set(
        SelfAssessmentReminder.objects.filter(period_start__in=set(periods.values())).values_list(
            "practice_id", "clinician_id", "period_start"
        )
    )
    due = []
    for membership in memberships:
        key = (membership.practice_id, membership.user_id, periods[membership.practice_id])
        if key not in taken and key not in reminded:
            due.append((membership.practice, membership.user, key[2]))
    return due


def paired_measures(responses: QuerySet[Response], answer_model=Answer,
                    version_model=InstrumentVersion) -> dict[int, dict[str, PairedGap] | None]:
    """{visit id: its wave's item-pair gaps (measurement.gaps), or None where the wave cannot be paired item by
    item (instrument 1.0) and keeps the domain rule}, for the waves of `responses` (both sides of each visit must
    be among them). Two queries: the answers with their visit, side and version, then the versions' specs. The
    models are a migration's historical ones when it passes them (`surveys.latest.rebuild_bands`).

    Read from the answers: a flag depends on every item of the wave, which the score rows do not keep. The
    read model keeps only each wave's band (`surveys.latest.wave_bands`, written when its second side arrives),
    which is what a whole practice's dashboard counts; a clinician's own page, a dyad's and a report's period
    read the measures themselves, for the gap sizes and their errors (docs/measurement.md).
    """
    answers: dict[tuple[int, str], dict[str, int | str]] = defaultdict(dict)
    versions: dict[tuple[int, str], int] = {}
    for visit_id, respondent, version_id, code, value in (
        answer_model.objects.using(responses.db).filter(response__in=responses)
        .values_list("response__visit_id", "response__respondent", "response__instrument_version_id", "item__code", "value")
        .order_by()
    ):
        answers[(visit_id, respondent)][code] = scoring.NA if value is None else value
        versions[(visit_id, respondent)] = version_id
    versions_used = version_model.objects.using(responses.db).filter(pk__in=set(versions.values()))
    specs = {v.pk: spec_for_version(v) for v in versions_used}
    pairings: dict[tuple[int, int], tuple | None] = {}  # a few version pairs among many waves: pair them once
    measures: dict[int, dict[str, PairedGap] | None] = {}
    for visit_id in {visit for visit, _side in versions}:
        clinician, patient = (versions.get((visit_id, side)) for side in (Respondent.CLINICIAN, Respondent.PATIENT))
        if clinician is None or patient is None:
            continue
        if (clinician, patient) not in pairings:
            pairings[(clinician, patient)] = mirrored_pairs(specs[clinician], specs[patient])
        pairs = pairings[(clinician, patient)]
        measures[visit_id] = None if pairs is None else item_pair_gaps(
            pairs, answers[(visit_id, Respondent.CLINICIAN)], answers[(visit_id, Respondent.PATIENT)], specs[patient].scale
        )
    return measures
