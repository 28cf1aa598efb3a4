"""Submissions that race: one link sent many times at once saves once; distinct links all save.

These need PostgreSQL's row locks (SQLite serialises writers, so it would prove nothing); the suite's
conftest skips them on SQLite.
"""

import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from measurement import scoring
from surveys import selectors
from surveys.models import Answer, DomainScore, Response
from surveys.services import InvitationUnavailable, submit_response
from tests import factories

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

RACERS = 8


def at_once(work, arguments):
    """Run work(argument) in one thread per argument, all released together; returns (kind, value) per thread."""
    barrier = threading.Barrier(len(arguments))
    results = [None] * len(arguments)

    def run(index, argument):
        try:
            prepared = work.prepare(argument) if hasattr(work, "prepare") else argument
            # Hand the connection back while waiting: the pool (DATABASE_POOL_MAX, 10) is smaller than the crowd.
            connection.close()
            barrier.wait(timeout=30)
            results[index] = ("ok", work(prepared))
        except Exception as exc:  # the test inspects every outcome
            results[index] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(arguments)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a submission hung"
    return results


class Submit:
    """Each thread loads its own invitation from the link, as a request would, then submits."""

    def __init__(self, values=4):
        self.values = values

    def prepare(self, token):
        invitation = selectors.invitation_for_token(token)
        return invitation, factories.full_answers(invitation, self.values)

    def __call__(self, prepared):
        invitation, answers = prepared
        return submit_response(invitation, answers).pk


def test_it_saves_one_response_when_one_link_is_submitted_at_once(visit_a):
    invitation = factories.patient_invitation(visit_a)
    item_count = len(factories.full_answers(invitation))

    results = at_once(Submit(), [visit_a.patient_token] * RACERS)

    succeeded = [value for kind, value in results if kind == "ok"]
    refused = [value for kind, value in results if kind == "error"]
    assert len(succeeded) == 1, results
    assert len(refused) == RACERS - 1
    assert all(isinstance(exc, InvitationUnavailable) and exc.reason == "used" for exc in refused), refused
    response = Response.objects.get(visit=visit_a.visit)
    assert response.pk == succeeded[0]
    assert Answer.objects.count() == Answer.objects.filter(response=response).count() == item_count
    assert DomainScore.objects.count() == DomainScore.objects.filter(response=response).count() == 6
    invitation.refresh_from_db()
    assert invitation.used_at == response.submitted_at


def test_it_thanks_one_request_and_tells_the_others_it_is_done(visit_a):
    invitation = factories.patient_invitation(visit_a)
    url = reverse("patient_questionnaire", args=[visit_a.patient_token])
    form = {**factories.full_answers(invitation, 3), "comment": "", "lang": "en"}

    def post(_):
        # One client per thread: a browser tab of its own (the test client skips CSRF checks).
        return Client().post(url, form)

    results = at_once(post, list(range(RACERS)))

    assert all(kind == "ok" for kind, _ in results), results
    responses = [value for _, value in results]
    thanked = [r for r in responses if r.status_code == 302]
    refused = [r for r in responses if r.status_code != 302]
    assert len(thanked) == 1, [r.status_code for r in responses]
    assert thanked[0]["Location"] == f"{reverse('survey_thanks')}?lang=en"
    assert len(refused) == RACERS - 1
    for response in refused:
        assert response.status_code == 409
        assert "already completed" in response.content.decode()
    assert Response.objects.filter(visit=visit_a.visit).count() == 1
    assert Answer.objects.count() == len(factories.full_answers(invitation))


def test_distinct_links_submitted_at_once_all_save(practice_a, clinician_a):
    visits = [factories.visit(practice_a, clinician_a, f"PA-{n:03d}") for n in range(20)]

    results = at_once(Submit(values=5), [v.patient_token for v in visits])

    assert [kind for kind, _ in results] == ["ok"] * 20, results
    assert Response.objects.count() == 20
    assert set(Response.objects.values_list("visit_id", flat=True)) == {v.visit.pk for v in visits}
    item_count = len(factories.full_answers(factories.patient_invitation(visits[0])))
    assert Answer.objects.count() == 20 * item_count
    assert not DomainScore.objects.filter(score__isnull=True).exists()


def test_one_dyads_visits_submitted_at_once_leave_exactly_one_latest(practice_a, clinician_a):
    # The dashboards count each dyad by the response flagged latest (surveys.latest): racing submissions of
    # one dyad must not both keep the flag.
    visits = [factories.visit(practice_a, clinician_a, "PA-SAME") for _ in range(RACERS)]

    results = at_once(Submit(), [v.patient_token for v in visits])

    assert [kind for kind, _ in results] == ["ok"] * RACERS, results
    last = Response.objects.order_by("-submitted_at", "-id").first()
    for flag in ("is_latest", "is_month_latest"):
        assert set(DomainScore.objects.filter(**{flag: True}).values_list("response_id", flat=True)) == {last.pk}


class SubmitInvitation:
    """Submit an invitation by id: clinicians' invitations carry no token."""

    def prepare(self, invitation_id):
        from surveys.models import Invitation

        invitation = Invitation.objects.select_related("visit", "instrument_version").get(pk=invitation_id)
        return invitation, factories.full_answers(invitation, 3)

    def __call__(self, prepared):
        return submit_response(*prepared).pk


def test_both_sides_of_a_visit_submitted_at_once_are_paired(practice_a, clinician_a):
    visits = [factories.visit(practice_a, clinician_a, f"PB-{n}") for n in range(4)]
    invitations = [i.pk for v in visits for i in v.visit.invitations.all()]

    results = at_once(SubmitInvitation(), invitations)

    assert [kind for kind, _ in results] == ["ok"] * len(invitations), results
    shared = DomainScore.objects.filter(domain__in=scoring.SHARED_DOMAINS)
    assert shared.count() == 4 * 2 * 6
    assert not shared.filter(paired_score__isnull=True).exists()
