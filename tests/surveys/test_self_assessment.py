"""The competencies self-assessment (issue 14): periodic, once per period, scored like any questionnaire."""

import datetime as dt

import pytest
from django.utils import timezone

from surveys import selectors, services
from surveys.models import SelfAssessment
from tests import factories


def answers(value="4"):
    return {f"S0{i}": value for i in range(1, 9)}


@pytest.fixture
def quarterly(practice_a, competencies):
    return practice_a


@pytest.mark.parametrize(
    "months, day, start, following",
    [
        (3, dt.date(2026, 2, 17), dt.date(2026, 1, 1), dt.date(2026, 4, 1)),
        (3, dt.date(2026, 12, 31), dt.date(2026, 10, 1), dt.date(2027, 1, 1)),
        (1, dt.date(2026, 12, 4), dt.date(2026, 12, 1), dt.date(2027, 1, 1)),
        (6, dt.date(2026, 7, 1), dt.date(2026, 7, 1), dt.date(2027, 1, 1)),
        (12, dt.date(2026, 5, 5), dt.date(2026, 1, 1), dt.date(2027, 1, 1)),
    ],
)
def test_periods_count_from_january(practice_a, months, day, start, following):
    practice_a.self_assessment_months = months
    assert selectors.self_assessment_period(practice_a, day) == start
    assert selectors.next_self_assessment_period(practice_a, day) == following


def test_the_default_period_is_a_quarter(practice_a):
    assert practice_a.self_assessment_months == 3


def test_it_saves_scores_for_the_current_period(quarterly, clinician_a):
    saved = services.submit_self_assessment(quarterly, clinician_a, answers("5"), language="es")
    assert saved.period_start == selectors.self_assessment_period(quarterly, timezone.localdate())
    assert all(0 <= score <= 100 for score in saved.scores.values())
    assert set(saved.scores) == {"self_confidence", "emotional_self_management", "mindfulness", "knowledge"}
    assert saved.language == "es" and saved.instrument_version.instrument.slug == "competencies"


def test_reverse_keyed_items_are_scored_reversed(quarterly, clinician_a):
    from measurement.instruments import spec_for_version

    spec = spec_for_version(selectors.self_assessment_version())
    values = {item.code: ("1" if item.reverse else "5") for item in spec.items}
    saved = services.submit_self_assessment(quarterly, clinician_a, values)
    assert all(score == 100.0 for score in saved.scores.values())


def test_a_second_one_in_the_same_period_is_refused_and_the_first_kept(quarterly, clinician_a):
    first = services.submit_self_assessment(quarterly, clinician_a, answers("5"))
    with pytest.raises(services.SelfAssessmentTaken):
        services.submit_self_assessment(quarterly, clinician_a, answers("1"))
    assert SelfAssessment.objects.get().pk == first.pk


def test_the_next_period_takes_a_new_one(quarterly, clinician_a):
    services.submit_self_assessment(quarterly, clinician_a, answers(), now=timezone.now() - dt.timedelta(days=200))
    services.submit_self_assessment(quarterly, clinician_a, answers())
    assert SelfAssessment.objects.count() == 2


def test_incomplete_answers_are_refused(quarterly, clinician_a):
    with pytest.raises(services.InvalidAnswers):
        services.submit_self_assessment(quarterly, clinician_a, {"S01": "4"})
    assert not SelfAssessment.objects.exists()


def test_only_a_clinician_of_the_practice_may_take_it(quarterly, manager_a, clinician_b):
    for person in (manager_a, clinician_b):
        with pytest.raises(services.ServiceError):
            services.submit_self_assessment(quarterly, person, answers())


def test_it_is_due_until_taken_in_each_practice(quarterly, clinician_a, practice_b):
    services.add_member(practice_b, clinician_a.username, "clinician")
    assert {p.slug for p in selectors.due_self_assessments(clinician_a)} == {"a", "b"}
    services.submit_self_assessment(quarterly, clinician_a, answers())
    assert [p.slug for p in selectors.due_self_assessments(clinician_a)] == ["b"]


def test_reminders_are_due_once_per_period_for_clinicians_with_an_address(quarterly, clinician_a, clinician_a2, manager_a):
    for person in (clinician_a, manager_a):
        person.email = f"{person.username}@example.org"
        person.save()
    due = selectors.self_assessment_reminders_due()
    assert [(p.slug, u.username) for p, u, _start in due] == [("a", "clin-a")]  # clin-a2 has no address
    practice, clinician, start = due[0]
    assert services.claim_self_assessment_reminder(practice, clinician, start) is True
    assert services.claim_self_assessment_reminder(practice, clinician, start) is False
    assert selectors.self_assessment_reminders_due() == []


def test_no_reminder_once_taken(quarterly, clinician_a):
    clinician_a.email = "a@example.org"
    clinician_a.save()
    services.submit_self_assessment(quarterly, clinician_a, answers())
    assert selectors.self_assessment_reminders_due() == []


def test_the_per_visit_questionnaire_never_uses_the_self_assessment(quarterly, clinician_a):
    new = factories.visit(quarterly, clinician_a, "PA-1")
    assert factories.clinician_invitation(new).instrument_version.instrument.slug == "clinician"
