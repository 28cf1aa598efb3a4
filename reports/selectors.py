"""Reads for reports, always scoped to what the asking user may see (anyone else's report: 404)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.http import Http404

from surveys.models import Membership, Practice, Role
from surveys.permissions import practices_for

from .models import Report, ReportPart


def practice_with_role(user, slug: str) -> tuple[Practice, str]:
    """The practice and the user's strongest role in it (manager beats clinician); 404 for outsiders."""
    practice = practices_for(user, Role.MANAGER).filter(slug=slug).first()
    if practice is not None:
        return practice, Role.MANAGER
    practice = practices_for(user, Role.CLINICIAN).filter(slug=slug).first()
    if practice is not None:
        return practice, Role.CLINICIAN
    raise Http404("No such practice for you.")


def visible_reports(user, practice: Practice, role: str) -> QuerySet[Report]:
    """Managers see every report of their practice; a clinician sees only their own clinician reports."""
    reports = Report.objects.filter(practice=practice).select_related("practice", "clinician", "requested_by")
    if role == Role.MANAGER:
        return reports
    return reports.filter(kind=Report.Kind.CLINICIAN, clinician=user)


def report_for(user, slug: str, pk: int) -> tuple[Report, str]:
    practice, role = practice_with_role(user, slug)
    report = visible_reports(user, practice, role).filter(pk=pk).first()
    if report is None:
        raise Http404("No such report for you.")
    return report, role


def practice_clinicians(practice: Practice) -> QuerySet:
    """Clinicians who are members of the practice, by username: the choices for a clinician report."""
    members = Membership.objects.filter(practice=practice, role=Role.CLINICIAN).values("user_id")
    return get_user_model().objects.filter(pk__in=members).order_by("username")


def report_clinicians(report: Report) -> list:
    """The clinicians whose sections a report holds: a practice report covers every clinician member and
    anyone else who saw the practice's patients (a clinician who has since left still has figures)."""
    User = get_user_model()
    if report.kind == Report.Kind.CLINICIAN:
        return [report.clinician]
    members = Membership.objects.filter(practice=report.practice, role=Role.CLINICIAN).values("user_id")
    with_dyads = report.practice.dyads.values("clinician_id")
    return list(User.objects.filter(Q(pk__in=members) | Q(pk__in=with_dyads)).order_by("username", "pk"))


def report_parts(report: Report) -> list[ReportPart]:
    return list(report.parts.select_related("clinician").order_by("clinician__username", "clinician_id"))


def manager_emails(practice: Practice) -> list[str]:
    members = Membership.objects.filter(practice=practice, role=Role.MANAGER, user__is_active=True)
    return sorted({email for email in members.values_list("user__email", flat=True) if email})
