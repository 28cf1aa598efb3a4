"""Psychometrics of a domain's items: how well they hang together and how the answers spread (docs/measurement.md).

A domain score means something only if its items measure one thing and leave room to move. Platform admins
check that per domain, instrument version and language (a translation can behave differently), and the
report's methods section shows the same table. Per domain:

- Cronbach's alpha (`scoring.cronbach_alpha`, the one implementation) with Feldt's F-based confidence interval;
- McDonald's omega total from a one-factor model fitted by maximum likelihood, which unlike alpha does not
  assume that every item measures the domain equally well (tau-equivalence);
- per item: the corrected item-total correlation (the item against the sum of the domain's other items), the
  floor and ceiling (top-box) shares, and the shares answered "does not apply" and left unanswered.

Everything is over complete responses where a statistic needs them, and says nothing (None) below
`scoring.ALPHA_MIN_RESPONSES` of them, as alpha already does. Pure: numpy and scipy, no Django.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from .scoring import (
    ALPHA_MIN_RESPONSES,
    NA,
    Answer,
    ItemSpec,
    Scale,
    cronbach_alpha,
    min_answers_required,
    scored_value,
)
from .statistics import CEILING_NOTE_SHARE

CONFIDENCE = 0.95

TOP_BOX_FLAG_SHARE = CEILING_NOTE_SHARE
"""An item whose share at the most favourable answer is above this is flagged, as domain ceilings are (Terwee CB
et al., J Clin Epidemiol 2007;60:34-42: floor and ceiling effects are present above 15%)."""

OMEGA_MIN_ITEMS = 3
"""A one-factor model of two items is not identified (only the product of their loadings is), so omega needs
three items at least."""

_HEYWOOD_FLOOR = 0.005
"""The smallest uniqueness (as a share of an item's variance) the factor model may reach: R's factanal's bound,
so that a Heywood case (an item the factor would explain entirely) stays finite instead of diverging."""


# --- alpha and its interval -------------------------------------------------------------------------------


def feldt_interval(alpha: float, n: int, k: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Feldt's confidence interval for Cronbach's alpha over n respondents and k items.

    (1 - population alpha) / (1 - sample alpha) follows an F distribution with n - 1 and (n - 1)(k - 1) degrees
    of freedom (Feldt LS, Psychometrika 1965;30:357-370), so the limits are
    `1 - (1 - alpha) * F(1 - g/2)` and `1 - (1 - alpha) * F(g/2)` with g = 1 - confidence
    (Feldt LS, Woodruff DJ, Salih FA, Appl Psychol Meas 1987;11:93-103, formulas 6 and 7). The F quantiles come
    from scipy; the interval is not symmetric around alpha and its upper end stays below 1.
    """
    if n < 2 or k < 2:
        raise ValueError(f"the interval needs at least 2 respondents and 2 items, got n={n}, k={k}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")
    tail = (1.0 - confidence) / 2.0
    df_respondents, df_residual = n - 1, (n - 1) * (k - 1)
    low = 1.0 - (1.0 - alpha) * float(stats.f.ppf(1.0 - tail, df_respondents, df_residual))
    high = 1.0 - (1.0 - alpha) * float(stats.f.ppf(tail, df_respondents, df_residual))
    return low, high


# --- omega from a one-factor model ----------------------------------------------------------------------


@dataclass(frozen=True)
class OneFactor:
    """A fitted one-factor model in the items' own units: item i = loading_i * factor + unique_i."""

    loadings: tuple[float, ...]
    uniquenesses: tuple[float, ...]


def _discrepancy(psi: np.ndarray, correlation: np.ndarray) -> float:
    """The maximum-likelihood discrepancy with the loading concentrated out (Joreskog KG, Psychometrika
    1967;32:443-482), as R's factanal minimises it: over the eigenvalues e of Psi^-1/2 R Psi^-1/2 but the
    largest, sum(e - log e - 1)."""
    scale = 1.0 / np.sqrt(psi)
    eigenvalues = np.linalg.eigvalsh(correlation * np.outer(scale, scale))[:-1]
    eigenvalues = np.maximum(eigenvalues, 1e-12)  # a singular R (two identical items) still has a finite fit
    return float(np.sum(eigenvalues - np.log(eigenvalues) - 1.0))


def _loadings(psi: np.ndarray, correlation: np.ndarray) -> np.ndarray:
    scale = np.sqrt(psi)
    values, vectors = np.linalg.eigh(correlation / np.outer(scale, scale))
    loading = scale * vectors[:, -1] * math.sqrt(max(values[-1] - 1.0, 0.0))
    return loading if loading.sum() >= 0 else -loading  # the factor's sign is arbitrary: point it with the items


def one_factor(covariance: Sequence[Sequence[float]]) -> OneFactor | None:
    """Fit one common factor to a covariance matrix by maximum likelihood; None when an item never varies.

    ML is scale-free, so the model is fitted to the correlations (uniquenesses bounded to [0.005, 1], started
    at 1 - 0.5 / the diagonal of the inverse, as factanal does) and rescaled to the items' units.
    """
    matrix = np.asarray(covariance, dtype=float)
    k = matrix.shape[0]
    if matrix.shape != (k, k) or k < OMEGA_MIN_ITEMS:
        raise ValueError(f"need a square covariance matrix of at least {OMEGA_MIN_ITEMS} items")
    sd = np.sqrt(np.diag(matrix))
    if np.any(sd <= 0) or not np.all(np.isfinite(matrix)):
        return None
    correlation = matrix / np.outer(sd, sd)
    try:
        start = (1.0 - 0.5 / k) / np.diag(np.linalg.inv(correlation))
    except np.linalg.LinAlgError:
        start = np.full(k, 0.5)
    start = np.clip(start, _HEYWOOD_FLOOR, 1.0)
    fitted = optimize.minimize(
        _discrepancy, start, args=(correlation,), method="L-BFGS-B", bounds=[(_HEYWOOD_FLOOR, 1.0)] * k,
        options={"ftol": 1e-14, "gtol": 1e-10, "maxiter": 1000},
    )
    psi = fitted.x
    loading = _loadings(psi, correlation)
    return OneFactor(loadings=tuple(float(x) for x in loading * sd), uniquenesses=tuple(float(x) for x in psi * sd**2))


def omega_from_factor(model: OneFactor) -> float:
    """McDonald's omega total: the share of the variance of the sum of the items that the common factor
    explains, `(sum of loadings)^2 / ((sum of loadings)^2 + sum of uniquenesses)` (McDonald RP, Test theory: a
    unified treatment, Erlbaum 1999, ch. 6; Dunn TJ, Baguley T, Brunsden V, Br J Psychol 2014;105:399-412)."""
    common = math.fsum(model.loadings) ** 2
    return common / (common + math.fsum(model.uniquenesses))


def sample_covariance(rows: Sequence[Sequence[float]]) -> np.ndarray:
    return np.cov(np.asarray(rows, dtype=float), rowvar=False, ddof=1)


def omega_total(rows: Sequence[Sequence[float]]) -> float | None:
    """McDonald's omega total over complete responses (each the reverse-scored values of the same k items).

    None, like alpha, below ALPHA_MIN_RESPONSES responses, with fewer than three items, or when an item never
    varies. For items that measure the domain equally well (tau-equivalent) it equals alpha; otherwise alpha is
    the lower of the two.
    """
    if len(rows) < ALPHA_MIN_RESPONSES or len(rows[0]) < OMEGA_MIN_ITEMS:
        return None
    model = one_factor(sample_covariance(rows))
    return None if model is None else omega_from_factor(model)


# --- items ---------------------------------------------------------------------------------------------


def corrected_item_total(rows: Sequence[Sequence[float]]) -> list[float | None]:
    """Each item's Pearson correlation with the sum of the domain's other items, over complete responses.

    Corrected (the item left out of the total) so that an item does not correlate with itself; below about
    0.3 an item says little about what the others measure (Nunnally JC, Bernstein IH, Psychometric theory,
    3rd ed., McGraw-Hill 1994). None for an item or rest-score that never varies, and for every item below
    ALPHA_MIN_RESPONSES responses or with fewer than two items.
    """
    if not rows:
        return []
    k = len(rows[0])
    if len(rows) < ALPHA_MIN_RESPONSES or k < 2:
        return [None] * k
    data = np.asarray(rows, dtype=float)
    total = data.sum(axis=1)
    correlations: list[float | None] = []
    for i in range(k):
        item, rest = data[:, i], total - data[:, i]
        item_dev, rest_dev = item - item.mean(), rest - rest.mean()
        denominator = math.sqrt(float(item_dev @ item_dev) * float(rest_dev @ rest_dev))
        correlations.append(float(item_dev @ rest_dev) / denominator if denominator > 0 else None)
    return correlations


@dataclass(frozen=True)
class ItemFigures:
    """One item over a group of responses: how its answers spread and how it goes with the other items."""

    code: str
    responses: int
    answered: int  # with a scored answer on the scale
    floor: int  # at the least favourable answer (after reverse-keying)
    ceiling: int  # at the most favourable answer: the top box
    not_applicable: int
    missing: int
    item_total: float | None

    @staticmethod
    def _share(count: int, of: int) -> float | None:
        return count / of if of else None

    @property
    def floor_share(self) -> float | None:
        return self._share(self.floor, self.answered)

    @property
    def ceiling_share(self) -> float | None:
        return self._share(self.ceiling, self.answered)

    @property
    def ceiling_flagged(self) -> bool:
        share = self.ceiling_share
        return share is not None and share > TOP_BOX_FLAG_SHARE

    @property
    def not_applicable_share(self) -> float | None:
        return self._share(self.not_applicable, self.responses)

    @property
    def missing_share(self) -> float | None:
        return self._share(self.missing, self.responses)


@dataclass(frozen=True)
class DomainFigures:
    """A domain's items over a group of responses (one instrument version and language)."""

    domain: str
    items: tuple[ItemFigures, ...]
    responses: int
    complete: int  # responses with every item of the domain scored
    scored: int  # responses with a domain score (enough items answered, docs/measurement.md)
    at_100: int  # of those, scored exactly 100: every scored answer the most favourable
    alpha: float | None
    alpha_low: float | None
    alpha_high: float | None
    omega: float | None

    @property
    def ceiling_share(self) -> float | None:
        """The domain's share at 100, per version and language (the dashboard gives it for the practice)."""
        return self.at_100 / self.scored if self.scored else None

    @property
    def ceiling_flagged(self) -> bool:
        share = self.ceiling_share
        return share is not None and share > TOP_BOX_FLAG_SHARE

    @property
    def enough(self) -> bool:
        """Whether there are enough complete responses for the domain's figures to be shown at all."""
        return self.complete >= ALPHA_MIN_RESPONSES


def domain_figures(
    domain: str, items: Sequence[ItemSpec], responses: Sequence[Mapping[str, Answer]], scale: Scale
) -> DomainFigures:
    """Every figure of one domain over responses (item code -> answer; "na" for does not apply, absent or None
    for unanswered).

    Floor and ceiling are read after reverse-keying, so the ceiling is always the most favourable answer (the
    top box): that is where patients' ratings pile up. Their shares are of the item's scored answers; the
    not-applicable and missing shares are of all responses. Alpha, its interval, omega and the item-total
    correlations are over complete responses only.
    """
    scored = [[scored_value(r.get(item.code), scale, item.reverse) for item in items] for r in responses]
    complete = [[float(v) for v in row] for row in scored if all(v is not None for v in row)]
    # A domain score is 100 exactly when every scored answer is the most favourable one (scoring.domain_scores).
    with_score = [[v for v in row if v is not None] for row in scored]
    with_score = [values for values in with_score if len(values) >= min_answers_required(len(items))]
    alpha = cronbach_alpha(complete)
    low = high = None
    if alpha is not None:
        low, high = feldt_interval(alpha, len(complete), len(items))
    item_total = corrected_item_total(complete) if complete else [None] * len(items)
    figures = []
    for i, item in enumerate(items):
        values = [row[i] for row in scored if row[i] is not None]
        figures.append(ItemFigures(
            code=item.code,
            responses=len(responses),
            answered=len(values),
            floor=sum(1 for v in values if v == scale.min),
            ceiling=sum(1 for v in values if v == scale.max),
            not_applicable=sum(1 for r in responses if r.get(item.code) == NA),
            missing=sum(1 for r in responses if r.get(item.code) is None),
            item_total=item_total[i],
        ))
    return DomainFigures(
        domain=domain, items=tuple(figures), responses=len(responses), complete=len(complete),
        scored=len(with_score), at_100=sum(1 for values in with_score if all(v == scale.max for v in values)),
        alpha=alpha, alpha_low=low, alpha_high=high, omega=omega_total(complete) if complete else None,
    )
