"""The demo's case mix acts on the answers: what the adjustment is shown on has a real effect to find."""

import statistics

from demo import seed
from measurement import casemix


def test_older_and_healthier_demo_patients_rate_higher_and_education_does_not_matter():
    answers, shift = seed.patient_casemix(salt=7, patients=4000)
    by = {name: {} for name in ("age", "education", "health")}
    for given, lift in zip(answers, shift):
        if given is None:
            continue
        age, education, health = given[0], given[1], given[2]
        for name, level in (("age", age), ("education", education), ("health", health)):
            if level is not None:
                by[name].setdefault(level, []).append(lift)
    mean = {name: {level: statistics.fmean(v) for level, v in levels.items()} for name, levels in by.items()}
    assert mean["age"]["75_plus"] - mean["age"]["18_34"] > 0.2
    assert mean["health"]["excellent"] - mean["health"]["poor"] > 0.3
    education = [mean["education"][level] for level in casemix.EDUCATION if level in mean["education"]]
    assert max(education) - min(education) < 0.1


def test_about_a_quarter_skip_the_section_and_the_same_salt_gives_the_same_answers():
    answers, shift = seed.patient_casemix(salt=3, patients=2000)
    skipped = sum(given is None for given in answers) / len(answers)
    assert 0.2 < skipped < 0.3
    again, shift_again = seed.patient_casemix(salt=3, patients=2000)
    assert again == answers and list(shift_again) == list(shift)
    assert seed.patient_casemix(salt=4, patients=2000)[0] != answers
