"""measurement.statistics: ICC(1), Spearman-Brown, funnel positions, ceiling share and design effect.

No database: hand-computed examples, a published one (Shrout & Fleiss 1979, Table 2), properties checked by
hypothesis, and an independent numpy implementation that takes another road to the same figures.
"""

from __future__ import annotations

import math
import statistics
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from measurement import statistics as stats
from measurement.scoring import summarize
from measurement.statistics import (
    ABOVE_95,
    ABOVE_998,
    BELOW_95,
    BELOW_998,
    INSIDE,
    Z_95,
    Z_998,
    anova_from_summaries,
    ceiling_share,
    compare_clinicians,
    compare_summaries,
    design_effect,
    funnel_limits,
    funnel_position,
    icc1,
    one_way_anova,
    patients_for_reliability,
    spearman_brown,
    widened,
)

# Shrout PE, Fleiss JL. Psychol Bull 1979;86:420-428, Table 2: six targets rated by four judges. With targets
# as groups, the one-way ANOVA has BMS 11.24 and WMS 6.26, and ICC(1,1) = 0.17.
SHROUT_FLEISS = {
    1: [9, 2, 5, 8],
    2: [6, 1, 3, 2],
    3: [8, 4, 6, 8],
    4: [7, 1, 2, 6],
    5: [10, 5, 6, 9],
    6: [6, 2, 4, 7],
}

# Three clinicians of unequal sizes, worked by hand in fractions:
# means 3, 6, 4; grand mean 40/9; SSB = (2*169 + 3*196 + 4*16)/81 = 110/9, MSB = 55/9;
# SSW = 2 + 2 + 20 = 24, MSW = 24/6 = 4; n0 = (9 - 29/9)/2 = 26/9;
# ICC = (55/9 - 4) / (55/9 + (26/9 - 1)*4) = (19/9) / (123/9) = 19/123.
UNEQUAL = {"ann": [2, 4], "bob": [5, 6, 7], "cat": [1, 3, 5, 7]}


# --- ICC(1): worked examples ------------------------------------------------------------------------------


def test_it_reproduces_shrout_and_fleiss_one_way_icc():
    anova = one_way_anova(SHROUT_FLEISS)

    assert round(anova.ms_between, 2) == 11.24
    assert round(anova.ms_within, 2) == 6.26
    assert anova.n0 == 4.0
    assert round(icc1(SHROUT_FLEISS), 2) == 0.17


def test_it_computes_icc_for_unequal_groups_with_n0_as_worked_by_hand():
    anova = one_way_anova(UNEQUAL)

    assert anova.ms_between == pytest.approx(55 / 9, rel=1e-15)
    assert anova.ms_within == pytest.approx(4.0, rel=1e-15)
    assert anova.n0 == pytest.approx(26 / 9, rel=1e-15)
    assert icc1(UNEQUAL) == pytest.approx(float(Fraction(19, 123)), rel=1e-14)


def test_it_computes_icc_for_equal_groups_as_worked_by_hand():
    # Means 2 and 5, grand mean 3.5: MSB = 13.5, MSW = 4/4 = 1, n0 = 3; ICC = 12.5/15.5 = 25/31.
    assert icc1({"a": [1, 2, 3], "b": [4, 5, 6]}) == pytest.approx(25 / 31, rel=1e-15)


def test_it_leaves_clinicians_with_one_dyad_out_of_the_icc():
    assert icc1({**UNEQUAL, "dan": [100.0], "eve": [0.0]}) == icc1(UNEQUAL)


def test_it_gives_no_icc_with_fewer_than_two_clinicians_of_two_dyads():
    assert icc1({}) is None
    assert icc1({"ann": [1.0, 2.0, 3.0]}) is None
    assert icc1({"ann": [1.0, 2.0, 3.0], "bob": [50.0]}) is None


def test_it_gives_no_icc_when_every_score_is_the_same():
    # MSB = MSW = 0: the formula is 0/0, and clinicians neither differ nor vary.
    assert icc1({"ann": [80.0, 80.0], "bob": [80.0, 80.0, 80.0]}) is None


def test_it_keeps_a_negative_estimate_at_zero():
    # Equal means, spread within: MSB = 0 < MSW, so the raw estimate is -1/(n0-1).
    assert icc1({"ann": [40.0, 60.0], "bob": [30.0, 70.0]}) == 0.0


# --- ICC(1): properties ---------------------------------------------------------------------------------------

scores = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)
whole_scores = st.integers(min_value=0, max_value=100)


@given(st.dictionaries(st.integers(0, 20), st.lists(scores, min_size=1, max_size=12), max_size=8))
def test_it_keeps_icc_within_zero_and_one(groups):
    icc = icc1(groups)

    assert icc is None or 0.0 <= icc <= 1.0


@given(st.lists(st.tuples(whole_scores, st.integers(2, 10)), min_size=2, max_size=8))
def test_it_gives_icc_one_when_clinicians_differ_and_their_patients_agree(levels):
    assume(len({level for level, _size in levels}) > 1)  # some variance between clinicians
    groups = {index: [float(level)] * size for index, (level, size) in enumerate(levels)}

    assert icc1(groups) == 1.0


@given(
    whole_scores.filter(lambda centre: 10 <= centre <= 90),
    st.lists(st.lists(st.integers(0, 10), min_size=1, max_size=5), min_size=2, max_size=8),
)
def test_it_gives_icc_zero_when_every_clinician_has_the_same_mean(centre, spreads):
    assume(any(spread for group in spreads for spread in group))  # some variance within clinicians
    # Each clinician's patients sit in pairs around the same centre, so every mean is exactly the centre.
    groups = {
        index: [float(centre + sign * spread) for spread in group for sign in (1, -1)]
        for index, group in enumerate(spreads)
    }

    assert icc1(groups) == 0.0


@given(
    st.dictionaries(st.integers(0, 20), st.lists(whole_scores, min_size=2, max_size=10), min_size=2, max_size=6),
    st.floats(0.1, 10.0),
    st.floats(-50.0, 50.0),
)
def test_it_gives_the_same_icc_on_any_linear_rescaling_of_the_scores(groups, scale, shift):
    icc = icc1(groups)
    rescaled = icc1({key: [scale * value + shift for value in values] for key, values in groups.items()})

    if icc is None:
        assert rescaled is None
    else:
        assert rescaled == pytest.approx(icc, abs=1e-9)


# --- Reliability and patients needed -------------------------------------------------------------------------


def test_it_gives_spearman_brown_reliability_as_worked_by_hand():
    assert spearman_brown(10, 0.05) == pytest.approx(0.5 / 1.45, rel=1e-15)
    assert spearman_brown(45, 0.05) == pytest.approx(2.25 / 3.2, rel=1e-15)
    assert spearman_brown(1, 0.3) == pytest.approx(0.3, rel=1e-15)
    assert spearman_brown(7, 0.0) == 0.0
    assert spearman_brown(7, 1.0) == 1.0
    assert spearman_brown(7, None) is None


def test_it_refuses_a_reliability_of_no_patients_or_an_icc_outside_zero_and_one():
    with pytest.raises(ValueError):
        spearman_brown(0, 0.1)
    with pytest.raises(ValueError):
        spearman_brown(5, 1.5)


@given(st.floats(0.0, 1.0), st.integers(1, 10_000))
def test_it_never_lowers_reliability_as_patients_are_added(icc, n):
    assert spearman_brown(n + 1, icc) >= spearman_brown(n, icc)


@given(st.floats(0.001, 0.5), st.integers(1, 1000))
def test_it_raises_reliability_strictly_with_each_patient_when_clinicians_differ(icc, n):
    assert spearman_brown(n + 1, icc) > spearman_brown(n, icc)


def test_it_needs_45_patients_at_an_icc_of_five_hundredths():
    # n = 0.7 * 0.95 / (0.05 * 0.3) = 44.33..., rounded up.
    assert patients_for_reliability(0.05) == 45
    assert patients_for_reliability(0.05, target=0.8) == math.ceil(0.8 * 0.95 / (0.05 * 0.2))


def test_it_needs_no_patients_count_when_clinicians_do_not_differ():
    assert patients_for_reliability(0.0) is None
    assert patients_for_reliability(None) is None
    assert patients_for_reliability(1.0) == 1


def test_it_asks_for_exactly_the_patients_whose_reliability_reaches_the_target_on_whole_quotients():
    # ICC 0.5, target 0.75: the quotient is exactly 3, and 3 patients give exactly 0.75.
    assert patients_for_reliability(0.5, target=0.75) == 3
    assert spearman_brown(3, 0.5) >= 0.75 > spearman_brown(2, 0.5)


@given(st.floats(1e-4, 1.0), st.floats(0.05, 0.95))
def test_it_gives_the_smallest_number_of_patients_reaching_the_target(icc, target):
    n = patients_for_reliability(icc, target)

    assert spearman_brown(n, icc) >= target
    assert n == 1 or spearman_brown(n - 1, icc) < target
    assert abs(n - math.ceil(target * (1 - icc) / (icc * (1 - target)))) <= 1


# --- Funnel --------------------------------------------------------------------------------------------------


def test_it_places_means_on_the_funnel_by_their_distance_in_standard_errors():
    # s = 10, n = 4: one standard error is 5, so the limits are 9.79982 and 15.45116 from the centre.
    def position(mean):
        return funnel_position(mean, 4, 50.0, 10.0)

    assert position(50.0) == INSIDE
    assert position(59.79) == INSIDE
    assert position(40.21) == INSIDE
    assert position(59.81) == ABOVE_95
    assert position(40.19) == BELOW_95
    assert position(65.45) == ABOVE_95
    assert position(65.46) == ABOVE_998
    assert position(34.54) == BELOW_998


def test_it_keeps_a_mean_exactly_on_the_95_limit_inside_and_one_on_the_998_limit_at_95():
    # s = 2, n = 4: one standard error is exactly 1.
    assert funnel_position(Z_95, 4, 0.0, 2.0) == INSIDE
    assert funnel_position(-Z_998, 4, 0.0, 2.0) == BELOW_95
    assert funnel_position(Z_998, 4, 0.0, 2.0) == ABOVE_95


def test_it_narrows_the_funnel_as_patients_are_added():
    assert funnel_position(56.0, 4, 50.0, 10.0) == INSIDE
    assert funnel_position(56.0, 16, 50.0, 10.0) == ABOVE_95
    assert funnel_position(56.0, 36, 50.0, 10.0) == ABOVE_998


def test_it_draws_the_same_limits_it_places_means_by():
    limits = funnel_limits(50.0, 10.0, range(1, 61))

    assert [limit.n for limit in limits] == list(range(1, 61))
    four = limits[3]
    assert four.upper_95 == pytest.approx(50 + Z_95 * 5, rel=1e-15)
    assert four.lower_998 == pytest.approx(50 - Z_998 * 5, rel=1e-15)
    for limit in limits:
        assert limit.lower_998 < limit.lower_95 < 50.0 < limit.upper_95 < limit.upper_998
        # A limit is a sum rounded to a float: a hair inside it is inside, a hair beyond it is beyond.
        assert funnel_position(limit.upper_95 - 1e-9, limit.n, 50.0, 10.0) == INSIDE
        assert funnel_position(limit.lower_95 + 1e-9, limit.n, 50.0, 10.0) == INSIDE
        assert funnel_position(limit.upper_95 + 1e-9, limit.n, 50.0, 10.0) == ABOVE_95
        assert funnel_position(limit.lower_998 + 1e-9, limit.n, 50.0, 10.0) == BELOW_95
        assert funnel_position(limit.lower_95 - 1e-9, limit.n, 50.0, 10.0) == BELOW_95
        assert funnel_position(limit.upper_998 + 1e-9, limit.n, 50.0, 10.0) == ABOVE_998


@given(scores, st.integers(1, 500), scores, st.floats(0.0, 50.0))
def test_it_places_every_mean_in_exactly_one_region_that_matches_its_side(mean, n, centre, sd):
    position = funnel_position(mean, n, centre, sd)

    assert position in stats.FUNNEL_POSITIONS
    if position.startswith("above"):
        assert mean > centre
    if position.startswith("below"):
        assert mean < centre


# --- Ceiling and design effect ---------------------------------------------------------------------------------


def test_it_counts_scores_at_the_ceiling_allowing_for_rounding():
    assert ceiling_share([100.0, 100 * (1 - 1e-16), 99.9, 50.0]) == 0.5
    assert ceiling_share([100.0, 100.0]) == 1.0
    assert ceiling_share([0.0, 99.0]) == 0.0
    assert ceiling_share([]) is None


def test_it_gives_kishs_design_effect():
    assert design_effect(10.0, 0.05) == pytest.approx(1.45, rel=1e-15)
    assert design_effect(1.0, 0.3) == 1.0
    assert design_effect(25.0, 0.0) == 1.0
    assert design_effect(25.0, None) is None


def test_it_widens_an_interval_by_the_root_of_the_design_effect_around_the_mean():
    plain = summarize([40.0, 55.0, 70.0, 85.0, 100.0])
    wide = widened(plain, 2.25)
    assert (wide.n, wide.mean, wide.sd) == (plain.n, plain.mean, plain.sd)
    assert wide.ci_high - wide.mean == pytest.approx(1.5 * (plain.ci_high - plain.mean), rel=1e-15)
    assert wide.mean - wide.ci_low == pytest.approx(1.5 * (plain.mean - plain.ci_low), rel=1e-15)


@pytest.mark.parametrize("deff", [None, 1.0, 0.9])
def test_it_leaves_an_interval_alone_without_clustering(deff):
    plain = summarize([40.0, 55.0, 70.0])
    assert widened(plain, deff) == plain
    assert widened(summarize([70.0]), 3.0) == summarize([70.0])  # no interval to widen


def test_it_gives_the_design_effect_from_summaries_over_the_clinicians_taking_part():
    groups = {key: summarize(values) for key, values in UNEQUAL.items()}
    compared = compare_summaries({key: (g.n, g.mean, g.sd) for key, g in groups.items()} | {"dan": (1, 100.0, None)})
    assert compared.design_effect == pytest.approx(1 + (9 / 3 - 1) * 19 / 123, rel=1e-12)


# --- One domain -----------------------------------------------------------------------------------------------


def test_it_compares_clinicians_over_those_with_two_dyads_or_more():
    result = compare_clinicians("valuing", {**UNEQUAL, "dan": [100.0], "eve": [None, None]})

    assert result.domain == "valuing"
    assert [c.clinician for c in result.clinicians] == ["ann", "bob", "cat"]
    assert [c.n for c in result.clinicians] == [2, 3, 4]
    assert [c.mean for c in result.clinicians] == [3.0, 6.0, 4.0]
    assert result.left_out == ("dan",)
    assert result.icc == pytest.approx(19 / 123, rel=1e-14)
    assert result.practice_mean == pytest.approx(40 / 9, rel=1e-15)
    assert result.within_sd == pytest.approx(2.0, rel=1e-15)
    assert result.design_effect == pytest.approx(1 + (3 - 1) * 19 / 123, rel=1e-14)
    assert result.ceiling_share == 0.0
    for clinician in result.clinicians:
        assert clinician.reliability == pytest.approx(spearman_brown(clinician.n, 19 / 123), rel=1e-14)
        assert not clinician.reliable
    assert result.patients_needed == patients_for_reliability(result.icc)


def test_it_drops_missing_scores_before_counting_dyads():
    result = compare_clinicians("hope", {"ann": [80.0, None, 60.0], "bob": [100.0, 90.0, None]})

    assert [c.n for c in result.clinicians] == [2, 2]
    assert result.ceiling_share == 0.25


def test_it_gives_no_figures_when_no_clinician_has_two_dyads():
    result = compare_clinicians("trust", {"ann": [90.0], "bob": [70.0], "cat": []})

    assert result.clinicians == ()
    assert result.left_out == ("ann", "bob")
    assert (result.icc, result.design_effect, result.ceiling_share) == (None, None, None)
    assert (result.practice_mean, result.within_sd, result.patients_needed) == (None, None, None)


def test_it_gives_one_clinician_a_mean_and_funnel_but_no_icc_or_reliability():
    result = compare_clinicians("known", {"ann": [100.0, 80.0, 90.0]})

    (ann,) = result.clinicians
    assert (result.icc, result.design_effect) == (None, None)
    assert (ann.n, ann.mean, ann.reliability, ann.funnel) == (3, 90.0, None, INSIDE)
    assert not ann.reliable
    assert result.ceiling_share == pytest.approx(1 / 3)
    assert result.within_sd == pytest.approx(10.0, rel=1e-15)


# --- An independent implementation ------------------------------------------------------------------------------


def numpy_figures(groups: dict) -> dict:
    """The same figures by another road: numpy's sums, SSB as the total sum of squares minus the within one,
    n0 written as (N^2 - sum(n_j^2)) / (N*(J-1)), funnel regions from z-scores: no line shared with the module."""
    arrays = {key: np.asarray(values, dtype=np.float64) for key, values in groups.items() if len(values) >= 2}
    everything = np.concatenate(list(arrays.values()))
    sizes = np.array([a.size for a in arrays.values()], dtype=np.float64)
    n, j = everything.size, len(arrays)
    total = np.sum((everything - everything.mean()) ** 2)
    within = sum(np.sum((a - a.mean()) ** 2) for a in arrays.values())
    msb, msw = (total - within) / (j - 1), within / (n - j)
    n0 = (n**2 - np.sum(sizes**2)) / (n * (j - 1))
    icc = float(np.clip((msb - msw) / (msb + (n0 - 1) * msw), 0.0, 1.0))
    s = float(np.sqrt(msw))
    m = float(everything.mean())
    clinicians = {}
    for key, a in arrays.items():
        se = s / np.sqrt(a.size)
        z = (a.mean() - m) / se
        side = "above" if z > 0 else "below"
        funnel = INSIDE if abs(z) <= Z_95 else f"{side}_998" if abs(z) > Z_998 else f"{side}_95"
        clinicians[key] = (a.size, float(a.mean()), float(a.size * icc / (1 + (a.size - 1) * icc)), funnel)
    return {
        "icc": icc,
        "design_effect": float(1 + (sizes.mean() - 1) * icc),
        "ceiling_share": float(np.mean(np.isclose(everything, 100.0, rtol=0, atol=1e-9))),
        "practice_mean": m,
        "within_sd": s,
        "clinicians": clinicians,
    }


def realistic_practice(seed: int) -> dict:
    """Domain scores as the patient questionnaire makes them (multiples of 100/12 and 100/16), many at 100."""
    rng = np.random.default_rng(seed)
    practice = {}
    for index in range(9):
        size = int(rng.integers(1, 31))  # some clinicians have a single dyad and take no part
        effect = rng.normal(0, 4)
        raw = np.clip(rng.normal(78 + effect, 15, size), 0, 100)
        grid = 100 / (12 if index % 2 else 16)
        practice[f"clinician-{index:02d}"] = [float(v) for v in np.round(raw / grid) * grid]
    return practice


FIXED_DATA = [
    SHROUT_FLEISS,
    UNEQUAL,
    {
        "a": [100.0, 100.0, 91.66666666666667, 75.0],
        "b": [100.0, 83.33333333333333],
        "c": [58.333333333333336, 100.0, 66.66666666666667],
    },
    realistic_practice(2024),
    realistic_practice(7),
    realistic_practice(31337),
    # One clinician far below the rest, so that the comparison reaches the outer limits too.
    {**realistic_practice(99), "zz-outlier": [25.0, 37.5, 43.75, 50.0, 31.25, 56.25, 43.75, 37.5]},
]


@pytest.mark.parametrize("groups", FIXED_DATA)
def test_it_agrees_with_an_independent_numpy_implementation(groups):
    expected = numpy_figures(groups)
    result = compare_clinicians("valuing", groups)

    assert result.icc == pytest.approx(expected["icc"], abs=1e-12)
    assert result.design_effect == pytest.approx(expected["design_effect"], abs=1e-12)
    assert result.ceiling_share == pytest.approx(expected["ceiling_share"], abs=1e-12)
    assert result.practice_mean == pytest.approx(expected["practice_mean"], abs=1e-12)
    assert result.within_sd == pytest.approx(expected["within_sd"], abs=1e-12)
    assert {c.clinician for c in result.clinicians} == set(expected["clinicians"])
    for clinician in result.clinicians:
        n, mean, reliability, funnel = expected["clinicians"][clinician.clinician]
        assert clinician.n == n
        assert clinician.mean == pytest.approx(mean, abs=1e-12)
        assert clinician.reliability == pytest.approx(reliability, abs=1e-12)
        assert clinician.funnel == funnel
    assert icc1(groups) == result.icc


def test_it_finds_real_looking_practices_spread_over_the_funnel():
    # The fixed data are not all "inside": the comparison above checks every region it reaches.
    positions = {c.funnel for groups in FIXED_DATA for c in compare_clinicians("valuing", groups).clinicians}

    assert {INSIDE, ABOVE_95, BELOW_95, BELOW_998} <= positions


# --- the same figures from summaries (what pages have: n, mean, sd per clinician) ----------------------


def _summaries(groups):
    return {
        key: (len(values), statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None)
        for key, values in groups.items()
    }


@given(
    st.dictionaries(
        st.integers(0, 20),
        st.lists(st.integers(0, 100).map(float), min_size=2, max_size=12),
        min_size=2,
        max_size=6,
    )
)
def test_the_anova_from_summaries_equals_the_anova_of_the_values(groups):
    from_values = one_way_anova(groups)
    from_summaries = anova_from_summaries(_summaries(groups))
    for field in ("groups", "values", "grand_mean", "ms_between", "ms_within", "n0"):
        assert getattr(from_summaries, field) == pytest.approx(getattr(from_values, field), rel=1e-9, abs=1e-9)


def test_compare_summaries_gives_the_reliability_and_funnel_of_compare_clinicians():
    groups = {"ann": [60.0, 70.0, 80.0, 75.0], "bob": [40.0, 55.0, 50.0], "cy": [90.0, 85.0, 95.0, 100.0, 80.0], "dee": [70.0]}
    compared = compare_summaries(_summaries(groups))
    icc, comparisons = compared.icc, compared.clinicians
    reference = compare_clinicians("valuing", groups)
    assert icc == pytest.approx(reference.icc, abs=1e-12)
    assert set(comparisons) == {c.clinician for c in reference.clinicians}  # one dyad: not compared
    for clinician in reference.clinicians:
        assert comparisons[clinician.clinician].reliability == pytest.approx(clinician.reliability, abs=1e-12)
        assert comparisons[clinician.clinician].funnel == clinician.funnel


def test_equal_scores_that_floats_cannot_hold_exactly_give_no_icc():
    """0.1 is not a float: three of them average a unit in the last place off two of them. Found by hypothesis
    (the rescaling property): the rounding gave an ICC of 0.45 where every score is the same."""
    assert icc1({0: [0.1, 0.1], 1: [0.1, 0.1, 0.1]}) is None
    assert icc1({0: [0.0, 0.0], 1: [0.0, 0.0, 0.0]}) is None
