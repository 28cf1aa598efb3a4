"""figures.psychometrics: item answers gathered per instrument version and language, each dyad's latest response,
in a fixed number of queries."""

from __future__ import annotations

import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from figures.psychometrics import psychometrics, release_threshold
from measurement import psychometrics as measures
from measurement.instruments import spec_for_version
from measurement.scoring import ALPHA_MIN_RESPONSES, NA
from plumbing.period import Period
from surveys import services
from tests import factories

pytestmark = pytest.mark.django_db


answer = factories.correlated_answers


def group(groups, respondent="patient", language="en"):
    return next(g for g in groups if g.respondent == respondent and g.language == language)


def test_it_groups_by_version_and_language_and_computes_each_domain(practice_a, clinician_a):
    rng = random.Random(5)
    english = [answer(practice_a, clinician_a, f"EN-{i}", rng) for i in range(32)]
    [answer(practice_a, clinician_a, f"ES-{i}", rng, "es") for i in range(3)]
    own = factories.clinician_invitation(factories.visit(practice_a, clinician_a, "EN-0"))
    services.submit_response(own, factories.full_answers(own, 4))

    groups = psychometrics(practice_a, Period.last_days(30))

    assert [(g.respondent, g.instrument, g.version, g.language, g.responses) for g in groups] == [
        ("patient", "patient", "1.0", "en", 32), ("patient", "patient", "1.0", "es", 3),
        ("clinician", "clinician", "1.0", "en", 1),
    ]
    en = group(groups)
    spec = spec_for_version(own.visit.invitations.get(respondent="patient").instrument_version)
    assert [d.domain for d in en.domains] == ["valuing", "power", "abiding", "trust", "hope", "known"]
    power_items = [item for item in spec.scoring_items if item.domain == "power"]
    given = [{code: (NA if value == NA else int(value)) for code, value in a.items()} for a in english]
    expected = measures.domain_figures("power", power_items, given, spec.scale)
    assert next(d for d in en.domains if d.domain == "power") == expected
    assert expected.items[3].not_applicable == sum(1 for a in english if a["P08"] == NA)
    assert group(groups, language="es").domains[0].alpha is None


def test_each_dyad_counts_once_by_its_latest_response(practice_a, clinician_a):
    rng = random.Random(6)
    answer(practice_a, clinician_a, "SAME", rng, "es")
    answer(practice_a, clinician_a, "SAME", rng, "en")  # the same patient and clinician again: only this counts
    groups = psychometrics(practice_a, Period.last_days(30))
    assert [(g.language, g.responses) for g in groups] == [("en", 1)]


def test_another_practice_and_another_period_are_left_out(practice_a, practice_b, clinician_a, clinician_b):
    answer(practice_b, clinician_b, "B-1", random.Random(1))
    assert psychometrics(practice_a, Period.last_days(30)) == []
    answer(practice_a, clinician_a, "A-1", random.Random(1))
    old = Period.last_days(30)
    assert psychometrics(practice_a, Period(old.start.replace(year=old.start.year - 2),
                                            old.end.replace(year=old.end.year - 2))) == []


def test_it_costs_three_queries_however_many_responses(practice_a, clinician_a):
    rng = random.Random(7)
    for i in range(3):
        answer(practice_a, clinician_a, f"Q-{i}", rng)
    with CaptureQueriesContext(connection) as small:
        psychometrics(practice_a, Period.last_days(30))
    for i in range(3, 40):
        answer(practice_a, clinician_a, f"Q-{i}", rng, "es" if i % 2 else "en")
    own = factories.clinician_invitation(factories.visit(practice_a, clinician_a, "Q-0"))
    services.submit_response(own, factories.full_answers(own, 3))
    with CaptureQueriesContext(connection) as large:
        psychometrics(practice_a, Period.last_days(30))
    assert len(small) == len(large) == 3


def test_release_threshold_is_30_or_the_practices_minimum_when_larger():
    assert release_threshold(None) == ALPHA_MIN_RESPONSES
    assert release_threshold(5) == ALPHA_MIN_RESPONSES
    assert release_threshold(40) == 40


def test_a_report_gives_no_share_at_100_that_the_practices_minus_it_would_give_back(practice_a, clinician_a):
    """Attack: the dashboard shows the practice's share at 100; a report showing the English group's would give
    the three Spanish-speaking patients' by subtraction. Reports withhold the shares of every group of a domain
    where one answered group is hidden; the admins' page (which sees everything) keeps them."""
    from figures.psychometrics import tables

    rng = random.Random(9)
    for i in range(32):
        answer(practice_a, clinician_a, f"EN-{i}", rng)
    for i in range(3):
        answer(practice_a, clinician_a, f"ES-{i}", rng, "es")
    groups = psychometrics(practice_a, Period.last_days(30))

    report = [t for t in tables(groups, 30, "en", complementary=True) if t.respondent == "patient"]
    english = [t for t in report if t.language == "en"]
    admin = [t for t in tables(groups, 30, "en") if t.respondent == "patient" and t.language == "en"]
    assert any(t.shown for t in english)
    assert [t.alpha for t in english] == [t.alpha for t in admin]  # the rest of the figures stay
    assert all(t.ceiling_percent is None for t in report)
    assert all(t.ceiling_percent is not None for t in admin if t.shown)
