"""The dashboards' read model (surveys.latest): latest flags and paired scores stay equal to what the window finds."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from demo.seed import seed_demo
from figures import queries
from measurement import scoring
from plumbing.period import Period
from surveys import latest
from surveys.models import DomainScore, Response
from surveys.services import submit_response
from tests import factories

TODAY = dt.date(2026, 11, 20)


def flagged(field: str) -> set[int]:
    return set(DomainScore.objects.filter(**{field: True}).values_list("response_id", flat=True))


def submit(new_visit, respondent: str = "patient", value: int = 4) -> Response:
    invitation = new_visit.visit.invitations.get(respondent=respondent)
    return submit_response(invitation, factories.full_answers(invitation, value))


def figures(practice, period: Period) -> dict:
    return {
        "domains": queries.domain_summaries(practice, period),
        "clinicians": queries.clinician_domain_summaries(practice, period),
        "self": queries.clinician_domain_summaries(practice, period, "clinician"),
        "rolling quarters": queries.rolling_summaries(practice, period),
        "distribution": queries.score_distribution(practice, period),
        "pairs": sorted(queries.concordance(practice, period)),
    }


def rounded(value):
    """Floats to 9 places, through summaries, dicts, lists and tuples."""
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(item) for item in value]
    if dataclasses.is_dataclass(value):
        return rounded(dataclasses.asdict(value))
    return value


def by_window(monkeypatch):
    """Make every period take the window path, as a past period that ends in the middle of a month does."""
    monkeypatch.setattr(Period, "reaches_today", property(lambda period: False))
    monkeypatch.setattr(queries, "ends_with_a_month", lambda period: False)


def next_month_of_rows() -> dict[int, object]:
    """{response id: its score rows' next_month}, checking that every row of a response holds the same."""
    held: dict[int, set] = {}
    for response_id, month in DomainScore.objects.values_list("response_id", "next_month"):
        held.setdefault(response_id, set()).add(month)
    assert all(len(months) == 1 for months in held.values())
    return {response_id: months.pop() for response_id, months in held.items()}


def expected_next_months() -> dict[int, object]:
    return latest.next_months(Response.objects.values_list("id", "dyad_id", "respondent", "submitted_at"))


# The pure part: which responses are latest.

rows = st.lists(
    st.tuples(
        st.integers(1, 4),  # dyad
        st.sampled_from(["patient", "clinician"]),
        st.datetimes(dt.datetime(2026, 1, 1), dt.datetime(2026, 12, 31), timezones=st.just(dt.timezone.utc)),
    ),
    max_size=30,
)


@given(rows)
def test_latest_response_ids_are_the_last_submitted_per_dyad_respondent_and_month(drawn):
    numbered = [(pk, dyad, who, moment) for pk, (dyad, who, moment) in enumerate(drawn, 1)]
    latest_ids, monthly_ids = latest.latest_response_ids(numbered)

    def last(rows_):
        return max(rows_, key=lambda row: (row[3], row[0]))[0]

    groups, months = {}, {}
    for row in numbered:
        groups.setdefault((row[1], row[2]), []).append(row)
        months.setdefault((row[1], row[2], latest.month_of(row[3])), []).append(row)
    assert latest_ids == {last(group) for group in groups.values()}
    assert monthly_ids == {last(group) for group in months.values()}


# Kept in step on submit and on delete.


@pytest.mark.django_db
def test_a_dyads_newer_response_takes_the_flags_and_the_older_keeps_none(practice_a, clinician_a):
    first = submit(factories.visit(practice_a, clinician_a, "P-1"))
    assert flagged("is_latest") == flagged("is_month_latest") == {first.pk}
    second = submit(factories.visit(practice_a, clinician_a, "P-1"))
    other_dyad = submit(factories.visit(practice_a, clinician_a, "P-2"))

    assert flagged("is_latest") == flagged("is_month_latest") == {second.pk, other_dyad.pk}
    row = DomainScore.objects.filter(response=second).first()
    assert (row.practice_id, row.clinician_id, row.respondent) == (practice_a.pk, clinician_a.pk, "patient")
    assert row.submitted_at == second.submitted_at and row.month == latest.month_of(second.submitted_at)


@pytest.mark.django_db
def test_flags_follow_submission_times_even_when_they_arrive_out_of_order(practice_a, clinician_a, monkeypatch):
    # A submission that waited for the dyad's lock may carry an earlier time than one saved before it.
    from django.utils import timezone

    from surveys import services

    now = timezone.now()
    for offset in (dt.timedelta(0), dt.timedelta(days=40), dt.timedelta(days=40, minutes=1), dt.timedelta(days=3)):
        visit = factories.visit(practice_a, clinician_a, "P-1")
        monkeypatch.setattr(services.timezone, "now", lambda moment=now - offset: moment)
        submit(visit)
        monkeypatch.undo()
        oracle = latest.latest_response_ids(Response.objects.values_list("id", "dyad_id", "respondent", "submitted_at"))
        assert (flagged("is_latest"), flagged("is_month_latest")) == oracle
        assert next_month_of_rows() == expected_next_months()
    assert len(flagged("is_latest")) == 1 and len(flagged("is_month_latest")) >= 2
    assert any(next_month_of_rows().values())  # the earlier months' rows point at a later one


@pytest.mark.django_db
def test_next_months_follow_deletions_of_a_months_only_response_and_of_one_of_two(practice_a, clinician_a, monkeypatch):
    from django.utils import timezone

    from surveys import services

    now = timezone.now()
    made = []
    for offset in (dt.timedelta(days=70), dt.timedelta(days=40), dt.timedelta(days=39), dt.timedelta(0)):
        visit = factories.visit(practice_a, clinician_a, "P-1")
        monkeypatch.setattr(services.timezone, "now", lambda moment=now - offset: moment)
        made.append(submit(visit))
        monkeypatch.undo()
    assert next_month_of_rows() == expected_next_months()

    made[1].delete()  # its month keeps made[2]: nothing points elsewhere
    assert next_month_of_rows() == expected_next_months()
    made[2].delete()  # now its month is empty: the first points at the last one's month
    assert next_month_of_rows() == expected_next_months()
    assert next_month_of_rows()[made[0].pk] == latest.month_of(made[3].submitted_at)


@pytest.mark.django_db
def test_each_side_of_a_visit_carries_the_others_score_whoever_answers_first(practice_a, clinician_a):
    visit = factories.visit(practice_a, clinician_a, "P-1")
    clinician_response = submit(visit, "clinician", value=5)
    assert not DomainScore.objects.filter(paired_score__isnull=False).exists()
    patient_response = submit(visit, "patient", value=2)

    patient_scores = dict(patient_response.scores.values_list("domain", "score"))
    clinician_scores = dict(clinician_response.scores.values_list("domain", "score"))
    for domain, score, paired in patient_response.scores.values_list("domain", "score", "paired_score"):
        assert paired == clinician_scores[domain] != score
    for domain, paired in clinician_response.scores.values_list("domain", "paired_score"):
        assert paired == patient_scores.get(domain)  # the competencies have no patient side: None
    assert clinician_response.scores.filter(domain__in=scoring.COMPETENCY_DOMAINS, paired_score=None).count() == 4


@pytest.mark.django_db
@pytest.mark.django_db
def test_each_side_of_a_visit_carries_the_band_of_its_gap_by_the_visits_rule(current_instruments, practice_a, clinician_a):
    """Instrument 1.1: one answer step on every item (25 points) is within error, two steps are beyond it; the
    band is written on both sides' rows whoever answers second, and only for the shared domains."""
    bands = {}
    for reference, (clinician_value, patient_value), patient_first in (
        ("P-STEP", (5, 4), True), ("P-FAR", (5, 3), False), ("P-LOW", (2, 4), True),
    ):
        visit = factories.visit(practice_a, clinician_a, reference)
        order = [("patient", patient_value), ("clinician", clinician_value)]
        responses = [
            submit_response(invitation, factories.scoring_every_item(invitation, value))
            for who, value in (order if patient_first else order[::-1])
            for invitation in [visit.visit.invitations.get(respondent=who)]
        ]
        rows = DomainScore.objects.filter(response__in=responses)
        shared = rows.filter(domain__in=scoring.SHARED_DOMAINS)
        assert shared.count() == 2 * len(scoring.SHARED_DOMAINS)
        bands[reference] = set(shared.values_list("paired_band", flat=True))
        assert not rows.exclude(domain__in=scoring.SHARED_DOMAINS).exclude(paired_band=None).exists()

    assert bands == {"P-STEP": {"within"}, "P-FAR": {"higher"}, "P-LOW": {"lower"}}


def test_deleting_the_latest_response_hands_its_flags_back_and_unpairs_the_other_side(practice_a, clinician_a):
    older = submit(factories.visit(practice_a, clinician_a, "P-1"))
    visit = factories.visit(practice_a, clinician_a, "P-1")
    clinician_response = submit(visit, "clinician")
    newer = submit(visit)
    assert flagged("is_latest") == {newer.pk, clinician_response.pk}

    newer.delete()

    assert flagged("is_latest") == {older.pk, clinician_response.pk}
    assert flagged("is_month_latest") == {older.pk, clinician_response.pk}
    assert not clinician_response.scores.filter(paired_score__isnull=False).exists()
    assert not clinician_response.scores.exclude(paired_band=None).exists()


# The flags give the window's answer: every figure, both paths.


@pytest.mark.django_db
def test_every_figure_is_the_same_by_the_flags_and_by_the_window(practice_a, clinician_a, clinician_a2, monkeypatch):
    seed_demo(practices=1, clinicians=3, visits=240, seed=3)
    from surveys.models import Practice

    demo = Practice.objects.get(slug="demo-1")
    # Live submissions on top: a second visit of a seeded dyad, and both sides of a new one.
    seeded = Response.objects.filter(practice=demo, respondent="patient").select_related("dyad__patient").first()
    submit(factories.visit(demo, seeded.dyad.clinician, seeded.dyad.patient.reference))
    both = factories.visit(demo, seeded.dyad.clinician, "NEW-1")
    submit(both, "clinician")
    submit(both, "patient")
    last_month_end = dt.date.today().replace(day=1) - dt.timedelta(days=1)
    quarter = (last_month_end.month - 1) // 3 * 3 + 1
    periods = [
        Period.last_days(365),
        Period.last_days(45),
        Period.last_days(365, clinician_id=seeded.dyad.clinician_id),
        # Past periods that end with a month: read from the month flags and the next months.
        Period(dt.date(last_month_end.year, quarter, 1), last_month_end),
        Period(last_month_end - dt.timedelta(days=200), last_month_end),
        Period(last_month_end.replace(day=1), last_month_end, clinician_id=seeded.dyad.clinician_id),
    ]
    assert all(period.reaches_today for period in periods[:3])
    assert not any(period.reaches_today for period in periods[3:])
    assert all(queries.ends_with_a_month(period) for period in periods[3:])

    fast = [figures(demo, period) for period in periods]
    by_window(monkeypatch)
    slow = [figures(demo, period) for period in periods]

    assert rounded(fast) == rounded(slow)  # the same rows, summed in another order
    assert fast[0]["pairs"] and fast[0]["rolling quarters"] and fast[0]["self"]


@pytest.mark.django_db
def test_a_past_period_or_one_version_takes_the_window():
    today = Period.last_days(30)
    assert today.reaches_today
    assert not Period(today.start, today.end - dt.timedelta(days=1)).reaches_today
    assert not Period(today.start, today.end, version_id=1).reaches_today


@pytest.mark.django_db
def test_the_seed_flags_each_dyads_latest_like_the_live_path(instruments):
    seed_demo(practices=1, clinicians=2, visits=150, seed=9)
    expected = latest.latest_response_ids(Response.objects.values_list("id", "dyad_id", "respondent", "submitted_at"))

    assert (flagged("is_latest"), flagged("is_month_latest")) == expected
    paired = DomainScore.objects.filter(paired_score__isnull=False).select_related("response")
    for row in paired[:50]:
        other = DomainScore.objects.get(
            response__visit_id=row.response.visit_id, domain=row.domain, respondent=latest.other_side(row.respondent)
        )
        assert other.score == row.paired_score


@pytest.mark.django_db
def test_rebuild_read_model_puts_back_what_the_rows_should_hold(instruments):
    from django.core.management import call_command

    seed_demo(practices=1, clinicians=2, visits=120, seed=4)
    truth = list(DomainScore.objects.order_by("pk").values_list(*latest.SCORE_FIELDS))
    # What a change of TIME_ZONE or a hand repair could leave: wrong months, lost pairs, stray flags.
    DomainScore.objects.update(
        month=dt.date(2000, 1, 1), paired_score=None, paired_band="higher", is_latest=True, is_month_latest=False
    )

    call_command("rebuild_read_model", stdout=open(os.devnull, "w"))

    assert list(DomainScore.objects.order_by("pk").values_list(*latest.SCORE_FIELDS)) == truth
