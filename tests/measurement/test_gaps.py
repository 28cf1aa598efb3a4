"""Item-pair gaps: a wave is flagged only beyond measurement error and beyond one scale step.

Plain Python: the rule is decided in measurement.gaps, so these tests need no database. The simulation uses the
real 1.1 instruments' pairs, so it checks the rule on the domains, item counts and reverse keying clinicians
and patients actually answer.
"""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from measurement import gaps, scoring
from measurement.instruments import read_instrument_file
from measurement.scoring import SHARED_DOMAINS, ItemSpec, Scale

INSTRUMENTS_DIR = Path(__file__).resolve().parents[2] / "surveys" / "instruments"
SCALE = Scale(1, 5)


def spec(name):
    return read_instrument_file(INSTRUMENTS_DIR / f"{name}.json")[1]


PATIENT, CLINICIAN = spec("patient-1.1"), spec("clinician-1.1")
PAIRS = gaps.mirrored_pairs(CLINICIAN, PATIENT)


def answers_from_scored(values: dict[str, int], items) -> dict[str, int]:
    """Raw answers that score `values` (reverse-keyed items turned round), so tests speak in scored values."""
    reverse = {item.code: item.reverse for item in items}
    return {code: (6 - value if reverse[code] else value) for code, value in values.items()}


def wave(clinician_value, patient_value):
    """Every clinician item scoring `clinician_value` and every patient item `patient_value`."""
    clinician = answers_from_scored({i.code: clinician_value for i in CLINICIAN.items}, CLINICIAN.items)
    patient = answers_from_scored({i.code: patient_value for i in PATIENT.items}, PATIENT.items)
    return gaps.item_pair_gaps(PAIRS, clinician, patient, SCALE)


def pairs_of(k):
    return [gaps.ItemPair("valuing", ItemSpec(f"C{i}", "valuing"), ItemSpec(f"P{i}", "valuing")) for i in range(k)]


def answers(prefix, values):
    return {f"{prefix}{i}": v for i, v in enumerate(values)}


# --- pairing ------------------------------------------------------------------------------------------


def test_the_1_1_instruments_pair_every_shared_item():
    assert len(PAIRS) == len(PATIENT.items)
    assert {p.domain for p in PAIRS} == set(SHARED_DOMAINS)
    assert all(p.clinician.domain == p.patient.domain for p in PAIRS)


def test_1_0_waves_cannot_be_paired_and_keep_the_domain_rule():
    assert gaps.mirrored_pairs(spec("clinician-1.0"), spec("patient-1.0")) is None


def test_a_1_1_clinician_view_beside_a_1_0_patient_questionnaire_is_not_paired():
    assert gaps.mirrored_pairs(CLINICIAN, spec("patient-1.0")) is None


# --- the rule -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("clinician_value, patient_value", [(4, 5), (5, 4), (3, 4), (2, 1)])
def test_all_agree_against_all_strongly_agree_is_not_flagged(clinician_value, patient_value):
    measured = wave(clinician_value, patient_value)

    assert set(measured) == set(SHARED_DOMAINS)
    for gap in measured.values():
        assert abs(gap.gap) == pytest.approx(25.0)
        assert not gap.flagged
        assert gap.band == gaps.WITHIN


def test_two_steps_apart_on_every_item_is_flagged_with_its_direction():
    higher, lower = wave(5, 3), wave(2, 4)

    assert all(g.flagged and g.band == gaps.HIGHER and g.gap == pytest.approx(50) for g in higher.values())
    assert all(g.flagged and g.band == gaps.LOWER and g.gap == pytest.approx(-50) for g in lower.values())


def test_a_mean_beyond_one_step_within_the_pairs_spread_is_not_flagged():
    # Differences +100, +25, 0, 0: a mean of 31 with a wide spread.
    gap = gaps.item_pair_gaps(pairs_of(4), answers("C", [5, 4, 3, 3]), answers("P", [1, 3, 3, 3]), SCALE)["valuing"]

    assert gap.gap == pytest.approx(31.25)
    assert gap.critical > abs(gap.gap)
    assert not gap.flagged


def test_a_consistent_gap_beyond_one_step_is_flagged():
    # Differences +50, +50, +50, +25: the pairs agree, so the mean of 43.75 is beyond error.
    gap = gaps.item_pair_gaps(pairs_of(4), answers("C", [5, 5, 5, 5]), answers("P", [3, 3, 3, 4]), SCALE)["valuing"]

    assert gap.gap == pytest.approx(43.75)
    assert gap.standard_error == pytest.approx(6.25)
    assert gap.critical == pytest.approx(max(25.0, scoring.t_quantile(0.975, 3) * 6.25))
    assert gap.flagged


def test_reverse_keyed_items_are_turned_round_on_both_sides():
    pairs = [gaps.ItemPair("valuing", ItemSpec(f"C{i}", "valuing", reverse=True), ItemSpec(f"P{i}", "valuing", reverse=True))
             for i in range(3)]
    # Raw 1 on a reverse-keyed item scores 5; raw 3 scores 3: the clinician is two steps higher.
    gap = gaps.item_pair_gaps(pairs, answers("C", [1, 1, 1]), answers("P", [3, 3, 3]), SCALE)["valuing"]

    assert gap.gap == pytest.approx(50)


def test_pairs_not_answered_on_both_sides_are_left_out_and_too_few_make_the_gap_missing():
    three_of_four = gaps.item_pair_gaps(pairs_of(4), answers("C", [5, 5, 5, "na"]), answers("P", [3, 3, 3, 1]), SCALE)
    one_of_four = gaps.item_pair_gaps(pairs_of(4), answers("C", [5, "na", 5, "na"]), answers("P", [3, 3, "na", 1]), SCALE)

    assert three_of_four["valuing"].pairs == 3 and three_of_four["valuing"].gap == pytest.approx(50)
    assert one_of_four == {}


def test_two_pairs_of_four_are_enough_and_one_difference_alone_is_never_judged():
    assert gaps.critical_difference([50.0], 25.0) is None
    two = gaps.item_pair_gaps(pairs_of(4), answers("C", [5, 5, "na", "na"]), answers("P", [3, 3, 3, 3]), SCALE)
    assert two["valuing"].pairs == 2 and two["valuing"].flagged


answer = st.one_of(st.integers(1, 5), st.just("na"))


@given(k=st.integers(3, 5), data=st.data())
def test_properties_of_the_item_pair_gap(k, data):
    clinician = data.draw(st.lists(answer, min_size=k, max_size=k))
    patient = data.draw(st.lists(answer, min_size=k, max_size=k))
    measured = gaps.item_pair_gaps(pairs_of(k), answers("C", clinician), answers("P", patient), SCALE).get("valuing")
    swapped = gaps.item_pair_gaps(pairs_of(k), answers("C", patient), answers("P", clinician), SCALE).get("valuing")
    if measured is None:
        assert swapped is None
        return
    # Seen from the other side, the same gap with the other sign and the same flag.
    assert swapped.gap == pytest.approx(-measured.gap) and swapped.flagged == measured.flagged
    assert -100 <= measured.gap <= 100
    # A flag is never within one scale step, nor within the critical difference.
    if measured.flagged:
        assert abs(measured.gap) > 25 and abs(measured.gap) > measured.critical
    # Where every pair is answered, the item-pair gap is the domain gap (docs/measurement.md, "Scoring one questionnaire").
    if "na" not in clinician and "na" not in patient:
        items = [ItemSpec(f"X{i}", "valuing") for i in range(k)]
        c = scoring.domain_scores(items, answers("X", clinician), SCALE)["valuing"]
        p = scoring.domain_scores(items, answers("X", patient), SCALE)["valuing"]
        assert measured.gap == pytest.approx(c - p)


@given(st.lists(st.integers(-4, 4), min_size=2, max_size=5))
def test_equal_differences_are_flagged_exactly_when_beyond_one_step(steps):
    same = [25.0 * steps[0]] * len(steps)
    gap = gaps.paired_gap("valuing", same, len(same), 25.0)
    assert gap.flagged == (abs(steps[0]) >= 2)


# --- the simulation: no true gap, realistic noise ------------------------------------------------------


def simulated_wave(rng, pairs, true_level, noise):
    """One wave where clinician and patient see the same relationship (true gap zero): each item is the shared
    true level plus the item's own pull, plus each respondent's own error, rounded onto the 1-5 scale."""
    answers_of = {"clinician": {}, "patient": {}}
    for pair in pairs:
        pull = rng.normal(0, 0.3)
        for side, item in (("clinician", pair.clinician), ("patient", pair.patient)):
            scored = int(np.clip(np.rint(true_level + pull + rng.normal(0, noise)), 1, 5))
            answers_of[side][item.code] = 6 - scored if item.reverse else scored
    return gaps.item_pair_gaps(pairs, answers_of["clinician"], answers_of["patient"], SCALE)


@pytest.mark.parametrize("centre, spread, noise", [(4.2, 0.6, 0.7), (3.0, 1.0, 0.7), (3.5, 0.8, 1.0)])
def test_at_most_5_percent_of_waves_are_flagged_when_the_true_gap_is_zero(centre, spread, noise):
    rng = np.random.default_rng(20081)
    flagged = measured = 0
    for _ in range(1500):
        true_level = float(np.clip(rng.normal(centre, spread), 1, 5))
        for gap in simulated_wave(rng, PAIRS, true_level, noise).values():
            measured += 1
            flagged += gap.flagged
    assert measured == 1500 * len(SHARED_DOMAINS)
    assert flagged / measured <= 0.05


def test_the_old_domain_rule_flags_far_more_than_5_percent_of_the_same_waves():
    """The reason for the change: with the same noise, |gap| >= 25 flags a large share of waves with no gap."""
    rng = np.random.default_rng(20081)
    old = new = total = 0
    for _ in range(1000):
        for gap in simulated_wave(rng, PAIRS, float(np.clip(rng.normal(3.0, 1.0), 1, 5)), 0.7).values():
            total += 1
            old += scoring.gap_flagged(gap.gap)
            new += gap.flagged
    assert old / total > 0.05 > new / total


# --- pages' view of a wave -----------------------------------------------------------------------------


def test_a_wave_without_pairs_is_flagged_by_the_domain_rule():
    rows = gaps.judge_wave({"valuing": 75.0, "power": 60.0}, {"valuing": 50.0, "power": 50.0}, None)

    assert [(r.domain, r.rule, r.flagged, r.band) for r in rows] == [
        ("valuing", gaps.RULE_DOMAIN, True, gaps.HIGHER),
        ("power", gaps.RULE_DOMAIN, False, gaps.WITHIN),
    ]


def test_a_paired_wave_is_flagged_by_its_item_pairs_and_keeps_the_domain_gap_of_the_contract():
    measured = wave(5, 4)  # one step on every item: 25 points, not flagged
    scores_c = {d: 100.0 for d in SHARED_DOMAINS}
    scores_p = {d: 75.0 for d in SHARED_DOMAINS}

    rows = gaps.judge_wave(scores_c, scores_p, measured)

    assert [r.domain for r in rows] == list(SHARED_DOMAINS)
    assert all(r.rule == gaps.RULE_ITEM_PAIRS and not r.flagged for r in rows)
    assert all(r.gap == 25.0 and r.domain_rule_flag for r in rows)  # the contract's flag, still available


def test_a_paired_domain_with_too_few_pairs_is_not_flagged():
    rows = gaps.judge_wave({"valuing": 100.0}, {"valuing": 0.0}, {})

    assert rows[0].rule == gaps.RULE_ITEM_PAIRS and rows[0].paired is None and not rows[0].flagged


def test_the_distribution_counts_each_band_and_rule():
    rows = (
        gaps.judge_wave({"valuing": 100.0}, {"valuing": 50.0}, None)
        + gaps.judge_wave({"valuing": 25.0}, {"valuing": 75.0}, None)
        + gaps.judge_wave({"valuing": 100.0}, {"valuing": 75.0}, wave(5, 4))
    )

    spread = gaps.distribution(rows)["valuing"]

    assert (spread.lower, spread.within, spread.higher, spread.n) == (1, 1, 1, 3)
    assert (spread.by_item_pairs, spread.by_domain_rule) == (1, 2)
    assert spread.share(gaps.HIGHER) == pytest.approx(1 / 3)
