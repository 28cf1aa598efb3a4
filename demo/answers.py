"""How the demo's patients and clinicians answer: a generative model with the shape of real primary-care data.

Demo data teach people how to read the platform's figures, so they must look like the data a practice will
have, not flatter it: clinicians who differ little (an ICC of about 0.02-0.10 per domain), answers piled up at
"Strongly agree" (a third or more of the dyads at 100 in a domain), items of a domain that hang together as
well as those of a good scale (Cronbach's alpha about 0.7-0.9), a clinician's view close to their patient's,
and no change over the year. Answers drawn around a clinician's mean with independent noise per item (the
first demo) gave ICCs of 0.07-0.46 and almost no ceiling: every funnel plot and trend then showed differences
that real data would not. docs/measurement.md ("Demo data") gives the model and the properties the tests check.

The model, on a latent scale where one patient's view of one domain has variance 1 before item noise:

    patient's view of domain d in one response of the dyad (clinician j, patient i)
        = PATIENT_MEAN + DOMAIN_OFFSET[d] + clinician_j + patient_i + shift_i + bond_ij + domain_ij,d + occasion
    clinician's view = the same dyad (clinician_j + patient_i + bond_ij + domain_ij,d)
        + CLINICIAN_MEAN + DOMAIN_OFFSET[d] + leniency_j + their own occasion and domain noise
    each item = its domain's view + item noise, cut at THRESHOLDS into the 1-5 answer

`shift_i` is the case-mix hook: a patient's latent adjustment that their case mix explains (older and healthier
patients rate higher), zero unless the seeder passes one. Nothing depends on the visit's date, so there is no
true trend. Arrays throughout: a 100,000-visit seed draws its 2.9 million answers in a few numpy calls per
batch (the seed benchmark, docs/performance.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from measurement import scoring

# Variance components of a patient's latent view of one domain (they add up to 1). The clinician's share is the
# ICC before items are cut into answers; cutting at the ceiling and item noise bring the domain scores' ICC down
# to about 0.06 (docs/measurement.md, "Demo data").
CLINICIAN_VARIANCE = 0.10
PATIENT_VARIANCE = 0.45  # the patient: how they see this kind of relationship, whoever the clinician
BOND_VARIANCE = 0.17  # this pair of people
DOMAIN_VARIANCE = 0.18  # this dyad is stronger on some domains than others (domains correlate about 0.8)
OCCASION_VARIANCE = 0.10  # the day: two questionnaires of one dyad differ a little

PATIENT_MEAN = 0.8
CLINICIAN_MEAN = 0.6  # clinicians answer "Strongly agree" about their own relationships a little less often
CLINICIAN_LENIENCY_SD = 0.2  # some clinicians see all their relationships a little more warmly than others
CLINICIAN_OCCASION_SD = 0.3
CLINICIAN_DOMAIN_SD = 0.25

# Cut points between answers 1|2, 2|3, 3|4 and 4|5 on the latent scale, skewed to the top as real answers are:
# with the means above, about half of all answers are "Strongly agree" and few are below "Neutral".
THRESHOLDS = np.array([-2.3, -1.5, -0.6, 0.45])

# The internal consistency each domain's items are given on the latent scale, whatever their number; answers cut
# into five categories with a ceiling come out lower, at about 0.75-0.85 (Cronbach's alpha).
LATENT_ALPHA = 0.86

NOT_APPLICABLE_SHARE = 0.08  # of the answers to items that allow "Does not apply"

# How views of each domain sit relative to the relationship as a whole: trust and valuing come easiest, being
# known and sharing power take longer.
DOMAIN_OFFSET = {
    "valuing": 0.15, "power": -0.1, "abiding": 0.0, "trust": 0.2, "hope": -0.05, "known": -0.2,
    "self_confidence": 0.1, "emotional_self_management": -0.1, "mindfulness": -0.2, "knowledge": 0.1,
}


def item_noise_sd(items_in_domain: int, alpha: float = LATENT_ALPHA) -> float:
    """The item noise that gives a domain of k items the latent alpha, for a view of variance 1.

    Alpha of k parallel items with inter-item correlation r is k*r / (1 + (k-1)*r) (Spearman-Brown), so
    r = alpha / (k - (k-1)*alpha), and an item of a view with variance 1 correlates r with its siblings when
    its noise variance is (1 - r) / r. Fewer items get less noise, so every domain's alpha is about the same.
    """
    k = items_in_domain
    if k < 2:
        return math.sqrt((1 - alpha) / alpha)
    r = alpha / (k - (k - 1) * alpha)
    return math.sqrt((1 - r) / r)


@dataclass(frozen=True)
class ItemLayout:
    """One instrument's items as arrays, so that a batch's answers are a few numpy operations."""

    codes: tuple[str, ...]
    domains: tuple[str, ...]  # the instrument's domains, in order of first appearance
    domain_index: np.ndarray  # each item's domain, as an index into `domains`
    location: np.ndarray  # each item's offset on the latent scale (its domain's)
    noise_sd: np.ndarray
    reverse: np.ndarray
    allow_na: np.ndarray
    scale: scoring.Scale

    @classmethod
    def of(cls, items: Sequence[tuple[str, str, bool, bool]], scale: scoring.Scale) -> ItemLayout:
        """From (code, domain, reverse, allow_na) per item, in the instrument's order."""
        if scale.max - scale.min != len(THRESHOLDS):
            raise ValueError(f"demo answers are modelled on a {len(THRESHOLDS) + 1}-point scale")
        domains = tuple(dict.fromkeys(domain for _code, domain, _reverse, _na in items))
        sizes = {domain: sum(1 for item in items if item[1] == domain) for domain in domains}
        return cls(
            codes=tuple(code for code, *_rest in items),
            domains=domains,
            domain_index=np.array([domains.index(domain) for _code, domain, _r, _na in items], dtype=np.intp),
            location=np.array([DOMAIN_OFFSET.get(domain, 0.0) for _code, domain, _r, _na in items]),
            noise_sd=np.array([item_noise_sd(sizes[domain]) for _code, domain, _r, _na in items]),
            reverse=np.array([reverse for _code, _domain, reverse, _na in items], dtype=bool),
            allow_na=np.array([allow_na for *_rest, allow_na in items], dtype=bool),
            scale=scale,
        )


def spread_effects(count: int, sd: float, generator: np.random.Generator) -> np.ndarray:
    """`count` effects at the normal quantiles (i - 1/2)/count, times sd, in random order.

    For clinicians rather than independent draws: with six clinicians in a practice, draws would give a
    between-clinician variance anywhere from a third to twice the intended one, and a demo practice an ICC far
    from the one the model says; at the quantiles every practice has about the intended spread.
    """
    normal = NormalDist()
    effects = np.array([normal.inv_cdf((i + 0.5) / count) for i in range(count)]) * sd
    generator.shuffle(effects)
    return effects


class PracticeModel:
    """The latent side of one practice's relationships: clinicians, patients and dyads, drawn once.

    Clinicians and patients are given by index (their position in the lists the seeder holds); dyads are added
    as the seeder meets them, and answers are drawn for many responses at once.
    """

    def __init__(self, generator: np.random.Generator, clinicians: int, patients: int, domains: Sequence[str],
                 patient_shift: np.ndarray | None = None):
        self.generator = generator
        self.domains = tuple(domains)
        self.clinician_effect = spread_effects(clinicians, math.sqrt(CLINICIAN_VARIANCE), generator)
        self.clinician_leniency = generator.normal(0.0, CLINICIAN_LENIENCY_SD, clinicians)
        self.patient_effect = generator.normal(0.0, math.sqrt(PATIENT_VARIANCE), patients)
        # The case-mix hook: what a patient's case mix adds to their own views (not to their clinician's).
        self.patient_shift = np.zeros(patients) if patient_shift is None else np.asarray(patient_shift, dtype=float)
        if self.patient_shift.shape != (patients,):
            raise ValueError("patient_shift needs one value per patient")
        self.bond = np.empty(0)
        self.domain_effect = np.empty((0, len(self.domains)))

    def add_dyads(self, count: int) -> None:
        """Draw the next `count` dyads' own effects (their indices follow the ones already drawn)."""
        self.bond = np.concatenate([self.bond, self.generator.normal(0.0, math.sqrt(BOND_VARIANCE), count)])
        self.domain_effect = np.concatenate(
            [self.domain_effect, self.generator.normal(0.0, math.sqrt(DOMAIN_VARIANCE), (count, len(self.domains)))]
        )

    def views(self, layout: ItemLayout, by_patient: bool, clinician: np.ndarray, patient: np.ndarray,
              dyad: np.ndarray) -> np.ndarray:
        """Each response's latent view of each of the layout's domains: (responses, domains)."""
        n = len(dyad)
        columns = np.array([self.domains.index(domain) for domain in layout.domains], dtype=np.intp)
        relationship = self.clinician_effect[clinician] + self.patient_effect[patient] + self.bond[dyad]
        shared = relationship[:, None] + self.domain_effect[dyad][:, columns]
        if by_patient:
            own = PATIENT_MEAN + self.patient_shift[patient] + self.generator.normal(0.0, math.sqrt(OCCASION_VARIANCE), n)
            return shared + own[:, None]
        own = CLINICIAN_MEAN + self.clinician_leniency[clinician] + self.generator.normal(0.0, CLINICIAN_OCCASION_SD, n)
        return shared + own[:, None] + self.generator.normal(0.0, CLINICIAN_DOMAIN_SD, (n, len(columns)))

    def answers(self, layout: ItemLayout, by_patient: bool, clinician: Sequence[int], patient: Sequence[int],
                dyad: Sequence[int]) -> list[list[int | None]]:
        """Each response's raw answers in the layout's item order, None for "Does not apply".

        Raw as the respondent ticks them: a reverse-keyed item is answered the other way round, so that scoring
        it (min + max - answer) gives back the view.
        """
        views = self.views(layout, by_patient, np.asarray(clinician, dtype=np.intp),
                           np.asarray(patient, dtype=np.intp), np.asarray(dyad, dtype=np.intp))
        latent = views[:, layout.domain_index] + layout.location
        latent += self.generator.normal(0.0, 1.0, latent.shape) * layout.noise_sd
        scale = layout.scale
        scored = scale.min + np.searchsorted(THRESHOLDS, latent)
        raw = np.where(layout.reverse, scale.min + scale.max - scored, scored)
        not_applicable = layout.allow_na & (self.generator.random(latent.shape) < NOT_APPLICABLE_SHARE)
        return np.where(not_applicable, None, raw).tolist()
