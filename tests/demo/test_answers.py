"""The demo's answer model (demo/answers.py) on its own: no database, a numpy generator per test."""

from __future__ import annotations

import math

import numpy as np
import pytest

from demo import answers
from measurement import scoring

SCALE = scoring.Scale(1, 5)
# Two domains: three items with one reverse-keyed, and two with one that allows "Does not apply".
ITEMS = [
    ("A1", "trust", False, False), ("A2", "trust", True, False), ("A3", "trust", False, False),
    ("B1", "known", False, True), ("B2", "known", False, False),
]
LAYOUT = answers.ItemLayout.of(ITEMS, SCALE)


def model(seed: int = 1, patients: int = 400, clinicians: int = 8, patient_shift=None) -> answers.PracticeModel:
    built = answers.PracticeModel(np.random.default_rng(seed), clinicians, patients, ("trust", "known"), patient_shift)
    built.add_dyads(patients)
    return built


def draw(practice: answers.PracticeModel, by_patient: bool = True) -> list[list[int | None]]:
    patients = len(practice.patient_effect)
    clinicians = len(practice.clinician_effect)
    return practice.answers(
        LAYOUT, by_patient, [p % clinicians for p in range(patients)], list(range(patients)), list(range(patients))
    )


def test_the_same_generator_seed_gives_the_same_answers():
    assert draw(model(seed=4)) == draw(model(seed=4))
    assert draw(model(seed=4)) != draw(model(seed=5))


def test_answers_are_on_the_scale_and_plain_ints():
    drawn = draw(model())

    values = [value for row in drawn for value in row if value is not None]
    assert {type(value) for value in values} == {int}
    assert set(values) <= set(range(SCALE.min, SCALE.max + 1))


def test_does_not_apply_only_where_the_item_allows_it():
    drawn = draw(model(patients=2000))

    missing = [[value is None for value in row] for row in drawn]
    assert not any(row[i] for row in missing for i, (_c, _d, _r, allow_na) in enumerate(ITEMS) if not allow_na)
    share = sum(row[3] for row in missing) / len(missing)
    assert share == pytest.approx(answers.NOT_APPLICABLE_SHARE, abs=0.02)


def test_a_reverse_keyed_item_is_answered_the_other_way_round():
    drawn = draw(model(patients=2000))

    forward, reverse = np.array([[row[0], row[1]] for row in drawn], dtype=float).T
    assert np.corrcoef(forward, reverse)[0, 1] < -0.3
    # Scored back (min + max - answer) it agrees with its siblings, and mostly at the top.
    scored = SCALE.min + SCALE.max - reverse
    assert np.corrcoef(forward, scored)[0, 1] > 0.3
    assert np.mean(scored == SCALE.max) > 0.3


def test_clinician_effects_have_the_intended_spread_in_any_practice_size():
    for count in (4, 6, 10):
        effects = answers.spread_effects(count, 0.3, np.random.default_rng(count))

        assert math.fsum(effects) == pytest.approx(0.0, abs=1e-12)
        # At the normal quantiles: the spread of the quantiles themselves, the same for every seed.
        again = answers.spread_effects(count, 0.3, np.random.default_rng(count + 100))
        assert sorted(effects) == pytest.approx(sorted(again))
        assert np.std(effects) == pytest.approx(0.3, rel=0.25)


@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_item_noise_gives_every_domain_the_same_latent_alpha(k):
    noise = answers.item_noise_sd(k)
    r = 1 / (1 + noise**2)  # correlation of two items of a view with variance 1

    assert k * r / (1 + (k - 1) * r) == pytest.approx(answers.LATENT_ALPHA)


def test_the_case_mix_shift_moves_the_patients_answers_and_not_the_clinicians():
    patients = 3000
    lifted = np.full(patients, 1.0)

    plain_patient, plain_clinician = draw(model(patients=patients)), draw(model(patients=patients), by_patient=False)
    shifted = model(patients=patients, patient_shift=lifted)
    shifted_patient = draw(shifted)

    def mean_first_item(rows):
        return np.mean([row[0] for row in rows])

    assert mean_first_item(shifted_patient) > mean_first_item(plain_patient) + 0.1
    clinician_after = draw(model(patients=patients, patient_shift=lifted), by_patient=False)
    assert clinician_after == plain_clinician


def test_a_patient_shift_needs_one_value_per_patient():
    with pytest.raises(ValueError, match="one value per patient"):
        answers.PracticeModel(np.random.default_rng(1), 3, 10, ("trust",), np.zeros(9))


def test_only_five_point_scales_are_modelled():
    with pytest.raises(ValueError, match="5-point"):
        answers.ItemLayout.of(ITEMS, scoring.Scale(0, 10))
