"""Gaps between the clinician's and the patient's view of one wave, item pair by item pair (docs/measurement.md).

From instrument 1.1 each per-visit clinician item names the patient item it mirrors (`pair`), so a wave's gap in
a domain can be measured like for like: the mean of the item-pair differences. A wave is flagged only when
that mean is beyond what measurement error alone would give, judged from the wave's own item pairs, and beyond
one step of the answer scale: all "Agree" against all "Strongly agree" (one step on every item) is never a
flag. Instrument 1.0 has no pairs; its waves keep the domain rule (docs/measurement.md, `scoring.gap_flagged`,
|gap| >= 25), labelled as such wherever it is shown.

Pure functions on plain values, like scoring.py: pages, reports and tests all decide a flag the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .scoring import (
    SHARED_DOMAINS,
    Answer,
    ItemSpec,
    Scale,
    gap_flagged,
    min_answers_required,
    scored_value,
    t_quantile,
)
from .scoring import wave_gaps as scoring_wave_gaps

RULE_ITEM_PAIRS = "item_pairs"
"""Flagged beyond measurement error, from the wave's mirrored item pairs (instrument 1.1 on)."""
RULE_DOMAIN = "domain_rule"
"""Flagged when |clinician score - patient score| >= 25: the rule of instrument 1.0, which has no item pairs."""

LOWER, WITHIN, HIGHER = "lower", "within", "higher"
BANDS = (LOWER, WITHIN, HIGHER)
"""Where a wave's gap falls: the clinician's view lower than the patient's beyond error, within it, or higher."""

CONFIDENCE = 0.95

# Differences are ratios of small integers; a mean exactly one step away must not pass for more than a step.
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class ItemPair:
    """A clinician item and the patient item it mirrors: the same content seen from each side."""

    domain: str
    clinician: ItemSpec
    patient: ItemSpec


def mirrored_pairs(clinician, patient) -> tuple[ItemPair, ...] | None:
    """The item pairs of a wave answered on these two instrument specs (measurement.instruments.InstrumentSpec),
    or None when they cannot be paired item by item and the wave keeps the domain rule.

    That is the case when the clinician instrument names no pairs (1.0), or names a patient item the patient's
    instrument does not have (a 1.1 clinician view beside a 1.0 patient questionnaire during the change-over).
    Only the shared domains count: competencies have no patient counterpart.
    """
    patient_items = {item.code: item for item in patient.items}
    pairs = []
    for item in clinician.items:
        if item.domain not in SHARED_DOMAINS:
            continue
        mirror = patient_items.get(item.pair) if item.pair else None
        if mirror is None or mirror.domain != item.domain:
            return None
        pairs.append(ItemPair(item.domain, item.scoring, mirror.scoring))
    return tuple(pairs) or None


def step_points(scale: Scale) -> float:
    """One step of the answer scale in score points (25 on a 1-5 scale): the smallest gap a wave can show."""
    return 100.0 / (scale.max - scale.min)


def pair_differences(
    pairs: Sequence[ItemPair], clinician_answers: Mapping[str, Answer], patient_answers: Mapping[str, Answer], scale: Scale
) -> dict[str, list[float]]:
    """{domain: [clinician item - patient item, in score points, for each pair both answered]}.

    Reverse-keyed items are turned round first, so a positive difference always means the clinician sees the
    relationship as healthier. A pair where either side said "does not apply" or did not answer is left out.
    """
    span = scale.max - scale.min
    differences: dict[str, list[float]] = {}
    for pair in pairs:
        clinician = scored_value(clinician_answers.get(pair.clinician.code), scale, pair.clinician.reverse)
        patient = scored_value(patient_answers.get(pair.patient.code), scale, pair.patient.reverse)
        bucket = differences.setdefault(pair.domain, [])
        if clinician is not None and patient is not None:
            bucket.append(100.0 * (clinician - patient) / span)
    return differences


@dataclass(frozen=True)
class PairedGap:
    """One domain's gap in one wave, measured over its item pairs, and whether it is beyond measurement error."""

    domain: str
    gap: float  # mean of the item-pair differences, score points; positive: the clinician's view is higher
    pairs: int  # item pairs both sides answered
    standard_error: float | None  # of the mean difference, from the spread of the pairs; None with one pair
    critical: float | None  # |gap| must exceed this to be flagged; None when error cannot be judged
    flagged: bool

    @property
    def band(self) -> str:
        return band_of(self.gap, self.flagged)


def band_of(gap: float, flagged: bool) -> str:
    if not flagged:
        return WITHIN
    return HIGHER if gap > 0 else LOWER


def standard_error(differences: Sequence[float]) -> float | None:
    """s_d / sqrt(m): the standard error of the mean of m item-pair differences, from their own spread (n - 1);
    None below two. Plain float arithmetic: statistics.stdev works in exact fractions, which cost a clinician's
    page most of its time for thousands of small lists."""
    m = len(differences)
    if m < 2:
        return None
    mean = math.fsum(differences) / m
    return math.sqrt(math.fsum((d - mean) ** 2 for d in differences) / (m - 1) / m)


def critical_difference(differences: Sequence[float], step: float, confidence: float = CONFIDENCE) -> float | None:
    """The mean item-pair difference a wave must exceed to be flagged: the larger of one scale step and
    t(confidence, m-1) standard errors of the mean, the standard error being the spread of the wave's own m
    pair differences over sqrt(m) (docs/measurement.md: why this is the measurement error of the gap).

    None with fewer than two pairs: one difference says nothing about its own error.
    """
    error = standard_error(differences)
    if error is None:
        return None
    return max(step, t_quantile(1 - (1 - confidence) / 2, len(differences) - 1) * error)


def paired_gap(domain: str, differences: Sequence[float], n_items: int, step: float) -> PairedGap | None:
    """The domain's paired gap, or None (missing) when fewer than half its pairs, rounded up, were answered on
    both sides: the same rule that makes a domain score missing (scoring.min_answers_required)."""
    m = len(differences)
    if m == 0 or m < min_answers_required(n_items):
        return None
    gap = math.fsum(differences) / m
    critical = critical_difference(differences, step)
    flagged = critical is not None and abs(gap) > critical + _TOLERANCE
    return PairedGap(domain, gap, m, standard_error(differences), critical, flagged)


def item_pair_gaps(
    pairs: Sequence[ItemPair], clinician_answers: Mapping[str, Answer], patient_answers: Mapping[str, Answer], scale: Scale
) -> dict[str, PairedGap]:
    """{shared domain: PairedGap} for the domains both sides answered well enough, in SHARED_DOMAINS order."""
    differences = pair_differences(pairs, clinician_answers, patient_answers, scale)
    items_per_domain: dict[str, int] = {}
    for pair in pairs:
        items_per_domain[pair.domain] = items_per_domain.get(pair.domain, 0) + 1
    step = step_points(scale)
    gaps = {}
    for domain in SHARED_DOMAINS:
        if domain in differences:
            gap = paired_gap(domain, differences[domain], items_per_domain[domain], step)
            if gap is not None:
                gaps[domain] = gap
    return gaps


@dataclass(frozen=True)
class WaveGap:
    """One domain of one wave as pages show it: both domain scores, the contract's domain gap (clinician minus
    patient, docs/measurement.md), and the flag by the wave's rule: item pairs from 1.1, the domain rule for 1.0."""

    domain: str
    clinician: float
    patient: float
    gap: float  # the domain gap: clinician score minus patient score
    rule: str  # RULE_ITEM_PAIRS or RULE_DOMAIN
    flagged: bool  # by `rule`
    paired: PairedGap | None = None  # the item-pair measure, under RULE_ITEM_PAIRS when enough pairs were answered

    @property
    def measured(self) -> float:
        """The gap the flag was decided on: the item-pair mean where there is one, else the domain gap."""
        return self.paired.gap if self.paired is not None else self.gap

    @property
    def band(self) -> str:
        return band_of(self.measured, self.flagged)

    @property
    def domain_rule_flag(self) -> bool:
        """The contract's flag (|gap| >= 25), still given in exports whatever the wave's rule."""
        return gap_flagged(self.gap)


def judge_wave(
    clinician_scores: Mapping[str, float | None],
    patient_scores: Mapping[str, float | None],
    paired: Mapping[str, PairedGap] | None,
) -> list[WaveGap]:
    """The wave's gaps for the shared domains both sides scored, in SHARED_DOMAINS order.

    `paired` is `item_pair_gaps` for a wave that can be paired item by item, None for one that cannot (1.0):
    then each domain is flagged by the domain rule. A paired wave whose domain has too few answered pairs is
    not flagged in that domain: with no measure of its error, its gap is not called beyond it.
    """
    rows = []
    for domain_gap in scoring_wave_gaps(clinician_scores, patient_scores):  # the domain gaps and their 25-point flags
        fields = (domain_gap.domain, domain_gap.clinician, domain_gap.patient, domain_gap.gap)
        if paired is None:
            rows.append(WaveGap(*fields, RULE_DOMAIN, domain_gap.flagged))
        else:
            measure = paired.get(domain_gap.domain)
            rows.append(WaveGap(*fields, RULE_ITEM_PAIRS, bool(measure and measure.flagged), measure))
    return rows


def wave_bands(
    clinician_scores: Mapping[str, float | None],
    patient_scores: Mapping[str, float | None],
    paired: Mapping[str, PairedGap] | None,
) -> dict[str, str]:
    """{shared domain: band} of one wave, each domain judged by the wave's rule (`judge_wave`).

    What the read model keeps of a wave's gaps (surveys.latest): a practice's dashboard counts the waves beyond
    measurement error from the score rows alone, without reading every answer of every wave."""
    return {gap.domain: gap.band for gap in judge_wave(clinician_scores, patient_scores, paired)}


@dataclass(frozen=True)
class GapDistribution:
    """How one domain's wave gaps spread: counts per band, and how many waves each rule decided."""

    lower: int = 0
    within: int = 0
    higher: int = 0
    by_item_pairs: int = 0
    by_domain_rule: int = 0

    @property
    def n(self) -> int:
        return self.lower + self.within + self.higher

    def share(self, band: str) -> float | None:
        return getattr(self, band) / self.n if self.n else None


def distribution(gaps: Sequence[WaveGap]) -> dict[str, GapDistribution]:
    """{shared domain: GapDistribution} over the waves' gaps (each wave's domain counted once)."""
    counts: dict[str, dict[str, int]] = {}
    for gap in gaps:
        c = counts.setdefault(gap.domain, dict.fromkeys((*BANDS, "by_item_pairs", "by_domain_rule"), 0))
        c[gap.band] += 1
        c["by_item_pairs" if gap.rule == RULE_ITEM_PAIRS else "by_domain_rule"] += 1
    return {domain: GapDistribution(**counts[domain]) for domain in SHARED_DOMAINS if domain in counts}
