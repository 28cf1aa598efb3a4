"""The practice's figure per domain carries its evidence (docs/measurement.md): the interval widened by the design
effect of patients clustering within clinicians, and the share of patients at 100 beside the mean.

Three clinicians at different levels, eight patients each, answered in the latest closed quarter. The expected
figures are worked out here from the score rows with numpy, not by the code under test.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse

from measurement import scoring
from measurement.instruments import spec_for_version
from surveys import services
from surveys.models import DomainScore
from tests import factories

LEVELS = {"low": [3, 3, 4, 3, 4, 3, 5, 3], "mid": [4, 4, 5, 4, 4, 5, 4, 4], "top": [5, 5, 5, 4, 5, 5, 5, 5]}


@pytest.fixture(autouse=True)
def quiet_sign_ins(settings):
    settings.AXES_ENABLED = False


@pytest.fixture
def practice(instruments):
    practice = factories.practice("clustered")
    with factories.in_closed_quarter():
        for name, values in LEVELS.items():
            clinician = factories.member(practice, name, "clinician")
            for i, value in enumerate(values):
                new = factories.visit(practice, clinician, f"{name}-{i}")
                invitation = factories.patient_invitation(new)
                services.submit_response(invitation, scored_as(invitation, value))
    return practice


def scored_as(invitation, value: int) -> dict[str, str]:
    """Every item answered so that it scores `value` (a reverse-keyed item gets the mirrored answer): 5 is 100."""
    spec = spec_for_version(invitation.instrument_version)
    low, high = spec.scale.min, spec.scale.max
    return {item.code: str(low + high - value if item.reverse else value) for item in spec.items}


def domains_csv(practice) -> dict[str, dict]:
    client = Client()
    client.force_login(factories.member(practice, "boss", "manager"))
    response = client.get(reverse("practice_chart_csv", args=[practice.slug, "domains"]))
    assert response.status_code == 200
    return {row["Domain"]: row for row in csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))}


def scores_by_clinician(domain: str) -> dict[int, list[float]]:
    groups: dict[int, list[float]] = {}
    for clinician, score in DomainScore.objects.filter(respondent="patient", domain=domain).values_list(
        "clinician_id", "score"
    ):
        groups.setdefault(clinician, []).append(score)
    return groups


def icc1(groups: list[np.ndarray]) -> float:
    """ICC(1) from a one-way ANOVA, unequal sizes (Shrout & Fleiss; n0 as in Searle)."""
    every = np.concatenate(groups)
    sizes = np.array([len(g) for g in groups])
    big_n, j = len(every), len(groups)
    msb = sum(len(g) * (g.mean() - every.mean()) ** 2 for g in groups) / (j - 1)
    msw = sum(((g - g.mean()) ** 2).sum() for g in groups) / (big_n - j)
    n0 = (big_n - (sizes**2).sum() / big_n) / (j - 1)
    return min(1.0, max(0.0, (msb - msw) / (msb + (n0 - 1) * msw)))


def test_the_practice_interval_is_widened_by_the_design_effect(practice):
    rows = domains_csv(practice)
    for domain, label in (("valuing", "Valuing"), ("trust", "Trust")):
        groups = [np.array(values) for values in scores_by_clinician(domain).values()]
        icc = icc1(groups)
        deff = 1 + (sum(len(g) for g in groups) / len(groups) - 1) * icc
        assert icc > 0.2  # the clinicians differ: the widening is visible
        plain = scoring.summarize(np.concatenate(groups).tolist())
        half = (plain.ci_high - plain.mean) * math.sqrt(deff)
        row = rows[label]
        assert float(row["Design effect"]) == pytest.approx(deff, rel=1e-9)
        assert float(row["Mean"]) == pytest.approx(plain.mean, rel=1e-12)
        assert float(row["95% CI low"]) == pytest.approx(plain.mean - half, rel=1e-9)
        assert float(row["95% CI high"]) == pytest.approx(plain.mean + half, rel=1e-9)


def test_the_share_at_100_sits_beside_the_mean_and_is_flagged_above_15_percent(practice):
    rows = domains_csv(practice)
    scores = [s for values in scores_by_clinician("valuing").values() for s in values]
    at_top = sum(1 for s in scores if s == 100) / len(scores)
    assert at_top > 0.15
    row = rows["Valuing"]
    assert float(row["% at 100"]) == pytest.approx(100 * at_top, rel=1e-12)
    assert f"{100 * at_top:.0f}% of patients at 100" in row["Note"]


def test_a_figure_filtered_to_one_clinician_is_not_widened(practice):
    client = Client()
    client.force_login(factories.member(practice, "boss", "manager"))
    clinician = DomainScore.objects.filter(respondent="patient").values_list("clinician_id", flat=True).first()
    response = client.get(reverse("practice_chart_csv", args=[practice.slug, "domains"]), {"clinician": clinician})
    rows = {row["Domain"]: row for row in csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))}
    plain = scoring.summarize(scores_by_clinician("valuing")[clinician])
    assert rows["Valuing"]["Design effect"] == ""
    assert float(rows["Valuing"]["95% CI low"]) == pytest.approx(plain.ci_low, rel=1e-12)


def test_the_time_cards_promise_is_what_this_practices_patients_take(instruments):
    from django.utils import timezone

    from surveys import selectors

    practice = factories.practice("timed")
    assert selectors.typical_minutes_to_complete(practice) == 5  # before anyone has answered
    clinician = factories.member(practice, "timer", "clinician")
    for i, minutes in enumerate([1.2, 2.1, 9.0]):
        invitation = factories.patient_invitation(factories.visit(practice, clinician, f"T-{i}"))
        started = timezone.now() - dt.timedelta(minutes=minutes)
        services.submit_response(invitation, factories.full_answers(invitation), started_at=started)
    assert selectors.typical_minutes_to_complete(practice) == 3  # the median, 2.1 minutes, rounded up


def test_the_continuity_panel_gives_each_clinicians_share_and_the_patients_upc_and_coc(instruments):
    from django.utils import timezone

    from plumbing.period import released_quarter

    practice = factories.practice("continuity")
    ann, ben = factories.member(practice, "ann", "clinician"), factories.member(practice, "ben", "clinician")
    today = timezone.localdate()
    day = released_quarter(today, today).start + dt.timedelta(days=10)
    for clinician, patient, times in ((ann, "P1", 3), (ben, "P1", 1), (ann, "P2", 2), (ben, "P3", 1)):
        for i in range(times):
            factories.visit(practice, clinician, patient, day + dt.timedelta(days=i))
    client = Client()
    client.force_login(factories.member(practice, "boss", "manager"))
    response = client.get(reverse("practice_chart_csv", args=[practice.slug, "continuity"]))
    rows = {row["Series"]: row for row in csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))}
    # P1: 3 with Ann, 1 with Ben (UPC 3/4, COC (9 + 1 - 4)/12 = 1/2); P2: 2 with Ann (1, 1); P3 came once.
    assert rows["Practice"]["Patients with 2 or more visits"] == "2"
    assert float(rows["Practice"]["Usual provider continuity (UPC)"]) == pytest.approx((0.75 + 1) / 2)
    assert float(rows["Practice"]["Continuity of care index (COC)"]) == pytest.approx((0.5 + 1) / 2)
    assert float(rows["ann"]["Share of visits with this clinician"]) == pytest.approx(100 * (0.75 + 1) / 2)
    assert float(rows["ben"]["Share of visits with this clinician"]) == pytest.approx(25.0)
    assert rows["ben"]["Being there over time: mean"] == "" and rows["ben"]["Note"].startswith("hidden")
