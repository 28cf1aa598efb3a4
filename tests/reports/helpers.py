"""Helpers shared by the report tests: answered dyads, the default period, and readers of a report's files."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import statistics
import zipfile

from django.core.management import call_command
from django.utils import timezone

from measurement import scoring
from reports import services
from reports.models import Report
from surveys import services as survey_services
from tests import factories

CAUTION = "few responses: interpret with care"


def answered_dyad(practice, clinician, reference: str, value: int, clinician_value: int | None = None):
    """A visit whose patient (and optionally clinician) questionnaire is answered: every item `value`, in the
    latest closed quarter (the one reports cover)."""
    with factories.in_closed_quarter():
        new = factories.visit(practice, clinician, reference)
        invitation = factories.patient_invitation(new)
        survey_services.submit_response(invitation, factories.full_answers(invitation, value))
        if clinician_value is not None:
            own = factories.clinician_invitation(new)
            survey_services.submit_response(own, factories.full_answers(own, clinician_value))
    return new.visit


def varied_dyad(practice, clinician, reference: str, rng: random.Random, clinician_value: int | None = None):
    """A visit whose patient answers differ item by item (for spread, Cronbach's alpha, unround means), in the
    latest closed quarter."""
    with factories.in_closed_quarter():
        new = factories.visit(practice, clinician, reference)
        invitation = factories.patient_invitation(new)
        base = rng.randint(2, 4)
        answers = {
            code: str(min(5, max(1, base + rng.choice((-1, 0, 0, 1))))) for code in factories.full_answers(invitation)
        }
        survey_services.submit_response(invitation, answers)
        if clinician_value is not None:
            own = factories.clinician_invitation(new)
            survey_services.submit_response(own, factories.full_answers(own, clinician_value))
    return new.visit


def period() -> tuple[dt.date, dt.date]:
    today = timezone.localdate()
    return today - dt.timedelta(days=30), today + dt.timedelta(days=1)


def read_zip(report: Report) -> dict[str, list[dict]]:
    with zipfile.ZipFile(services.report_file(report, "zip")) as archive:
        return {name: list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8-sig")))) for name in archive.namelist()}


def read_html(report: Report) -> str:
    return services.report_file(report, "html").read_text(encoding="utf-8")


def export_means(slug: str, start: dt.date, end: dt.date) -> dict[str, float]:
    """Practice mean per domain from `export_scores`, each dyad's latest patient response in the period."""
    out = io.StringIO()
    call_command("export_scores", "--practice", slug, "--format", "json", stdout=out)
    latest: dict[tuple, dict] = {}
    for row in json.loads(out.getvalue()):  # ordered by submitted_at, id: the last one per dyad wins
        day = dt.datetime.fromisoformat(row["submitted_at"]).astimezone(timezone.get_current_timezone()).date()
        if row["respondent"] == "patient" and start <= day <= end:
            latest[(row["clinician"], row["patient"])] = row
    return {
        domain: statistics.fmean(values)
        for domain in scoring.SHARED_DOMAINS
        if (values := [row[domain] for row in latest.values() if row[domain] is not None])
    }


def section_of(html: str, clinician) -> str:
    start = html.index(f'<article class="clinician" id="c{clinician.pk}">')
    return html[start: html.index("</article>", start)]
