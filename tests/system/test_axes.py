"""Staff sign-in resists password guessing (django-axes): a username at one address is paused after 5 failures."""

from __future__ import annotations

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from tests import factories
from tests.system.csp_checks import assert_strict

WRONG = "not the password"
ADDRESS = "203.0.113.10"


def sign_in(client, username, password, address=ADDRESS, url=None):
    return client.post(url or reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def fail(client, username, times, **kwargs):
    return [sign_in(client, username, WRONG, **kwargs).status_code for _ in range(times)]


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def staff(manager_a):
    return manager_a


def test_the_limit_is_five_failures_for_fifteen_minutes():
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME == dt.timedelta(minutes=15)
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_four_failures_still_show_the_form(client, staff):
    assert fail(client, staff.username, 4) == [200] * 4
    assert sign_in(client, staff.username, factories.PASSWORD).status_code == 302
    assert signed_in(client)


def test_the_fifth_failure_shows_the_lockout_page(client, staff):
    statuses = fail(client, staff.username, 5)
    assert statuses == [200, 200, 200, 200, 429]
    response = sign_in(client, staff.username, WRONG)
    assert response.status_code == 429
    html = response.content.decode()
    assert "Sign-in paused for this account" in html
    assert "Please try again in 15 minutes" in html
    assert "Vuelva a intentarlo en 15 minutos" in html
    assert f"as <strong>{staff.username}</strong>" in html
    assert '<nav class="navbar' in html  # our own base template, not axes' bare text


def test_the_right_password_is_refused_while_locked(client, staff):
    fail(client, staff.username, 5)
    response = sign_in(client, staff.username, factories.PASSWORD)
    assert response.status_code == 429
    assert "Sign-in paused" in response.content.decode()
    assert not signed_in(client)


def test_another_address_can_still_sign_in(client, staff):
    fail(client, staff.username, 5)
    assert sign_in(client, staff.username, factories.PASSWORD, address="198.51.100.20").status_code == 302


def test_another_username_from_the_same_address_is_not_locked(client, staff, clinician_a):
    fail(client, staff.username, 5)
    assert sign_in(client, clinician_a.username, factories.PASSWORD).status_code == 302


def test_the_pause_ends_after_the_cool_off(client, staff):
    fail(client, staff.username, 5)
    AccessAttempt.objects.update(attempt_time=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=16))
    assert sign_in(client, staff.username, factories.PASSWORD).status_code == 302


def test_a_successful_sign_in_clears_the_failures(client, staff):
    fail(client, staff.username, 4)
    assert sign_in(client, staff.username, factories.PASSWORD).status_code == 302
    client.logout()
    assert fail(client, staff.username, 4) == [200] * 4


def test_an_administrator_can_lift_the_pause(client, staff):
    fail(client, staff.username, 5)
    call_command("axes_reset_username", staff.username)
    assert sign_in(client, staff.username, factories.PASSWORD).status_code == 302


def test_the_admin_sign_in_is_protected_too(client, db):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("root", "root@example.org", factories.PASSWORD)
    url = reverse("admin:login")
    statuses = [sign_in(client, "root", WRONG, url=url).status_code for _ in range(5)]
    assert statuses[-1] == 429
    assert sign_in(client, "root", factories.PASSWORD, url=url).status_code == 429


def test_the_lockout_page_is_strict(client, staff):
    fail(client, staff.username, 5)
    assert_strict(sign_in(client, staff.username, WRONG))


@pytest.mark.parametrize("url_name", ["login", "admin:login"])
@pytest.mark.parametrize("length", [151, 256, 300, 5000])
def test_an_overlong_user_name_is_refused_with_a_page_not_a_500(client, db, url_name, length):
    """Axes stores at most 255 characters; on PostgreSQL a longer name used to be a 500 at both sign-in pages."""
    response = sign_in(client, "x" * length, WRONG, url=reverse(url_name))
    assert response.status_code in (200, 429)
    assert AccessAttempt.objects.get().username == "x" * 150
