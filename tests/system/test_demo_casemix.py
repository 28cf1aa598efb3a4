"""seed_demo's answers to the optional "About you" questions: deterministic, and with the effects surveys find."""

import datetime as dt
import statistics
from unittest import mock

import pytest
from django.db import transaction

from demo.seed import seed_demo
from surveys.models import CaseMix, DomainScore, Response

FIXED_NOW = dt.datetime(2026, 3, 15, 14, 30, tzinfo=dt.timezone.utc)


def seeded_casemix(seed: int) -> list[tuple]:
    """(patient reference, submitted at, the five answers) of every case-mix row, rolled back after reading."""
    with mock.patch("django.utils.timezone.now", return_value=FIXED_NOW), transaction.atomic():
        seed_demo(practices=1, clinicians=3, visits=300, seed=seed)
        rows = sorted(
            CaseMix.objects.values_list(
                "response__dyad__patient__reference", "response__submitted_at", "age_band", "education",
                "general_health", "mental_health", "time_with_clinician",
            )
        )
        transaction.set_rollback(True)
    return rows


@pytest.mark.django_db
def test_the_demo_case_mix_is_deterministic_per_seed():
    first, second, other = seeded_casemix(3), seeded_casemix(3), seeded_casemix(4)
    assert first and first == second
    assert other != first


@pytest.mark.django_db
def test_older_and_healthier_demo_patients_rate_higher_and_some_skip():
    with mock.patch("django.utils.timezone.now", return_value=FIXED_NOW):
        seed_demo(practices=1, clinicians=3, visits=1500, seed=5)
    patients = Response.objects.filter(respondent="patient")
    answered = CaseMix.objects.count()
    assert 0.6 * patients.count() < answered < 0.85 * patients.count()
    assert CaseMix.objects.filter(age_band__isnull=True).exists()  # single questions are skipped too
    scores = dict(DomainScore.objects.filter(domain="valuing", respondent="patient").values_list("response_id", "score"))

    def mean_score(**answers):
        ids = CaseMix.objects.filter(**answers).values_list("response_id", flat=True)
        return statistics.fmean(scores[i] for i in ids if scores.get(i) is not None)

    assert mean_score(age_band__in=["65_74", "75_plus"]) > mean_score(age_band="18_34") + 2
    assert mean_score(general_health__in=["excellent", "very_good"]) > mean_score(general_health__in=["fair", "poor"]) + 2
