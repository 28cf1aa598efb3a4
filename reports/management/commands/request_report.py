import json
import time

from django.core.management.base import BaseCommand, CommandError

from reports import services
from reports.models import Report
from surveys.cli import date_or_fail, fail, practice_or_fail, user_or_fail


class Command(BaseCommand):
    help = (
        "Queue the report a manager can ask for on the web (one per practice, kind and period unless --force) "
        'and print one JSON line {"report": ID, "status": ...}; with --wait, once it is finished, also '
        '"html" and "zip" with the files\' absolute paths.'
    )

    def add_arguments(self, parser):
        parser.add_argument("--practice", required=True, help="Practice slug.")
        parser.add_argument("--start", required=True, help="First day of the period, YYYY-MM-DD.")
        parser.add_argument("--end", required=True, help="Last day of the period (inclusive), YYYY-MM-DD.")
        parser.add_argument("--kind", choices=Report.Kind.values, default=Report.Kind.PRACTICE)
        parser.add_argument("--clinician", help="Username of the clinician (with --kind clinician).")
        parser.add_argument("--force", action="store_true", help="Rebuild the report even if it exists.")
        parser.add_argument("--wait", action="store_true", help="Wait until the report is done or has failed.")
        parser.add_argument("--timeout", type=float, default=1800, help="Seconds to wait at most (default 1800).")

    def handle(self, *args, **options):
        practice = practice_or_fail(options["practice"])
        start, end = date_or_fail(options["start"]), date_or_fail(options["end"])
        clinician = user_or_fail(options["clinician"]) if options["clinician"] else None
        if options["kind"] == Report.Kind.CLINICIAN and clinician is None:
            raise fail("--kind clinician needs --clinician USERNAME.")
        try:
            report = services.request_report(
                practice, start, end, kind=options["kind"], clinician=clinician, force=options["force"]
            )
        except services.ReportError as exc:
            raise fail(str(exc)) from exc
        if options["wait"]:
            report = self._wait(report, options["timeout"])
        report.refresh_from_db()  # in eager mode it may have been built already
        self.stdout.write(json.dumps(self._summary(report)))
        if options["wait"] and report.status == Report.Status.FAILED:
            raise CommandError(f"Report {report.pk} failed: {report.error}")

    def _wait(self, report: Report, timeout: float) -> Report:
        deadline = time.monotonic() + timeout
        delay = 0.2
        report.refresh_from_db()
        while not report.finished:
            if time.monotonic() > deadline:
                raise CommandError(
                    f"Report {report.pk} is still {report.status} after {timeout:g} s: is a worker running "
                    "(`make run` starts one; or `celery -A healing worker`)?"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)
            report.refresh_from_db()
        return report

    def _summary(self, report: Report) -> dict:
        summary = {"report": report.pk, "status": report.status}
        if report.status == Report.Status.DONE:
            summary["html"] = str(services.report_file(report, "html"))
            summary["zip"] = str(services.report_file(report, "zip"))
        if report.status == Report.Status.FAILED:
            summary["error"] = report.error
        return summary
