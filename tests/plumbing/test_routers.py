"""The read replica router: dashboard and report reads go to "replica" when one is configured, all else to "default".

The suite has no second server, so "replica" here is the primary's own connection under another alias (as a
TEST MIRROR is); a recording router notes where each read and write was sent.
"""

import datetime as dt
from unittest import mock

import pytest
from django.conf import settings
from django.db import connections
from django.urls import reverse

from plumbing.routers import PRIMARY, REPLICA, ReplicaRouter, reading_from_replica, replica_reads, use_replica
from reports import builders
from reports import services as report_services
from surveys import services
from surveys.models import DomainScore, Membership, Response
from tests import factories

ROUTED: list[tuple[str, str, str]] = []  # (read|write, model name, alias)


class RecordingRouter(ReplicaRouter):
    def db_for_read(self, model, **hints):
        alias = super().db_for_read(model, **hints)
        ROUTED.append(("read", model.__name__, alias))
        return alias

    def db_for_write(self, model, **hints):
        alias = super().db_for_write(model, **hints)
        ROUTED.append(("write", model.__name__, alias))
        return alias


@pytest.fixture
def recording_router(settings):
    settings.DATABASE_ROUTERS = ["tests.plumbing.test_routers.RecordingRouter"]
    ROUTED.clear()
    yield ROUTED
    ROUTED.clear()


@pytest.fixture
def replica(recording_router):
    """A configured "replica" alias, served by the primary's connection (a mirror, as under test)."""
    with mock.patch.dict(settings.DATABASES, {REPLICA: settings.DATABASES[PRIMARY]}):
        connections[REPLICA] = connections[PRIMARY]
        yield
        del connections[REPLICA]


def reads_of(model_names, routed=ROUTED):
    return {alias for kind, name, alias in routed if kind == "read" and name in model_names}


FIGURES = {"Response", "DomainScore", "Invitation"}


# --- the router on its own ---------------------------------------------------------------------------------


def test_reads_go_to_the_primary_when_no_replica_is_configured():
    router = ReplicaRouter()
    with use_replica():
        assert not reading_from_replica()
        assert router.db_for_read(Response) == PRIMARY
    assert router.db_for_read(Response) == PRIMARY


def test_reads_go_to_the_replica_only_inside_use_replica(replica):
    router = ReplicaRouter()
    assert router.db_for_read(Response) == PRIMARY
    with use_replica():
        assert router.db_for_read(Response) == REPLICA
    assert router.db_for_read(Response) == PRIMARY


def test_writes_always_go_to_the_primary(replica):
    router = ReplicaRouter()
    with use_replica():
        assert router.db_for_write(Response) == PRIMARY
    assert router.db_for_write(Response) == PRIMARY


def test_the_replica_is_never_migrated(replica):
    router = ReplicaRouter()
    assert router.allow_migrate(PRIMARY, "surveys")
    assert not router.allow_migrate(REPLICA, "surveys")


def test_the_decorator_reads_from_the_replica_for_the_call_only(replica):
    @replica_reads
    def view():
        return reading_from_replica()

    assert view() is True
    assert reading_from_replica() is False


def test_the_flag_is_restored_after_an_error(replica):
    with pytest.raises(ZeroDivisionError), use_replica():
        1 / 0
    assert not reading_from_replica()


# --- the code paths that use it -------------------------------------------------------------------------


@pytest.fixture
def answered_practice(practice_a, clinician_a, manager_a):
    for number in range(3):
        new_visit = factories.visit(practice_a, clinician_a, f"PA-{number}")
        invitation = factories.patient_invitation(new_visit)
        services.submit_response(invitation, factories.full_answers(invitation, 4))
    return practice_a


@pytest.mark.django_db
def test_the_dashboard_reads_its_figures_from_the_replica(client, replica, answered_practice, manager_a):
    client.force_login(manager_a)
    ROUTED.clear()

    response = client.get(reverse("practice_dashboard", args=[answered_practice.slug]))

    assert response.status_code == 200
    assert reads_of(FIGURES) == {REPLICA}
    # Who may see the practice is decided on the primary (a revoked membership must not linger on a lagging replica).
    assert PRIMARY in reads_of({"Practice"})
    assert all(alias == PRIMARY for kind, _name, alias in ROUTED if kind == "write")


@pytest.mark.django_db
def test_a_clinicians_page_reads_its_figures_from_the_replica(client, replica, answered_practice, clinician_a):
    client.force_login(clinician_a)
    ROUTED.clear()

    response = client.get(reverse("my_relationships", args=[answered_practice.slug]))

    assert response.status_code == 200
    assert reads_of(FIGURES) == {REPLICA}


@pytest.mark.django_db
def test_the_dashboard_reads_everything_from_the_primary_without_a_replica(
    client, recording_router, answered_practice, manager_a
):
    client.force_login(manager_a)
    ROUTED.clear()

    response = client.get(reverse("practice_dashboard", args=[answered_practice.slug]))

    assert response.status_code == 200
    assert reads_of(FIGURES) == {PRIMARY}
    assert {alias for _kind, _name, alias in ROUTED} == {PRIMARY}


@pytest.mark.django_db
def test_a_report_built_under_use_replica_reads_from_the_replica(replica, answered_practice, clinician_a):
    today = dt.date.today()
    report = report_services.request_report(answered_practice, today - dt.timedelta(days=30), today)
    ROUTED.clear()

    with use_replica():
        part = builders.clinician_part(report, clinician_a)

    assert part
    assert reads_of(FIGURES) == {REPLICA}
    assert "write" not in {kind for kind, _name, _alias in ROUTED}


@pytest.mark.django_db
def test_the_submit_path_never_touches_the_replica(client, replica, visit_a):
    answers = factories.full_answers(factories.patient_invitation(visit_a))
    url = reverse("patient_questionnaire", args=[visit_a.patient_token])
    ROUTED.clear()

    assert client.post(url, answers).status_code == 302

    assert {alias for _kind, _name, alias in ROUTED} == {PRIMARY}
    assert Response.objects.filter(visit=visit_a.visit).exists()
    assert DomainScore.objects.filter(response__visit=visit_a.visit).count() == 6
    assert Membership.objects.exists()
