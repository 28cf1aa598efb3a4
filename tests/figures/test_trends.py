"""Trends as rolling quarters with control limits (docs/measurement.md, "Trends"; docs/privacy.md).

The rolling sums come from one query and must equal the plain definition (each dyad's latest response in the three
months) read for each window on its own; on demo data with no trend at most 5% of the points are called; and
what a trend hides follows from each quarter's own decision.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from demo.seed import seed_demo
from figures import disclosure, panels, queries
from figures.disclosure import Audience
from measurement import control, scoring
from plumbing.period import Period
from surveys.models import Practice

TODAY = dt.date(2026, 7, 10)
QUARTER = Period(dt.date(2026, 4, 1), dt.date(2026, 6, 30))  # the latest closed quarter on TODAY


def three_months(end: dt.date) -> Period:
    start_index = end.year * 12 + end.month - 1 - 2
    first = dt.date(start_index // 12, start_index % 12 + 1, 1)
    next_month = dt.date(end.year + end.month // 12, end.month % 12 + 1, 1)
    return Period(first, next_month - dt.timedelta(days=1))


def close(a: scoring.Summary, b: scoring.Summary) -> bool:
    return a.n == b.n and a.mean == pytest.approx(b.mean, abs=1e-9) and (
        a.sd == b.sd or a.sd == pytest.approx(b.sd, abs=1e-9))


@pytest.mark.django_db
def test_each_rolling_quarter_counts_each_dyad_once_by_its_latest_response_in_the_three_months():
    seed_demo(practices=1, clinicians=3, visits=900, seed=5, today=TODAY)
    practice = Practice.objects.get(slug="demo-1")
    rolling = queries.rolling_summaries(practice, QUARTER)
    ends = queries.rolling_moments(practice, QUARTER).window_ends
    assert ends[0] == dt.date(2025, 7, 1) and ends[-1] == dt.date(2026, 6, 1) and len(ends) == 12
    clinician = get_user_model().objects.get(username="clinician1a")
    own = queries.rolling_summaries(practice, Period(QUARTER.start, QUARTER.end, clinician_id=clinician.pk))
    checked = 0
    for end in ends:
        window = three_months(end)
        plain = queries.domain_summaries(practice, window)  # a past period: the window function picks the latest
        mine = queries.domain_summaries(practice, Period(window.start, window.end, clinician_id=clinician.pk))
        for domain in scoring.SHARED_DOMAINS:
            if domain in plain:
                assert close(rolling[(end, domain)], plain[domain]), (end, domain)
                checked += 1
            else:
                assert (end, domain) not in rolling
            if domain in mine:
                assert close(own[(end, domain)], mine[domain]), (end, domain)
    assert checked >= 60
    # A dyad seen in two months of a window counts once: the windows hold fewer than the sum of their months.
    months = queries.rolling_moments(practice, QUARTER).months
    month_n = {key: sum(m[0] for m in per.values()) for key, per in months.items()}
    window = ends[-1]
    summed = sum(month_n.get((dt.date(2026, m, 1), "valuing"), 0) for m in (4, 5, 6))
    assert rolling[(window, "valuing")].n < summed


@pytest.mark.django_db
def test_on_demo_data_with_no_trend_at_most_5_percent_of_rolling_quarters_are_called():
    """seed_demo spreads visits evenly over the year with no change in quality: every called point is a false
    alarm. Four practices, six domains, twelve rolling quarters each."""
    seed_demo(practices=4, clinicians=5, visits=4000, seed=21, today=TODAY)
    called = points = 0
    for practice in Practice.objects.filter(slug__startswith="demo-"):
        rolling = queries.rolling_summaries(practice, QUARTER)
        ends = queries.rolling_moments(practice, QUARTER).window_ends
        for domain in scoring.SHARED_DOMAINS:
            figures = [rolling.get((end, domain)) for end in ends]
            chart = control.control_chart([(s.n, s.mean, s.sd) if s else None for s in figures])
            assert chart is not None
            shown = [p for p in chart.points if p is not None]
            called += sum(p.called for p in shown)
            points += len(shown)
    assert points >= 250
    assert called / points <= 0.05


def test_a_rolling_quarter_is_hidden_where_one_of_its_months_would_be():
    """Months of two quarters; clinician 1 has 2 dyads in February (hidden, with clinician 2's as the next
    smallest), so every window holding February hides both; the quarter ending March follows the quarter's own
    decision (both clinicians have 5 or more there); a clinician's empty month hides nothing."""
    jan, feb, mar, apr, may, jun = (dt.date(2026, m, 1) for m in range(1, 7))
    months, windows = {}, {}
    per_month = {jan: {1: 6, 2: 6, 3: 9}, feb: {1: 2, 2: 6, 3: 9}, mar: {1: 6, 2: 6, 3: 9},
                 apr: {1: 6, 2: 6}, may: {1: 6, 2: 6, 3: 9}, jun: {1: 6, 2: 6, 3: 9}}
    for month, counts in per_month.items():
        months[(month, "hope")] = counts
    order = [jan, feb, mar, apr, may, jun]
    for i in range(2, 6):
        windows[(order[i], "hope")] = {pk: sum(per_month[m].get(pk, 0) for m in order[i - 2 : i + 1])
                                       for pk in (1, 2, 3)}
    hidden = disclosure.decide_rolling(months, windows, [(jan, mar), (apr, jun)], Audience(min_n=5))
    assert hidden.hidden[(mar, "hope")] == set()  # the quarter: 14 and 18 dyads, its months decided with it
    assert hidden.hidden[(apr, "hope")] == {1, 2}  # Feb-Apr holds February
    assert hidden.hidden[(may, "hope")] == set()  # Mar-May: clinician 3 had no one in April, which adds nothing
    assert not hidden.hides((apr, "hope"), None)  # the practice's February is shown (two hidden, 8 dyads)
    assert disclosure.decide_rolling(months, windows, [(jan, mar), (apr, jun)],
                                     Audience(min_n=5, sees_everything=True)).hidden == {}


@pytest.mark.django_db
def test_the_dashboard_trend_draws_limits_and_says_what_the_band_means(client):
    seed_demo(practices=1, clinicians=3, visits=900, seed=5, today=TODAY)
    practice = Practice.objects.get(slug="demo-1")
    client.force_login(get_user_model().objects.get(username="manager1"))
    response = client.get(reverse("practice_dashboard", args=[practice.slug]),
                          {"start": QUARTER.start.isoformat(), "end": QUARTER.end.isoformat()})
    assert response.status_code == 200
    trend = next(p for p in response.context["panels"] if p.key == "trends")
    assert "Points inside the band differ by chance; a point outside it is a change worth a look." in " ".join(
        str(n) for n in trend.notes)
    rows = [dict(zip([str(c) for c in trend.columns], row)) for row in trend.rows]
    assert {r["Quarter ending"] for r in rows} >= {"2026-06", "2025-10"}
    latest = next(r for r in rows if r["Quarter ending"] == "2026-06" and r["Months"] == "2026-04 – 2026-06")
    assert latest["Lower limit"] < latest["Centre line"] < latest["Upper limit"]
    assert str(latest["Beyond the limits"]) in ("yes", "no")
    drawn = trend.figure
    assert any(getattr(t, "fill", None) == "tonexty" for t in drawn.data)  # the band


@pytest.mark.django_db
def test_a_trend_never_reads_the_open_quarter():
    """Everything a trend reads ends with the period: a closed quarter (docs/privacy.md)."""
    span = queries.trend_span(QUARTER)
    assert span.end == QUARTER.end
    assert span.start == dt.date(2025, 4, 1)  # whole quarters, each decided as its own page decides it
    assert panels.window_months(dt.date(2026, 1, 1)) == "2025-11 – 2026-01"
