"""Comparing clinicians: how much of the spread in patients' scores belongs to the clinician, and what follows.

In primary care, patients' ratings differ little between clinicians (an intraclass correlation of about
0.02-0.10 in surveys of patient experience) and pile up at the top of the scale. A clinician's mean over a
handful of patients is then mostly noise, and ranking clinicians by it misleads. Every figure that compares
clinicians therefore carries the evidence needed to read it, computed here:

- ICC(1): the share of the variance of a single patient's score that lies between clinicians;
- the reliability of each clinician's mean (Spearman-Brown) and how many patients would make it reliable;
- each clinician's place on a funnel plot around the practice mean (Spiegelhalter 2005) instead of a rank;
- the share of scores at the ceiling (100);
- the design effect of patients clustered within clinicians (Kish 1965), to widen practice intervals.

Every statistic is over each dyad's latest score (one number per clinician-patient relationship), grouped by
clinician, among clinicians with at least 2 dyads: with a single dyad a clinician carries no information about
the spread within clinicians, and a one-value group would still pull n0 and the between-clinician sum.

Pure functions on plain values, standard library only, full precision: round only for display.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from .scoring import Summary

RELIABILITY_TARGET = 0.70
"""A clinician's mean below this reliability is "not reliable enough to compare clinicians"."""

MIN_DYADS = 2
"""Clinicians with fewer dyads than this take no part: one value says nothing about variation within them."""

CEILING_NOTE_SHARE = 0.15
"""Above this share at the top of the scale a figure says so (Terwee CB et al., J Clin Epidemiol 2007;60:34-42,
count floor and ceiling effects as present when more than 15% of respondents score the extreme)."""

Z_95 = 1.959964
"""Two-sided 95% normal quantile, to the six decimals the funnel limits are defined with."""

Z_998 = 3.090232
"""Two-sided 99.8% normal quantile (Spiegelhalter's outer "control limits", about 3 standard errors)."""

INSIDE = "inside"
ABOVE_95, BELOW_95 = "above_95", "below_95"
ABOVE_998, BELOW_998 = "above_998", "below_998"
FUNNEL_POSITIONS = (INSIDE, ABOVE_95, BELOW_95, ABOVE_998, BELOW_998)

# Domain scores are ratios of small integers scaled to 0-100: 100 may come out as 99.99999999999999.
_CEILING_TOLERANCE = 1e-9


# --- ICC(1) ------------------------------------------------------------------------------------------------


class OneWayAnova(NamedTuple):
    """The one-way ANOVA of values grouped by clinician, from which ICC(1) and the funnel's SD come."""

    groups: int  # J
    values: int  # N
    grand_mean: float
    ms_between: float  # SSB / (J - 1); nan when J < 2
    ms_within: float  # SSW / (N - J); nan when N == J
    n0: float  # the "average" group size for unequal groups; nan when J < 2


def qualifying(groups: Mapping[Hashable, Sequence[float]], min_size: int = MIN_DYADS) -> dict[Hashable, list[float]]:
    """The groups with at least min_size values, as lists, in the mapping's order: the ones that take part."""
    return {key: list(values) for key, values in groups.items() if len(values) >= min_size}


def one_way_anova(groups: Mapping[Hashable, Sequence[float]]) -> OneWayAnova:
    """Mean squares between and within groups, over every group given (filter with `qualifying` first).

    Sums of squares are taken around group means (never as sum of squares minus squared sum, which cancels
    badly when scores sit close together) and added with math.fsum, so the result is as exact as floats allow.
    """
    sizes = [len(values) for values in groups.values()]
    if any(size == 0 for size in sizes):
        raise ValueError("every group needs at least one value")
    j = len(sizes)
    n = sum(sizes)
    if n == 0:
        return OneWayAnova(0, 0, math.nan, math.nan, math.nan, math.nan)
    grand_mean = math.fsum(math.fsum(values) for values in groups.values()) / n
    group_means = [math.fsum(values) / len(values) for values in groups.values()]
    ss_between = math.fsum(size * (mean - grand_mean) ** 2 for size, mean in zip(sizes, group_means))
    ss_within = math.fsum(
        (value - mean) ** 2 for values, mean in zip(groups.values(), group_means) for value in values
    )
    # A sum of squares no bigger than the rounding of the means themselves is no spread at all: scores that are
    # all equal but not exactly representable (0.1 three times has a mean a unit in the last place off 0.1)
    # must give 0/0 (no ICC), not an ICC made of rounding error.
    rounding = n * (16 * sys.float_info.epsilon * max(abs(v) for values in groups.values() for v in values)) ** 2
    ss_between = 0.0 if ss_between <= rounding else ss_between
    ss_within = 0.0 if ss_within <= rounding else ss_within
    ms_between = ss_between / (j - 1) if j >= 2 else math.nan
    ms_within = ss_within / (n - j) if n > j else math.nan
    n0 = (n - math.fsum(size * size for size in sizes) / n) / (j - 1) if j >= 2 else math.nan
    return OneWayAnova(j, n, grand_mean, ms_between, ms_within, n0)


def icc_from_anova(anova: OneWayAnova) -> float | None:
    """ICC(1) = (MSB - MSW) / (MSB + (n0 - 1) * MSW), kept within [0, 1]; None when it cannot be estimated.

    None when fewer than 2 groups (no between-group variance to estimate), when N == J (every group a single
    value: no within-group variance; cannot happen after `qualifying`), or when the denominator is 0 (every
    value identical: 0/0, clinicians neither differ nor vary). A negative estimate (groups differ less than
    chance alone would make them) means no clinician effect, so it is kept at 0, as is usual (Bliese 2000).
    """
    if anova.groups < 2 or anova.values <= anova.groups:
        return None
    denominator = anova.ms_between + (anova.n0 - 1.0) * anova.ms_within
    if denominator <= 0.0:
        return None
    return min(1.0, max(0.0, (anova.ms_between - anova.ms_within) / denominator))


def icc1(groups: Mapping[Hashable, Sequence[float]], min_size: int = MIN_DYADS) -> float | None:
    """ICC(1): the share of one patient's score variance that lies between clinicians.

    A one-way random-effects ANOVA with clinicians as groups (Shrout PE, Fleiss JL. Intraclass correlations:
    uses in assessing rater reliability. Psychol Bull 1979;86:420-428, ICC(1,1)), for unequal group sizes as
    in Bliese PD. Within-group agreement, non-independence, and reliability. In: Klein KJ, Kozlowski SWJ,
    eds. Multilevel theory, research, and methods in organizations. Jossey-Bass; 2000:349-381:
    MSB = SSB/(J-1), MSW = SSW/(N-J), n0 = (N - sum(n_j^2)/N)/(J-1) (the group size that gives the between
    mean square its expectation, Donner A. Int Stat Rev 1986;54:67-82), and
    ICC = (MSB - MSW) / (MSB + (n0-1)*MSW), kept within [0, 1].

    The caller may pass every clinician: only groups with at least `min_size` (2) values take part, so that
    the figure is the one over "clinicians with at least 2 dyads" wherever it is computed. See
    `icc_from_anova` for when it is None.
    """
    return icc_from_anova(one_way_anova(qualifying(groups, min_size)))


# --- Reliability of a clinician's mean -----------------------------------------------------------------------


def _check_icc(icc: float) -> None:
    if not 0.0 <= icc <= 1.0:
        raise ValueError(f"icc must be within [0, 1], got {icc}")


def spearman_brown(n: int, icc: float | None) -> float | None:
    """Reliability of a mean over n patients: R = n*ICC / (1 + (n-1)*ICC).

    The Spearman-Brown prophecy formula (Spearman C, Br J Psychol 1910;3:271-295; Brown W, ibid. 296-322),
    with the ICC(1) as the reliability of one patient's score; at a clinician's own n it is Bliese's ICC(2).
    It is how sure a clinician's mean is to rank them as their true mean would: with ICC 0.05, 10 patients
    give 0.34 and 45 patients 0.70. None when the ICC is unknown.
    """
    if icc is None:
        return None
    if isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    _check_icc(icc)
    # 1 + (n-1)*icc >= 1 for icc in [0, 1]: never a division by zero.
    return n * icc / (1.0 + (n - 1) * icc)


def patients_for_reliability(icc: float | None, target: float = RELIABILITY_TARGET) -> int | None:
    """The smallest whole number of patients whose mean reaches the target reliability.

    Spearman-Brown solved for n: n = target*(1-ICC) / (ICC*(1-target)), rounded up. None when the ICC is
    None or 0: when clinicians do not differ, no number of patients tells them apart. The rounded-up value is
    then checked against `spearman_brown` itself, so that "n patients would make it reliable" always agrees
    with the reliability shown for n patients (a float quotient that should be exactly whole can land just
    above it and would otherwise ask for one patient too many).
    """
    if not 0.0 < target < 1.0:
        raise ValueError(f"target must be strictly between 0 and 1, got {target}")
    if icc is None or icc == 0.0:
        return None
    _check_icc(icc)
    n = max(1, math.ceil(target * (1.0 - icc) / (icc * (1.0 - target))))
    while n > 1 and spearman_brown(n - 1, icc) >= target:
        n -= 1
    while spearman_brown(n, icc) < target:
        n += 1
    return n


# --- Funnel plot -----------------------------------------------------------------------------------------------


def funnel_position(mean_j: float, n_j: int, centre: float, within_sd: float) -> str:
    """Where a clinician's mean falls on a funnel plot around the practice mean.

    Spiegelhalter DJ. Funnel plots for comparing institutional performance. Stat Med 2005;24:1185-1202: each
    unit is plotted against its size, with limits centre ± z*s/sqrt(n) that narrow as n grows, so that small
    clinicians are not singled out by chance and no league table is implied. "inside" when
    |mean_j - centre| <= 1.959964*s/sqrt(n_j); beyond that "above_95"/"below_95"; beyond
    3.090232*s/sqrt(n_j) "above_998"/"below_998". s is the within-clinician SD, sqrt(MSW). When s is 0 the
    limits close on the centre: only a mean exactly at it is inside.
    """
    if isinstance(n_j, bool) or n_j < 1:
        raise ValueError(f"n_j must be at least 1, got {n_j}")
    if within_sd < 0.0 or math.isnan(within_sd):
        raise ValueError(f"within_sd must be a non-negative number, got {within_sd}")
    distance = abs(mean_j - centre)
    standard_error = within_sd / math.sqrt(n_j)
    if distance <= Z_95 * standard_error:
        return INSIDE
    above = mean_j > centre
    if distance > Z_998 * standard_error:
        return ABOVE_998 if above else BELOW_998
    return ABOVE_95 if above else BELOW_95


@dataclass(frozen=True)
class FunnelLimits:
    """The funnel's four limits at one number of patients, for drawing the curves."""

    n: int
    lower_998: float
    lower_95: float
    upper_95: float
    upper_998: float


def funnel_limits(centre: float, within_sd: float, sizes: Iterable[int]) -> list[FunnelLimits]:
    """The limits `funnel_position` uses, at each n in sizes (say range(2, 61)), to draw the funnel's curves."""
    if within_sd < 0.0 or math.isnan(within_sd):
        raise ValueError(f"within_sd must be a non-negative number, got {within_sd}")
    limits = []
    for n in sizes:
        if isinstance(n, bool) or n < 1:
            raise ValueError(f"every n must be at least 1, got {n}")
        standard_error = within_sd / math.sqrt(n)
        limits.append(
            FunnelLimits(
                n=n,
                lower_998=centre - Z_998 * standard_error,
                lower_95=centre - Z_95 * standard_error,
                upper_95=centre + Z_95 * standard_error,
                upper_998=centre + Z_998 * standard_error,
            )
        )
    return limits


# --- Ceiling and design effect -------------------------------------------------------------------------------


def ceiling_share(values: Iterable[float], top: float = 100.0) -> float | None:
    """The share of scores at the top of the scale; None for no scores.

    A mean cannot tell apart patients who are all at the ceiling from patients who could have said more:
    a large share at 100 means the scale no longer discriminates (Terwee et al. 2007 flag above 15%), so
    top-box shares belong beside means. A value counts when it is within 1e-9 of the top, so a score computed
    as 99.99999999999999 still counts.
    """
    values = list(values)
    if not values:
        return None
    return sum(1 for value in values if value >= top - _CEILING_TOLERANCE) / len(values)


def design_effect(mean_cluster_size: float, icc: float | None) -> float | None:
    """Kish's design effect, deff = 1 + (m - 1)*ICC; None when the ICC is unknown.

    Patients of one clinician resemble each other, so a practice mean over N dyads carries the information of
    only N/deff independent ones (Kish L. Survey sampling. Wiley; 1965). Practice intervals are widened by
    sqrt(deff). m is the mean number of dyads per clinician.
    """
    if icc is None:
        return None
    if mean_cluster_size < 1.0:
        raise ValueError(f"mean_cluster_size must be at least 1, got {mean_cluster_size}")
    _check_icc(icc)
    return 1.0 + (mean_cluster_size - 1.0) * icc


def widened(summary: Summary, deff: float | None) -> Summary:
    """`summary` with its 95% interval widened by sqrt(deff) around the mean: a practice figure whose dyads
    cluster within clinicians (docs/measurement.md, "Design effect"). Unchanged when the
    design effect is unknown or at most 1, or when there is no interval."""
    if deff is None or deff <= 1.0 or summary.ci_low is None or summary.ci_high is None or summary.mean is None:
        return summary
    factor = math.sqrt(deff)
    return Summary(
        n=summary.n,
        mean=summary.mean,
        sd=summary.sd,
        ci_low=summary.mean - (summary.mean - summary.ci_low) * factor,
        ci_high=summary.mean + (summary.ci_high - summary.mean) * factor,
    )


# --- One domain, all clinicians -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClinicianReliability:
    """One clinician's mean with what it takes to read it beside the others'."""

    clinician: Hashable
    n: int
    mean: float
    reliability: float | None  # None when the domain's ICC is None
    funnel: str  # one of FUNNEL_POSITIONS

    @property
    def reliable(self) -> bool:
        """Reliable enough to compare clinicians: R at least RELIABILITY_TARGET (an unknown R is not)."""
        return self.reliability is not None and self.reliability >= RELIABILITY_TARGET


@dataclass(frozen=True)
class DomainReliability:
    """The evidence for comparing clinicians on one domain, over the clinicians with at least 2 dyads."""

    domain: str
    icc: float | None
    design_effect: float | None
    ceiling_share: float | None
    clinicians: tuple[ClinicianReliability, ...]  # sorted by clinician key
    practice_mean: float | None  # m: the mean of the qualifying dyads (not of clinician means)
    within_sd: float | None  # s = sqrt(MSW)
    left_out: tuple[Hashable, ...] = ()  # clinicians with 1 dyad: in no figure above, sorted by key

    @property
    def patients_needed(self) -> int | None:
        """How many patients make one clinician's mean reliable (RELIABILITY_TARGET); None when none would."""
        return patients_for_reliability(self.icc)


def compare_clinicians(
    domain: str, scores_by_clinician: Mapping[Hashable, Sequence[float | None]]
) -> DomainReliability:
    """ICC(1), design effect, ceiling share and each clinician's reliability and funnel position for one domain.

    `scores_by_clinician` maps each clinician to the domain scores of their dyads' latest responses (one score
    per dyad; a missing score, None, is no dyad for this domain, as n counts only present scores). Only
    clinicians with at least 2 dyads take part; the others are listed in `left_out`. The practice mean m is
    the mean of the qualifying dyads, s = sqrt(MSW), and the design effect uses the mean number of dyads per
    qualifying clinician. Clinician keys must sort (usernames, say): clinicians come out sorted by key.

    With no qualifying clinician every figure is None and the tuple of clinicians is empty. With one, the ICC
    and so the reliabilities and the design effect are None (a single clinician shows no variation between
    clinicians), while m, s, the funnel positions (all inside: m is that clinician's mean) and the ceiling
    share are still given. The design effect is None, not 1.0, whenever the ICC is: an unknown clustering is
    not the absence of clustering.
    """
    present = {key: [value for value in values if value is not None] for key, values in scores_by_clinician.items()}
    groups = qualifying(present)
    left_out = tuple(sorted(key for key, values in present.items() if 0 < len(values) < MIN_DYADS))
    if not groups:
        return DomainReliability(domain, None, None, None, (), None, None, left_out)

    anova = one_way_anova(groups)
    icc = icc_from_anova(anova)
    within_sd = math.sqrt(anova.ms_within)
    centre = anova.grand_mean
    clinicians = []
    for key in sorted(groups):
        values = groups[key]
        mean = math.fsum(values) / len(values)
        clinicians.append(
            ClinicianReliability(
                clinician=key,
                n=len(values),
                mean=mean,
                reliability=spearman_brown(len(values), icc),
                funnel=funnel_position(mean, len(values), centre, within_sd),
            )
        )
    every_dyad = [value for values in groups.values() for value in values]
    return DomainReliability(
        domain=domain,
        icc=icc,
        design_effect=design_effect(anova.values / anova.groups, icc),
        ceiling_share=ceiling_share(every_dyad),
        clinicians=tuple(clinicians),
        practice_mean=centre,
        within_sd=within_sd,
        left_out=left_out,
    )


def anova_from_summaries(groups: Mapping[Hashable, tuple[int, float, float | None]]) -> OneWayAnova:
    """The same ANOVA from each group's (n, mean, sd) instead of its values, so a page that already has the
    clinicians' summaries (sums in SQL) compares them without reading every dyad: SSW = sum of (n_j - 1) sd_j^2."""
    sizes = [n for n, _mean, _sd in groups.values()]
    if any(size <= 0 for size in sizes):
        raise ValueError("every group needs at least one value")
    j, n = len(sizes), sum(sizes)
    if n == 0:
        return OneWayAnova(0, 0, math.nan, math.nan, math.nan, math.nan)
    grand_mean = math.fsum(size * mean for size, mean, _sd in groups.values()) / n
    ss_between = math.fsum(size * (mean - grand_mean) ** 2 for size, mean, _sd in groups.values())
    ss_within = math.fsum((size - 1) * (sd or 0.0) ** 2 for size, _mean, sd in groups.values())
    ms_between = ss_between / (j - 1) if j >= 2 else math.nan
    ms_within = ss_within / (n - j) if n > j else math.nan
    n0 = (n - math.fsum(size * size for size in sizes) / n) / (j - 1) if j >= 2 else math.nan
    return OneWayAnova(j, n, grand_mean, ms_between, ms_within, n0)


@dataclass(frozen=True)
class Comparison:
    """How far one clinician's figure can be compared with the others' in one domain (from summaries)."""

    reliability: float | None
    funnel: str | None
    patients_needed: int | None

    @property
    def reliable(self) -> bool:
        return self.reliability is not None and self.reliability >= RELIABILITY_TARGET


@dataclass(frozen=True)
class SummaryComparison:
    """One domain's comparing-clinicians figures from summaries: ICC(1), the funnel's centre (the mean of the
    dyads taking part) and within-clinician SD (None when they cannot be estimated), and each clinician's."""

    icc: float | None
    centre: float | None
    within_sd: float | None
    clinicians: dict  # clinician -> Comparison, for those with at least MIN_DYADS dyads
    design_effect: float | None = None  # over the clinicians taking part; None when the ICC is


def compare_summaries(groups: Mapping[Hashable, tuple[int, float, float | None]]) -> SummaryComparison:
    """ICC(1) and, per clinician with at least MIN_DYADS dyads, their reliability, funnel position and the
    patients that would make them reliable: the comparing-clinicians figures from (n, mean, sd) per clinician."""
    taking_part = {key: value for key, value in groups.items() if value[0] >= MIN_DYADS}
    if not taking_part:
        return SummaryComparison(None, None, None, {})
    anova = anova_from_summaries(taking_part)
    icc = icc_from_anova(anova)
    within_sd = math.sqrt(anova.ms_within) if anova.values > anova.groups else None
    needed = patients_for_reliability(icc)
    comparisons = {}
    for key, (n, mean, _sd) in taking_part.items():
        funnel = funnel_position(mean, n, anova.grand_mean, within_sd) if within_sd is not None else None
        comparisons[key] = Comparison(spearman_brown(n, icc), funnel, needed)
    deff = design_effect(anova.values / anova.groups, icc)
    return SummaryComparison(icc, anova.grand_mean, within_sd, comparisons, deff)
