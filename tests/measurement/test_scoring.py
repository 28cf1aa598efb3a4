"""Scoring (docs/measurement.md): worked examples by hand, the contract's boundaries, and properties that must always hold.

Pure functions: no database, no Django. Run alone with
    python -m pytest tests/measurement/test_scoring.py -p no:django
"""

import ast
import math
import statistics
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from measurement import scoring, suppression
from measurement.scoring import (
    ALPHA_MIN_RESPONSES,
    CAUTION_N,
    COMPETENCY_DOMAINS,
    GAP_FLAG_THRESHOLD,
    NA,
    OUTCOME_DOMAINS,
    PROCESS_DOMAINS,
    SHARED_DOMAINS,
    Gap,
    ItemSpec,
    Scale,
    Summary,
    cronbach_alpha,
    domain_scores,
    indices,
    latest_per_dyad,
    min_answers_required,
    scored_value,
    summarize,
    summarize_moments,
    t_quantile,
    wave_gaps,
)

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "measurement" / "scoring.py"
LIKERT = Scale(1, 5)


def items_of(domain, n, reverse=()):
    """n items of one domain, codes D1..Dn; positions listed in reverse are reverse-keyed."""
    return [ItemSpec(f"{domain}{i}", domain, reverse=i in reverse) for i in range(1, n + 1)]


def answers_for(items, values):
    return {item.code: value for item, value in zip(items, values)}


def all_domains(score):
    return {domain: score for domain in SHARED_DOMAINS}


# --- purity ---------------------------------------------------------------------------------------------


def test_it_imports_nothing_from_django():
    tree = ast.parse(SOURCE.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert "django" not in imported
    assert "django" not in SOURCE.read_text().lower()


def test_importing_it_loads_neither_django_nor_third_party_maths():
    code = (
        "import sys; import measurement.scoring; "
        "print(sorted(m for m in ('django', 'numpy', 'scipy') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_domain_constants_match_the_model():
    assert PROCESS_DOMAINS == ("valuing", "power", "abiding")
    assert OUTCOME_DOMAINS == ("trust", "hope", "known")
    assert SHARED_DOMAINS == PROCESS_DOMAINS + OUTCOME_DOMAINS
    assert COMPETENCY_DOMAINS == ("self_confidence", "emotional_self_management", "mindfulness", "knowledge")
    assert (NA, GAP_FLAG_THRESHOLD, CAUTION_N, ALPHA_MIN_RESPONSES) == ("na", 25.0, 30, 30)


# --- scale and single answers ---------------------------------------------------------------------------


@pytest.mark.parametrize("low, high", [(5, 5), (5, 1)])
def test_a_scale_must_run_upwards(low, high):
    with pytest.raises(ValueError):
        Scale(low, high)


def test_a_forward_item_scores_its_answer():
    assert scored_value(4, LIKERT, reverse=False) == 4


def test_a_reverse_keyed_item_mirrors():
    assert [scored_value(a, LIKERT, reverse=True) for a in (1, 2, 3, 4, 5)] == [5, 4, 3, 2, 1]
    assert scored_value(0, Scale(0, 10), reverse=True) == 10


@pytest.mark.parametrize("answer", [NA, None])
def test_not_applicable_and_unanswered_score_nothing(answer):
    assert scored_value(answer, LIKERT, reverse=False) is None
    assert scored_value(answer, LIKERT, reverse=True) is None


@pytest.mark.parametrize("answer", [0, 6, -1, 100])
def test_it_rejects_answers_off_the_scale(answer):
    with pytest.raises(ValueError):
        scored_value(answer, LIKERT, reverse=False)


@pytest.mark.parametrize("answer", ["4", "NA", "", "n/a", True, False, 4.0, 3.5, [4]])
def test_it_rejects_answers_that_are_not_integers(answer):
    with pytest.raises(ValueError):
        scored_value(answer, LIKERT, reverse=False)


def test_it_rejects_a_bad_answer_inside_a_domain():
    items = items_of("valuing", 3)
    with pytest.raises(ValueError):
        domain_scores(items, answers_for(items, [5, 4, 9]), LIKERT)
    with pytest.raises(ValueError):
        domain_scores(items, answers_for(items, [5, 4, "five"]), LIKERT)


# --- the half rule --------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_items, needed", [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3), (6, 3), (7, 4)])
def test_a_domain_needs_half_its_items_rounded_up(n_items, needed):
    assert min_answers_required(n_items) == needed


@pytest.mark.parametrize("n_items, needed", [(3, 2), (4, 2), (5, 3)])
def test_a_domain_is_scored_at_exactly_the_minimum_and_missing_one_below(n_items, needed):
    items = items_of("trust", n_items)
    enough = answers_for(items, [4] * needed)
    too_few = answers_for(items, [4] * (needed - 1))
    assert domain_scores(items, enough, LIKERT) == {"trust": 75.0}
    assert domain_scores(items, too_few, LIKERT) == {"trust": None}


@pytest.mark.parametrize("n_items, needed", [(3, 2), (4, 2), (5, 3)])
def test_na_answers_do_not_count_towards_the_minimum(n_items, needed):
    items = items_of("hope", n_items)
    values = [4] * (needed - 1) + [NA] * (n_items - needed + 1)
    assert domain_scores(items, answers_for(items, values), LIKERT) == {"hope": None}


# --- worked examples ------------------------------------------------------------------------------------


def test_na_answers_do_not_count_towards_the_mean():
    # 5 and 4 on 1..5: mean 4.5, 100 * (4.5 - 1) / 4 = 87.5; the NA is not a zero.
    items = items_of("valuing", 3)
    assert domain_scores(items, answers_for(items, [5, 4, NA]), LIKERT) == {"valuing": 87.5}


def test_a_reverse_keyed_item_counts_mirrored_in_its_domain():
    # 5, 4 and a reverse-keyed 2 (scores 4): mean 13/3, 100 * (13/3 - 1) / 4 = 83.33...
    items = items_of("power", 3, reverse={3})
    score = domain_scores(items, answers_for(items, [5, 4, 2]), LIKERT)["power"]
    assert score == pytest.approx(250 / 3)


def test_it_scores_each_domain_in_order_of_first_appearance():
    items = [
        ItemSpec("P1", "known"),
        ItemSpec("P2", "valuing"),
        ItemSpec("P3", "known", reverse=True),
        ItemSpec("P4", "valuing"),
        ItemSpec("P5", "hope"),
        ItemSpec("P6", "hope"),
        ItemSpec("P7", "hope"),
    ]
    answers = {"P1": 5, "P2": 1, "P3": 1, "P4": 2, "P5": 3, "P6": NA, "comment": "kind doctor"}
    scores = domain_scores(items, answers, LIKERT)
    assert list(scores) == ["known", "valuing", "hope"]
    # known: 5 and reversed 1 (=5) -> 100; valuing: 1, 2 -> mean 1.5 -> 12.5; hope: one of three -> missing.
    assert scores == {"known": 100.0, "valuing": 12.5, "hope": None}


def test_it_scores_on_any_scale():
    items = items_of("abiding", 2, reverse={2})
    # 0..10 scale: 7 and reversed 4 (=6): mean 6.5 -> 65.
    assert domain_scores(items, answers_for(items, [7, 4]), Scale(0, 10)) == {"abiding": 65.0}


def test_unanswered_items_are_missing_answers():
    items = items_of("trust", 4)
    assert domain_scores(items, {}, LIKERT) == {"trust": None}
    assert domain_scores(items, {"trust1": 3, "trust2": None, "trust3": 5}, LIKERT) == {"trust": 75.0}


def test_it_keeps_full_precision():
    items = items_of("known", 3)
    score = domain_scores(items, answers_for(items, [4, 4, 5]), LIKERT)["known"]
    assert score == 100 * (13 / 3 - 1) / 4
    assert score != round(score, 1)


def test_it_rejects_duplicate_item_codes():
    with pytest.raises(ValueError):
        domain_scores([ItemSpec("X", "hope"), ItemSpec("X", "trust")], {"X": 3}, LIKERT)


# --- indices --------------------------------------------------------------------------------------------


def test_indices_are_means_of_their_domains():
    scores = {"valuing": 50.0, "power": 75.0, "abiding": 100.0, "trust": 0.0, "hope": 25.0, "known": 50.0}
    assert indices(scores) == {"process_index": 75.0, "outcome_index": 25.0}


@pytest.mark.parametrize("domain", SHARED_DOMAINS)
def test_an_index_is_missing_when_any_of_its_domains_is_missing(domain):
    scores = all_domains(60.0)
    scores[domain] = None
    result = indices(scores)
    if domain in PROCESS_DOMAINS:
        assert result == {"process_index": None, "outcome_index": 60.0}
    else:
        assert result == {"process_index": 60.0, "outcome_index": None}


def test_an_index_is_missing_when_its_domain_is_absent():
    assert indices({"valuing": 10.0, "power": 20.0}) == {"process_index": None, "outcome_index": None}
    assert indices({}) == {"process_index": None, "outcome_index": None}


# --- wave gaps ------------------------------------------------------------------------------------------


def test_a_gap_is_clinician_minus_patient():
    gaps = wave_gaps({"valuing": 90.0, "trust": 40.0}, {"valuing": 70.0, "trust": 80.0})
    assert gaps == [
        Gap("valuing", clinician=90.0, patient=70.0, gap=20.0, flagged=False),
        Gap("trust", clinician=40.0, patient=80.0, gap=-40.0, flagged=True),
    ]


@pytest.mark.parametrize(
    "clinician, patient, flagged",
    [(75.0, 50.0, True), (50.0, 75.0, True), (74.9, 50.0, False), (50.0, 74.9, False), (100.0, 0.0, True)],
)
def test_a_wave_is_flagged_from_a_gap_of_exactly_25_either_way(clinician, patient, flagged):
    [gap] = wave_gaps({"hope": clinician}, {"hope": patient})
    assert gap.flagged is flagged


def test_a_gap_of_25_between_computed_scores_is_flagged_despite_rounding():
    items = items_of("known", 3)
    # Mathematically 100 * 5/12 - 100 * 2/12 = 25, but in floating point it comes out 24.999999999999996.
    clinician = domain_scores(items, answers_for(items, [1, 2, 5]), LIKERT)
    patient = domain_scores(items, answers_for(items, [1, 1, 3]), LIKERT)
    [gap] = wave_gaps(clinician, patient)
    assert gap.gap == pytest.approx(25.0)
    assert gap.flagged
    [reverse_gap] = wave_gaps(patient, clinician)
    assert reverse_gap.flagged


def test_gaps_cover_only_shared_domains_both_sides_scored():
    clinician = {**all_domains(50.0), "hope": None, "mindfulness": 90.0}
    patient = {**all_domains(50.0), "known": None}
    gaps = wave_gaps(clinician, patient)
    assert [g.domain for g in gaps] == ["valuing", "power", "abiding", "trust"]


def test_gaps_follow_the_model_order_whatever_the_input_order():
    clinician = dict(reversed(list(all_domains(60.0).items())))
    assert [g.domain for g in wave_gaps(clinician, all_domains(40.0))] == list(SHARED_DOMAINS)


def test_the_flag_threshold_can_be_changed():
    [gap] = wave_gaps({"power": 60.0}, {"power": 50.0}, threshold=10.0)
    assert gap.flagged


# --- Student's t ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "p, df, expected",
    [
        (0.975, 1, 12.7062047),
        (0.975, 2, 4.3026527),
        (0.975, 4, 2.7764451),
        (0.975, 10, 2.2281389),
        (0.975, 29, 2.0452296),
        (0.975, 1000, 1.9623391),
        (0.95, 5, 2.0150484),
        (0.995, 3, 5.8409093),
    ],
)
def test_t_quantile_matches_reference_tables(p, df, expected):
    assert t_quantile(p, df) == pytest.approx(expected, abs=1e-6)


def test_t_quantile_with_one_degree_of_freedom_is_the_cauchy_quantile():
    for p in (0.6, 0.75, 0.9, 0.99):
        assert t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-9)


def test_t_quantile_approaches_the_normal_quantile():
    assert t_quantile(0.975, 1_000_000) == pytest.approx(statistics.NormalDist().inv_cdf(0.975), abs=1e-5)


@given(st.floats(0.001, 0.999), st.integers(1, 500))
def test_t_quantile_is_symmetric_about_zero(p, df):
    assert t_quantile(p, df) == pytest.approx(-t_quantile(1 - p, df), abs=1e-9)


def test_t_quantile_is_zero_at_the_median():
    assert t_quantile(0.5, 7) == 0.0


@pytest.mark.parametrize("p, df", [(0.0, 5), (1.0, 5), (1.5, 5), (0.975, 0), (0.975, -3)])
def test_t_quantile_rejects_impossible_arguments(p, df):
    with pytest.raises(ValueError):
        t_quantile(p, df)


# --- summaries ------------------------------------------------------------------------------------------


def test_a_summary_of_nothing_is_empty():
    assert summarize([]) == Summary(0, None, None, None, None)
    assert summarize([None, None]) == Summary(0, None, None, None, None)


def test_a_summary_of_one_score_has_a_mean_and_no_spread():
    assert summarize([None, 62.5]) == Summary(1, 62.5, None, None, None)


def test_a_summary_worked_by_hand():
    # 50, 60, 70: mean 60, sd 10, t(0.975, 2) = 4.3026527, half width 4.3026527 * 10 / sqrt(3) = 24.8414
    s = summarize([50.0, None, 60.0, 70.0])
    assert (s.n, s.mean, s.sd) == (3, 60.0, 10.0)
    assert s.ci_low == pytest.approx(60 - 24.841377, abs=1e-5)
    assert s.ci_high == pytest.approx(60 + 24.841377, abs=1e-5)


def test_a_summary_of_equal_scores_has_a_zero_width_interval():
    s = summarize([80.0] * 4)
    assert (s.sd, s.ci_low, s.ci_high) == (0.0, 80.0, 80.0)


scores_strategy = st.lists(
    st.one_of(st.none(), st.floats(0, 100, allow_nan=False)), min_size=0, max_size=60
)


@given(scores_strategy)
def test_summarize_agrees_with_the_statistics_module(values):
    present = [v for v in values if v is not None]
    s = summarize(values)
    assert s.n == len(present)
    if len(present) >= 1:
        assert s.mean == pytest.approx(statistics.mean(present), abs=1e-9)
    if len(present) >= 2:
        assert s.sd == pytest.approx(statistics.stdev(present), abs=1e-9)
        half = t_quantile(0.975, len(present) - 1) * s.sd / math.sqrt(len(present))
        assert s.ci_high - s.mean == pytest.approx(half, abs=1e-9)


@given(scores_strategy)
def test_the_interval_contains_the_mean_and_is_symmetric(values):
    s = summarize(values)
    assume(s.n >= 2)
    assert s.ci_low <= s.mean <= s.ci_high
    assert s.mean - s.ci_low == pytest.approx(s.ci_high - s.mean, abs=1e-9)


@given(scores_strategy)
def test_summarize_moments_equals_summarize_on_the_same_data(values):
    present = [v for v in values if v is not None]
    n = len(present)
    from_sums = summarize_moments(n, sum(present) if n else None, sum(v * v for v in present) if n else None)
    direct = summarize(values)
    assert from_sums.n == direct.n
    for field in ("mean", "sd", "ci_low", "ci_high"):
        a, b = getattr(from_sums, field), getattr(direct, field)
        if b is None:
            assert a is None
        else:
            # Sums of squares cancel when scores are close together, so allow a little absolute error.
            assert a == pytest.approx(b, abs=1e-4), field


def test_summarize_moments_worked_by_hand():
    # 50, 60, 70: count 3, sum 180, sum of squares 11000 -> variance (11000 - 180*60) / 2 = 100.
    assert summarize_moments(3, 180.0, 11000.0) == summarize([50.0, 60.0, 70.0])


def test_summarize_moments_takes_sql_nulls_for_no_rows():
    assert summarize_moments(0, None, None) == Summary(0, None, None, None, None)
    assert summarize_moments(1, 40.0, 1600.0) == Summary(1, 40.0, None, None, None)


def test_summarize_moments_clamps_a_slightly_negative_variance_to_zero():
    # Three equal scores whose sum of squares came back a hair too small from the database.
    s = summarize_moments(3, 3 * 33.3, 3 * 33.3 * 33.3 - 1e-9)
    assert s.sd == 0.0
    assert s.ci_low == s.ci_high == pytest.approx(33.3)


def test_summarize_moments_rejects_a_negative_count():
    with pytest.raises(ValueError):
        summarize_moments(-1, 0.0, 0.0)


@pytest.mark.parametrize("n, few", [(0, True), (1, True), (29, True), (30, False), (31, False)])
def test_fewer_than_30_responses_call_for_caution(n, few):
    assert Summary(n, None, None, None, None).few is few


@pytest.mark.parametrize("n, suppressed", [(0, True), (4, True), (5, False), (6, False)])
def test_a_figure_below_min_reporting_n_is_suppressed(n, suppressed):
    assert suppression.is_suppressed(n, min_n=5) is suppressed


# --- Cronbach's alpha -----------------------------------------------------------------------------------


HAND_ROWS = [[1, 2, 3], [2, 3, 3], [3, 3, 4]]
# Item variances 1, 1/3, 1/3 (sum 5/3); totals 6, 8, 10 have variance 4.
# alpha = 3/2 * (1 - (5/3) / 4) = 3/2 * 7/12 = 0.875. Repeating every row ten times scales every
# sample variance by the same factor, so alpha over the 30 rows is the same.


def test_cronbach_alpha_worked_by_hand():
    assert cronbach_alpha(HAND_ROWS * 10) == pytest.approx(0.875)


def test_cronbach_alpha_needs_30_complete_responses():
    rows = (HAND_ROWS * 10)[:ALPHA_MIN_RESPONSES - 1]
    assert cronbach_alpha(rows) is None
    assert cronbach_alpha([]) is None


def test_cronbach_alpha_of_items_that_always_agree_is_one():
    rows = [[v, v, v] for v in (1, 2, 3, 4, 5)] * 6
    assert cronbach_alpha(rows) == pytest.approx(1.0)


def test_cronbach_alpha_needs_two_items():
    assert cronbach_alpha([[v] for v in (1, 2, 3, 4, 5)] * 6) is None


def test_cronbach_alpha_is_undefined_when_totals_never_vary():
    assert cronbach_alpha([[1, 5], [5, 1], [3, 3]] * 10) is None


def test_cronbach_alpha_rejects_ragged_rows():
    with pytest.raises(ValueError):
        cronbach_alpha([[1, 2, 3]] * 29 + [[1, 2]])


# --- one response per dyad ------------------------------------------------------------------------------


def test_each_dyad_counts_once_with_its_most_recent_response():
    t0 = datetime(2025, 3, 1, 9, 0)
    rows = [
        ("dyad-a", t0, 40.0),
        ("dyad-b", t0 + timedelta(days=1), 70.0),
        ("dyad-a", t0 + timedelta(days=5), 60.0),
        ("dyad-a", t0 + timedelta(days=2), 99.0),
        ("dyad-c", t0, None),
    ]
    assert latest_per_dyad(rows) == {"dyad-a": 60.0, "dyad-b": 70.0, "dyad-c": None}


def test_latest_per_dyad_of_nothing_is_empty():
    assert latest_per_dyad([]) == {}


def test_latest_per_dyad_accepts_any_hashable_key_and_a_generator():
    rows = (((clinician, patient), day, day * 10) for clinician, patient, day in [(1, 2, 3), (1, 2, 1), (1, 3, 2)])
    assert latest_per_dyad(rows) == {(1, 2): 30, (1, 3): 20}


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 100), st.integers()), max_size=40))
def test_latest_per_dyad_keeps_a_value_submitted_last(rows):
    result = latest_per_dyad(rows)
    assert set(result) == {dyad for dyad, _, _ in rows}
    for dyad, value in result.items():
        latest = max(at for d, at, _ in rows if d == dyad)
        assert (dyad, latest, value) in rows


# --- properties of domain scores ------------------------------------------------------------------------


@st.composite
def scale_items_answers(draw, max_items=8):
    low = draw(st.integers(-3, 3))
    scale = Scale(low, low + draw(st.integers(1, 10)))
    n = draw(st.integers(1, max_items))
    items = [ItemSpec(f"I{i}", "valuing", reverse=draw(st.booleans())) for i in range(n)]
    answer = st.one_of(st.integers(scale.min, scale.max), st.just(NA), st.none())
    answers = {item.code: draw(answer) for item in items}
    return scale, items, answers


@given(scale_items_answers())
def test_a_domain_score_is_between_0_and_100_or_missing(case):
    scale, items, answers = case
    score = domain_scores(items, answers, scale)["valuing"]
    assert score is None or 0.0 <= score <= 100.0


@given(scale_items_answers())
def test_a_domain_score_is_missing_exactly_when_too_few_answers_are_scored(case):
    scale, items, answers = case
    scored = sum(1 for v in answers.values() if v is not None and v != NA)
    score = domain_scores(items, answers, scale)["valuing"]
    assert (score is None) == (scored < min_answers_required(len(items)))


@given(st.data())
def test_reversing_a_single_item_domain_mirrors_its_score(data):
    low = data.draw(st.integers(-3, 3))
    scale = Scale(low, low + data.draw(st.integers(1, 10)))
    answer = data.draw(st.integers(scale.min, scale.max))
    forward = domain_scores([ItemSpec("X", "hope")], {"X": answer}, scale)["hope"]
    reverse = domain_scores([ItemSpec("X", "hope", reverse=True)], {"X": answer}, scale)["hope"]
    assert reverse == pytest.approx(100.0 - forward, abs=1e-9)


@given(scale_items_answers())
def test_reversing_every_item_mirrors_any_domain_score(case):
    scale, items, answers = case
    flipped = [ItemSpec(i.code, i.domain, reverse=not i.reverse) for i in items]
    score = domain_scores(items, answers, scale)["valuing"]
    mirrored = domain_scores(flipped, answers, scale)["valuing"]
    if score is None:
        assert mirrored is None
    else:
        assert mirrored == pytest.approx(100.0 - score, abs=1e-9)


@given(scale_items_answers())
def test_best_answers_score_100_and_worst_score_0(case):
    scale, items, _ = case
    best = {i.code: scale.min if i.reverse else scale.max for i in items}
    worst = {i.code: scale.max if i.reverse else scale.min for i in items}
    assert domain_scores(items, best, scale) == {"valuing": 100.0}
    assert domain_scores(items, worst, scale) == {"valuing": 0.0}


@given(scale_items_answers())
def test_all_max_answers_on_forward_items_score_100_and_all_min_score_0(case):
    scale, items, _ = case
    forward = [ItemSpec(i.code, i.domain) for i in items]
    assert domain_scores(forward, {i.code: scale.max for i in items}, scale) == {"valuing": 100.0}
    assert domain_scores(forward, {i.code: scale.min for i in items}, scale) == {"valuing": 0.0}


@given(scale_items_answers(), st.data())
def test_marking_unanswered_items_na_never_changes_a_score(case, data):
    scale, items, answers = case
    before = domain_scores(items, answers, scale)
    unanswered = [code for code, value in answers.items() if value is None]
    to_mark = data.draw(st.lists(st.sampled_from(unanswered), unique=True) if unanswered else st.just([]))
    after = domain_scores(items, {**answers, **{code: NA for code in to_mark}}, scale)
    assert after == before


@given(scale_items_answers(), st.integers(1, 5))
def test_adding_na_items_never_changes_a_score_that_is_present(case, extra):
    scale, items, answers = case
    more_items = items + [ItemSpec(f"NA{i}", "valuing") for i in range(extra)]
    more_answers = {**answers, **{f"NA{i}": NA for i in range(extra)}}
    before = domain_scores(items, answers, scale)["valuing"]
    after = domain_scores(more_items, more_answers, scale)["valuing"]
    # More items may raise the minimum and make the score missing, but a score that stays is unchanged.
    if after is not None:
        assert after == before


@given(scale_items_answers())
def test_a_domain_score_is_the_normalised_mean_of_its_scored_answers(case):
    scale, items, answers = case
    values = [scored_value(answers[i.code], scale, i.reverse) for i in items]
    values = [v for v in values if v is not None]
    score = domain_scores(items, answers, scale)["valuing"]
    assume(score is not None)
    expected = 100 * (statistics.mean(values) - scale.min) / (scale.max - scale.min)
    assert score == pytest.approx(expected, abs=1e-9)


def test_the_module_exposes_its_contract():
    expected = {
        "NA", "PROCESS_DOMAINS", "OUTCOME_DOMAINS", "SHARED_DOMAINS", "COMPETENCY_DOMAINS",
        "GAP_FLAG_THRESHOLD", "CAUTION_N", "ALPHA_MIN_RESPONSES", "Scale", "ItemSpec", "Answer",
        "scored_value", "min_answers_required", "domain_scores", "indices", "Gap", "wave_gaps",
        "t_quantile", "Summary", "summarize", "summarize_moments", "cronbach_alpha",
        "latest_per_dyad",
    }
    assert expected <= set(vars(scoring))


# --- complementary suppression ---------------------------------------------------------------------


def test_nothing_is_hidden_when_every_clinician_reaches_the_minimum():
    assert suppression.complementary_suppression({"a": 5, "b": 9}, 5) == (set(), False)


def test_a_lone_small_clinician_takes_the_smallest_other_with_them():
    assert suppression.complementary_suppression({"small": 3, "mid": 6, "big": 9}, 5) == ({"small", "mid"}, False)


def test_two_small_clinicians_that_reach_the_minimum_together_hide_only_themselves():
    assert suppression.complementary_suppression({"a": 3, "b": 2, "big": 9}, 5) == ({"a", "b"}, False)


def test_a_practice_of_one_small_clinician_hides_the_practice_figure():
    assert suppression.complementary_suppression({"only": 3}, 5) == ({"only"}, True)


@given(st.dictionaries(st.integers(0, 20), st.integers(0, 40), max_size=12), st.integers(1, 10))
def test_no_hidden_figure_can_be_worked_out_by_subtraction(counts, min_n):
    hidden, practice_hidden = suppression.complementary_suppression(counts, min_n)
    assert {c for c, n in counts.items() if 0 < n < min_n} <= hidden
    if hidden and not practice_hidden:
        assert len(hidden) >= 2
        assert sum(counts[c] for c in hidden) >= min_n


def test_gap_flagged_is_the_one_rule_for_a_flagged_wave():
    assert scoring.gap_flagged(25.0) and scoring.gap_flagged(-25.0) and scoring.gap_flagged(25.0 - 1e-12)
    assert not scoring.gap_flagged(24.99) and not scoring.gap_flagged(0.0)
    assert [g.flagged for g in scoring.wave_gaps({"trust": 80.0, "hope": 50.0}, {"trust": 55.0, "hope": 40.0})] == [
        scoring.gap_flagged(25.0), scoring.gap_flagged(10.0)
    ]


@given(st.lists(st.tuples(st.floats(min_value=-100, max_value=100), st.integers(min_value=0, max_value=40)), max_size=25))
def test_a_summary_of_counted_values_is_the_summary_of_the_values_repeated(counted):
    repeated = [value for value, count in counted for _ in range(count)]
    expected, got = scoring.summarize(repeated), scoring.summarize_counted(counted)
    assert got.n == expected.n
    for name in ("mean", "sd", "ci_low", "ci_high"):
        want = getattr(expected, name)
        assert (getattr(got, name) is None) == (want is None)
        if want is not None:
            assert getattr(got, name) == pytest.approx(want, rel=1e-9, abs=1e-9)
