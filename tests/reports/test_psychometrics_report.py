"""The report's methods section and ZIP carry the psychometrics table, released under the practice's rule."""

from __future__ import annotations

import random

import pytest

from figures import psychometrics
from plumbing.period import Period
from tests import factories
from tests.reports.helpers import read_html, read_zip

pytestmark = pytest.mark.django_db


def answered(practice, clinician, english: int, spanish: int = 0) -> None:
    rng = random.Random(12)
    with factories.in_closed_quarter():
        for i in range(english):
            factories.correlated_answers(practice, clinician, f"EN-{i}", rng)
        for i in range(spanish):
            factories.correlated_answers(practice, clinician, f"ES-{i}", rng, "es")


def methods(html: str) -> str:
    return html[html.index('<section id="methods"'):html.index("</section>", html.index('<section id="methods"'))]


def test_the_methods_section_shows_each_domain_per_version_and_language(build, practice_a, clinician_a):
    answered(practice_a, clinician_a, english=34, spanish=3)
    report = build(practice_a)
    section = methods(read_html(report))
    assert '<h3 id="psychometrics">Psychometrics</h3>' in section
    assert "Questionnaire “patient” 1.0, English: 34 responses" in section
    assert "Questionnaire “patient” 1.0, Spanish: 3 responses" in section
    assert "How consistently the items of a domain agree; 0.7–0.9 is the usual aim." in section
    assert "3 complete responses, fewer than 30: not shown." in section

    files = read_zip(report)
    rows = {(r["language"], r["domain"]): r for r in files["reliability.csv"] if r["respondent"] == "patient"}
    valuing = rows[("en", "valuing")]
    assert valuing["responses"] == "34" and valuing["complete_responses"] == "34" and valuing["items"] == "4"
    assert float(valuing["alpha_low"]) < float(valuing["alpha"]) < float(valuing["alpha_high"]) < 1
    assert 0 < float(valuing["omega"]) <= 1
    # The Spanish group (3) is hidden, so no group of the domain gives its share at 100: the dashboard's
    # practice share minus the English one would give the three patients' (figures.psychometrics.tables).
    assert valuing["ceiling_percent"] == ""
    assert rows[("es", "valuing")]["alpha"] == rows[("es", "valuing")]["omega"] == ""
    assert rows[("es", "valuing")]["note"] == "shown from 30 complete responses"

    items = files["items.csv"]
    assert {r["language"] for r in items} == {"en"}  # the Spanish responses are too few: no item row
    p01 = next(r for r in items if r["item"] == "P01")
    assert p01["domain"] == "valuing" and p01["missing_percent"] == "0.0"
    assert float(p01["top_box_percent"]) + float(p01["floor_percent"]) <= 100
    assert p01["top_box_flagged"] in ("0", "1")


def test_the_csv_holds_the_figures_the_page_shows(build, practice_a, clinician_a):
    answered(practice_a, clinician_a, english=31)
    report = build(practice_a)
    tables = psychometrics.tables(
        psychometrics.psychometrics(practice_a, Period(report.start, report.end)), 30, "en")
    shown = {t.domain: t for t in tables if t.respondent == "patient" and t.shown}
    rows = {r["domain"]: r for r in read_zip(report)["reliability.csv"] if r["respondent"] == "patient"}
    assert shown, "some domain has 30 complete responses"
    for domain, table in shown.items():
        assert float(rows[domain]["alpha"]) == pytest.approx(table.alpha)
        assert float(rows[domain]["omega"]) == pytest.approx(table.omega)


def test_a_practice_minimum_above_30_holds_the_figures_back(build, clinician_a, practice_a):
    practice_a.min_reporting_n = 40
    practice_a.save()
    answered(practice_a, clinician_a, english=35)
    report = build(practice_a)
    files = read_zip(report)
    assert files["items.csv"] == []
    valuing = next(r for r in files["reliability.csv"] if r["domain"] == "valuing" and r["respondent"] == "patient")
    assert valuing["complete_responses"] == "35" and valuing["alpha"] == "" and valuing["omega"] == ""
    assert valuing["note"] == "shown from 40 complete responses" and valuing["ceiling_percent"] == ""
    assert "35 complete responses, fewer than 40: not shown." in methods(read_html(report))
