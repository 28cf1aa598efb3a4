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
from collections.abc import Hashable, Iterable, Sequence
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


class CellTable(NamedTuple):
    """Cells coded once for every domain fitted over them: the page's six domains share their dyads' clinicians
    and answers (one row of `figures.queries.casemix_cells` per clinician and set of answers), so the coding is
    done once and each domain's fit is array arithmetic on its own counts and sums (`fit`)."""

    clinicians: tuple  # every clinician of the cells, in the order the fit takes them (the first present: reference)
    clinician_codes: np.ndarray  # (cells,): each cell's clinician, as an index into `clinicians`
    answer_codes: np.ndarray  # (cells, questions): index into the question's answers; len(answers): not answered


def cell_table(clinicians: Sequence[Hashable], answers: Sequence[tuple]) -> CellTable:
    """The coded table of cells given as each cell's clinician and answers (None or NOT_ANSWERED: skipped)."""
    order = sorted(set(clinicians), key=lambda c: (str(type(c)), c))
    position = {c: i for i, c in enumerate(order)}
    codes = [{level: i for i, level in enumerate(levels)} for levels in COVARIATES.values()]
    for k, levels in enumerate(COVARIATES.values()):
        codes[k][None] = codes[k][NOT_ANSWERED] = len(levels)
    return CellTable(
        tuple(order),
        np.fromiter((position[c] for c in clinicians), dtype=np.int64, count=len(clinicians)),
        np.array([[coded[answer] for coded, answer in zip(codes, given)] for given in answers], dtype=np.int64)
        .reshape(len(answers), len(COVARIATES)),
    )


def adjust(cells: Iterable[Cell], *, min_level_n: int = 1) -> CaseMixFit | None:
    """Fit one domain's model over the dyads in `cells`; None when there is nothing to fit (no dyads, or as many
    parameters as dyads). Whether the adjusted means may be shown is `CaseMixFit.enough`."""
    cells = list(cells)
    table = cell_table([cell.clinician for cell in cells], [cell.answers for cell in cells])
    return fit(
        table,
        [cell.n for cell in cells], [cell.total for cell in cells], [cell.total_sq for cell in cells],
        min_level_n=min_level_n,
    )


def fit(table: CellTable, n, total, total_sq, *, min_level_n: int = 1) -> CaseMixFit | None:
    """`adjust` over a coded table, with this domain's count, sum and sum of squares of scores per cell (a cell
    with no dyads in this domain, count 0, takes no part: not its clinician, not its answers)."""
    w = np.asarray(n, dtype=float)
    keep = w > 0
    if not keep.any():
        return None
    w = w[keep]
    s = np.nan_to_num(np.asarray(total, dtype=float)[keep])
    ss = np.nan_to_num(np.asarray(total_sq, dtype=float)[keep])
    clinician_codes = table.clinician_codes[keep]
    answer_codes = table.answer_codes[keep]
    names = list(COVARIATES)
    present = np.flatnonzero(np.bincount(clinician_codes, minlength=len(table.clinicians)))
    clinicians = [table.clinicians[i] for i in present]
    skipped = np.array([len(levels) for levels in COVARIATES.values()])
    answered = int(w[(answer_codes != skipped).any(axis=1)].sum())
    counts = []
    for k, levels in enumerate(COVARIATES.values()):
        by_code = np.bincount(answer_codes[:, k], weights=w, minlength=len(levels) + 1)
        counts.append({level: int(by_code[i]) for i, level in enumerate((*levels, NOT_ANSWERED)) if by_code[i] > 0})
    group_of = [_groups(counts[k], COVARIATES[name], min_level_n) for k, name in enumerate(names)]
    sizes = [defaultdict(int) for _ in names]
    for k in range(len(names)):
        for level, count in counts[k].items():
            sizes[k][group_of[k][level]] += count
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
    clinician_column = np.full(len(table.clinicians), none, dtype=np.int64)
    for code, clinician in zip(present, clinicians):
        clinician_column[code] = index.get(("clinician", clinician), none)
    answer_columns = []
    for k, levels in enumerate(COVARIATES.values()):
        by_code = np.full(len(levels) + 1, none, dtype=np.int64)
        for i, level in enumerate((*levels, NOT_ANSWERED)):
            if level in group_of[k]:
                by_code[i] = index.get(("covariate", k, group_of[k][level]), none)
        answer_columns.append(by_code[answer_codes[:, k]])
    active = np.column_stack([np.zeros(len(w), dtype=np.int64), clinician_column[clinician_codes], *answer_columns])
    width = active.shape[1]
    pairs = (active[:, :, None] * (p + 1) + active[:, None, :]).ravel()

    def cross(weights) -> np.ndarray:
        """sum over cells of weight * x x' (p x p)."""
        summed = np.bincount(pairs, weights=np.repeat(weights, width * width), minlength=(p + 1) ** 2)
        return summed.reshape(p + 1, p + 1)[:p, :p]

    def column_sums(weights) -> np.ndarray:
        """sum over cells of weight * x (p)."""
        return np.bincount(active.ravel(), weights=np.repeat(weights, width), minlength=p + 1)[:p]

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
    clinician_n = np.bincount(clinician_codes, weights=w, minlength=len(table.clinicians))
    clinician_sum = np.bincount(clinician_codes, weights=s, minlength=len(table.clinicians))
    by_clinician = {}
    for code, c in zip(present, clinicians):
        vector = average.copy()
        estimable = True
        if c != clinicians[0]:
            if clinician_columns[c] is None:
                estimable = False
            else:
                vector[clinician_columns[c]] = 1.0
        by_clinician[c] = AdjustedMean(
            int(clinician_n[code]), float(clinician_sum[code] / clinician_n[code]),
            estimate(vector) if estimable else None,
        )
    return CaseMixFit(
        n=n, answered=answered, df=n - k, r_squared=r_squared, coefficients=tuple(coefficients),
        clinicians=by_clinician,
        _clinician_columns={c: col for c, col in clinician_columns.items() if col is not None},
        _beta=beta, _covariance=covariance, _t=t,
    )


def _estimable_columns(gram: np.ndarray) -> list[int]:
    """The columns kept, in order: a column that is a combination of those before it (over the dyads there are)
    is aliased and left out, as R's lm does; predictions do not depend on which of two aliased columns goes.

    Gaussian elimination of the Gram matrix in column order, eliminating only the kept columns: after the kept
    columns before j are eliminated, the diagonal entry j is what column j has that they do not (the residual
    sum of squares of regressing it on them), compared with its own sum of squares."""
    remaining = np.array(gram, dtype=float)
    kept: list[int] = []
    for j in range(gram.shape[0]):
        own = gram[j, j]
        residual = remaining[j, j]
        if own <= 0 or residual <= _ALIAS_TOLERANCE * own:
            continue
        kept.append(j)
        rest = slice(j + 1, None)
        remaining[rest, rest] -= np.outer(remaining[rest, j], remaining[j, rest]) / residual
    return kept
