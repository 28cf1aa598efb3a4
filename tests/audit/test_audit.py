"""The audit trail: written for sign-ins, exports and admin changes; never edited, never deleted."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.urls import reverse

from audit.models import Action, AppendOnlyError, AuditEvent
from audit.services import record
from tests import factories


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create_superuser("root", "root@example.org", factories.PASSWORD)


def test_it_records_a_sign_in_with_the_client_address(client, clinician_a):
    client.post(reverse("login"), {"username": "clin-a", "password": factories.PASSWORD}, REMOTE_ADDR="10.1.2.3")
    event = AuditEvent.objects.get(action=Action.SIGN_IN)
    assert event.actor == clinician_a
    assert event.client_address == "10.1.2.3"


def test_it_records_a_failed_sign_in_without_the_password(client, clinician_a):
    client.post(reverse("login"), {"username": "clin-a", "password": "wrong-secret"})
    event = AuditEvent.objects.get(action=Action.SIGN_IN_FAILED)
    assert event.actor_name == "clin-a"
    assert "wrong-secret" not in str(event.detail)


def test_it_records_a_chart_export(client, manager_a, practice_a):
    client.force_login(manager_a)
    response = client.get(reverse("practice_chart_csv", args=[practice_a.slug, "domains"]))
    assert response.status_code == 200
    event = AuditEvent.objects.get(action=Action.EXPORT)
    assert (event.actor, event.practice, event.detail["chart"]) == (manager_a, practice_a, "domains")


def test_it_records_the_command_line_export(practice_a):
    call_command("export_scores", "--practice", practice_a.slug, stdout=io.StringIO())
    event = AuditEvent.objects.get(action=Action.EXPORT)
    assert event.actor_name == "command line"
    assert event.practice == practice_a


def test_it_records_an_admin_change(client, admin_user, practice_a):
    client.force_login(admin_user)
    url = reverse("admin:surveys_practice_change", args=[practice_a.pk])
    response = client.post(
        url,
        {
            "name": "Renamed",
            "slug": practice_a.slug,
            "min_reporting_n": 6,
            "self_assessment_months": 3,
            "memberships-TOTAL_FORMS": 0,
            "memberships-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action=Action.ADMIN_CHANGE)
    assert event.actor == admin_user
    assert event.detail["change"] == "changed"


def test_it_cannot_be_edited_or_deleted_through_the_admin(client, admin_user):
    event = record(Action.EXPORT, actor=admin_user)
    client.force_login(admin_user)
    assert client.get(reverse("admin:audit_auditevent_changelist")).status_code == 200
    change_url = reverse("admin:audit_auditevent_change", args=[event.pk])
    client.post(change_url, {"action": "sign_in", "actor_name": "someone else"})
    assert client.post(reverse("admin:audit_auditevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    event.refresh_from_db()
    assert (event.action, event.actor_name) == (Action.EXPORT, "root")


def test_it_refuses_changes_and_deletes_in_code(admin_user):
    event = record(Action.EXPORT, actor=admin_user)
    event.actor_name = "someone else"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(actor_name="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


@pytest.mark.postgres
def test_the_database_refuses_changes_on_postgresql(admin_user):
    event = record(Action.EXPORT, actor=admin_user)
    for statement in ("UPDATE audit_auditevent SET actor_name = 'x' WHERE id = %s", "DELETE FROM audit_auditevent WHERE id = %s"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk, actor_name="root").exists()


def test_deleting_an_account_keeps_its_history(admin_user, clinician_a):
    record(Action.EXPORT, actor=clinician_a)
    clinician_a.delete()
    event = AuditEvent.objects.get(action=Action.EXPORT)
    assert event.actor_name == "clin-a"
