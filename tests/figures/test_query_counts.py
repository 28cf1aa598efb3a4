"""Pages cost a fixed number of queries, however much data a practice has (docs/performance.md, issue 5 guard)."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from demo.seed import add_demo_visits, seed_demo
from plumbing.period import Period
from surveys.models import Practice
from tests import factories

TODAY = dt.date(2026, 6, 30)


def seeded(visits: int):
    seed_demo(practices=1, clinicians=4, visits=visits, seed=11, today=TODAY)
    return Practice.objects.get(slug="demo-1")


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    "username, url_name",
    [("manager1", "practice_dashboard"), ("clinician1a", "my_relationships")],
)
@pytest.mark.django_db
def test_a_page_costs_the_same_queries_when_the_data_grows_tenfold(client, username, url_name):
    practice = seeded(60)
    client.force_login(get_user_model().objects.get(username=username))
    url = reverse(url_name, args=[practice.slug]) + f"?start=2025-07-01&end={TODAY}"
    small = queries_for(client, url)
    add_demo_visits(practice, 540, seed=12, today=TODAY)
    assert practice.visits.count() == 600
    large = queries_for(client, url)
    assert large == small
    assert small <= 20


@pytest.mark.django_db
def test_a_submission_costs_a_fixed_handful_of_queries(client, visit_a):
    answers = factories.full_answers(factories.patient_invitation(visit_a))
    url = reverse("patient_questionnaire", args=[visit_a.patient_token])
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.post(url, answers)
    assert response.status_code == 302
    # invitation lookup, claim, dyad lock, response, answers, the other side's scores, the new rows' next month,
    # scores, the dyad's responses and the flags they move, the earlier rows' next month (surveys.latest)
    # (+ savepoint bookkeeping)
    assert len(captured) <= 13
    # The lookup brings the invitation's visit and instrument version along: nothing reads them again.
    reads = [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    assert len([sql for sql in reads if "surveys_visit" in sql or "surveys_instrumentversion" in sql]) == 1


@pytest.mark.django_db
def test_shared_reads_reads_the_figures_of_each_dyads_latest_response_once():
    # The summaries, the distribution, the ceiling and the concordance all add up one grouped read.
    from figures import queries
    practice = seeded(60)
    period = Period(dt.date(2025, 7, 1), TODAY)

    def figures():
        return (
            queries.domain_summaries(practice, period),
            queries.clinician_domain_summaries(practice, period),
            queries.score_distribution(practice, period),
            queries.ceiling_counts(practice, period),
            queries.concordance(practice, period),
        )

    with CaptureQueriesContext(connection) as apart:
        separately = figures()
    with CaptureQueriesContext(connection) as together, queries.shared_reads():
        shared = figures()
    assert len(apart) == 5
    assert len(together) == 1
    assert shared == separately
    assert shared[4], "the seeded practice has paired waves: the concordance must not be empty"
