"""The rules the database itself keeps, so that no code path (or race) can break them.

Each test writes around the services on purpose: the services would refuse first, and the point here is that
the database refuses too. Each refused write sits in its own savepoint so the test can go on afterwards.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from surveys import services
from surveys.models import (
    Answer,
    DomainScore,
    Dyad,
    Invitation,
    Membership,
    Patient,
    Response,
    Visit,
)
from tests import factories


@pytest.fixture
def patient_response(visit_a):
    invitation = factories.patient_invitation(visit_a)
    return services.submit_response(invitation, factories.full_answers(invitation))


def response_like(response, **changes) -> Response:
    """An unsaved copy of a response with some fields changed."""
    fields = {
        "invitation": response.invitation,
        "visit": response.visit,
        "dyad": response.dyad,
        "practice": response.practice,
        "respondent": response.respondent,
        "instrument_version": response.instrument_version,
        "submitted_at": timezone.now(),
    }
    return Response(**{**fields, **changes})


def refused(save) -> bool:
    """True when the database refuses the write (rolled back to a savepoint so the test can carry on)."""
    try:
        with transaction.atomic():
            save()
    except IntegrityError:
        return True
    return False


# --- responses ---------------------------------------------------------------------------------


def test_an_invitation_has_one_response(patient_response, practice_a, clinician_a):
    # Another visit, so that only the invitation repeats (not the visit and respondent).
    other_visit = factories.visit(practice_a, clinician_a, "PA-002").visit

    with pytest.raises(IntegrityError), transaction.atomic():
        response_like(patient_response, visit=other_visit).save()

    assert Response.objects.count() == 1


def test_a_visit_has_one_response_per_respondent(patient_response, visit_a):
    # The clinician's invitation, so that only (visit, respondent) repeats.
    clinician_invitation = factories.clinician_invitation(visit_a)

    with pytest.raises(IntegrityError), transaction.atomic():
        response_like(patient_response, invitation=clinician_invitation).save()

    assert Response.objects.count() == 1


def test_the_other_respondent_may_answer_the_same_visit(patient_response, visit_a):
    clinician_invitation = factories.clinician_invitation(visit_a)

    response_like(patient_response, invitation=clinician_invitation, respondent="clinician").save()

    assert Response.objects.filter(visit=visit_a.visit).count() == 2


# --- answers and scores ------------------------------------------------------------------------


@pytest.mark.parametrize("value", [-1, 11, 100])
def test_an_answer_outside_0_to_10_is_refused(patient_response, value):
    answer = patient_response.answers.first()

    with pytest.raises(IntegrityError), transaction.atomic():
        Answer.objects.filter(pk=answer.pk).update(value=value)

    answer.refresh_from_db()
    assert 1 <= answer.value <= 5


@pytest.mark.parametrize("value", [0, 10, None])
def test_an_answer_on_the_edges_of_the_band_or_empty_is_accepted(patient_response, value):
    answer = patient_response.answers.first()

    Answer.objects.filter(pk=answer.pk).update(value=value)

    answer.refresh_from_db()
    assert answer.value == value


def test_an_item_is_answered_once_per_response(patient_response):
    answer = patient_response.answers.first()

    assert refused(lambda: Answer.objects.create(response=patient_response, item=answer.item, value=3))


@pytest.mark.parametrize("score", [-0.1, 100.5, 1000.0])
def test_a_domain_score_outside_0_to_100_is_refused(patient_response, score):
    row = patient_response.scores.first()

    with pytest.raises(IntegrityError), transaction.atomic():
        DomainScore.objects.filter(pk=row.pk).update(score=score)


@pytest.mark.parametrize("score", [0.0, 100.0, None])
def test_a_domain_score_from_0_to_100_or_missing_is_accepted(patient_response, score):
    row = patient_response.scores.first()

    DomainScore.objects.filter(pk=row.pk).update(score=score)

    row.refresh_from_db()
    assert row.score == score


def test_a_domain_is_scored_once_per_response(patient_response):
    row = patient_response.scores.first()

    assert refused(lambda: DomainScore.objects.create(response=patient_response, domain=row.domain, score=50.0))


# --- people, patients and dyads ----------------------------------------------------------------


def test_a_person_holds_a_role_in_a_practice_once(practice_a, clinician_a):
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=clinician_a, practice=practice_a, role="clinician")

    assert Membership.objects.filter(user=clinician_a, practice=practice_a).count() == 1


def test_a_person_may_hold_another_role_or_the_same_role_elsewhere(practice_a, practice_b, clinician_a):
    Membership.objects.create(user=clinician_a, practice=practice_a, role="manager")
    Membership.objects.create(user=clinician_a, practice=practice_b, role="clinician")

    assert Membership.objects.filter(user=clinician_a).count() == 3


def test_a_membership_role_must_be_known(practice_a, clinician_a):
    assert refused(lambda: Membership.objects.create(user=clinician_a, practice=practice_a, role="admin"))


def test_a_patient_reference_is_unique_in_its_practice(practice_a):
    Patient.objects.create(practice=practice_a, reference="PA-100")

    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.create(practice=practice_a, reference="PA-100")

    assert Patient.objects.filter(practice=practice_a, reference="PA-100").count() == 1


def test_two_practices_may_use_the_same_patient_reference(practice_a, practice_b):
    Patient.objects.create(practice=practice_a, reference="P-1")
    Patient.objects.create(practice=practice_b, reference="P-1")

    assert Patient.objects.filter(reference="P-1").count() == 2


def test_a_clinician_and_patient_form_one_dyad(visit_a):
    dyad = visit_a.visit.dyad

    with pytest.raises(IntegrityError), transaction.atomic():
        Dyad.objects.create(practice=dyad.practice, clinician=dyad.clinician, patient=dyad.patient)

    assert Dyad.objects.count() == 1


def test_a_patient_may_have_dyads_with_two_clinicians(visit_a, clinician_a2):
    dyad = visit_a.visit.dyad

    Dyad.objects.create(practice=dyad.practice, clinician=clinician_a2, patient=dyad.patient)

    assert Dyad.objects.filter(patient=dyad.patient).count() == 2


# --- invitations -------------------------------------------------------------------------------


@pytest.fixture
def bare_visit(visit_a):
    """A visit of the same dyad with no invitations yet, so only the rule under test can refuse a write."""
    return Visit.objects.create(practice=visit_a.visit.practice, dyad=visit_a.visit.dyad, date=visit_a.visit.date)


def invitation_for(visit, respondent, token_hash):
    return Invitation(
        visit=visit,
        respondent=respondent,
        instrument_version=services.current_version(respondent),
        token_hash=token_hash,
        expires_at=timezone.now() + dt.timedelta(days=14),
    )


def test_a_patient_invitation_must_have_a_token_hash(bare_visit):
    with pytest.raises(IntegrityError), transaction.atomic():
        invitation_for(bare_visit, "patient", None).save()

    assert not bare_visit.invitations.exists()


def test_a_clinician_invitation_needs_no_token_hash(bare_visit):
    invitation_for(bare_visit, "clinician", None).save()

    assert bare_visit.invitations.get().token_hash is None


def test_a_token_hash_is_never_shared(visit_a, bare_visit):
    taken = factories.patient_invitation(visit_a).token_hash

    assert refused(lambda: invitation_for(bare_visit, "patient", taken).save())


def test_a_visit_has_one_invitation_per_respondent(visit_a):
    assert refused(lambda: invitation_for(visit_a.visit, "clinician", None).save())
    assert refused(lambda: invitation_for(visit_a.visit, "patient", "f" * 64).save())
    assert visit_a.visit.invitations.count() == 2
