"""Every read of survey data, scoped to what the asking user may see.

A lookup of a practice-owned object that the user may not see answers Http404, never data.
"""

from __future__ import annotations

import functools

from django.db import connections, router
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone

from . import scoring
from .models import DomainScore, Dyad, InstrumentVersion, Invitation, Practice, Respondent, Response, Role, Visit
from .permissions import practices_for
from .tokens import hash_token, looks_like_token


def invitation_for_token(token: str) -> Invitation | None:
    """The patient invitation behind a link, with its visit and instrument version; None for anything unknown
    (junk never hits the database).

    A link is the invitation's own (made with the visit or printed on a card) or the one in an email or SMS
    (messaging.OutboundMessage.token_hash): one query either way. The message side is a scalar subquery,
    which PostgreSQL runs once and then ORs with the invitation's own hash, each through its unique index;
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
        cursor.execute(sql, [token_hash, token_hash, Respondent.PATIENT])
        row = cursor.fetchone()
    if row is None:
        return None
    invitation, visit, version = _load(connection, db, parts, row)
    invitation.visit, invitation.instrument_version = visit, version
    return invitation


@functools.cache
def _token_lookup(db: str) -> tuple[str, tuple]:
    """The token lookup's SQL on database `db` and, per model, the fields it reads, in column order."""
    from messaging.models import OutboundMessage

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
        f" WHERE (i.token_hash = %s OR i.id = (SELECT m.invitation_id FROM {quote(OutboundMessage._meta.db_table)} m"
        " WHERE m.token_hash = %s)) AND i.respondent = %s"
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


def clinician_dyad(user, practice: Practice, dyad_id: int) -> Dyad:
    """One of the signed-in clinician's own dyads in this practice (anyone else's: 404)."""
    dyad = Dyad.objects.select_related("patient").filter(pk=dyad_id, practice=practice, clinician=user).first()
    if dyad is None:
        raise Http404("No such dyad for you.")
    return dyad


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


# --- manager tools ---------------------------------------------------------------------------------
# Visit import, the invitations list and printable QR cards (surveys/manager_views.py).

import datetime as dt  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

from django.db.models import Q  # noqa: E402

from .imports import ImportRow, RowError  # noqa: E402
from .models import Membership  # noqa: E402

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
    """Patient invitations of a day's visits that can still be answered: the ones a QR card is printed for."""
    return Invitation.objects.filter(
        visit__practice=practice,
        visit__date=date,
        respondent=Respondent.PATIENT,
        used_at__isnull=True,
        expires_at__gt=now or timezone.now(),
    )


@dataclass
class ImportPlan:
    """What importing some checked rows would do: the visits to create, the ones already there, the refusals."""

    new: list[ImportRow] = field(default_factory=list)
    already_imported: list[ImportRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    clinicians: dict = field(default_factory=dict)  # username -> user, for the rows in `new`

    def report(self, file_errors=()) -> list[RowError]:
        """Every row that will not be imported, by line: the file's own errors, ours, and the duplicates."""
        already = [
            RowError(row.line, "already_imported", "Already imported: this clinician saw this patient on this date.")
            for row in self.already_imported
        ]
        return sorted([*file_errors, *self.errors, *already])


def plan_import(practice: Practice, rows: list[ImportRow]) -> ImportPlan:
    """Check rows against the practice in a fixed number of queries, whatever the number of rows.

    "Unknown clinician" covers both a username nobody has and a person outside this practice, so a
    manager cannot use the import to find out who has an account at other practices.
    """
    plan = ImportPlan()
    usernames = {row.clinician for row in rows}
    roles: dict[str, set[str]] = {}
    users = {}
    for membership in Membership.objects.filter(practice=practice, user__username__in=usernames).select_related("user"):
        users[membership.user.username] = membership.user
        roles.setdefault(membership.user.username, set()).add(membership.role)
    clinician_ids = {users[name].pk for name, held in roles.items() if Role.CLINICIAN in held}
    existing = set()
    dates = [row.date for row in rows]
    if clinician_ids and dates:
        existing = set(
            Visit.objects.filter(
                practice=practice, dyad__clinician_id__in=clinician_ids, date__gte=min(dates), date__lte=max(dates)
            ).values_list("dyad__clinician__username", "dyad__patient__reference", "date")
        )
    seen: dict[tuple, int] = {}
    for row in rows:
        if row.clinician not in roles:
            plan.errors.append(RowError(row.line, "unknown_clinician", f"No clinician “{row.clinician[:40]}” in this practice."))
        elif Role.CLINICIAN not in roles[row.clinician]:
            plan.errors.append(
                RowError(row.line, "not_clinician", f"“{row.clinician[:40]}” is not a clinician of this practice.")
            )
        elif row.key in existing:
            plan.already_imported.append(row)
        elif row.key in seen:
            # Rows from parse_text are already unique; this keeps the service safe for any caller.
            plan.errors.append(RowError(row.line, "duplicate", f"Same clinician, patient and date as line {seen[row.key]}."))
        else:
            seen[row.key] = row.line
            plan.new.append(row)
            plan.clinicians[row.clinician] = users[row.clinician]
    return plan
