"""measurement.control: the X-bar chart of rolling-quarter means and when it calls a change.

No database: the textbook formula (Montgomery 2013, section 6.3.1) written again with numpy and checked by hypothesis,
hand examples, and a seeded simulation of overlapping rolling quarters with no true change.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from measurement import control

point = st.tuples(
    st.integers(1, 80),
    st.floats(0, 100, allow_nan=False),
    st.floats(0, 50, allow_nan=False),
)
points = st.lists(st.one_of(st.none(), point), max_size=14)


def textbook(points):
    """x-double-bar, pooled s and centre ± 3 s / sqrt(n_i), with numpy arrays."""
    shown = [p for p in points if p is not None]
    n = np.array([p[0] for p in shown], dtype=float)
    mean = np.array([p[1] for p in shown])
    sd = np.array([p[2] for p in shown])
    centre = float((n * mean).sum() / n.sum())
    pooled = math.sqrt(float(((n - 1) * sd**2).sum() / (n - 1).sum()))
    return centre, pooled, centre - 3 * pooled / np.sqrt(n), centre + 3 * pooled / np.sqrt(n)


@given(points)
def test_the_chart_is_the_textbook_x_bar_chart_with_variable_subgroup_sizes(drawn):
    chart = control.control_chart(drawn)
    shown = [p for p in drawn if p is not None]
    if len(shown) < control.MIN_POINTS or sum(p[0] - 1 for p in shown) == 0:
        assert chart is None
        return
    centre, pooled, lower, upper = textbook(drawn)
    assert chart.centre == pytest.approx(centre, abs=1e-9)
    assert chart.sigma == pytest.approx(pooled, abs=1e-9)
    charted = [c for c in chart.points if c is not None]
    assert [c.lower for c in charted] == pytest.approx(list(lower), abs=1e-9)
    assert [c.upper for c in charted] == pytest.approx(list(upper), abs=1e-9)
    assert [c is None for c in chart.points] == [p is None for p in drawn]
    for c, p in zip(charted, shown):
        assert c.called == (p[1] < c.lower or p[1] > c.upper)


@given(points)
def test_limits_narrow_as_a_window_holds_more_patients(drawn):
    chart = control.control_chart(drawn)
    if chart is None:
        return
    pairs = [(p[0], c.upper - c.lower) for p, c in zip(drawn, chart.points) if p is not None]
    for (n1, width1), (n2, width2) in zip(pairs, pairs[1:]):
        if n1 < n2:
            assert width1 >= width2 - 1e-9


def test_a_hand_computed_chart():
    # centre = (10*70 + 40*80) / 50 = 78; pooled sd = sqrt((9*100 + 39*100) / 48) = 10
    chart = control.control_chart([(10, 70.0, 10.0), None, (40, 80.0, 10.0)])
    assert chart.centre == pytest.approx(78.0)
    assert chart.sigma == pytest.approx(10.0)
    first, missing, last = chart.points
    assert missing is None
    assert (first.lower, first.upper) == pytest.approx((78 - 30 / math.sqrt(10), 78 + 30 / math.sqrt(10)))
    assert (last.lower, last.upper) == pytest.approx((78 - 30 / math.sqrt(40), 78 + 30 / math.sqrt(40)))
    assert not first.called and not last.called


def test_a_point_beyond_its_limits_is_called():
    chart = control.control_chart([(50, 75.0, 10.0)] * 5 + [(50, 90.0, 10.0)])
    assert [p.called for p in chart.points] == [False] * 5 + [True]


def test_one_point_or_no_spread_gives_no_limits():
    assert control.control_chart([(30, 70.0, 10.0), None]) is None
    assert control.control_chart([(1, 70.0, None), (1, 80.0, None)]) is None


def _demo_like_scores(rng: np.random.Generator, size: int, clinician_effects: np.ndarray) -> np.ndarray:
    """Scores as the questionnaires give them: the mean of four 1-5 answers on 0-100, piled towards the top,
    patients clustered within clinicians (an ICC of about 0.05)."""
    clinicians = rng.integers(0, len(clinician_effects), size)
    latent = 3.9 + clinician_effects[clinicians] + rng.normal(0, 0.75, size)
    answers = np.clip(np.rint(latent[:, None] + rng.normal(0, 0.5, (size, 4))), 1, 5)
    return 100 * (answers.mean(axis=1) - 1) / 4


def test_with_no_true_change_at_most_5_percent_of_rolling_quarters_are_called():
    """2,000 practices x 12 rolling quarters (14 months of 17-36 dyads each), no trend: each window's points
    overlap its neighbours', as on the pages. The share of points called must stay at most 5% (it is near the
    nominal 0.27%)."""
    rng = np.random.default_rng(20261205)
    called = total = 0
    for _practice in range(2000):
        clinician_effects = rng.normal(0, 0.17, 10)
        months = [_demo_like_scores(rng, int(rng.integers(17, 37)), clinician_effects) for _ in range(14)]
        windows = [np.concatenate(months[end - 2 : end + 1]) for end in range(2, 14)]
        chart = control.control_chart([(len(w), float(w.mean()), float(w.std(ddof=1))) for w in windows])
        called += sum(p.called for p in chart.points)
        total += len(chart.points)
    assert total == 24000
    assert called / total <= 0.05
    assert called / total < 0.02  # in fact close to the normal tail beyond 3 sigma


def test_a_real_shift_is_called():
    """The limits are not so wide that they never call: a 10-point fall in the last three months is seen."""
    rng = np.random.default_rng(7)
    effects = rng.normal(0, 0.17, 10)
    months = [_demo_like_scores(rng, 30, effects) for _ in range(14)]
    months[-3:] = [np.clip(m - 10, 0, 100) for m in months[-3:]]
    windows = [np.concatenate(months[end - 2 : end + 1]) for end in range(2, 14)]
    chart = control.control_chart([(len(w), float(w.mean()), float(w.std(ddof=1))) for w in windows])
    assert chart.points[-1].called
