"""The practice report's case-mix section, its CSVs, and the model's coefficients in the methods."""

from __future__ import annotations

import pytest
from django.urls import include, path
from django.utils import timezone

from plumbing.period import released_quarter
from tests import factories
from tests.figures.test_casemix_panel import add_patients
from tests.reports.helpers import read_html, read_zip

urlpatterns = [path("", include("front.report_urls")), path("", include("healing.urls"))]
pytestmark = pytest.mark.urls(__name__)


def quarter():
    today = timezone.localdate()
    return released_quarter(today, today)


@pytest.fixture
def mixed_practice(instruments):
    practice = factories.practice("mixed")
    factories.member(practice, "boss", "manager")
    with factories.in_closed_quarter():
        add_patients(practice, factories.member(practice, "ana", "clinician"), 20, older_share=4)
        add_patients(practice, factories.member(practice, "ben", "clinician"), 20, older_share=1)
    return practice


def test_the_report_sets_adjusted_means_beside_raw_ones_and_lists_the_coefficients(build, mixed_practice):
    q = quarter()
    report = build(mixed_practice, start=q.start, end=q.end)
    assert report.status == "done"
    files = read_zip(report)
    rows = {(r["clinician"], r["domain"]): r for r in files["casemix.csv"]}
    ana, ben = rows[("ana", "valuing")], rows[("ben", "valuing")]
    assert float(ana["mean"]) == pytest.approx(90.0) and float(ben["mean"]) == pytest.approx(60.0)
    assert float(ana["adjusted_mean"]) == pytest.approx(float(ben["adjusted_mean"]), abs=1e-6)
    # Age and health answered together: one coefficient estimated, the other aliased with it.
    model = [r for r in files["casemix_model.csv"] if r["domain"] == "valuing"]
    assert {r["question"] for r in model} == {"age_band", "general_health"}
    estimated = [r for r in model if r["estimate"]]
    assert len(estimated) == 1 and float(estimated[0]["estimate"]) == pytest.approx(50.0, abs=1e-6)
    assert all(int(r["n"]) >= mixed_practice.min_reporting_n for r in model)
    documented = {(r["file"], r["column"]) for r in files["codebook.csv"]}
    assert {("casemix.csv", "adjusted_mean"), ("casemix_model.csv", "estimate")} <= documented
    html = read_html(report)
    assert 'id="casemix"' in html and "Adjusted for case mix" in html
    methods = html[html.index('id="methods"'):]
    assert "Case-mix adjustment" in methods and "O'Malley" in methods
    assert "65 to 74" in methods  # the coefficient's answers, by name


def test_a_clinician_report_has_no_case_mix_section(build, mixed_practice):
    from django.contrib.auth import get_user_model

    from reports.models import Report

    q = quarter()
    ana = get_user_model().objects.get(username="ana")
    report = build(mixed_practice, start=q.start, end=q.end, kind=Report.Kind.CLINICIAN, clinician=ana)
    assert report.status == "done"
    assert 'id="casemix"' not in read_html(report)
    assert read_zip(report)["casemix_model.csv"] == []
