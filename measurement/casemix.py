"""Case-mix adjustment: clinician means as if every clinician had seen the same mix of patients.

Older patients and patients in better health rate their care higher, whoever their clinician is (CAHPS
adjusts for age, education and self-rated physical and mental health for this reason). A clinician whose list
holds many young patients in poor health can then look worse than a colleague without being worse. The patient
form asks five optional questions (`COVARIATES`); this module fits, per domain, an ordinary least-squares model

    score ~ clinician (fixed effects) + age band + education + general health + mental health + time with clinician

with every question a categorical covariate and a skipped question a level of its own ("not answered"), and
reports each clinician's **adjusted mean**: the mean the model predicts for that clinician over the whole
practice's case mix (direct standardisation by recycled predictions: every dyad's covariates, with the clinician
set to this one, averaged). Standard errors are heteroskedasticity-robust (HC1). Sources: O'Malley AJ,
Zaslavsky AM, Elliott MN, Zaborski L, Cleary PD. Case-mix adjustment of the CAHPS Hospital Survey. *Health Serv
Res* 2005;40:2162-2181; Elliott MN et al. Effects of survey mode, patient mix, and nonresponse on CAHPS Hospital
Survey scores. *Health Serv Res* 2009;44:501-518 (docs/measurement.md).

The model is fitted from **cells**: dyads with the same clinician and the same five answers, with their count,
sum and sum of squares of scores. Everything OLS and HC1 need is a sum over dyads, and within a cell every dyad
has the same row of the design matrix, so the cells give exactly the row-level fit (the tests check it against
statsmodels on the rows) while the database sends one row per cell, not one per dyad, and a request does not
import statsmodels (about a second).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .scoring import t_quantile

AGE_BANDS = ("18_34", "35_49", "50_64", "65_74", "75_plus")
EDUCATION = ("grade_8_or_less", "some_high_school", "high_school", "some_college", "college_4_year", "more_than_college")
HEALTH = ("excellent", "very_good", "good", "fair", "poor")
TIME_WITH_CLINICIAN = ("first_visit", "under_1_year", "1_to_5_years", "over_5_years")

COVARIATES: dict[str, tuple[str, ...]] = {
    "age_band": AGE_BANDS,
    "education": EDUCATION,
    "general_health": HEALTH,
    "mental_health": HEALTH,
    "time_with_clinician": TIME_WITH_CLINICIAN,
}
"""The optional questions, each with its answers in their natural order (the order sparse answers are pooled in)."""

NOT_ANSWERED = "not_answered"
"""The level of a question the patient skipped (or answered "prefer not to say")."""

MIN_CASEMIX_DYADS = 30
"""Adjusted means are shown only when at least this many dyads in the model answered at least one question:
below it the coefficients are mostly noise (CAHPS adjusts over hundreds of patients per unit)."""

_ALIAS_TOLERANCE = 1e-9


class Cell(NamedTuple):
    """Dyads of one clinician who gave the same answers: their number and the sum and sum of squares of scores."""

    clinician: Hashable
    answers: tuple  # one per covariate, in COVARIATES order; None when not answered
    n: int
    total: float
    total_sq: float


def cells_from_scores(rows: Iterable[tuple[Hashable, tuple, float]]) -> list[Cell]:
    """(clinician, answers, score) per dyad -> cells: what the database's grouped query gives."""
    sums: dict = defaultdict(lambda: [0, 0.0, 0.0])
    for clinician, answers, score in rows:
        cell = sums[(clinician, tuple(answers))]
        cell[0] += 1
        cell[1] += score
        cell[2] += score * score
    return [Cell(clinician, answers, *moments) for (clinician, answers), moments in sums.items()]


@dataclass(frozen=True)
class Estimate:
    estimate: float
    se: float
    ci_low: float
    ci_high: float

    def holds(self, value: float) -> bool:
        return self.ci_low <= value <= self.ci_high


@dataclass(frozen=True)
class Coefficient:
    """One group of answers to one question against the question's reference group (the most common answers).

    `levels` are the answers the group pools: sparse answers are pooled with their neighbours so that every
    group rests on at least the minimum number of dyads. `estimate` is None when the group is aliased (its
    dyads are exactly another group's, e.g. patients who skipped every question)."""

    covariate: str
    levels: tuple[str, ...]
    reference: tuple[str, ...]
    n: int
    estimate: Estimate | None


@dataclass(frozen=True)
class AdjustedMean:
    n: int
    raw_mean: float
    adjusted: Estimate | None


@dataclass(frozen=True)
class CaseMixFit:
    """One domain's model: the coefficients, each clinician's raw and adjusted mean, and what the rule needs."""

    n: int  # dyads in the model
    answered: int  # of them, dyads that answered at least one question
    df: int  # residual degrees of freedom
    r_squared: float | None
    coefficients: tuple[Coefficient, ...]
    clinicians: dict
    _clinician_columns: dict = field(repr=False)
    _beta: np.ndarray = field(repr=False)
    _covariance: np.ndarray = field(repr=False)
    _t: float = field(repr=False)

    @property
    def enough(self) -> bool:
        """Whether adjusted means may be shown: MIN_CASEMIX_DYADS dyads with an answer, two clinicians or more."""
        return self.answered >= MIN_CASEMIX_DYADS and len(self.clinicians) >= 2

    def difference(self, a: Hashable, b: Hashable) -> Estimate | None:
        """Adjusted mean of clinician a minus that of b, with its interval (None if either is not estimable)."""
        vector = np.zeros(len(self._beta))
        for clinician, sign in ((a, 1.0), (b, -1.0)):
            if clinician not in self.clinicians or self.clinicians[clinician].adjusted is None:
                return None
            column = self._clinician_columns.get(clinician)
            if column is not None:
                vector[column] += sign
        return _estimate(vector, self._beta, self._covariance, self._t)


def _estimate(vector: np.ndarray, beta: np.ndarray, covariance: np.ndarray, t: float) -> Estimate:
    """A linear combination of the coefficients, with its robust standard error and 95% interval."""
    value = float(vector @ beta)
    se = math.sqrt(max(float(vector @ covariance @ vector), 0.0))
    return Estimate(value, se, value - t * se, value + t * se)


def _groups(counts: dict, levels: tuple[str, ...], min_n: int) -> dict:
    """{answer or None: the group (tuple of levels) it counts in}.

    Answers given by fewer than `min_n` dyads are pooled with their smaller neighbour, in the answers' order,
    until every group has `min_n` (or one group is left); a few skipped answers are pooled with the most common
    group. So no coefficient describes fewer than `min_n` patients (docs/privacy.md)."""
    groups = [[level] for level in levels if counts.get(level, 0) > 0]

    def size(group):
        return sum(counts.get(level, 0) for level in group)

    while len(groups) > 1:
        small = [i for i, group in enumerate(groups) if size(group) < min_n]
        if not small:
            break
        i = min(small, key=lambda k: (size(groups[k]), k))
        j = min((k for k in (i - 1, i + 1) if 0 <= k < len(groups)), key=lambda k: (size(groups[k]), k))
        low, high = sorted((i, j))
        groups[low : high + 1] = [groups[low] + groups[high]]
    skipped = counts.get(NOT_ANSWERED, 0)
    if skipped:
        if skipped >= min_n or not groups:
            groups.append([NOT_ANSWERED])
        else:
            max(groups, key=size).append(NOT_ANSWERED)
    return {level: tuple(group) for group in groups for level in group}


def adjust(cells: Iterable[Cell], *, min_level_n: int = 1) -> CaseMixFit | None:
    """Fit one domain's model over the dyads in `cells`; None when there is nothing to fit (no dyads, or as many
    parameters as dyads). Whether the adjusted means may be shown is `CaseMixFit.enough`."""
    cells = [cell for cell in cells if cell.n > 0]
    if not cells:
        return None
    names = list(COVARIATES)
    clinicians = sorted({cell.clinician for cell in cells}, key=lambda c: (str(type(c)), c))
    counts = [defaultdict(int) for _ in names]
    answered = 0
    for cell in cells:
        for counted, answer in zip(counts, cell.answers):
            counted[answer if answer is not None else NOT_ANSWERED] += cell.n
        if cell.answers.count(None) < len(names):
            answered += cell.n
    group_of = [_groups(counts[k], COVARIATES[name], min_level_n) for k, name in enumerate(names)]
    sizes = [defaultdict(int) for _ in names]
    for k in range(len(names)):
        for level, n in counts[k].items():
            sizes[k][group_of[k][level]] += n
    # The reference group of each question: its most common answers (the first such, in order).
    ordered = [list(dict.fromkeys(group_of[k][level] for level in (*COVARIATES[name], NOT_ANSWERED) if level in group_of[k]))
               for k, name in enumerate(names)]
    references = [max(groups, key=lambda g, k=k: sizes[k][g]) if groups else None for k, groups in enumerate(ordered)]

    columns: list[tuple] = [("intercept",)] + [("clinician", c) for c in clinicians[1:]]
    columns += [("covariate", k, g) for k, groups in enumerate(ordered) for g in groups if g != references[k]]
    index = {column: i for i, column in enumerate(columns)}
    # The design matrix is sparse: each cell has a 1 in the intercept, its clinician's column and one column per
    # question (none for a reference). So each cell is kept as the list of its columns (`none`: a column that
    # is dropped), and X'WX, X'y and the robust meat are added up with bincount: with a dense cells x columns
    # matrix one fit of 10,000 cells took 1.4 s on the loaded shared machine, this way about a tenth of that.
    p = len(columns)
    none = p
    clinician_column = {c: index.get(("clinician", c), none) for c in clinicians}
    answer_column = [
        {answer: index.get(("covariate", k, group), none) for answer, group in group_of[k].items()}
        for k in range(len(names))
    ]
    for columns_of in answer_column:
        columns_of[None] = columns_of.get(NOT_ANSWERED, none)
    active = np.array(
        [[0, clinician_column[cell.clinician], *map(dict.__getitem__, answer_column, cell.answers)] for cell in cells],
        dtype=np.int64,
    )
    width = active.shape[1]
    pairs = (active[:, :, None] * (p + 1) + active[:, None, :]).ravel()

    def cross(weights) -> np.ndarray:
        """sum over cells of weight * x x' (p x p)."""
        summed = np.bincount(pairs, weights=np.repeat(weights, width * width), minlength=(p + 1) ** 2)
        return summed.reshape(p + 1, p + 1)[:p, :p]

    def column_sums(weights) -> np.ndarray:
        """sum over cells of weight * x (p)."""
        return np.bincount(active.ravel(), weights=np.repeat(weights, width), minlength=p + 1)[:p]

    w = np.array([cell.n for cell in cells], dtype=float)
    s = np.array([cell.total for cell in cells], dtype=float)
    ss = np.array([cell.total_sq for cell in cells], dtype=float)

    full_gram = cross(w)
    kept = _estimable_columns(full_gram)
    n, k = int(w.sum()), len(kept)
    if n - k <= 0:
        return None
    gram = full_gram[np.ix_(kept, kept)]
    bread = np.linalg.inv(gram)
    beta = bread @ column_sums(s)[kept]
    coefficient_of = np.zeros(p + 1)
    coefficient_of[kept] = beta
    fitted = coefficient_of[active].sum(axis=1)
    # Each cell's residual sum of squares, sum_i (y_i - fitted)^2, from its moments.
    rss_cells = np.clip(ss - 2 * fitted * s + w * fitted**2, 0.0, None)
    meat = cross(rss_cells)[np.ix_(kept, kept)]
    covariance = bread @ meat @ bread * n / (n - k)  # HC1
    t = t_quantile(0.975, n - k)
    mean = s.sum() / n
    total_ss = float(ss.sum() - n * mean * mean)
    r_squared = 1 - float(rss_cells.sum()) / total_ss if total_ss > 1e-12 else None

    position = {columns[j]: i for i, j in enumerate(kept)}

    def estimate(vector) -> Estimate:
        return _estimate(vector, beta, covariance, t)

    coefficients = []
    for k_cov, groups in enumerate(ordered):
        for group in groups:
            if group == references[k_cov]:
                continue
            column = position.get(("covariate", k_cov, group))
            vector = np.zeros(len(kept))
            if column is not None:
                vector[column] = 1.0
            coefficients.append(Coefficient(
                names[k_cov], group, references[k_cov], sizes[k_cov][group],
                estimate(vector) if column is not None else None,
            ))
    # Recycled predictions: every dyad's row with the clinician set to this one, averaged (a linear model: the
    # average row's prediction).
    average = column_sums(w)[kept] / n
    clinician_columns = {c: position.get(("clinician", c)) for c in clinicians[1:]}
    for column in clinician_columns.values():
        if column is not None:
            average[column] = 0.0
    by_clinician = {}
    cell_n, cell_sum = defaultdict(int), defaultdict(float)
    for cell in cells:
        cell_n[cell.clinician] += cell.n
        cell_sum[cell.clinician] += cell.total
    for c in clinicians:
        vector = average.copy()
        estimable = True
        if c != clinicians[0]:
            if clinician_columns[c] is None:
                estimable = False
            else:
                vector[clinician_columns[c]] = 1.0
        by_clinician[c] = AdjustedMean(cell_n[c], cell_sum[c] / cell_n[c], estimate(vector) if estimable else None)
    return CaseMixFit(
        n=n, answered=answered, df=n - k, r_squared=r_squared, coefficients=tuple(coefficients),
        clinicians=by_clinician,
        _clinician_columns={c: col for c, col in clinician_columns.items() if col is not None},
        _beta=beta, _covariance=covariance, _t=t,
    )


def _estimable_columns(gram: np.ndarray) -> list[int]:
    """The columns kept, in order: a column that is a combination of those before it (over the dyads there are)
    is aliased and left out, as R's lm does; predictions do not depend on which of two aliased columns goes."""
    kept: list[int] = []
    for j in range(gram.shape[0]):
        own = gram[j, j]
        if own <= 0:
            continue
        if kept:
            g = gram[np.ix_(kept, [j])][:, 0]
            residual = own - g @ np.linalg.solve(gram[np.ix_(kept, kept)], g)
            if residual <= _ALIAS_TOLERANCE * own:
                continue
        kept.append(j)
    return kept
