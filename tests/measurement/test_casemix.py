"""Case-mix adjustment (measurement/casemix.py): the fit from cells is the row-level OLS, and adjusting takes out
differences that are only case mix."""

import random

import numpy as np
import pytest

from measurement import casemix
from measurement.casemix import COVARIATES, MIN_CASEMIX_DYADS, NOT_ANSWERED, adjust, cells_from_scores

NONE = (None,) * len(COVARIATES)


def answers(age=None, education=None, general=None, mental=None, time=None) -> tuple:
    return (age, education, general, mental, time)


def test_the_fit_is_the_hand_computed_least_squares_solution():
    # score = b0 + b1·[clinician B] + b2·[65-74], six dyads. The normal equations by hand:
    #   [6 3 3; 3 3 2; 3 2 3] b = [390; 200; 240]  ->  b = (52.5, -7.5, 32.5)
    # Half the dyads are 65-74, so the adjusted means are b0 + b2/2 = 68.75 (A) and 68.75 - 7.5 = 61.25 (B),
    # against raw means of 190/3 (A) and 200/3 (B): A's patients were younger.
    young, old = answers(age="18_34"), answers(age="65_74")
    rows = [("A", young, 50), ("A", young, 60), ("A", old, 80), ("B", young, 40), ("B", old, 70), ("B", old, 90)]
    fit = adjust(cells_from_scores(rows))
    (age,) = [c for c in fit.coefficients if c.covariate == "age_band"]
    assert age.levels == ("65_74",) and age.reference == ("18_34",) and age.n == 3
    assert age.estimate.estimate == pytest.approx(32.5)
    assert fit.difference("B", "A").estimate == pytest.approx(-7.5)
    assert fit.clinicians["A"].adjusted.estimate == pytest.approx(68.75)
    assert fit.clinicians["B"].adjusted.estimate == pytest.approx(61.25)
    assert fit.clinicians["A"].raw_mean == pytest.approx(190 / 3)
    assert fit.n == 6 and fit.df == 3


def _random_rows(seed: int, n: int = 240):
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        clinician = rng.choice(["ana", "ben", "chloe"])
        given = tuple(rng.choice(levels + (None,)) if rng.random() < 0.9 else None for levels in COVARIATES.values())
        score = 60 + (5 if clinician == "ben" else 0) + (8 if given[2] in ("excellent", "very_good") else 0)
        rows.append((clinician, given, min(100.0, max(0.0, score + rng.gauss(0, 12)))))
    return rows


def test_coefficients_and_robust_errors_match_statsmodels_on_the_rows():
    import statsmodels.api as sm

    rows = _random_rows(3)
    fit = adjust(cells_from_scores(rows))
    # The same design, row by row: clinician dummies (ana the reference) and every level of every question but
    # its most common one (which the fit takes as reference), skipped answers a level of their own.
    coded = [
        {"clinician": c, **{name: (a if a is not None else NOT_ANSWERED) for name, a in zip(COVARIATES, given)}}
        for c, given, _score in rows
    ]
    columns = [("clinician", "ben"), ("clinician", "chloe")] + [
        (coefficient.covariate, coefficient.levels[0]) for coefficient in fit.coefficients
    ]
    x = np.array([[1.0] + [1.0 if row[name] == level else 0.0 for name, level in columns] for row in coded])
    y = np.array([score for _c, _g, score in rows])
    reference = sm.OLS(y, x).fit(cov_type="HC1", use_t=True)  # t on the residual df, as the fit
    assert all(len(coefficient.levels) == 1 for coefficient in fit.coefficients)  # min_level_n=1: nothing pooled
    for i, coefficient in enumerate(fit.coefficients, start=3):
        assert coefficient.estimate.estimate == pytest.approx(reference.params[i], abs=1e-8)
        assert coefficient.estimate.se == pytest.approx(reference.bse[i], rel=1e-8)
    ben = fit.difference("ben", "ana")
    assert ben.estimate == pytest.approx(reference.params[1], abs=1e-8)
    assert ben.se == pytest.approx(reference.bse[1], rel=1e-8)
    low, high = reference.conf_int()[1]
    assert (ben.ci_low, ben.ci_high) == (pytest.approx(low, abs=1e-6), pytest.approx(high, abs=1e-6))
    # Recycled predictions: every row, with the clinician set to chloe, predicted and averaged.
    recycled = x.copy()
    recycled[:, 1], recycled[:, 2] = 0.0, 1.0
    assert fit.clinicians["chloe"].adjusted.estimate == pytest.approx(reference.predict(recycled).mean(), abs=1e-8)
    assert fit.r_squared == pytest.approx(reference.rsquared, abs=1e-10)


def _two_clinicians_differing_only_in_case_mix(seed: int = 5):
    """The same clinician effect (none); ana sees older patients in better health, ben younger ones in worse."""
    rng = random.Random(seed)
    rows = []
    for clinician, older, healthier in (("ana", 0.8, 0.8), ("ben", 0.2, 0.2)):
        for _ in range(120):
            age = "65_74" if rng.random() < older else "18_34"
            health = "excellent" if rng.random() < healthier else "fair"
            score = 55 + (8 if age == "65_74" else 0) + (12 if health == "excellent" else 0) + rng.gauss(0, 8)
            rows.append((clinician, answers(age=age, general=health), score))
    return rows


def test_two_clinicians_who_differ_only_in_case_mix_differ_by_chance_once_adjusted():
    rows = _two_clinicians_differing_only_in_case_mix()
    fit = adjust(cells_from_scores(rows), min_level_n=5)
    assert fit.enough
    adjusted = fit.difference("ana", "ben")
    assert adjusted.holds(0.0)
    # The raw difference is the same model without the questions: every dyad "not answered".
    raw = adjust(cells_from_scores([(c, NONE, score) for c, _a, score in rows])).difference("ana", "ben")
    assert not raw.holds(0.0)
    assert raw.estimate > 10
    ana, ben = fit.clinicians["ana"], fit.clinicians["ben"]
    assert ana.raw_mean - ben.raw_mean == pytest.approx(raw.estimate)
    assert ana.adjusted.estimate - ben.adjusted.estimate == pytest.approx(adjusted.estimate)


def test_adjusted_means_are_shown_only_with_enough_answers_and_two_clinicians():
    rows = _two_clinicians_differing_only_in_case_mix()
    few = [(c, a, s) for c, a, s in rows[: MIN_CASEMIX_DYADS - 1]] + [
        (c, NONE, s) for c, _a, s in rows[MIN_CASEMIX_DYADS - 1 :]
    ]
    assert not adjust(cells_from_scores(few)).enough
    enough = [(c, a, s) for c, a, s in rows[:MIN_CASEMIX_DYADS]] + [(c, NONE, s) for c, _a, s in rows[MIN_CASEMIX_DYADS:]]
    assert adjust(cells_from_scores(enough)).enough
    one_clinician = [row for row in rows if row[0] == "ana"]
    assert not adjust(cells_from_scores(one_clinician)).enough
    assert adjust([]) is None


def test_sparse_answers_are_pooled_so_no_coefficient_rests_on_fewer_than_the_minimum():
    rows = [("A", answers(age="18_34"), 50.0 + i % 7) for i in range(20)]
    rows += [("B", answers(age="35_49"), 60.0 + i % 5) for i in range(20)]
    rows += [("A", answers(age="75_plus"), 90.0), ("B", answers(age="75_plus"), 88.0)]  # two patients over 75
    rows += [("A", NONE, 70.0)]  # one skipped
    fit = adjust(cells_from_scores(rows), min_level_n=5)
    for coefficient in fit.coefficients:
        assert coefficient.n >= 5
    (age,) = [c for c in fit.coefficients if c.covariate == "age_band"]
    # The two over 75 join their nearest given answers (35-49), which makes that group the most common (22): the
    # reference, which the one skip joins too.
    assert age.levels == ("18_34",)
    assert age.reference == ("35_49", "75_plus", NOT_ANSWERED)
    # A question nobody answered has one group and no coefficient.
    assert {c.covariate for c in fit.coefficients} == {"age_band"}


def test_a_patient_who_skips_every_question_makes_aliased_columns_not_an_error():
    # Everyone either answered both questions or neither: the two "not answered" columns are the same column.
    rng = random.Random(1)
    rows = []
    for i in range(80):
        clinician = "A" if i % 2 else "B"
        if i % 4 == 0:
            rows.append((clinician, NONE, 50 + rng.gauss(0, 5)))
        else:
            rows.append((clinician, answers(age=rng.choice(["18_34", "50_64"]), general=rng.choice(["good", "poor"])),
                         60 + rng.gauss(0, 5)))
    fit = adjust(cells_from_scores(rows), min_level_n=5)
    aliased = [c for c in fit.coefficients if c.estimate is None]
    assert len(aliased) == 1 and NOT_ANSWERED in aliased[0].levels
    assert fit.difference("A", "B") is not None
    assert all(np.isfinite(m.adjusted.estimate) for m in fit.clinicians.values())


def test_the_covariates_are_the_cahps_like_questions():
    assert list(COVARIATES) == ["age_band", "education", "general_health", "mental_health", "time_with_clinician"]
    assert casemix.HEALTH == ("excellent", "very_good", "good", "fair", "poor")


@pytest.mark.parametrize("seed", range(20))
def test_the_columns_kept_are_those_that_add_rank_in_order(seed):
    # Independent of the elimination: a column is kept when it raises the rank of the columns kept before it.
    rng = np.random.default_rng(seed)
    x = (rng.random((40, 8)) < 0.4).astype(float)
    x[:, 3] = x[:, 1] + x[:, 2]  # aliased: a sum of earlier columns
    x[:, 5] = 0.0  # nobody in this group
    x[:, 7] = x[:, 0] - x[:, 4]
    expected: list[int] = []
    for j in range(x.shape[1]):
        if np.linalg.matrix_rank(x[:, expected + [j]]) > len(expected):
            expected.append(j)
    assert casemix._estimable_columns(x.T @ x) == expected
    assert {3, 5, 7}.isdisjoint(expected)
