"""Report runs: request, claim, build each clinician's section, gather, write the files, notify.

Every step is keyed by the report row and its attempt, and claims its work with a conditional UPDATE whose row
count must be 1 (the healthchecks pattern), so a retried, redelivered or duplicated task does nothing twice:

- `request_report` gets or creates the one row for (practice, kind, clinician, period); forcing bumps its
  attempt, which turns any task of the earlier attempt into a no-op.
- `start_report` claims the row (queued -> running) and fans out one part task per clinician.
- `build_part` claims one clinician's part, builds it, marks it done and counts it in the same transaction;
  the transaction that counts the last part queues the assembly.
- `assemble_report` claims the assembly, writes the files under deterministic names (temporary name, then
  os.replace) and marks the report done once.

A claim records the Celery task id. A message redelivered after its worker died keeps its id, so it may take
the claim again and finish the job; a second message (another id) finds the claim held and stops. The broker's
visibility timeout must therefore outlast the longest task (healing/settings.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path

from celery import group
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone, translation

from audit import services as audit
from audit.models import Action
from figures import queries
from plumbing.period import period_problem, released_quarter
from plumbing.routers import use_replica
from plumbing.tasks import task
from surveys.models import Membership, Practice, Role

from . import builders, selectors
from .models import Report, ReportPart

log = logging.getLogger(__name__)



class ReportError(Exception):
    """A request the service refuses, with a message a person can act on."""


# --- requests ------------------------------------------------------------------------------------------


def validate_request(practice: Practice, start: dt.date, end: dt.date, kind: str, clinician) -> None:
    if problem := period_problem(start, end):
        raise ReportError(problem)
    if kind not in Report.Kind.values:
        raise ReportError(f"Unknown report kind {kind!r}: use one of {', '.join(Report.Kind.values)}.")
    if kind == Report.Kind.CLINICIAN:
        if clinician is None:
            raise ReportError("A clinician report needs a clinician.")
        is_member = Membership.objects.filter(user=clinician, practice=practice, role=Role.CLINICIAN).exists()
        if not is_member and not practice.dyads.filter(clinician=clinician).exists():
            raise ReportError(f"{clinician.get_username()} is not a clinician of {practice.slug}.")
    elif clinician is not None:
        raise ReportError("A practice report covers every clinician: leave the clinician out.")


def request_report(
    practice: Practice,
    start: dt.date,
    end: dt.date,
    *,
    kind: str = Report.Kind.PRACTICE,
    clinician=None,
    requested_by=None,
    force: bool = False,
    actor_name: str | None = None,
) -> Report:
    """The one report for this practice, kind and reporting period, queued for building when it is new.

    A report covers the reporting period the dashboards show for the same dates: the calendar quarter that
    holds `end` once it has ended, else the latest quarter that has (`plumbing.period.released_quarter`). So
    two requests a day apart get the same report, and no report holds a quarter still under way: nothing to
    subtract (docs/privacy.md). An existing report is returned as it is, unless `force` (or it failed): then
    the same row is rebuilt. actor_name names who asked when no one signed in did (the command line, the
    schedule).
    """
    validate_request(practice, start, end, kind, clinician)
    period = released_quarter(end, timezone.localdate())
    start, end = period.start, period.end
    now = timezone.now()
    if requested_by is not None:
        _check_daily_allowance(
            requested_by, now, practice=practice, kind=kind, clinician=clinician, start=start, end=end
        )
    with transaction.atomic():
        report, created = Report.objects.get_or_create(
            practice=practice,
            kind=kind,
            clinician=clinician if kind == Report.Kind.CLINICIAN else None,
            start=start,
            end=end,
            defaults={"requested_by": requested_by, "requested_at": now},
        )
        if created:
            _audit(report, requested_by, actor_name, rebuild=False)
            _enqueue(report)
            return report
    if force or report.status == Report.Status.FAILED:
        return rebuild_report(report, requested_by, actor_name=actor_name)
    return report


def _check_daily_allowance(user, now: dt.datetime, **report) -> None:
    """A person may ask for REPORT_REQUESTS_PER_DAY new reports in 24 hours (each one is files on disk and
    minutes of a worker); asking again for a report that exists costs nothing. The command line and the
    schedule are not limited."""
    allowance = settings.REPORT_REQUESTS_PER_DAY
    if not allowance or Report.objects.filter(clinician=report.pop("clinician"), **report).exists():
        return
    if Report.objects.filter(requested_by=user, requested_at__gte=now - dt.timedelta(days=1)).count() >= allowance:
        raise ReportError(
            f"You have asked for {allowance} reports in the last 24 hours, the most a day allows. "
            "The reports you asked for are listed below; please ask for more tomorrow."
        )


def _audit(report: Report, actor, actor_name: str | None, *, rebuild: bool) -> None:
    audit.record(
        Action.REPORT_REQUEST, actor=actor, actor_name=actor_name, practice=report.practice, obj=report,
        kind=report.kind, clinician=report.clinician.get_username() if report.clinician_id else "",
        start=str(report.start), end=str(report.end), rebuild=rebuild,
    )


def rebuild_report(report: Report, requested_by=None, *, actor_name: str | None = None) -> Report:
    """Build the same row again: a new attempt, so tasks still in flight for the old one stand down."""
    with transaction.atomic():
        locked = Report.objects.select_for_update().get(pk=report.pk)
        Report.objects.filter(pk=locked.pk).update(
            attempt=F("attempt") + 1,
            status=Report.Status.QUEUED,
            parts_total=0,
            parts_done=0,
            claimed_by="",
            assembled_by="",
            html_file="",
            zip_file="",
            error="",
            requested_by=requested_by or locked.requested_by,
            requested_at=timezone.now(),
            started_at=None,
            finished_at=None,
            notified_at=None,
        )
        ReportPart.objects.filter(report=locked).delete()
        locked.refresh_from_db()
        _audit(locked, requested_by, actor_name, rebuild=True)
        _enqueue(locked)
    return locked


def rebuild_reports_covering(practice: Practice, first: dt.date, last: dt.date, *, actor_name: str) -> list[Report]:
    """Rebuild every report of the practice whose period overlaps these days: its files hold answers that were
    since erased (surveys.services.forget_patient), and must not keep serving them."""
    covering = Report.objects.filter(practice=practice, start__lte=last, end__gte=first)
    return [rebuild_report(report, actor_name=actor_name) for report in covering]


def is_stale(report: Report, now: dt.datetime | None = None) -> bool:
    """Queued or running for longer than any task may take: its messages were lost, a retry may start over."""
    if report.finished:
        return False
    since = report.started_at or report.requested_at
    return (now or timezone.now()) - since > dt.timedelta(seconds=settings.REPORTS_STALE_AFTER)


def may_retry(report: Report) -> bool:
    return report.status in (Report.Status.FAILED, Report.Status.DONE) or is_stale(report)


def _enqueue(report: Report) -> None:
    task("reports.tasks.build_report").delay_on_commit(report.pk, report.attempt)


def request_monthly_reports(today: dt.date | None = None) -> list[Report]:
    """Each month, the report of the latest closed quarter for every practice (and each clinician's own, when
    configured): built once, on the first run after the quarter ends; the other runs find it there. Safe to
    run twice."""
    today = today or timezone.localdate()
    quarter = released_quarter(today, today)
    start, end = quarter.start, quarter.end
    reports = []
    for practice in Practice.objects.order_by("pk"):
        reports.append(request_report(practice, start, end, actor_name="monthly schedule"))
        if settings.REPORTS_MONTHLY_CLINICIAN_REPORTS:
            for clinician in selectors.practice_clinicians(practice):
                reports.append(request_report(practice, start, end, kind=Report.Kind.CLINICIAN, clinician=clinician,
                                              actor_name="monthly schedule"))
    return reports


# --- the build, in three claimed steps ---------------------------------------------------------------


def start_report(report_id: int, attempt: int, claim: str) -> bool:
    """Claim the report and fan out one part per clinician. False when someone else holds it or it is over."""
    now = timezone.now()
    with transaction.atomic():
        claimed = (
            Report.objects.filter(pk=report_id, attempt=attempt)
            .filter(Q(status=Report.Status.QUEUED) | Q(status=Report.Status.RUNNING, claimed_by=claim))
            .update(status=Report.Status.RUNNING, claimed_by=claim, claims=F("claims") + 1,
                    started_at=now, error="")
        )
        if claimed != 1:
            log.info("report %s attempt %s: not claimed by %s (taken, finished or superseded)", report_id, attempt, claim)
            return False
        report = Report.objects.select_related("practice", "clinician").get(pk=report_id)
        ReportPart.objects.bulk_create(
            [ReportPart(report=report, clinician=c) for c in selectors.report_clinicians(report)],
            ignore_conflicts=True,
        )
        total = ReportPart.objects.filter(report=report).count()
        Report.objects.filter(pk=report_id).update(parts_total=total)
        pending = list(
            ReportPart.objects.filter(report=report, done_at__isnull=True).order_by("pk").values_list(
                "clinician_id", flat=True
            )
        )
        if pending:
            transaction.on_commit(lambda: _fan_out(report_id, attempt, pending))
        else:
            # No clinicians, or a redelivered start after every part was done: gather straight away.
            transaction.on_commit(lambda: _queue_assembly(report_id, attempt))
    return True


def _fan_out(report_id: int, attempt: int, clinician_ids: list[int]) -> None:
    # One part task per clinician, sent as a group. The gathering is counted in the database, not by a chord:
    # chords need a result backend, and the row survives what a broker's counter might not.
    part = task("reports.tasks.build_report_part")
    group(part.s(report_id, attempt, clinician_id) for clinician_id in clinician_ids).apply_async()


def _queue_assembly(report_id: int, attempt: int) -> None:
    task("reports.tasks.assemble_report").delay(report_id, attempt)


def build_part(report_id: int, attempt: int, clinician_id: int, claim: str) -> bool:
    """Build one clinician's section; the transaction that completes the last part queues the assembly."""
    claimed = (
        ReportPart.objects.filter(
            report_id=report_id,
            clinician_id=clinician_id,
            report__attempt=attempt,
            report__status=Report.Status.RUNNING,
            done_at__isnull=True,
        )
        .filter(Q(claimed_by="") | Q(claimed_by=claim))
        .update(claimed_by=claim, claims=F("claims") + 1, started_at=timezone.now())
    )
    if claimed != 1:
        # Done already (a redelivered message), or another task is on it. If the part was done but its
        # transaction's message to assemble was lost with a killed worker, queue the assembly again.
        _gather_if_complete(report_id, attempt)
        return False
    if settings.REPORTS_TEST_DELAY:
        time.sleep(settings.REPORTS_TEST_DELAY)
    report = Report.objects.select_related("practice", "clinician").get(pk=report_id)
    part = ReportPart.objects.select_related("clinician").get(report_id=report_id, clinician_id=clinician_id)
    with use_replica(), queries.shared_reads():  # read-only figures: the replica when there is one
        payload = builders.clinician_part_in_each_language(report, part.clinician)
    with transaction.atomic():
        done = ReportPart.objects.filter(
            pk=part.pk, done_at__isnull=True, claimed_by=claim, report__attempt=attempt
        ).update(done_at=timezone.now(), payload=payload)
        if done != 1:
            return False
        # Row-locked increment: concurrent parts serialise here, so exactly one sees the last part counted.
        Report.objects.filter(pk=report_id, attempt=attempt).update(parts_done=F("parts_done") + 1)
        parts_done, parts_total = Report.objects.filter(pk=report_id).values_list("parts_done", "parts_total").get()
        if parts_done == parts_total:
            transaction.on_commit(lambda: _queue_assembly(report_id, attempt))
    return True


def _gather_if_complete(report_id: int, attempt: int) -> None:
    complete = Report.objects.filter(
        pk=report_id, attempt=attempt, status=Report.Status.RUNNING, assembled_by="",
        parts_total__gt=0, parts_done=F("parts_total"),
    ).exists()
    if complete:
        _queue_assembly(report_id, attempt)


def assemble_report(report_id: int, attempt: int, claim: str) -> bool:
    """Gather the parts into the HTML report and the ZIP of CSVs, and mark the report done exactly once."""
    claimed = (
        Report.objects.filter(pk=report_id, attempt=attempt, status=Report.Status.RUNNING,
                              parts_done=F("parts_total"))
        .filter(Q(assembled_by="") | Q(assembled_by=claim))
        .update(assembled_by=claim)
    )
    if claimed != 1:
        log.info("report %s attempt %s: assembly not claimed by %s", report_id, attempt, claim)
        return False
    report = Report.objects.select_related("practice", "clinician").get(pk=report_id)
    parts = [part.payload for part in selectors.report_parts(report)]
    with use_replica(), queries.shared_reads():
        html_file, zip_file = builders.build_files(report, parts)
    with transaction.atomic():
        done = Report.objects.filter(
            pk=report_id, attempt=attempt, status=Report.Status.RUNNING, assembled_by=claim
        ).update(
            status=Report.Status.DONE, html_file=html_file, zip_file=zip_file, finished_at=timezone.now(),
            builds=F("builds") + 1,
        )
        if done != 1:
            return False
        # The sections now live in the files; keep the claim counts, drop the bulk.
        ReportPart.objects.filter(report_id=report_id).update(payload=None)
        transaction.on_commit(lambda: _queue_notification(report_id, attempt))
    return True


def _queue_notification(report_id: int, attempt: int) -> None:
    task("reports.tasks.notify_report_ready").delay(report_id, attempt)


def mark_failed(report_id: int, attempt: int, error: str) -> bool:
    """Say why on the report's page; a manager can then retry it. Only an unfinished attempt can fail."""
    failed = Report.objects.filter(
        pk=report_id, attempt=attempt, status__in=[Report.Status.QUEUED, Report.Status.RUNNING]
    ).update(status=Report.Status.FAILED, error=error[:2000], finished_at=timezone.now())
    return failed == 1


# --- files and notification ----------------------------------------------------------------------------


def report_file(report: Report, fmt: str, language: str | None = None) -> Path | None:
    """The absolute path of a finished report's HTML or ZIP, or None when there is none (yet). The HTML is the
    one in `language` (default: the default language, English), or the English one when there is none in that
    language (a report built before reports were bilingual)."""
    relative = {"html": report.html_file, "zip": report.zip_file}.get(fmt)
    if report.status != Report.Status.DONE or not relative:
        return None
    root = Path(settings.REPORTS_DIR).resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    if fmt == "html" and language and language != settings.LANGUAGE_CODE:
        translated = path.with_name(builders.html_name(path.name.removesuffix(".html"), language))
        if translated.is_file():
            return translated
    return path


def release_report_file(report: Report, fmt: str, *, request) -> Path | None:
    """The file a person downloads, in their active language (`report_file`), recorded in the audit trail;
    None when there is none (yet)."""
    path = report_file(report, fmt, language=getattr(request, "LANGUAGE_CODE", None) or translation.get_language())
    if path is not None:
        audit.record(Action.REPORT_DOWNLOAD, request=request, practice=report.practice, obj=report, format=fmt)
    return path


def report_url(report: Report) -> str:
    return settings.SITE_URL + reverse("report_detail", args=[report.practice.slug, report.pk])


def notify_report_ready(report_id: int, attempt: int) -> bool:
    """Email the managers (and the clinician of a clinician report) a link, once per build."""
    claimed = Report.objects.filter(
        pk=report_id, attempt=attempt, status=Report.Status.DONE, notified_at__isnull=True
    ).update(notified_at=timezone.now())
    if claimed != 1:
        return False
    report = Report.objects.select_related("practice", "clinician").get(pk=report_id)
    recipients = selectors.manager_emails(report.practice)
    if report.clinician and report.clinician.email:
        recipients = sorted(set(recipients) | {report.clinician.email})
    if not recipients:
        return True
    with translation.override(settings.LANGUAGE_CODE):  # the e-mail is English, whoever's request ran the task
        title = builders.title(report)
    subject = f"Healing: {title} is ready"
    body = (
        f"{title} is ready.\n\n"
        f"Download it (after signing in): {report_url(report)}\n\n"
        "The report and its CSV files are confidential: share them only within the practice.\n"
    )
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    except Exception:
        # Let the task's retry send it later: give the claim back first.
        Report.objects.filter(pk=report_id, attempt=attempt).update(notified_at=None)
        raise
    return True
