"""Aggregate reads for dashboards and reports: one query per figure, computed in the database.

Every function takes a practice the caller has already been allowed to see, and a `Period`.
"Each dyad counts once": its most recent patient response in the period (docs/measurement.md), read from the flags
kept in step on submit when the period reaches today (surveys.latest), else picked with a window function;
either way the database does the choosing. Means, SDs and intervals come from SQL sums
through `scoring.summarize_moments`, so the numbers match `scoring.summarize` on the raw scores.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections import defaultdict
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import NamedTuple

from django.db import connections
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Cast, ExtractMonth, ExtractYear, Lead, RowNumber, TruncMonth

from measurement import casemix, scoring
from measurement.gaps import HIGHER, LOWER, WaveGap, judge_wave
from plumbing.period import Period
from surveys import selectors
from surveys.models import CaseMix, DomainScore, Invitation, Practice, Respondent, Response

_shared: ContextVar[dict | None] = ContextVar("analytics_shared_reads", default=None)


@contextmanager
def shared_reads():
    """Within the block, each set of figures is read once.

    A dashboard or a report asks for several figures over the same practice, period and respondent: the
    practice and clinician summaries and the distribution all come from one grouped query over each
    dyad's latest response. This is the dashboard's fast path (docs/performance.md). Outside a block every
    call reads afresh, so nothing is ever stale.
    """
    token = _shared.set({})
    try:
        yield
    finally:
        _shared.reset(token)


def _once(key: tuple, compute):
    memo = _shared.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def read_once(read):
    """A read whose answer is kept for the rest of a `shared_reads` block, keyed by its arguments (practices,
    periods, respondents: all hashable). A report is rendered once per interface language from the same figures
    (reports.builders.build_files): the second rendering must not read again, or the two languages could show
    different numbers, or hide different ones. Callers must not change the answer in place."""

    @functools.wraps(read)
    def shared(*args, **kwargs):
        return _once((read.__module__, read.__qualname__, args, tuple(sorted(kwargs.items()))),
                     lambda: read(*args, **kwargs))

    return shared


def responses_in(practice: Practice, period: Period, respondent: str = Respondent.PATIENT) -> QuerySet[Response]:
    start, end = period.bounds
    responses = Response.objects.filter(
        practice=practice, respondent=respondent, submitted_at__gte=start, submitted_at__lt=end
    )
    if period.clinician_id:
        responses = responses.filter(dyad__clinician_id=period.clinician_id)
    if period.version_id and respondent == Respondent.PATIENT:
        responses = responses.filter(instrument_version_id=period.version_id)
    return responses


def latest_per_dyad(responses: QuerySet[Response], *, per_month: bool = False) -> QuerySet[Response]:
    """Each dyad's most recent response (per month, for trends)."""
    partition = [F("dyad_id")] + ([TruncMonth("submitted_at")] if per_month else [])
    return responses.annotate(
        dyad_rank=Window(RowNumber(), partition_by=partition, order_by=[F("submitted_at").desc(), F("id").desc()])
    ).filter(dyad_rank=1)


def latest_scores(
    practice: Practice,
    period: Period,
    respondent: str = Respondent.PATIENT,
    *,
    per_month: bool = False,
    scored_only: bool = True,
) -> QuerySet[DomainScore]:
    """The present scores of each dyad's latest response in the period (of each month, for trends).

    The dashboard's fast path: when the period reaches today, the latest responses are the ones flagged on
    submit and the figures come from this one table with no join (docs/performance.md); so are each month's
    latest when the period ends with a month. Otherwise (a past period, one instrument version) the window
    picks them. Either way the same rows, so the same numbers.
    `scored_only=False` keeps the latest responses whose domain score is missing: a rolling quarter must know
    that a dyad's latest response left the domain unscored, not fall back to an older one.
    """
    start, end = period.bounds
    scores = DomainScore.objects.filter(
        practice=practice, respondent=respondent, submitted_at__gte=start, submitted_at__lt=end
    )
    if scored_only:
        scores = scores.filter(score__isnull=False)
    if period.clinician_id:
        scores = scores.filter(clinician_id=period.clinician_id)
    if period.reaches_today:
        return scores.filter(**{"is_month_latest" if per_month else "is_latest": True})
    if ends_with_a_month(period):
        # A past period that ends with a month: each dyad's latest of a month is the one flagged for that month
        # (a month's latest before the period's start has none of that month's responses after it in the
        # period), and its latest in the period is the month's latest whose dyad answered in no later month of
        # the period (`next_month`), so closed quarters read the flags too (docs/performance.md).
        scores = scores.filter(is_month_latest=True)
        if per_month:
            return scores
        return scores.filter(Q(next_month__isnull=True) | Q(next_month__gt=period.end.replace(day=1)))
    latest = latest_per_dyad(responses_in(practice, period, respondent), per_month=per_month)
    return scores.filter(response_id__in=latest.values("id"))


def ends_with_a_month(period: Period) -> bool:
    """Whether a past period's latest responses can be read from the month flags: it ends on a month's last day
    and is not narrowed to one instrument version (a month's latest says nothing about the latest of one version)."""
    return not period.version_id and (period.end + dt.timedelta(days=1)).day == 1


def reads_month_flags(period: Period) -> bool:
    """Whether `latest_scores(..., per_month=True)` reads the month flags (and so `next_month` holds each row's
    next month) rather than the window."""
    return period.reaches_today or ends_with_a_month(period)


MOMENTS = {"n": Count("score"), "total": Sum("score"), "total_sq": Sum(F("score") * F("score"))}


BIN_WIDTH = 10


def _latest_groups(practice: Practice, period: Period, respondent: str) -> list[tuple]:
    """(clinician id, domain, score, paired score, paired band, n) over each dyad's latest response: the one
    grouped read from which the practice and clinician summaries, the distribution, the ceiling and the
    concordance are all added up. Scores take few distinct values (a domain's answers are a few items on a
    five-point scale), so a quarter's 20,000 score rows come back as about 5,000 groups."""

    def compute():
        return _plain_rows(
            latest_scores(practice, period, respondent)
            .values_list("clinician_id", "domain", "score", "paired_score", "paired_band")
            .annotate(n=Count("*"))
            .order_by()
        )

    return _once(("latest_groups", practice.pk, period, respondent), compute)


def _latest_moments(practice: Practice, period: Period, respondent: str) -> list[tuple]:
    """(clinician id, domain, score bin, n, sum, sum of squares) over each dyad's latest response, from
    `_latest_groups`: what the summaries, the distribution and the ceiling are added up from."""

    def compute():
        sums: dict = defaultdict(lambda: [0, 0.0, 0.0])
        for clinician_id, domain, score, _paired, _band, n in _latest_groups(practice, period, respondent):
            moments = sums[(clinician_id, domain, math.floor(score / BIN_WIDTH))]
            moments[0] += n
            moments[1] += score * n
            moments[2] += score * score * n
        return [(*key, *moments) for key, moments in sums.items()]

    return _once(("latest_moments", practice.pk, period, respondent), compute)


def _summed(rows, key) -> dict:
    sums: dict = {}
    for row in rows:
        n, total, total_sq = sums.get(key(row), (0, 0.0, 0.0))
        sums[key(row)] = (n + row[3], total + row[4], total_sq + row[5])
    return {k: scoring.summarize_moments(*moments) for k, moments in sums.items()}


@read_once
def domain_summaries(practice: Practice, period: Period, respondent: str = Respondent.PATIENT) -> dict[str, scoring.Summary]:
    """Practice-level n, mean, SD and 95% CI per domain."""
    return _summed(_latest_moments(practice, period, respondent), key=lambda row: row[1])


@read_once
def clinician_domain_summaries(
    practice: Practice, period: Period, respondent: str = Respondent.PATIENT
) -> dict[tuple[int, str], scoring.Summary]:
    """{(clinician_id, domain): Summary}: the clinician-level figures that suppression applies to."""
    return _summed(_latest_moments(practice, period, respondent), key=lambda row: (row[0], row[1]))


WINDOW_MONTHS = 3
"""A trend's point is a rolling quarter: the three months ending that month."""

TREND_POINTS = 12
"""A trend shows the rolling quarters ending in each of the twelve months to the period's end: a year."""


def _month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def _month_of(index: int) -> dt.date:
    return dt.date(index // 12, index % 12 + 1, 1)


def trend_span(period: Period) -> Period:
    """The months a trend reads: whole calendar quarters, from the one holding the first month of the first
    rolling quarter shown to the period's end (every clinician: the breakdown suppression decides from), so
    that each month's disclosure is decided with its quarter's (figures.disclosure.decide_rolling)."""
    first = _month_index(period.end) - (TREND_POINTS - 1) - (WINDOW_MONTHS - 1)
    first -= first % 3
    return Period(_month_of(first), period.end, version_id=period.version_id)


@dataclass(frozen=True)
class RollingMoments:
    """Each dyad's latest response per month and per rolling quarter, as sums per clinician.

    `months`: {(first day of month, domain): {clinician id: (n, sum, sum of squares)}} over each dyad's latest response of the
    month; `windows`: {(first day of the window's last month, domain): {clinician id: moments}} over each dyad's
    latest response in the three months ending that month. `window_ends`: the months whose rolling quarters a
    trend shows, oldest first. `quarters`: the calendar quarters of the span as (first month, last month).
    """

    months: dict
    windows: dict
    window_ends: list
    quarters: list


def _accumulate(sums: list, moments: tuple) -> None:
    """Add (n, sum, sum of squares) into a running [n, sum, sum of squares]."""
    sums[0] += moments[0]
    sums[1] += moments[1]
    sums[2] += moments[2]


def rolling_moments(practice: Practice, period: Period, respondent: str = Respondent.PATIENT) -> RollingMoments:
    """The monthly and rolling-quarter sums of the trend span (`trend_span`), from one query.

    A dyad's latest response of a month (one row per dyad, domain and month) is its latest in each rolling
    quarter that holds the month and no later month of the dyad: each such row knows the dyad's next month with
    a response (the read model's `next_month`, or a window over the span where the flags do not serve), and the
    rows come back grouped by month, domain, clinician and that reach (1, 2, or 3 for "none within the window").
    A row of month m with reach r counts in the windows ending m .. m+r-1; its month's figure is every row of the month. So each dyad counts once per
    window by its latest response, as everywhere (docs/measurement.md), without a query per window.
    """
    span = trend_span(period)

    def compute():
        if reads_month_flags(span):
            # The month flags' rows carry their dyad's next month with a response (`next_month`): a plain grouped
            # read, no window. Every response has a row per domain of its instrument, so a dyad's next month is
            # the same for each domain (the patient questionnaires all have the six shared domains). The reach is
            # worked out in the database, so rows come back per reach (three values), not per next month.
            grouped = [
                (month.year * 12 + month.month - 1, domain, clinician_id, row_reach, n, total, total_sq)
                for month, domain, clinician_id, row_reach, n, total, total_sq in (
                    latest_scores(practice, span, respondent, per_month=True)
                    .annotate(reach=REACH)
                    .values_list("month", "domain", "clinician_id", "reach")
                    .annotate(**MOMENTS)
                    .order_by()
                )
            ]
        else:
            grouped = _rolling_rows_by_window(practice, span, respondent)
        first, last = _month_index(span.start), _month_index(span.end)
        # Summed by month index first (a few thousand rows, each in up to three windows), turned into the
        # {(month, domain): {clinician: moments}} shape once at the end.
        month_sums: dict = defaultdict(lambda: [0, 0.0, 0.0])
        window_sums: dict = defaultdict(lambda: [0, 0.0, 0.0])
        first_end = first + WINDOW_MONTHS - 1  # the first window wholly inside the span
        for index, domain, clinician_id, row_reach, n, total, total_sq in grouped:
            moments = (n, float(total), float(total_sq))
            _accumulate(month_sums[(index, domain, clinician_id)], moments)
            for end in range(max(index, first_end), min(index + int(row_reach) - 1, last) + 1):
                _accumulate(window_sums[(end, domain, clinician_id)], moments)
        months: dict = {}
        windows: dict = {}
        for sums, into in ((month_sums, months), (window_sums, windows)):
            for (index, domain, clinician_id), (n, total, total_sq) in sums.items():
                into.setdefault((_month_of(index), domain), {})[clinician_id] = (n, total, total_sq)
        ends = [_month_of(i) for i in range(max(first + WINDOW_MONTHS - 1, last - TREND_POINTS + 1), last + 1)]
        quarters = [(_month_of(q), _month_of(q + 2)) for q in range(first, last - 1, 3)]
        return RollingMoments(months, windows, ends, quarters)

    return _once(("rolling_moments", practice.pk, span, respondent), compute)


REACH = Case(
    When(next_month__isnull=True, then=Value(WINDOW_MONTHS)),
    # Both are first days of months: fewer than 45 days apart is the next month, fewer than 75 the one after.
    When(next_month__lt=F("month") + dt.timedelta(days=45), then=Value(1)),
    When(next_month__lt=F("month") + dt.timedelta(days=75), then=Value(2)),
    default=Value(WINDOW_MONTHS),
    output_field=IntegerField(),
)
"""In how many rolling quarters (ending with its month and the next ones) a dyad's latest response of a month
is its latest: until its next month with a response, at most WINDOW_MONTHS (3)."""


def _plain_rows(rows: QuerySet) -> list[tuple]:
    """A values_list queryset's rows, read with a plain cursor: the ORM passes every value through its
    expression's converter (int() of a COUNT, float() of a score), which both drivers' own types already give;
    over the thousands of grouped rows a dashboard reads, that was a tenth of its time (docs/performance.md).
    Only for rows of numbers and text: SQLite's driver gives dates as text."""
    sql, params = rows.query.sql_with_params()
    return _fetch(sql, params, rows.db)


def _fetch(sql: str, params, database: str) -> list[tuple]:
    """Rows of SQL built around a queryset's own, on that queryset's database: the replica under use_replica(),
    as for every other read here."""
    with connections[database].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _rolling_rows_by_window(practice: Practice, span: Period, respondent: str) -> list[tuple]:
    """`rolling_moments`' grouped rows (month index, domain, clinician, reach, n, sum, sum of squares) for a span
    the month flags do not serve (one instrument version): each dyad's next month by a window (LEAD) over its
    latest responses of each month in the span."""
    # An integer (PostgreSQL's EXTRACT gives a numeric, slow to hash and group by).
    month_index = Cast(ExtractYear("month") * 12 + ExtractMonth("month") - 1, output_field=IntegerField())
    rows = (
        latest_scores(practice, span, respondent, per_month=True, scored_only=False)
        .annotate(
            month_index=month_index,
            next_index=Window(Lead(month_index), partition_by=[F("response__dyad_id"), F("domain")],
                              order_by=F("month").asc()),
        )
        .values_list("month_index", "domain", "clinician_id", "score", "next_index")
    )
    inner, params = rows.query.sql_with_params()
    reach = WINDOW_MONTHS
    sql = (
        "SELECT month_index, domain, clinician_id, "
        f"CASE WHEN next_index IS NULL OR next_index - month_index >= {reach} THEN {reach} "
        "ELSE next_index - month_index END AS reach, "
        "COUNT(score), SUM(score), SUM(score * score) "
        f"FROM ({inner}) latest_rows WHERE score IS NOT NULL GROUP BY 1, 2, 3, 4"
    )
    return _fetch(sql, params, rows.db)


def _summaries_of(sums: dict, clinician_id: int | None) -> dict:
    """{key: Summary} of the practice (clinician_id None: every clinician's moments added) or one clinician."""
    summaries = {}
    for key, per_clinician in sums.items():
        if clinician_id is not None:
            if clinician_id in per_clinician:
                summaries[key] = scoring.summarize_moments(*per_clinician[clinician_id])
            continue
        n = sum(m[0] for m in per_clinician.values())
        summaries[key] = scoring.summarize_moments(
            n, sum(m[1] for m in per_clinician.values()), sum(m[2] for m in per_clinician.values())
        )
    return summaries


def _latest_monthly_moments(practice: Practice, period: Period, respondent: str) -> list[tuple]:
    """(month, domain, clinician id, n, sum, sum of squares) over each dyad's latest response of each month: the
    competencies' monthly means from per-visit clinician 1.0 questionnaires ("My competency self-ratings";
    relationship trends are rolling quarters, `rolling_moments`)."""

    def compute():
        return list(
            latest_scores(practice, period, respondent, per_month=True)
            .values_list("month", "domain", "clinician_id")
            .annotate(**MOMENTS)
            .order_by()
        )

    return _once(("latest_monthly_moments", practice.pk, period, respondent), compute)


def monthly_summaries(
    practice: Practice, period: Period, respondent: str = Respondent.PATIENT
) -> dict[tuple[dt.date, str], scoring.Summary]:
    """{(first day of month, domain): Summary}, each dyad counted once per month."""
    return _summed(_latest_monthly_moments(practice, period, respondent), key=lambda row: (row[0], row[1]))


def rolling_summaries(
    practice: Practice, period: Period, respondent: str = Respondent.PATIENT
) -> dict[tuple[dt.date, str], scoring.Summary]:
    """{(first day of the window's last month, domain): Summary} of the rolling quarters a trend shows, for the
    practice or, with a clinician filter, that clinician (from the same query as the whole breakdown)."""
    rolling = rolling_moments(practice, period, respondent)
    shown = set(rolling.window_ends)
    return {key: s for key, s in _summaries_of(rolling.windows, period.clinician_id).items() if key[0] in shown}


def ceiling_counts(practice: Practice, period: Period) -> dict[str, int]:
    """{domain: dyads whose latest score is exactly 100}, from the same rows as the summaries (a score of 100 is
    the only one in its bin), for the ceiling share beside each practice mean (docs/measurement.md)."""
    counts: dict[str, int] = defaultdict(int)
    for _clinician, domain, score_bin, n, _total, _total_sq in _latest_moments(practice, period, Respondent.PATIENT):
        if int(score_bin) * BIN_WIDTH >= 100:
            counts[domain] += n
    return dict(counts)


def score_distribution(practice: Practice, period: Period) -> dict[str, dict[int, int]]:
    """{domain: {bin start (0, 10, ... 90): count}}; 100 falls in the 90 bin."""
    distribution: dict[str, dict[int, int]] = defaultdict(lambda: {b: 0 for b in range(0, 100, BIN_WIDTH)})
    for _clinician, domain, score_bin, n, _total, _total_sq in _latest_moments(practice, period, Respondent.PATIENT):
        distribution[domain][min(int(score_bin) * BIN_WIDTH, 100 - BIN_WIDTH)] += n
    return dict(distribution)


class Pair(NamedTuple):
    domain: str
    patient: float
    clinician: float
    clinician_id: int
    band: str | None  # where the wave's gap falls by its instrument's rule (measurement.gaps: lower, within, higher)
    waves: int = 1  # how many of the clinician's dyads had exactly these two scores and band in their latest wave

    @property
    def flagged(self) -> bool:
        """Beyond measurement error (instrument 1.1's item pairs) or by the domain rule (1.0)."""
        return self.band in (LOWER, HIGHER)


@read_once
def concordance(practice: Practice, period: Period) -> list[Pair]:
    """Patient and clinician scores of the same wave, per shared domain (each dyad's latest wave).

    The patient's score rows carry the clinician's score of the same visit as `paired_score` and the wave's gap
    band as `paired_band`, so the pairs are the paired groups of the summaries' own read (`_latest_groups`): equal
    waves of one clinician come back as one Pair with their number (`waves`); scores take few distinct values, so
    a practice's 35,000 waves make about 5,000 pairs.
    """
    shared = set(scoring.SHARED_DOMAINS)
    return [
        Pair(domain, score, paired, clinician_id, band, n)
        for clinician_id, domain, score, paired, band, n in _latest_groups(practice, period, Respondent.PATIENT)
        if paired is not None and domain in shared
    ]


@read_once
def invitation_funnel(practice: Practice, period: Period) -> dict[str, int]:
    """Patient invitations created in the period: sent, opened, completed."""
    start, end = period.bounds
    invitations = Invitation.objects.filter(
        visit__practice=practice, respondent=Respondent.PATIENT, created_at__gte=start, created_at__lt=end
    )
    if period.clinician_id:
        invitations = invitations.filter(visit__dyad__clinician_id=period.clinician_id)
    if period.version_id:
        invitations = invitations.filter(instrument_version_id=period.version_id)
    return invitations.aggregate(
        sent=Count("id"),
        opened=Count("id", filter=Q(opened_at__isnull=False) | Q(used_at__isnull=False)),
        completed=Count("id", filter=Q(used_at__isnull=False)),
    )


def visit_counts(practice: Practice, period: Period) -> list[tuple[int, int, int]]:
    """(patient id, clinician id, visits) over the year to the period's end: what continuity of care is measured
    from (measurement.continuity). A year, not the quarter: continuity is about patients coming back."""
    from surveys.models import Visit

    first = period.end - dt.timedelta(days=364)
    return _plain_rows(
        Visit.objects.filter(practice=practice, date__gte=first, date__lte=period.end)
        .values_list("dyad__patient_id", "dyad__clinician_id")
        .annotate(n=Count("id"))
        .order_by()
    )


def practice_clinicians(practice: Practice) -> list:
    """The practice's clinicians, for filters and per-clinician figures (one query)."""
    from django.contrib.auth import get_user_model

    return list(
        get_user_model()
        .objects.filter(memberships__practice=practice, memberships__role="clinician")
        .order_by("username")
        .distinct()
    )


def patient_versions(practice: Practice) -> list:
    """Patient instrument versions that have responses in this practice, for the version filter."""
    from surveys.models import InstrumentVersion

    return list(
        InstrumentVersion.objects.filter(respondent=Respondent.PATIENT)
        .select_related("instrument")
        .order_by("instrument__slug", "version")
    )


@read_once
def judged_latest_waves(practice: Practice, period: Period) -> list[WaveGap]:
    """Each dyad's latest wave in the period (the waves of `concordance`), every shared domain both sides scored
    judged by the wave's rule: beyond measurement error over item pairs from 1.1, the domain rule for 1.0.
    Three queries; for a clinician's own page and a report's parts (see `paired_measures`)."""
    latest = latest_scores(practice, period).filter(domain__in=scoring.SHARED_DOMAINS, paired_score__isnull=False)
    sides: dict[int, tuple[dict, dict]] = defaultdict(lambda: ({}, {}))
    for visit_id, domain, patient, clinician in latest.values_list("response__visit_id", "domain", "score", "paired_score"):
        sides[visit_id][0][domain] = clinician
        sides[visit_id][1][domain] = patient
    measures = selectors.paired_measures(Response.objects.filter(visit_id__in=latest.values("response__visit_id")))
    return [
        gap
        for visit_id, (clinician, patient) in sides.items()
        for gap in judge_wave(clinician, patient, measures.get(visit_id))
    ]


@dataclass(frozen=True)
class DyadRow:
    dyad_id: int
    patient: str
    visits: int
    last_visit: dt.date | None
    patient_scores: dict
    clinician_scores: dict
    flagged: list


def clinician_dyads(practice: Practice, clinician, period: Period, limit: int = 500) -> list[DyadRow]:
    """The clinician's dyads seen in the period whose patient shared their latest answers with them, with the scores
    of their latest wave (four queries). Blind pairing: a wave's patient scores are left out until the clinician
    has sent their own view of that visit, so that neither view anchors the other (docs/privacy.md)."""
    from surveys.models import Dyad
    from surveys.selectors import latest_patient_response_shared

    start, end = period.bounds
    dyads = list(
        Dyad.objects.filter(
            practice=practice,
            clinician=clinician,
            visits__date__gte=period.start,
            visits__date__lte=period.end,
        )
        .annotate(
            visit_count=Count("visits", distinct=True),
            last_visit=Max("visits__date"),
            latest_visit_id=Subquery(
                Response.objects.filter(
                    dyad_id=OuterRef("pk"),
                    respondent=Respondent.PATIENT,
                    submitted_at__gte=start,
                    submitted_at__lt=end,
                )
                .order_by("-submitted_at", "-id")
                .values("visit_id")[:1]
            ),
            shared=latest_patient_response_shared(),
        )
        .filter(shared=True)
        .values_list("pk", "patient__reference", "visit_count", "last_visit", "latest_visit_id")
        .order_by("-last_visit", "patient__reference")[:limit]
    )
    scores: dict[tuple[int, str], dict] = defaultdict(dict)
    wave_visits = [row[4] for row in dyads if row[4]]
    for visit_id, respondent, domain, score, process_index, outcome_index in DomainScore.objects.filter(
        response__visit_id__in=wave_visits
    ).values_list(
        "response__visit_id", "response__respondent", "domain", "score", "response__process_index", "response__outcome_index"
    ):
        scores[(visit_id, respondent)].update(
            {domain: score, "process_index": process_index, "outcome_index": outcome_index}
        )
    measures = selectors.paired_measures(Response.objects.filter(visit_id__in=wave_visits))
    rows = []
    for dyad_id, reference, visit_count, last_visit, visit_id in dyads:
        clinician_scores = scores.get((visit_id, Respondent.CLINICIAN), {})
        patient_scores = scores.get((visit_id, Respondent.PATIENT), {}) if clinician_scores else {}
        flagged = [g for g in judge_wave(clinician_scores, patient_scores, measures.get(visit_id)) if g.flagged]
        rows.append(DyadRow(dyad_id, reference, visit_count, last_visit, patient_scores, clinician_scores, flagged))
    return rows


@dataclass(frozen=True)
class Wave:
    visit_id: int
    date: dt.date
    patient_scores: dict
    clinician_scores: dict
    gaps: list


def dyad_waves(dyad) -> list[Wave]:
    """A dyad's history for its clinician: every visit with the clinician's scores and, where the patient shared
    that visit's answers and the clinician has sent their own view of it, the patient's and the gaps (four
    queries)."""
    from surveys.models import Visit

    visits = list(Visit.objects.filter(dyad=dyad).order_by("date", "id").values_list("id", "date"))
    scores: dict[tuple[int, str], dict] = defaultdict(dict)
    for visit_id, respondent, domain, score, shared in DomainScore.objects.filter(response__dyad=dyad).values_list(
        "response__visit_id", "response__respondent", "domain", "score", "response__shared_with_clinician"
    ):
        if respondent == Respondent.PATIENT and not shared:
            continue
        scores[(visit_id, respondent)][domain] = score
    measures = selectors.paired_measures(
        Response.objects.filter(dyad=dyad).exclude(respondent=Respondent.PATIENT, shared_with_clinician=False)
    )
    waves = []
    for visit_id, date in visits:
        clinician_scores = scores.get((visit_id, Respondent.CLINICIAN), {})
        patient_scores = scores.get((visit_id, Respondent.PATIENT), {}) if clinician_scores else {}
        waves.append(
            Wave(visit_id, date, patient_scores, clinician_scores,
                 judge_wave(clinician_scores, patient_scores, measures.get(visit_id)))
        )
    return waves


def clinician_monthly_counts(
    practice: Practice, period: Period, respondent: str = Respondent.PATIENT
) -> dict[tuple[dt.date, str], dict[int, int]]:
    """{(month, domain): {clinician id: n}} for the months of the period: the breakdown monthly suppression is
    decided from (the trend's query: `rolling_moments`)."""
    rolling = rolling_moments(practice, period, respondent)
    return {
        (month, domain): {pk: m[0] for pk, m in per_clinician.items()}
        for (month, domain), per_clinician in rolling.months.items()
        if _month_index(period.start) <= _month_index(month) <= _month_index(period.end)
    }


def rolling_counts(practice: Practice, period: Period, respondent: str = Respondent.PATIENT) -> tuple[dict, dict, list]:
    """({(month, domain): {clinician id: n}}, {(window's last month, domain): {clinician id: n}}, quarters) of
    the trend span: what a trend's suppression is decided from (figures.disclosure.decide_rolling)."""
    rolling = rolling_moments(practice, period, respondent)

    def counts(sums: dict) -> dict:
        return {key: {pk: m[0] for pk, m in per_clinician.items()} for key, per_clinician in sums.items()}

    return counts(rolling.months), counts(rolling.windows), rolling.quarters


def casemix_cells(practice: Practice, period: Period) -> list[tuple]:
    """(clinician id, the five case-mix answers (None when skipped), then n, sum and sum of squares of each shared
    domain in `scoring.SHARED_DOMAINS` order) per clinician and set of answers, over each dyad's latest patient
    response: the cells `measurement.casemix.fit` fits from, in one query. One row serves the six domains (a
    dyad's six scores share its answers), so the page reads a sixth of the rows. A response with no case-mix row
    has every answer None (the outer join). Never released as such: only the model's adjusted means and
    coefficients leave figures (docs/privacy.md).

    Written around the ORM's latest scores rather than through it: the ORM reaches the answers through the
    responses table (score -> response -> case mix), a join of every response of the practice that the answers'
    own key, the response id the score row already holds, makes unnecessary (docs/performance.md)."""

    def compute():
        scores = (
            latest_scores(practice, period)
            .filter(domain__in=scoring.SHARED_DOMAINS)
            .values_list("clinician_id", "response_id", "domain", "score")
        )
        inner, params = scores.query.sql_with_params()
        answers = ", ".join(f"answers.{CaseMix._meta.get_field(name).column}" for name in casemix.COVARIATES)
        # First each response's six scores as one row (a response has one score row per domain), then its
        # answers joined by the response id and the rows grouped: a sixth of the rows reach the join and the
        # last grouping.
        by_response = ", ".join(
            f"MAX(scores.score) FILTER (WHERE scores.domain = %s) AS d{i}" for i in range(len(scoring.SHARED_DOMAINS))
        )
        moments = ", ".join(
            f"COUNT(latest.d{i}), SUM(latest.d{i}), SUM(latest.d{i} * latest.d{i})"
            for i in range(len(scoring.SHARED_DOMAINS))
        )
        sql = (
            f"SELECT latest.clinician_id, {answers}, {moments} FROM ("
            f"SELECT scores.clinician_id, scores.response_id, {by_response} FROM ({inner}) scores GROUP BY 1, 2"
            f") latest LEFT JOIN {CaseMix._meta.db_table} answers ON answers.response_id = latest.response_id "
            f"GROUP BY 1, {', '.join(str(2 + k) for k in range(len(casemix.COVARIATES)))}"
        )
        return _fetch(sql, (*scoring.SHARED_DOMAINS, *params), scores.db)

    return _once(("casemix_cells", practice.pk, period), compute)


# The practice's median minutes to complete (surveys.selectors, a layer below) read once within a block too.
median_minutes_to_complete = read_once(selectors.median_minutes_to_complete)
