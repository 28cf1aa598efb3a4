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

import numpy as np

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


def _mean(total: float, count: int) -> float | None:
    return float(total / count) if count else None


def summarize(visit_counts: Iterable[tuple[Hashable, Hashable, int]]) -> tuple[Continuity, dict[Hashable, Continuity]]:
    """The practice's continuity and each clinician's, from (patient, clinician, visits) rows.

    A clinician's figure is over the patients with at least MIN_VISITS visits who saw them at least once:
    those patients' UPC and COC, and the share of their visits that were with this clinician.

    Array arithmetic over the rows (a practice's year is thousands of patients): per patient, the sum, the
    largest and the sum of squares of their visit counts give `upc` and `coc` exactly as above. Patients (and
    clinicians) are keys of one sortable kind: database ids, or names in the tests.
    """
    rows = [row for row in visit_counts if row[2] > 0]
    if not rows:
        return Continuity(patients=0, upc=None, coc=None), {}
    patient_ids, clinician_ids, visits = zip(*rows)
    patients, patient = np.unique(np.array(patient_ids), return_inverse=True)
    clinicians, clinician = np.unique(np.array(clinician_ids), return_inverse=True)
    # One entry per (patient, clinician), in patient order: the same pair may come in several rows.
    pairs, where = np.unique(patient * len(clinicians) + clinician, return_inverse=True)
    visits = np.bincount(where, weights=np.array(visits, dtype=float))
    patient, clinician = pairs // len(clinicians), pairs % len(clinicians)
    total = np.bincount(patient, weights=visits, minlength=len(patients))
    most = np.maximum.reduceat(visits, np.flatnonzero(np.r_[True, patient[1:] != patient[:-1]]))
    squares = np.bincount(patient, weights=visits * visits, minlength=len(patients))
    counted = total >= MIN_VISITS
    upc_of = np.where(counted, most / total, 0.0)
    coc_of = np.where(counted, (squares - total) / np.where(counted, total * (total - 1), 1.0), 0.0)
    patients_counted = int(counted.sum())
    practice = Continuity(
        patients=patients_counted,
        upc=_mean(upc_of[counted].sum(), patients_counted),
        coc=_mean(coc_of[counted].sum(), patients_counted),
    )
    seen = counted[patient]  # (patient, clinician) entries of the patients counted
    of_patient, of_clinician = patient[seen], clinician[seen]
    per_clinician = np.bincount(of_clinician, minlength=len(clinicians))

    def clinician_sums(values) -> np.ndarray:
        return np.bincount(of_clinician, weights=values, minlength=len(clinicians))

    upc_sums, coc_sums = clinician_sums(upc_of[of_patient]), clinician_sums(coc_of[of_patient])
    share_sums = clinician_sums(visits[seen] / total[of_patient])
    return practice, {
        key: Continuity(
            patients=int(per_clinician[i]),
            upc=_mean(upc_sums[i], per_clinician[i]),
            coc=_mean(coc_sums[i], per_clinician[i]),
            share_with_clinician=_mean(share_sums[i], per_clinician[i]),
        )
        for i, key in enumerate(clinicians.tolist())
        if per_clinician[i]
    }
