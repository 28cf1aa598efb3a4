"""Continuity of care from visit counts: how much of each patient's care is with one clinician.

Abiding, the third process of a healing relationship, begins with interpersonal continuity (Scott et al. 2008),
so the pages show it beside the abiding scores. Pure functions on counts of visits per (patient, clinician);
the definitions and sources are in docs/measurement.md:

- UPC, the usual provider continuity index: the share of a patient's visits with the clinician they saw most
  (Breslau N, Reeb KG. Continuity of care in a university-based practice. J Med Educ 1975;50:965-969).
- COC, the Bice-Boxerman continuity of care index: (sum of n_j^2 - N) / (N (N - 1)), 1 when every visit was
  with one clinician and 0 when no clinician was seen twice (Bice TW, Boxerman SB. A quantitative measure of
  continuity of care. Med Care 1977;15:347-349). Both need at least two visits.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

MIN_VISITS = 2
"""Continuity is about a patient coming back: with one visit there is nothing to measure."""


def upc(visits_by_clinician: Mapping[Hashable, int]) -> float | None:
    """The usual provider continuity index of one patient; None below MIN_VISITS visits."""
    counts = [n for n in visits_by_clinician.values() if n > 0]
    total = sum(counts)
    if total < MIN_VISITS:
        return None
    return max(counts) / total


def coc(visits_by_clinician: Mapping[Hashable, int]) -> float | None:
    """The Bice-Boxerman continuity of care index of one patient; None below MIN_VISITS visits."""
    counts = [n for n in visits_by_clinician.values() if n > 0]
    total = sum(counts)
    if total < MIN_VISITS:
        return None
    return (sum(n * n for n in counts) - total) / (total * (total - 1))


@dataclass(frozen=True)
class Continuity:
    """Continuity over a group of patients: how many had at least MIN_VISITS visits, their mean UPC and COC,
    and the mean share of those patients' visits that were with the group's clinician (None for a practice)."""

    patients: int
    upc: float | None
    coc: float | None
    share_with_clinician: float | None = None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(visit_counts: Iterable[tuple[Hashable, Hashable, int]]) -> tuple[Continuity, dict[Hashable, Continuity]]:
    """The practice's continuity and each clinician's, from (patient, clinician, visits) rows.

    A clinician's figure is over the patients with at least MIN_VISITS visits who saw them at least once:
    those patients' UPC and COC, and the share of their visits that were with this clinician.
    """
    by_patient: dict[Hashable, dict[Hashable, int]] = {}
    for patient, clinician, n in visit_counts:
        if n > 0:
            visits = by_patient.setdefault(patient, {})
            visits[clinician] = visits.get(clinician, 0) + n
    indices = {patient: (upc(v), coc(v), sum(v.values())) for patient, v in by_patient.items()}
    counted = {patient: values for patient, values in indices.items() if values[0] is not None}
    practice = Continuity(
        patients=len(counted),
        upc=_mean([u for u, _c, _n in counted.values()]),
        coc=_mean([c for _u, c, _n in counted.values()]),
    )
    per_clinician: dict[Hashable, list] = {}
    for patient, (u, c, total) in counted.items():
        for clinician, n in by_patient[patient].items():
            per_clinician.setdefault(clinician, []).append((u, c, n / total))
    clinicians = {
        clinician: Continuity(
            patients=len(rows),
            upc=_mean([u for u, _c, _s in rows]),
            coc=_mean([c for _u, c, _s in rows]),
            share_with_clinician=_mean([s for _u, _c, s in rows]),
        )
        for clinician, rows in per_clinician.items()
    }
    return practice, clinicians
