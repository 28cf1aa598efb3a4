"""Continuity indices against their textbook definitions (Breslau & Reeb 1975; Bice & Boxerman 1977)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from measurement.continuity import coc, summarize, upc

visits = st.dictionaries(st.sampled_from("abcdef"), st.integers(min_value=0, max_value=12), max_size=6)


def test_it_gives_upc_and_coc_as_worked_by_hand():
    # Ten visits: 6 with a, 3 with b, 1 with c. UPC = 6/10; COC = (36 + 9 + 1 - 10) / (10 * 9) = 36/90.
    assert upc({"a": 6, "b": 3, "c": 1}) == pytest.approx(0.6, rel=1e-15)
    assert coc({"a": 6, "b": 3, "c": 1}) == pytest.approx(0.4, rel=1e-15)


def test_one_clinician_is_full_continuity_and_never_the_same_twice_is_none():
    assert upc({"a": 4}) == 1.0 and coc({"a": 4}) == 1.0
    assert coc({"a": 1, "b": 1, "c": 1}) == 0.0
    assert upc({"a": 1, "b": 1, "c": 1}) == pytest.approx(1 / 3)


def test_a_single_visit_measures_nothing():
    assert upc({"a": 1}) is None and coc({"a": 1}) is None and upc({}) is None and coc({"a": 0, "b": 1}) is None


@given(visits)
def test_the_indices_stay_within_their_bounds_and_coc_never_exceeds_upc(counts):
    u, c = upc(counts), coc(counts)
    if sum(counts.values()) < 2:
        assert u is None and c is None
        return
    total = sum(counts.values())
    assert Fraction(max(counts.values()), total) == Fraction(u).limit_denominator(10_000)
    assert 0.0 <= c <= u <= 1.0 + 1e-12
    assert u >= 1 / len([n for n in counts.values() if n]) - 1e-12


def test_it_summarizes_the_practice_and_each_clinician_over_patients_with_two_visits_or_more():
    rows = [("p1", "a", 3), ("p1", "b", 1), ("p2", "a", 2), ("p3", "b", 1)]  # p3 came once: left out
    practice, clinicians = summarize(rows)
    assert practice.patients == 2
    assert practice.upc == pytest.approx((0.75 + 1.0) / 2)
    assert practice.coc == pytest.approx(((9 + 1 - 4) / 12 + 1.0) / 2)
    assert clinicians["a"].patients == 2 and clinicians["a"].share_with_clinician == pytest.approx((0.75 + 1.0) / 2)
    assert clinicians["b"].patients == 1 and clinicians["b"].share_with_clinician == pytest.approx(0.25)
    assert practice.share_with_clinician is None


@given(
    st.lists(
        st.tuples(st.integers(0, 12), st.sampled_from("abcd"), st.integers(0, 5)),
        max_size=60,
    )
)
def test_the_summary_is_the_mean_of_each_patients_own_indices(rows):
    # Independent of summarize's array arithmetic: each patient's visits added up by hand (a pair may come in
    # several rows), their upc and coc from the functions above, then plain means.
    by_patient: dict = {}
    for patient, clinician, n in rows:
        if n > 0:
            by_patient.setdefault(patient, {}).setdefault(clinician, 0)
            by_patient[patient][clinician] += n
    counted = {p: v for p, v in by_patient.items() if sum(v.values()) >= 2}
    practice, clinicians = summarize(rows)
    assert practice.patients == len(counted)
    if counted:
        assert practice.upc == pytest.approx(sum(upc(v) for v in counted.values()) / len(counted))
        assert practice.coc == pytest.approx(sum(coc(v) for v in counted.values()) / len(counted))
    else:
        assert practice.upc is None and practice.coc is None
    expected = {}
    for visits in counted.values():
        for clinician, n in visits.items():
            expected.setdefault(clinician, []).append((upc(visits), coc(visits), n / sum(visits.values())))
    assert set(clinicians) == set(expected)
    for clinician, values in expected.items():
        figure = clinicians[clinician]
        assert figure.patients == len(values)
        assert figure.upc == pytest.approx(sum(u for u, _c, _s in values) / len(values))
        assert figure.coc == pytest.approx(sum(c for _u, c, _s in values) / len(values))
        assert figure.share_with_clinician == pytest.approx(sum(s for _u, _c, s in values) / len(values))
