"""Data minimisation and erasure: contact details do not outlive the link; a patient can be forgotten."""

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command

from audit.models import Action, AuditEvent
from figures import queries
from plumbing.period import Period
from surveys import services
from surveys.models import Answer, DomainScore, Invitation, Response
from tests import factories


def with_contact(new_visit):
    invitation = factories.patient_invitation(new_visit)
    invitation.contact_email, invitation.contact_phone = "pat@example.org", "+15550100"
    invitation.save()
    return invitation


def test_contacts_go_once_the_link_is_used(visit_a):
    invitation = with_contact(visit_a)
    services.submit_response(invitation, factories.full_answers(invitation))
    assert services.purge_spent_contacts() == 1
    invitation.refresh_from_db()
    assert (invitation.contact_email, invitation.contact_phone) == ("", "")
    assert AuditEvent.objects.get(action=Action.CONTACTS_PURGED).detail == {"invitations": 1}


def test_contacts_go_once_the_link_expires(visit_a):
    invitation = with_contact(visit_a)
    assert services.purge_spent_contacts() == 0
    later = invitation.expires_at + dt.timedelta(seconds=1)
    assert services.purge_spent_contacts(now=later) == 1
    invitation.refresh_from_db()
    assert invitation.contact_email == ""


def test_open_links_keep_their_contacts(visit_a):
    with_contact(visit_a)
    services.purge_spent_contacts()
    assert Invitation.objects.get(contact_email="pat@example.org")


def test_the_scheduled_task_purges(visit_a, settings):
    from surveys.tasks import purge_spent_contacts

    invitation = with_contact(visit_a)
    services.submit_response(invitation, factories.full_answers(invitation))
    assert purge_spent_contacts.apply().get() == 1
    assert "purge-spent-contacts" in settings.CELERY_BEAT_SCHEDULE


@pytest.fixture
def answered_dyads(practice_a, clinician_a):
    """Two patients of clinician A, each with a patient and a clinician response."""
    return answer_two_patients(practice_a, clinician_a)


def answer_two_patients(practice_a, clinician_a):
    visits = []
    for reference in ("FORGET-ME", "KEEP-ME"):
        new_visit = factories.visit(practice_a, clinician_a, reference)
        for invitation in new_visit.visit.invitations.all():
            services.submit_response(invitation, factories.full_answers(invitation, 2 if reference == "FORGET-ME" else 5))
        visits.append(new_visit)
    return visits


def test_forgetting_a_patient_removes_their_answers_and_changes_the_aggregates(practice_a, answered_dyads):
    forgotten, kept = answered_dyads
    with_contact(forgotten)
    period = Period.last_days(30)
    before = queries.domain_summaries(practice_a, period)["trust"]
    erasure = services.forget_patient(practice_a, "FORGET-ME")
    assert erasure.responses == 2
    assert not Response.objects.filter(dyad__patient__reference="FORGET-ME").exists()
    assert not Answer.objects.filter(response__visit=forgotten.visit).exists()
    assert not DomainScore.objects.filter(response__visit=forgotten.visit).exists()
    assert Response.objects.filter(dyad__patient__reference="KEEP-ME").count() == 2
    after = queries.domain_summaries(practice_a, period)["trust"]
    assert (before.n, after.n) == (2, 1)
    kept_trust = DomainScore.objects.get(response__visit=kept.visit, response__respondent="patient", domain="trust")
    assert after.mean == kept_trust.score
    invitation = factories.patient_invitation(forgotten)
    assert invitation.contact_email == "" and invitation.used_at is not None
    event = AuditEvent.objects.get(action=Action.PATIENT_FORGOTTEN)
    assert event.practice == practice_a and event.detail["responses"] == 2


def test_a_forgotten_patients_link_cannot_be_used_again(client, practice_a, clinician_a):
    new_visit = factories.visit(practice_a, clinician_a, "NEVER-ANSWERED")
    services.forget_patient(practice_a, "NEVER-ANSWERED")
    response = client.get(f"/s/{new_visit.patient_token}/")
    assert response.status_code == 409


def test_the_command_forgets_and_reports(practice_a, answered_dyads):
    out = io.StringIO()
    call_command("forget_patient", "--practice", practice_a.slug, "--patient", "FORGET-ME", stdout=out)
    assert "Erased 2 responses" in out.getvalue()


def test_the_command_refuses_an_unknown_patient(practice_a):
    with pytest.raises(CommandError) as error:
        call_command("forget_patient", "--practice", practice_a.slug, "--patient", "NOBODY")
    assert error.value.returncode == 2
    assert not AuditEvent.objects.filter(action=Action.PATIENT_FORGOTTEN).exists()


def test_reports_that_held_the_patient_are_rebuilt_without_them(
    practice_a, clinician_a, eager_tasks, django_capture_on_commit_callbacks
):
    from reports import services as reports
    from reports.models import Report

    with factories.in_closed_quarter():  # a report covers a closed quarter
        answer_two_patients(practice_a, clinician_a)
    today = dt.date.today()
    with django_capture_on_commit_callbacks(execute=True):
        report = reports.request_report(practice_a, today - dt.timedelta(days=7), today + dt.timedelta(days=1))
    report.refresh_from_db()
    first_attempt = report.attempt
    with django_capture_on_commit_callbacks(execute=True):
        services.forget_patient(practice_a, "FORGET-ME")
    report.refresh_from_db()
    assert report.attempt == first_attempt + 1
    assert report.status == Report.Status.DONE
