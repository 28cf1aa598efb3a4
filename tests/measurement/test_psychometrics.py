"""measurement.psychometrics: Feldt's interval for alpha, McDonald's omega, item-total correlations and item shares.

No database: textbook identities, a published example, properties checked by hypothesis, and independent
implementations (a two-way ANOVA for the interval, statsmodels' ML factor analysis and numpy's corrcoef) that
take another road to the same figures.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.multivariate.factor import Factor

from measurement.psychometrics import (
    TOP_BOX_FLAG_SHARE,
    OneFactor,
    corrected_item_total,
    domain_figures,
    feldt_interval,
    omega_from_factor,
    omega_total,
    one_factor,
    sample_covariance,
)
from measurement.scoring import ALPHA_MIN_RESPONSES, NA, ItemSpec, Scale, cronbach_alpha, domain_scores

SCALE = Scale(1, 5)


def congeneric(n: int, loadings, noise, seed: int = 7) -> np.ndarray:
    """Answers of n people to items that measure one factor with different strengths."""
    rng = np.random.default_rng(seed)
    factor = rng.normal(size=n)
    return np.outer(factor, loadings) + rng.normal(size=(n, len(loadings))) * np.asarray(noise)


# --- Feldt's interval ----------------------------------------------------------------------------------------


def anova_interval(rows: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Alpha's interval the other way round: ICC(C,k) of a persons x items two-way ANOVA, whose point estimate is
    alpha (Hoyt 1941) and whose F-based limits are McGraw KO, Wong SP, Psychol Methods 1996;1:30-46, Table 7."""
    n, k = rows.shape
    grand = rows.mean()
    ss_persons = k * ((rows.mean(axis=1) - grand) ** 2).sum()
    ss_items = n * ((rows.mean(axis=0) - grand) ** 2).sum()
    ss_error = ((rows - grand) ** 2).sum() - ss_persons - ss_items
    ms_persons, ms_error = ss_persons / (n - 1), ss_error / ((n - 1) * (k - 1))
    observed = ms_persons / ms_error
    df1, df2 = n - 1, (n - 1) * (k - 1)
    tail = (1 - confidence) / 2
    f_low = observed / stats.f.ppf(1 - tail, df1, df2)
    f_high = observed * stats.f.ppf(1 - tail, df2, df1)
    return 1 - 1 / f_low, 1 - 1 / f_high


def test_feldt_interval_agrees_with_a_two_way_anova():
    rows = np.rint(np.clip(congeneric(60, [1.0, 0.9, 0.7, 0.6], [0.8, 0.8, 0.9, 1.0]) + 3, 1, 5))
    alpha = cronbach_alpha(rows.tolist())
    low, high = feldt_interval(alpha, *rows.shape)
    expected = anova_interval(rows)
    assert low == pytest.approx(expected[0], abs=1e-10)
    assert high == pytest.approx(expected[1], abs=1e-10)


def test_feldt_interval_by_hand():
    # alpha 0.8 over 50 people and 4 items: 1 - 0.2 * F(0.975; 49, 147) and 1 - 0.2 * F(0.025; 49, 147).
    low, high = feldt_interval(0.8, 50, 4)
    assert low == pytest.approx(1 - 0.2 * stats.f.ppf(0.975, 49, 147), abs=1e-12)
    assert high == pytest.approx(1 - 0.2 * stats.f.ppf(0.025, 49, 147), abs=1e-12)
    assert 0.68 < low < 0.8 < high < 0.88


def test_feldt_interval_is_close_to_bonetts_published_example():
    # Bonett's statpsych: ci.cronbach(.05, .85, 7, 89) gives 0.7971 to 0.8931. statpsych takes n(k - 1)
    # residual degrees of freedom where Feldt, Woodruff and Salih (1987) take (n - 1)(k - 1), which moves the
    # limits in the fourth decimal.
    low, high = feldt_interval(0.85, 89, 7)
    assert low == pytest.approx(0.7971, abs=2e-4)
    assert high == pytest.approx(0.8931, abs=2e-4)


@given(
    alpha=st.floats(-2.0, 0.999),
    n=st.integers(2, 5000),
    k=st.integers(2, 40),
    confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_feldt_interval_holds_alpha_and_stays_below_one(alpha, n, k, confidence):
    low, high = feldt_interval(alpha, n, k, confidence)
    assert low <= alpha <= high
    assert high < 1.0


@given(alpha=st.floats(0.0, 0.99), n=st.integers(10, 400), k=st.integers(2, 12))
def test_feldt_interval_narrows_with_more_people_and_widens_with_more_confidence(alpha, n, k):
    low, high = feldt_interval(alpha, n, k)
    more_low, more_high = feldt_interval(alpha, n * 4, k)
    assert more_high - more_low < high - low
    wide_low, wide_high = feldt_interval(alpha, n, k, 0.99)
    assert wide_low < low and wide_high > high


def test_feldt_interval_refuses_what_it_cannot_say():
    with pytest.raises(ValueError):
        feldt_interval(0.8, 1, 4)
    with pytest.raises(ValueError):
        feldt_interval(0.8, 30, 1)
    with pytest.raises(ValueError):
        feldt_interval(0.8, 30, 4, confidence=1.0)


# --- omega -------------------------------------------------------------------------------------------------


def test_omega_recovers_the_loadings_of_an_exact_one_factor_covariance():
    loadings, uniquenesses = np.array([0.9, 0.7, 0.5, 0.3]), np.array([0.4, 0.6, 0.8, 1.1])
    covariance = np.outer(loadings, loadings) + np.diag(uniquenesses)
    model = one_factor(covariance)
    assert model.loadings == pytest.approx(loadings, abs=1e-5)
    assert model.uniquenesses == pytest.approx(uniquenesses, abs=1e-5)
    # (0.9 + 0.7 + 0.5 + 0.3)^2 / ((2.4)^2 + 2.9) = 5.76 / 8.66
    assert omega_from_factor(model) == pytest.approx(5.76 / 8.66, abs=1e-6)


def test_omega_equals_alpha_for_tau_equivalent_items():
    # Equal loadings and equal uniquenesses: the covariance of tau-equivalent items, for which alpha is the
    # reliability (Lord & Novick 1968) and omega, which does not need that assumption, must agree with it.
    rng = np.random.default_rng(3)
    centred = rng.normal(size=(200, 4))
    centred -= centred.mean(axis=0)
    # Whiten the sample, then give it exactly the covariance 0.6 * 11' + 0.4 * I.
    whitened = centred @ np.linalg.inv(np.linalg.cholesky(np.cov(centred, rowvar=False)).T)
    target = 0.6 * np.ones((4, 4)) + 0.4 * np.eye(4)
    rows = whitened @ np.linalg.cholesky(target).T + 3
    assert np.cov(rows, rowvar=False) == pytest.approx(target, abs=1e-12)
    assert omega_total(rows.tolist()) == pytest.approx(cronbach_alpha(rows.tolist()), abs=1e-6)
    assert cronbach_alpha(rows.tolist()) == pytest.approx(4 * 0.6 / (0.6 * 4 + 0.4), abs=1e-12)


def test_omega_agrees_with_statsmodels_maximum_likelihood():
    rows = congeneric(300, [1.0, 0.8, 0.6, 0.4, 0.7], [0.5, 0.6, 0.8, 1.0, 0.7])
    model = one_factor(sample_covariance(rows))
    fitted = Factor(rows, n_factor=1, method="ml").fit()
    sd = rows.std(axis=0, ddof=1)
    assert np.abs(model.loadings) == pytest.approx(np.abs(fitted.loadings.ravel()) * sd, abs=1e-4)
    assert model.uniquenesses == pytest.approx(fitted.uniqueness * sd**2, abs=1e-4)


def test_omega_is_at_least_alpha_for_congeneric_items():
    rows = congeneric(500, [1.2, 0.9, 0.5, 0.3], [0.6, 0.7, 0.9, 1.0]).tolist()
    assert omega_total(rows) > cronbach_alpha(rows)


def test_omega_needs_30_responses_three_items_and_items_that_vary():
    rows = congeneric(200, [1.0, 0.8, 0.6], [0.5, 0.6, 0.8])
    assert omega_total(rows[: ALPHA_MIN_RESPONSES - 1].tolist()) is None
    assert omega_total(rows[:, :2].tolist()) is None
    constant = rows.copy()
    constant[:, 1] = 3.0
    assert omega_total(constant.tolist()) is None


def test_omega_survives_a_heywood_case_and_identical_items():
    rows = congeneric(100, [1.0, 0.8, 0.6], [0.5, 0.6, 0.8])
    rows = np.column_stack([rows, rows[:, 0]])  # an item that is a copy of another: its uniqueness is 0
    omega = omega_total(rows.tolist())
    assert omega is not None and 0 < omega <= 1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(1, 5), min_size=3, max_size=3), min_size=30, max_size=60))
def test_omega_of_any_answers_is_a_share_or_none(rows):
    omega = omega_total(rows)
    assert omega is None or 0.0 <= omega <= 1.0 + 1e-12


def test_omega_from_factor_by_hand():
    assert omega_from_factor(OneFactor(loadings=(1.0, 1.0, 1.0), uniquenesses=(1.0, 1.0, 1.0))) == 9 / 12


# --- item-total correlations ---------------------------------------------------------------------------------


def test_corrected_item_total_matches_numpy():
    rows = np.rint(np.clip(congeneric(80, [1.0, 0.8, 0.6, 0.2], [0.7, 0.7, 0.9, 1.0]) + 3, 1, 5))
    expected = [np.corrcoef(rows[:, i], rows.sum(axis=1) - rows[:, i])[0, 1] for i in range(4)]
    assert corrected_item_total(rows.tolist()) == pytest.approx(expected, abs=1e-12)


def test_corrected_item_total_of_two_items_is_their_correlation():
    rows = congeneric(50, [1.0, 0.5], [0.5, 0.9])
    r = np.corrcoef(rows[:, 0], rows[:, 1])[0, 1]
    assert corrected_item_total(rows.tolist()) == pytest.approx([r, r], abs=1e-12)


def test_corrected_item_total_is_none_for_an_item_that_never_varies_and_below_30():
    rows = np.rint(np.clip(congeneric(40, [1.0, 0.8, 0.6], [0.7, 0.7, 0.9]) + 3, 1, 5))
    rows[:, 2] = 4
    result = corrected_item_total(rows.tolist())
    assert result[2] is None and all(-1 <= r <= 1 for r in result[:2])
    assert corrected_item_total(rows[:29].tolist()) == [None, None, None]


@given(st.lists(st.lists(st.integers(1, 5), min_size=4, max_size=4), min_size=30, max_size=50))
def test_corrected_item_totals_are_correlations(rows):
    for r in corrected_item_total(rows):
        assert r is None or -1 - 1e-12 <= r <= 1 + 1e-12


# --- a domain's figures ----------------------------------------------------------------------------------


ITEMS = [ItemSpec("A", "valuing"), ItemSpec("B", "valuing"), ItemSpec("C", "valuing", reverse=True)]


def test_domain_figures_count_floor_ceiling_not_applicable_and_missing_per_item():
    responses = (
        [{"A": 5, "B": 5, "C": 1}] * 20  # all at the top: C is reverse-keyed, so its 1 is its most favourable answer
        + [{"A": 1, "B": 3, "C": 5}] * 10  # A and C at the floor
        + [{"A": 3, "B": NA, "C": 2}] * 5  # B does not apply
        + [{"A": 4, "C": 3}] * 5  # B unanswered
    )
    figures = domain_figures("valuing", ITEMS, responses, SCALE)
    a, b, c = figures.items
    assert (figures.responses, figures.complete) == (40, 30)
    assert (a.answered, a.floor, a.ceiling, a.not_applicable, a.missing) == (40, 10, 20, 0, 0)
    assert (b.answered, b.floor, b.ceiling, b.not_applicable, b.missing) == (30, 0, 20, 5, 5)
    assert (c.answered, c.floor, c.ceiling) == (40, 10, 20)
    assert a.ceiling_share == 0.5 and a.floor_share == 0.25
    assert b.ceiling_share == pytest.approx(20 / 30) and b.not_applicable_share == 0.125 and b.missing_share == 0.125
    assert all(item.ceiling_flagged for item in figures.items)


def test_domain_figures_flag_the_top_box_only_above_15_percent():
    responses = [{"A": 5, "B": 4, "C": 2}] * 3 + [{"A": 4, "B": 4, "C": 2}] * 17
    a, b, _c = domain_figures("valuing", ITEMS, responses, SCALE).items
    assert a.ceiling_share == 0.15 and not a.ceiling_flagged  # exactly 15%: not above it
    assert b.ceiling_share == 0 and not b.ceiling_flagged
    responses.append({"A": 5, "B": 4, "C": 2})
    assert domain_figures("valuing", ITEMS, responses, SCALE).items[0].ceiling_share > TOP_BOX_FLAG_SHARE


def test_domain_figures_reverse_score_before_alpha_omega_and_item_totals():
    raw = np.rint(np.clip(congeneric(60, [1.0, 0.9, 0.8], [0.6, 0.6, 0.6]) + 3, 1, 5)).astype(int)
    responses = [{"A": int(a), "B": int(b), "C": 6 - int(c)} for a, b, c in raw]  # C is asked the other way round
    figures = domain_figures("valuing", ITEMS, responses, SCALE)
    assert figures.enough
    assert figures.alpha == pytest.approx(cronbach_alpha(raw.tolist()))
    assert figures.omega == pytest.approx(omega_total(raw.tolist()))
    assert (figures.alpha_low, figures.alpha_high) == pytest.approx(feldt_interval(figures.alpha, 60, 3))
    assert [item.item_total for item in figures.items] == pytest.approx(corrected_item_total(raw.tolist()))
    assert all(item.item_total > 0.3 for item in figures.items)


def test_domain_figures_say_nothing_below_30_complete_responses():
    responses = [{"A": 4, "B": 5, "C": 2}, {"A": 2, "B": 3, "C": 4}] * 14 + [{"A": 4, "B": NA, "C": 2}] * 10
    figures = domain_figures("valuing", ITEMS, responses, SCALE)
    assert figures.complete == 28 and not figures.enough
    assert figures.alpha is figures.alpha_low is figures.alpha_high is figures.omega is None
    assert all(item.item_total is None for item in figures.items)


def test_domain_figures_of_no_responses():
    figures = domain_figures("valuing", ITEMS, [], SCALE)
    assert figures.complete == 0 and not figures.enough and figures.alpha is None
    assert figures.items[0].ceiling_share is None and figures.items[0].missing_share is None


@given(st.lists(st.fixed_dictionaries({
    "A": st.sampled_from([1, 2, 3, 4, 5]), "B": st.sampled_from([1, 2, 3, 4, 5, NA, None]),
    "C": st.sampled_from([1, 2, 3, 4, 5]),
}), max_size=60))
def test_domain_figures_shares_add_up(responses):
    for item in domain_figures("valuing", ITEMS, responses, SCALE).items:
        assume(item.responses)
        assert item.answered + item.not_applicable + item.missing == item.responses
        assert item.floor + item.ceiling <= item.answered


def test_domain_figures_give_the_domains_share_at_100_as_scoring_does():
    responses = (
        [{"A": 5, "B": 5, "C": 1}] * 4  # 100
        + [{"A": 5, "B": NA, "C": 1}] * 2  # 100 over the two scored answers
        + [{"A": 5, "B": 4, "C": 1}] * 3  # not 100
        + [{"A": 5}] * 1  # one answer of three: no domain score
    )
    figures = domain_figures("valuing", ITEMS, responses, SCALE)
    scores = [domain_scores(ITEMS, r, SCALE)["valuing"] for r in responses]
    assert (figures.scored, figures.at_100) == (9, 6)
    assert figures.scored == sum(1 for s in scores if s is not None)
    assert figures.at_100 == sum(1 for s in scores if s == 100.0)
    assert figures.ceiling_share == pytest.approx(6 / 9) and figures.ceiling_flagged
