"""The database checks of a visit import: is each row's clinician a clinician of the practice, and was the visit
already imported? In a fixed number of queries, whatever the number of rows."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext

from surveys.models import Membership, Practice, Role, Visit

from .parse import ImportRow, RowError, duplicate_message


@dataclass
class ImportPlan:
    """What importing some checked rows would do: the visits to create, the ones already there, the refusals."""

    new: list[ImportRow] = field(default_factory=list)
    already_imported: list[ImportRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    # The clinician problems of rows the parser already refused (reported with the row's other problems).
    refused_errors: list[RowError] = field(default_factory=list)
    clinicians: dict = field(default_factory=dict)  # username -> user, for the rows in `new`

    def report(self, file_errors=()) -> list[RowError]:
        """Every row that will not be imported, by line: the file's own errors, ours, and the duplicates."""
        already = [
            RowError(row.line, "already_imported", gettext("Already imported: this clinician saw this patient on this date."))
            for row in self.already_imported
        ]
        return sorted([*file_errors, *self.errors, *self.refused_errors, *already])


def plan_import(practice: Practice, rows: list[ImportRow], refused_clinicians=()) -> ImportPlan:
    """Check rows against the practice in a fixed number of queries, whatever the number of rows.

    "Unknown clinician" covers both a username nobody has and a person outside this practice, so a
    manager cannot use the import to find out who has an account at other practices.

    `refused_clinicians`: (line, clinician) of the rows the parser refused (`ParsedFile.refused_clinicians`);
    their clinicians are checked in the same query, so each bad row's every problem is reported at once.
    """
    plan = ImportPlan()
    usernames = {row.clinician for row in rows} | {clinician for _line, clinician in refused_clinicians}
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
    for line, clinician in refused_clinicians:
        if problem := _clinician_problem(line, clinician, roles):
            plan.refused_errors.append(problem)
    seen: dict[tuple, int] = {}
    for row in rows:
        if problem := _clinician_problem(row.line, row.clinician, roles):
            plan.errors.append(problem)
        elif row.key in existing:
            plan.already_imported.append(row)
        elif row.key in seen:
            # Rows from parse_text are already unique; this keeps the service safe for any caller.
            plan.errors.append(RowError(row.line, "duplicate", duplicate_message(seen[row.key])))
        else:
            seen[row.key] = row.line
            plan.new.append(row)
            plan.clinicians[row.clinician] = users[row.clinician]
    return plan


def _clinician_problem(line: int, clinician: str, roles: dict[str, set[str]]) -> RowError | None:
    if clinician not in roles:
        return RowError(line, "unknown_clinician", gettext("No clinician “%(name)s” in this practice.") % {"name": clinician[:40]})
    if Role.CLINICIAN not in roles[clinician]:
        return RowError(
            line, "not_clinician", gettext("“%(name)s” is not a clinician of this practice.") % {"name": clinician[:40]}
        )
    return None
