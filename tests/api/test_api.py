"""The EHR integration API (api/): per-practice keys, POST a visit, get the links; and the managers' key pages.

Standing people as elsewhere: manager and clinicians of practice A, manager and clinician of practice B.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading

import jsonschema
import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from openapi_spec_validator import validate as validate_openapi

from api import services
from api.models import ApiKey
from api.openapi import DOCUMENT
from audit.models import Action, AuditEvent
from surveys.models import Invitation, Visit
from tests import factories

SITE = "http://healing.test"
RAW_KEY = re.compile(r"hk_[A-Za-z0-9_-]{43}")
KEY_EVENTS = {services.KEY_CREATED, services.KEY_REVOKED}


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.SITE_URL = SITE
    # django-axes logs each sign-in with the client address; force_login's request has none, which axes stores
    # as "unknown" and PostgreSQL's inet column refuses. Sign-in throttling is not what these tests are about.
    settings.AXES_ENABLED = False


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()  # the bad-key counters live in the cache, which outlives a test
    yield
    cache.clear()


@pytest.fixture
def key_a(practice_a, manager_a, clinician_a):
    """(ApiKey, raw key) of practice A, which has clinician A."""
    return services.create_key(practice_a, "Front desk EHR", manager_a)


@pytest.fixture
def key_b(practice_b, manager_b):
    return services.create_key(practice_b, "Practice B EHR", manager_b)


@pytest.fixture
def platform_admin(db):
    return get_user_model().objects.create_user("staff", password=factories.PASSWORD, is_staff=True)


def visits_url(slug="a"):
    return f"/api/v1/practices/{slug}/visits"


def post(client, body, raw_key=None, slug="a", **extra):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    if raw_key is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {raw_key}"
    return client.post(visits_url(slug), data=data, content_type="application/json", **extra)


def schema(name):
    return DOCUMENT["components"]["schemas"][name]


def assert_matches(body, name):
    jsonschema.Draft202012Validator(schema(name), format_checker=jsonschema.FormatChecker()).validate(body)


def local(url: str) -> str:
    assert url.startswith(SITE + "/"), url
    return url[len(SITE) :]


# --- creating visits ---------------------------------------------------------------------------


class TestCreateVisit:
    def test_it_creates_a_visit_with_its_wave_and_returns_the_links(self, client, key_a, clinician_a):
        response = post(client, {"clinician": "clin-a", "patient": "PT-0042"}, key_a[1])

        assert response.status_code == 201, response.content
        assert response["Content-Type"] == "application/json"
        assert "no-store" in response["Cache-Control"]
        body = response.json()
        assert_matches(body, "VisitCreated")
        visit = Visit.objects.select_related("dyad__patient", "dyad__clinician").get(pk=body["visit"])
        assert (visit.practice.slug, visit.dyad.clinician, visit.dyad.patient.reference) == ("a", clinician_a, "PT-0042")
        assert visit.date == timezone.localdate()
        assert sorted(visit.invitations.values_list("respondent", flat=True)) == ["clinician", "patient"]
        assert body["clinician_url"] == SITE + reverse("clinician_questionnaire", args=[visit.pk])

        questionnaire = client.get(local(body["patient_url"]))
        assert questionnaire.status_code == 200
        assert 'name="P01"' in questionnaire.content.decode()
        qr = client.get(local(body["qr_svg_url"]))
        assert qr.status_code == 200 and qr["Content-Type"] == "image/svg+xml"
        assert local(body["qr_svg_url"]) == local(body["patient_url"]) + "qr.svg"

    def test_it_takes_a_date_and_contact_details(self, client, key_a, clinician_a):
        body = {"clinician": "clin-a", "patient": "PT-7", "date": "2026-03-02", "email": "pt@example.org", "phone": "+1 555 0100 22"}
        response = post(client, body, key_a[1])
        assert response.status_code == 201, response.content
        visit = Visit.objects.get(pk=response.json()["visit"])
        assert visit.date == dt.date(2026, 3, 2)
        invitation = visit.invitations.get(respondent="patient")
        assert (invitation.contact_email, invitation.contact_phone) == ("pt@example.org", "+1 555 0100 22")
        assert visit.invitations.get(respondent="clinician").contact_email == ""
        events = str(list(AuditEvent.objects.values_list("detail", "actor_name")))
        assert "pt@example.org" not in events and "0100" not in events

    def test_it_audits_the_visit_as_an_import_by_the_key(self, client, key_a, practice_a, clinician_a):
        key, raw = key_a
        response = post(client, {"clinician": "clin-a", "patient": "PT-1"}, raw, REMOTE_ADDR="10.9.8.7")
        event = AuditEvent.objects.get(action=Action.VISIT_IMPORT)
        assert (event.practice, event.object_id, event.actor) == (practice_a, str(response.json()["visit"]), None)
        assert key.prefix in event.actor_name and "Front desk EHR" in event.actor_name
        assert event.detail == {"via": "api", "api_key": key.pk, "created": 1}
        assert event.client_address == "10.9.8.7"

    def test_a_signed_in_session_is_not_a_key(self, client, manager_a, key_a, clinician_a):
        client.force_login(manager_a)
        assert post(client, {"clinician": "clin-a", "patient": "PT-1"}).status_code == 401
        response = post(client, {"clinician": "clin-a", "patient": "PT-1"}, key_a[1])
        assert response.status_code == 201
        # The visit is the key's doing, not the signed-in manager's.
        assert AuditEvent.objects.get(action=Action.VISIT_IMPORT).actor is None

    def test_it_marks_the_key_as_used(self, client, key_a, clinician_a):
        key, raw = key_a
        assert key.last_used_at is None
        post(client, {"clinician": "clin-a", "patient": "PT-1"}, raw)
        key.refresh_from_db()
        assert key.last_used_at is not None

    def test_the_same_visit_twice_is_409_naming_the_visit(self, client, key_a, clinician_a):
        body = {"clinician": "clin-a", "patient": "PT-1", "date": "2026-03-02"}
        first = post(client, body, key_a[1])
        again = post(client, body, key_a[1])
        assert again.status_code == 409
        assert_matches(again.json(), "DuplicateVisit")
        assert again.json()["visit"] == first.json()["visit"]
        assert Visit.objects.count() == 1
        # Another day is another visit.
        assert post(client, {**body, "date": "2026-03-03"}, key_a[1]).status_code == 201

    def test_it_answers_503_when_no_instrument_is_loaded(self, client, key_a, clinician_a):
        from surveys.models import InstrumentVersion

        InstrumentVersion.objects.update(is_current=False)
        response = post(client, {"clinician": "clin-a", "patient": "PT-1"}, key_a[1])
        assert response.status_code == 503
        assert_matches(response.json(), "Error")
        assert Visit.objects.count() == 0


# --- keys on the API ---------------------------------------------------------------------------


class TestKeysOnTheApi:
    def test_no_key_is_401_with_a_bearer_challenge(self, client, practice_a, clinician_a):
        response = post(client, {"clinician": "clin-a", "patient": "PT-1"})
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer ")
        assert_matches(response.json(), "Error")
        assert Visit.objects.count() == 0

    @pytest.mark.parametrize(
        "header",
        [
            "Bearer",
            "Bearer ",
            "Basic aGs6aGs=",
            "Token hk_" + "A" * 43,
            "Bearer hk_short",
            "Bearer hk_" + "A" * 43,  # well formed, but no such key
            "Bearer " + "x" * 5000,
            "Bearer hk_" + "é" * 43,
        ],
    )
    def test_a_bad_key_is_401(self, client, key_a, clinician_a, header):
        response = post(client, {"clinician": "clin-a", "patient": "PT-1"}, HTTP_AUTHORIZATION=header)
        assert response.status_code == 401
        assert Visit.objects.count() == 0

    def test_a_revoked_key_is_401(self, client, key_a, manager_a, clinician_a):
        key, raw = key_a
        services.revoke_key(key, manager_a)
        assert post(client, {"clinician": "clin-a", "patient": "PT-1"}, raw).status_code == 401
        assert Visit.objects.count() == 0

    def test_another_practices_key_is_404(self, client, key_a, key_b, clinician_a, clinician_b):
        response = post(client, {"clinician": "clin-a", "patient": "PT-1"}, key_b[1], slug="a")
        assert response.status_code == 404
        assert_matches(response.json(), "Error")
        assert Visit.objects.count() == 0

    def test_an_unknown_practice_is_404_with_a_key_and_401_without(self, client, key_a):
        assert post(client, {"clinician": "clin-a", "patient": "PT-1"}, key_a[1], slug="nowhere").status_code == 404
        assert post(client, {"clinician": "clin-a", "patient": "PT-1"}, slug="nowhere").status_code == 401

    @pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
    def test_it_takes_only_post(self, client, key_a, method):
        response = getattr(client, method)(visits_url(), HTTP_AUTHORIZATION=f"Bearer {key_a[1]}")
        assert response.status_code == 405
        assert response["Allow"] == "POST"
        assert_matches(response.json(), "Error")

    def test_too_many_bad_keys_from_one_address_is_429_but_a_live_key_still_works(self, client, settings, key_a,
                                                                                   clinician_a):
        settings.API_KEY_MISS_LIMIT = "3/m"
        for _ in range(3):
            assert post(client, {}, "hk_" + "B" * 43).status_code == 401
        limited = post(client, {}, "hk_" + "C" * 43)
        assert limited.status_code == 429
        assert int(limited["Retry-After"]) > 0
        assert_matches(limited.json(), "Error")
        # Bad keys from a shared address (an EHR gateway, a clinic's NAT) do not lock out the practice's own key.
        assert post(client, {"clinician": "clin-a", "patient": "PT-1"}, key_a[1]).status_code == 201

    def test_each_key_has_its_own_request_limit(self, client, settings, key_a, practice_a, manager_a, clinician_a):
        settings.API_KEY_RATE_LIMIT = "2/m"
        other = services.create_key(practice_a, "Second system", manager_a)[1]
        assert post(client, {"clinician": "clin-a", "patient": "PT-1"}, key_a[1]).status_code == 201
        assert post(client, {"clinician": "clin-a", "patient": "PT-2"}, key_a[1]).status_code == 201
        limited = post(client, {"clinician": "clin-a", "patient": "PT-3"}, key_a[1])
        assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
        assert_matches(limited.json(), "Error")
        assert post(client, {"clinician": "clin-a", "patient": "PT-3"}, other).status_code == 201

    def test_the_raw_key_is_never_stored(self, key_a):
        key, raw = key_a
        assert RAW_KEY.fullmatch(raw)
        assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
        assert key.prefix == raw[:8]
        stored = ApiKey.objects.filter(pk=key.pk).values().get()
        assert not any(raw in str(value) for value in stored.values())
        assert raw not in str(list(AuditEvent.objects.values()))


# --- malformed bodies --------------------------------------------------------------------------

GOOD = {"clinician": "clin-a", "patient": "PT-1"}


class TestMalformedBodies:
    @pytest.mark.parametrize(
        "body",
        [b"", b"   ", b"not json", b"{", b"[1, 2]", b'"clin-a"', b"42", b"null", b"\xff\xfe{}", b"\xef\xbb\xbf{}",
         b"[" * 10_000, b"1" * 10_000, b'{"clinician": "clin-a", "patient": NaN'],
    )
    def test_a_body_that_is_not_a_json_object_is_400(self, client, key_a, clinician_a, body):
        response = post(client, body, key_a[1])
        assert response.status_code == 400
        assert_matches(response.json(), "ValidationError")
        assert response.json()["fields"] == {}
        assert Visit.objects.count() == 0

    @pytest.mark.parametrize(
        ("body", "fields"),
        [
            ({}, {"clinician", "patient"}),
            ({"clinician": "clin-a"}, {"patient"}),
            ({"patient": "PT-1"}, {"clinician"}),
            ({**GOOD, "name": "Jane Doe"}, {"name"}),
            ({**GOOD, "date": "2026-02-30"}, {"date"}),
            ({**GOOD, "date": "02/03/2026"}, {"date"}),
            ({**GOOD, "date": "20260302"}, {"date"}),
            ({**GOOD, "date": 20260302}, {"date"}),
            ({**GOOD, "clinician": "nobody"}, {"clinician"}),
            ({**GOOD, "clinician": "mgr-a"}, {"clinician"}),  # a manager, not a clinician
            ({**GOOD, "clinician": "clin-b"}, {"clinician"}),  # a clinician elsewhere
            ({**GOOD, "clinician": 42}, {"clinician"}),
            ({**GOOD, "clinician": ["clin-a"]}, {"clinician"}),
            ({**GOOD, "clinician": "   "}, {"clinician"}),
            ({**GOOD, "clinician": "x" * 151}, {"clinician"}),
            ({**GOOD, "patient": None}, {"patient"}),
            ({**GOOD, "patient": "x" * 65}, {"patient"}),
            ({**GOOD, "patient": "Jane Smith"}, {"patient"}),  # no digit: may be a name, never stored
            ({**GOOD, "patient": "PT\n1"}, {"patient"}),
            ({**GOOD, "patient": "PT\u00001"}, {"patient"}),
            ({**GOOD, "patient": "PT\ud8001"}, {"patient"}),
            ({**GOOD, "patient": {"id": 1}}, {"patient"}),
            ({**GOOD, "email": "not-an-address"}, {"email"}),
            ({**GOOD, "email": 1}, {"email"}),
            ({**GOOD, "phone": "call me"}, {"phone"}),
            ({**GOOD, "phone": "12"}, {"phone"}),
            ({"clinician": None, "patient": None, "extra": True, "date": "x"}, {"clinician", "patient", "extra", "date"}),
        ],
    )
    def test_each_bad_field_gets_its_own_message(self, client, key_a, clinician_a, clinician_b, manager_a, body, fields):
        response = post(client, body, key_a[1])
        assert response.status_code == 400, response.content
        assert_matches(response.json(), "ValidationError")
        assert set(response.json()["fields"]) == fields
        assert Visit.objects.count() == 0

    def test_an_unknown_clinician_and_someone_elsewhere_get_the_same_answer(self, client, key_a, clinician_a, clinician_b):
        unknown = post(client, {**GOOD, "clinician": "nobody"}, key_a[1]).json()
        elsewhere = post(client, {**GOOD, "clinician": "clin-b"}, key_a[1]).json()
        assert unknown == elsewhere

    def test_contact_details_are_not_repeated_in_errors(self, client, key_a, clinician_a):
        response = post(client, {**GOOD, "email": "jane.doe@@example", "phone": "jane 555"}, key_a[1])
        assert "jane" not in response.content.decode()

    def test_empty_optional_fields_count_as_absent(self, client, key_a, clinician_a):
        body = {**GOOD, "date": "", "email": "", "phone": None}
        assert_matches(body, "VisitRequest")  # the document says what the server does
        response = post(client, body, key_a[1])
        assert response.status_code == 201

    @pytest.mark.parametrize(("name", "value"), [("phone", "12345"), ("phone", "+"), ("date", "2026-13-01"),
                                                 ("email", "no-at-sign"), ("date", "1999-12-31")])
    def test_what_the_document_refuses_the_server_refuses(self, client, key_a, clinician_a, name, value):
        body = {**GOOD, name: value}
        if name != "date" or value != "1999-12-31":  # the date range is said in prose: JSON Schema has no date bounds
            with pytest.raises(jsonschema.ValidationError):
                assert_matches(body, "VisitRequest")
        response = post(client, body, key_a[1])
        assert response.status_code == 400 and name in response.json()["fields"]

    @pytest.mark.parametrize("path", ["/api/v1/practices/not a slug/visits", "/api/v1/practices/a/visit",
                                      "/api/v1/nothing"])
    def test_a_path_that_is_no_endpoint_is_a_json_404(self, client, path):
        response = client.post(path, data="{}", content_type="application/json")
        assert response.status_code == 404
        assert_matches(response.json(), "Error")

    def test_an_oversized_body_is_413(self, client, key_a, clinician_a):
        response = post(client, {**GOOD, "padding": "x" * 20_000}, key_a[1])
        assert response.status_code == 413
        assert_matches(response.json(), "Error")
        assert Visit.objects.count() == 0


JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(alphabet=st.characters(exclude_categories=()), max_size=80),  # lone surrogates and NUL included
    st.sampled_from(["clin-a", "clin-b", "mgr-a", "PT-1", "2026-03-02", "2026-02-30", "a@example.org", "+1 555 0100"]),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
VISIT_LIKE = st.dictionaries(
    st.sampled_from(["clinician", "patient", "date", "email", "phone", "other"]) | st.text(max_size=12),
    JSON_VALUES,
    max_size=7,
)
def mostly(good, bad):
    """Usually a good value, now and then a bad one: so that fuzzing also reaches the paths past validation."""
    return st.integers(0, 3).flatmap(lambda n: bad if n == 0 else good)


NEAR_VALID = st.fixed_dictionaries(
    {
        "clinician": mostly(st.sampled_from(["clin-a", " clin-a ", "clin-a"]), st.sampled_from(["clin-b", "mgr-a"]) | JSON_LEAVES),
        "patient": mostly(st.from_regex(r"[A-Za-z0-9 _.-]{0,63}[A-Za-z0-9]", fullmatch=True), st.text(max_size=80) | JSON_LEAVES),
    },
    optional={
        "date": mostly(st.dates().map(dt.date.isoformat), JSON_LEAVES),
        "email": mostly(st.emails(), JSON_LEAVES),
        "phone": mostly(st.from_regex(r"\+?[0-9][0-9 ()-]{4,25}[0-9]", fullmatch=True), JSON_LEAVES),
    },
)
FUZZ = hypothesis_settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class TestFuzzedBodies:
    """Arbitrary bodies (docs/security.md): never a 500, and a visit only with a 201."""

    @FUZZ
    @given(body=st.one_of(NEAR_VALID, VISIT_LIKE, JSON_VALUES))
    def test_arbitrary_json_never_fails(self, client, key_a, clinician_a, clinician_b, body):
        before = Visit.objects.count()
        response = post(client, json.dumps(body), key_a[1])
        event(f"status {response.status_code}")
        assert response.status_code in {201, 400, 409}, (response.status_code, body)
        assert response["Content-Type"] == "application/json"
        created = Visit.objects.count() - before
        assert created == (1 if response.status_code == 201 else 0)
        if response.status_code == 201:
            assert Invitation.objects.filter(visit_id=response.json()["visit"]).count() == 2

    @FUZZ
    @given(body=st.binary(max_size=2_000))
    def test_arbitrary_bytes_never_fail(self, client, key_a, clinician_a, body):
        response = post(client, body, key_a[1])
        assert response.status_code in {201, 400, 409}, (response.status_code, body)
        assert response["Content-Type"] == "application/json"


# --- the managers' key pages -------------------------------------------------------------------


def keys_url(slug="a"):
    return reverse("api_keys", args=[slug])


def revoke_url(key, slug="a"):
    return reverse("api_key_revoke", args=[slug, key.pk])


class TestKeyPages:
    def test_a_manager_sees_the_practices_keys_without_their_secrets(self, client, manager_a, key_a, key_b):
        client.force_login(manager_a)
        response = client.get(keys_url())
        html = response.content.decode()
        assert response.status_code == 200
        assert "Front desk EHR" in html and f"{key_a[0].prefix}…" in html
        assert "Practice B EHR" not in html
        assert key_a[1] not in html and key_a[0].key_hash not in html
        assert "no-store" in response["Cache-Control"]

    def test_creating_a_key_shows_it_once(self, client, manager_a, practice_a, clinician_a):
        client.force_login(manager_a)
        response = client.post(keys_url(), {"name": "Lab system"})
        assert response.status_code == 200
        raw = RAW_KEY.search(response.content.decode()).group(0)
        key = ApiKey.objects.get(practice=practice_a, name="Lab system")
        assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
        assert key.created_by == manager_a
        assert "no-store" in response["Cache-Control"]
        assert raw not in client.get(keys_url()).content.decode()
        event = AuditEvent.objects.get(action__in=KEY_EVENTS, detail__api_key="created")
        assert (event.actor, event.practice, event.object_id) == (manager_a, practice_a, str(key.pk))
        assert raw not in str(event.detail)
        # And the key it showed works.
        assert post(Client(), GOOD, raw).status_code == 201

    @pytest.mark.parametrize("name", ["", "   ", "x" * 101])
    def test_a_key_needs_a_name(self, client, manager_a, practice_a, name):
        client.force_login(manager_a)
        response = client.post(keys_url(), {"name": name})
        assert response.status_code == 400
        assert not RAW_KEY.search(response.content.decode())
        assert not ApiKey.objects.exists()

    def test_two_live_keys_cannot_share_a_name(self, client, manager_a, key_a):
        client.force_login(manager_a)
        response = client.post(keys_url(), {"name": "Front desk EHR"})
        assert response.status_code == 400
        assert "already has a live key with this name" in response.content.decode()
        services.revoke_key(key_a[0], manager_a)
        assert client.post(keys_url(), {"name": "Front desk EHR"}).status_code == 200
        assert ApiKey.objects.filter(name="Front desk EHR").count() == 2

    def test_revoking_a_key_stops_it_at_once_and_is_audited(self, client, manager_a, practice_a, key_a, clinician_a):
        key, raw = key_a
        client.force_login(manager_a)
        response = client.post(revoke_url(key))
        assert response.status_code == 302 and response["Location"] == keys_url()
        key.refresh_from_db()
        assert key.revoked_at is not None
        assert post(Client(), GOOD, raw).status_code == 401
        again = client.post(revoke_url(key), follow=True)
        assert "already revoked" in again.content.decode()
        events = AuditEvent.objects.filter(action__in=KEY_EVENTS, detail__api_key="revoked")
        assert [(e.actor, e.practice, e.object_id) for e in events] == [(manager_a, practice_a, str(key.pk))]

    def test_revoking_needs_post_and_csrf(self, manager_a, key_a):
        client = Client(enforce_csrf_checks=True)
        client.force_login(manager_a)
        assert client.get(revoke_url(key_a[0])).status_code == 405
        assert client.post(revoke_url(key_a[0])).status_code == 403
        key_a[0].refresh_from_db()
        assert key_a[0].revoked_at is None

    def test_it_checks_the_practice(self, client, manager_b, key_a, key_b):
        client.force_login(manager_b)
        assert client.get(keys_url("a")).status_code == 404
        assert client.post(keys_url("a"), {"name": "Sneaky"}).status_code == 404
        assert client.post(revoke_url(key_a[0], "a")).status_code == 404
        # Practice A's key through practice B's own URL: still not theirs.
        assert client.post(revoke_url(key_a[0], "b")).status_code == 404
        key_a[0].refresh_from_db()
        assert key_a[0].revoked_at is None
        assert not ApiKey.objects.filter(name="Sneaky").exists()

    def test_clinicians_cannot_manage_keys(self, client, clinician_a, key_a):
        client.force_login(clinician_a)
        assert client.get(keys_url()).status_code == 404
        assert client.post(keys_url(), {"name": "Mine"}).status_code == 404
        assert client.post(revoke_url(key_a[0])).status_code == 404
        assert ApiKey.objects.count() == 1

    def test_the_services_check_too(self, clinician_a, manager_b, practice_a, key_a):
        with pytest.raises(services.NotAllowed):
            services.create_key(practice_a, "Side door", clinician_a)
        with pytest.raises(services.NotAllowed):
            services.revoke_key(key_a[0], manager_b)

    def test_anonymous_visitors_are_sent_to_sign_in(self, client, key_a):
        for response in (client.get(keys_url()), client.post(revoke_url(key_a[0]))):
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("login"))

    def test_platform_admins_can_manage_any_practice(self, client, platform_admin, key_a):
        client.force_login(platform_admin)
        assert client.get(keys_url()).status_code == 200
        assert client.post(revoke_url(key_a[0])).status_code == 302

    def test_admin_shows_keys_read_only(self, client, key_a):
        admin = get_user_model().objects.create_superuser("root", "root@example.org", factories.PASSWORD)
        client.force_login(admin)
        page = client.get(reverse("admin:api_apikey_changelist"))
        assert page.status_code == 200
        assert key_a[0].prefix in page.content.decode() and key_a[1] not in page.content.decode()
        assert client.get(reverse("admin:api_apikey_add")).status_code == 403


# --- the description ---------------------------------------------------------------------------


class TestOpenApi:
    def test_it_is_a_valid_openapi_31_document(self, client, db):
        response = client.get("/api/v1/openapi.json")
        assert response.status_code == 200
        document = response.json()
        validate_openapi(document)
        assert document["openapi"].startswith("3.1")
        assert document["servers"] == [{"url": SITE}]
        assert "/api/v1/practices/{practice}/visits" in document["paths"]

    def test_it_names_every_status_the_endpoint_answers(self):
        answered = set(DOCUMENT["paths"]["/api/v1/practices/{practice}/visits"]["post"]["responses"])
        assert answered == {"201", "400", "401", "404", "405", "409", "413", "429", "503"}

    def test_its_request_schema_agrees_with_the_endpoint(self):
        validator = jsonschema.Draft202012Validator(schema("VisitRequest"))
        assert validator.is_valid({"clinician": "clin-a", "patient": "PT-1", "date": "2026-03-02"})
        assert not validator.is_valid({"clinician": "clin-a"})
        assert not validator.is_valid({**GOOD, "other": 1})


# --- two identical requests at once ------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_identical_requests_at_once_make_one_visit(key_a, clinician_a):
    raw = key_a[1]
    barrier = threading.Barrier(4)
    statuses = []

    def run():
        try:
            client = Client()
            connection.close()
            barrier.wait(timeout=30)
            statuses.append(post(client, {**GOOD, "date": "2026-03-02"}, raw).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [201, 409, 409, 409]
    assert Visit.objects.count() == 1
