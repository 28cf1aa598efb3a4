"""Scoring: answers -> domain scores, indices, wave gaps and period aggregates (docs/measurement.md).

Pure functions on plain values, standard library only, so that views, reports, exports and benchmarks all
score the same way and the contract can be tested without a database.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

NA = "na"
"""The answer 'does not apply': neither counted in a mean nor towards the minimum number of answers."""

PROCESS_DOMAINS = ("valuing", "power", "abiding")
OUTCOME_DOMAINS = ("trust", "hope", "known")
SHARED_DOMAINS = PROCESS_DOMAINS + OUTCOME_DOMAINS
COMPETENCY_DOMAINS = ("self_confidence", "emotional_self_management", "mindfulness", "knowledge")

GAP_FLAG_THRESHOLD = 25.0
CAUTION_N = 30
ALPHA_MIN_RESPONSES = 30

# Scores are ratios of small integers, so two scores whose true difference is exactly 25 can differ from
# 25 by a rounding error; any true gap that is not 25 is far further away than this.
_GAP_TOLERANCE = 1e-9

T = TypeVar("T")

Answer = int | str | None


@dataclass(frozen=True)
class Scale:
    """The answer range of an instrument; every score is expressed relative to it."""

    min: int
    max: int

    def __post_init__(self) -> None:
        for bound in (self.min, self.max):
            if isinstance(bound, bool) or not isinstance(bound, int):
                raise TypeError(f"scale bounds must be integers, got {bound!r}")
        if self.min >= self.max:
            raise ValueError(f"scale min must be below max, got {self.min}..{self.max}")


@dataclass(frozen=True)
class ItemSpec:
    """What scoring needs to know about an item: where it counts and which way it points."""

    code: str
    domain: str
    reverse: bool = False


def scored_value(answer: Answer, scale: Scale, reverse: bool) -> int | None:
    """The answer as it counts towards a score, so that a high value always means a healthier relationship.

    Not applicable and unanswered give None. Anything else that is not an integer on the scale is a bug upstream
    (a form or an import let it through), so it raises rather than being silently dropped.
    """
    if answer is None or answer == NA:
        return None
    # bool is an int subclass; True must not pass for 1.
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise ValueError(f"answer must be an integer or {NA!r}, got {answer!r}")
    if not scale.min <= answer <= scale.max:
        raise ValueError(f"answer {answer} is outside the scale {scale.min}..{scale.max}")
    return scale.min + scale.max - answer if reverse else answer


def min_answers_required(n_items: int) -> int:
    """Half of a domain's items, rounded up: fewer scored answers say too little to score the domain."""
    if n_items < 0:
        raise ValueError(f"n_items must not be negative, got {n_items}")
    return (n_items + 1) // 2


def domain_scores(
    items: Sequence[ItemSpec], answers: Mapping[str, Answer], scale: Scale
) -> dict[str, float | None]:
    """Score each domain 0-100 so that instruments with different scales and item counts compare.

    Keys follow the order in which domains first appear among the items. A domain with too few scored answers
    is None (missing), never 0, so that it cannot drag an average down. Answers to codes that are not items
    (a free-text comment, say) are ignored.
    """
    by_domain: dict[str, list[ItemSpec]] = {}
    seen: set[str] = set()
    for item in items:
        if item.code in seen:
            raise ValueError(f"item code {item.code!r} appears twice")
        seen.add(item.code)
        by_domain.setdefault(item.domain, []).append(item)

    scores: dict[str, float | None] = {}
    span = scale.max - scale.min
    for domain, domain_items in by_domain.items():
        values = [
            value
            for item in domain_items
            if (value := scored_value(answers.get(item.code), scale, item.reverse)) is not None
        ]
        count = len(values)
        if count < min_answers_required(len(domain_items)):
            scores[domain] = None
        else:
            # One division of exact integers: all-max is exactly 100.0 and all-min exactly 0.0.
            scores[domain] = 100 * (sum(values) - count * scale.min) / (count * span)
    return scores


def _mean_of_all(scores: Mapping[str, float | None], domains: Sequence[str]) -> float | None:
    values = [scores.get(domain) for domain in domains]
    if any(value is None for value in values):
        return None
    return math.fsum(values) / len(values)  # type: ignore[arg-type]


def indices(scores: Mapping[str, float | None]) -> dict[str, float | None]:
    """Process and outcome indices; missing when any of their domains is, so they never mean different things."""
    return {
        "process_index": _mean_of_all(scores, PROCESS_DOMAINS),
        "outcome_index": _mean_of_all(scores, OUTCOME_DOMAINS),
    }


@dataclass(frozen=True)
class Gap:
    """How far the clinician's view of one domain is from the patient's, in one wave."""

    domain: str
    clinician: float
    patient: float
    gap: float
    flagged: bool


def gap_flagged(gap: float, threshold: float = GAP_FLAG_THRESHOLD) -> bool:
    """A wave is flagged for a domain when the two views differ by the threshold or more (docs/measurement.md)."""
    return abs(gap) >= threshold - _GAP_TOLERANCE


def wave_gaps(
    clinician_scores: Mapping[str, float | None],
    patient_scores: Mapping[str, float | None],
    threshold: float = GAP_FLAG_THRESHOLD,
) -> list[Gap]:
    """Gaps for the shared domains both sides scored, in SHARED_DOMAINS order.

    Positive means the clinician rates the relationship higher than the patient does. Competencies have no
    patient counterpart and are left out.
    """
    gaps = []
    for domain in SHARED_DOMAINS:
        clinician = clinician_scores.get(domain)
        patient = patient_scores.get(domain)
        if clinician is None or patient is None:
            continue
        gap = clinician - patient
        gaps.append(
            Gap(
                domain=domain,
                clinician=clinician,
                patient=patient,
                gap=gap,
                flagged=gap_flagged(gap, threshold),
            )
        )
    return gaps


# --- Student's t, for confidence intervals without scipy -------------------------------------------------


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction for the incomplete beta (Numerical Recipes §6.4, modified Lentz)."""
    tiny = 1e-300
    eps = 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    if abs(d) < tiny:
        d = tiny
    d = 1.0 / d
    h = d
    # Convergence takes about sqrt(max(a, b)) steps; the bound leaves room for very large df.
    for m in range(1, 100_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        if abs(d) < tiny:
            d = tiny
        c = 1.0 + aa / c
        if abs(c) < tiny:
            c = tiny
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        if abs(d) < tiny:
            d = tiny
        c = 1.0 + aa / c
        if abs(c) < tiny:
            c = tiny
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            return h
    raise ArithmeticError(f"incomplete beta did not converge for a={a}, b={b}, x={x}")


def _betai(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    # The continued fraction converges fast only on this side of the mean; use symmetry on the other.
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def _t_upper_tail(t: float, df: int) -> float:
    """P(T > t) for t >= 0, computed directly so that tiny tails keep their precision."""
    return 0.5 * _betai(df / 2.0, 0.5, df / (df + t * t))


@lru_cache(maxsize=1024)
def t_quantile(p: float, df: int) -> float:
    """Quantile of Student's t with df degrees of freedom, for small-sample confidence intervals.

    Cached because reports ask for the same few (0.975, n - 1) over and over.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be strictly between 0 and 1, got {p}")
    if isinstance(df, bool) or df < 1:
        raise ValueError(f"df must be at least 1, got {df}")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    tail = 1.0 - p
    # Bracket the root: the upper tail falls as t grows.
    low, high = 0.0, 1.0
    while _t_upper_tail(high, df) > tail:
        low, high = high, high * 2.0
        if high > 1e300:
            raise ArithmeticError(f"t quantile out of range for p={p}, df={df}")
    # Bisection: slow-ish but cannot diverge, and the result is cached.
    for _ in range(200):
        mid = 0.5 * (low + high)
        if _t_upper_tail(mid, df) > tail:
            low = mid
        else:
            high = mid
        if high - low <= 1e-13 * max(1.0, high):
            break
    return 0.5 * (low + high)


# --- Aggregates over a period -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """n, mean, sd and 95% interval of one figure; None where n is too small to say."""

    n: int
    mean: float | None
    sd: float | None
    ci_low: float | None
    ci_high: float | None

    @property
    def few(self) -> bool:
        """Below CAUTION_N a figure shows its interval and "few responses: interpret with care"."""
        return self.n < CAUTION_N


def _summary_from(n: int, mean: float, sd: float) -> Summary:
    half_width = t_quantile(0.975, n - 1) * sd / math.sqrt(n)
    return Summary(n=n, mean=mean, sd=sd, ci_low=mean - half_width, ci_high=mean + half_width)


def summarize(values: Iterable[float | None]) -> Summary:
    """Summarize scores, skipping missing ones: a missing score is no answer, not a zero."""
    present = [value for value in values if value is not None]
    n = len(present)
    if n == 0:
        return Summary(n=0, mean=None, sd=None, ci_low=None, ci_high=None)
    mean = statistics.fmean(present)
    if n == 1:
        return Summary(n=1, mean=mean, sd=None, ci_low=None, ci_high=None)
    return _summary_from(n, mean, statistics.stdev(present))


def summarize_counted(counted: Iterable[tuple[float, int]]) -> Summary:
    """`summarize` of values given with how many times each occurs, as a grouped read returns them (scores and
    gaps take few distinct values), without repeating them: two passes of plain floats (`math.fsum`), where
    `statistics.stdev` works in exact fractions and costs a dashboard tens of milliseconds for ten thousand gaps."""
    counted = [(value, count) for value, count in counted if value is not None and count > 0]
    n = sum(count for _value, count in counted)
    if n == 0:
        return Summary(n=0, mean=None, sd=None, ci_low=None, ci_high=None)
    mean = math.fsum(value * count for value, count in counted) / n
    if n == 1:
        return Summary(n=1, mean=mean, sd=None, ci_low=None, ci_high=None)
    variance = math.fsum(count * (value - mean) ** 2 for value, count in counted) / (n - 1)
    return _summary_from(n, mean, math.sqrt(variance))


def summarize_moments(n: int, total: float | None, total_sq: float | None) -> Summary:
    """The same Summary from COUNT, SUM and SUM of squares, so the database can aggregate many rows.

    SQL's SUM of no rows is NULL, so total and total_sq may be None when n is 0.
    """
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    if n == 0:
        return Summary(n=0, mean=None, sd=None, ci_low=None, ci_high=None)
    if total is None or total_sq is None:
        raise ValueError("total and total_sq are required when n > 0")
    mean = total / n
    if n == 1:
        return Summary(n=1, mean=mean, sd=None, ci_low=None, ci_high=None)
    # The textbook formula cancels badly when all values are close; rounding can make it slightly negative.
    variance = max(0.0, (total_sq - total * mean) / (n - 1))
    return _summary_from(n, mean, math.sqrt(variance))


def cronbach_alpha(rows: Sequence[Sequence[float]]) -> float | None:
    """Internal consistency of a domain's items over complete responses; None until it means something.

    rows are complete responses, each the already reverse-scored values of the same k items.
    """
    n = len(rows)
    if n < ALPHA_MIN_RESPONSES:
        return None
    k = len(rows[0])
    if any(len(row) != k for row in rows):
        raise ValueError("every row must have the same number of items")
    if k < 2:
        return None
    total_variance = statistics.variance([math.fsum(row) for row in rows])
    if total_variance == 0:
        return None
    item_variances = math.fsum(statistics.variance([row[i] for row in rows]) for i in range(k))
    return k / (k - 1) * (1.0 - item_variances / total_variance)


def latest_per_dyad(responses: Iterable[tuple[Hashable, Any, T]]) -> dict[Hashable, T]:
    """Each dyad counts once: its most recent response in the period, so frequent visitors don't weigh more.

    Rows are (dyad_key, submitted_at, value). On equal submitted_at the later row wins, so callers that order
    by id get the later submission. Dyads keep the order of their first row.
    """
    latest: dict[Hashable, tuple[Any, T]] = {}
    for dyad, submitted_at, value in responses:
        current = latest.get(dyad)
        if current is None or submitted_at >= current[0]:
            latest[dyad] = (submitted_at, value)
    return {dyad: value for dyad, (_, value) in latest.items()}
