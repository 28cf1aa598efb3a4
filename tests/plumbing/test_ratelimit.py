"""Patient links are rate-limited per client address: a friendly 429, other addresses unaffected, windows reset."""

from __future__ import annotations

import socket
import threading
import uuid

import pytest
from django.core.cache import cache
from django.test import RequestFactory, override_settings
from django.urls import reverse

from plumbing import ratelimit
from plumbing.ratelimit import Rate
from surveys.models import Response
from tests import factories

T0 = 1_800_000_000.0  # a fixed "now", at the start of a minute


@pytest.fixture(autouse=True)
def fresh_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def now(monkeypatch):
    """A clock the test moves by hand: `now.t += 60`."""

    class Clock:
        t = T0

    clock = Clock()
    monkeypatch.setattr(ratelimit, "_now", lambda: clock.t)
    return clock


def link(visit, **params):
    url = reverse("patient_questionnaire", args=[visit.patient_token])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def unknown_link():
    return reverse("patient_questionnaire", args=["u" * 43])


class TestRate:
    @pytest.mark.parametrize(
        "text, limit, seconds",
        [("120/60", 120, 60), ("120/m", 120, 60), ("20/10m", 20, 600), ("5/h", 5, 3600), ("3 / 2s", 3, 2), ("7/d", 7, 86400)],
    )
    def test_it_reads_a_rate(self, text, limit, seconds):
        assert Rate.parse(text) == Rate(limit, seconds)

    @pytest.mark.parametrize("text", ["", "0", "off", None, "0/m"])
    def test_it_reads_no_limit(self, text):
        assert Rate.parse(text) is None

    @pytest.mark.parametrize("text", ["many", "10/fortnight", "-1/m", "1.5/m"])
    def test_it_refuses_what_it_cannot_read(self, text):
        with pytest.raises(ValueError):
            Rate.parse(text)


class TestCounting:
    def test_it_counts_each_address_within_its_window(self):
        rate = Rate(3, 60)
        counts = [ratelimit.hit("t", "10.0.0.1", rate, now=T0 + i).count for i in range(4)]
        assert counts == [1, 2, 3, 4]
        assert ratelimit.hit("t", "10.0.0.2", rate, now=T0 + 5).count == 1
        assert ratelimit.peek("t", "10.0.0.1", rate, now=T0 + 6).count == 4

    def test_the_window_resets(self):
        rate = Rate(3, 60)
        for i in range(4):
            last = ratelimit.hit("t", "10.0.0.1", rate, now=T0 + i)
        assert last.exceeded and last.reset_in == 57
        fresh = ratelimit.hit("t", "10.0.0.1", rate, now=T0 + 60)
        assert fresh.count == 1 and not fresh.exceeded

    def test_it_starts_again_when_a_counter_vanishes_between_add_and_incr(self, monkeypatch):
        rate = Rate(3, 60)
        ratelimit.hit("t", "10.0.0.1", rate, now=T0)
        store = ratelimit._cache()
        monkeypatch.setattr(store, "incr", lambda *a, **k: (_ for _ in ()).throw(ValueError("gone")))
        assert ratelimit.hit("t", "10.0.0.1", rate, now=T0 + 1).count == 1

    def test_it_believes_forwarded_addresses_only_from_trusted_proxies(self, settings):
        request = RequestFactory().get("/", REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
        assert ratelimit.client_address(request) == "10.1.1.1"
        settings.TRUSTED_PROXY_COUNT = 1
        assert ratelimit.client_address(request) == "203.0.113.9"  # what our proxy saw, not what the client claims
        settings.TRUSTED_PROXY_COUNT = 3  # fewer hops than proxies: someone is bypassing them
        assert ratelimit.client_address(request) == "10.1.1.1"

    def test_it_answers_only_real_addresses(self, settings):
        settings.TRUSTED_PROXY_COUNT = 1
        garbled = RequestFactory().get("/", REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR="not-an-address")
        assert ratelimit.client_address(garbled) == "10.1.1.1"
        settings.TRUSTED_PROXY_COUNT = 0
        assert ratelimit.client_address(RequestFactory().get("/", REMOTE_ADDR="")) is None
        assert ratelimit.client_address(RequestFactory().get("/", REMOTE_ADDR="::1")) == "::1"


@pytest.fixture
def limits(settings):
    settings.SURVEY_RATE_LIMIT = "3/m"
    settings.SURVEY_MISS_LIMIT = "2/10m"
    return settings


class TestPatientLinks:
    def test_the_request_over_the_limit_gets_a_friendly_429(self, client, visit_a, limits, now):
        for _ in range(3):
            assert client.get(link(visit_a)).status_code == 200
        response = client.get(link(visit_a))
        assert response.status_code == 429
        html = response.content.decode()
        assert "Too many requests" in html and "Please try again in 1 minute" in html
        assert "Demasiadas solicitudes" in html and "Vuelva a intentarlo en 1 minuto" in html
        assert html.index("Too many requests") < html.index("Demasiadas solicitudes")
        assert response["Retry-After"] == "60"
        assert response["Referrer-Policy"] == "no-referrer"  # the URL still holds the token
        assert "no-store" in response["Cache-Control"]

    def test_it_puts_spanish_first_for_a_spanish_speaker(self, client, visit_a, limits, now):
        for _ in range(3):
            client.get(link(visit_a, lang="es"))
        html = client.get(link(visit_a, lang="es")).content.decode()
        assert html.index("Demasiadas solicitudes") < html.index("Too many requests")
        assert '<html lang="es">' in html

    def test_a_refused_submission_saves_nothing(self, client, visit_a, limits, now):
        for _ in range(3):
            client.get(link(visit_a))
        answers = factories.full_answers(factories.patient_invitation(visit_a))
        assert client.post(link(visit_a), answers).status_code == 429
        assert not Response.objects.exists()

    def test_another_address_is_unaffected(self, client, visit_a, limits, now):
        for _ in range(4):
            client.get(link(visit_a))
        assert client.get(link(visit_a)).status_code == 429
        assert client.get(link(visit_a), REMOTE_ADDR="192.0.2.7").status_code == 200

    def test_the_window_resets(self, client, visit_a, limits, now):
        for _ in range(4):
            client.get(link(visit_a))
        assert client.get(link(visit_a)).status_code == 429
        now.t += 60
        assert client.get(link(visit_a)).status_code == 200

    def test_the_qr_code_counts_too(self, client, visit_a, limits, now):
        qr = reverse("patient_qr", args=[visit_a.patient_token])
        assert client.get(qr).status_code == 200
        client.get(link(visit_a))
        client.get(link(visit_a))
        assert client.get(qr).status_code == 429

    def test_guessing_links_is_stopped_sooner(self, client, visit_a, limits, now):
        assert client.get(unknown_link()).status_code == 404
        assert client.get(unknown_link()).status_code == 404
        # Two misses used up the address's allowance: the next guess waits for the window to end.
        response = client.get(unknown_link())
        assert response.status_code == 429
        assert response["Retry-After"] == "600"
        now.t += 600
        assert client.get(unknown_link()).status_code == 404

    def test_a_guesser_behind_the_waiting_rooms_address_locks_no_patient_out(self, client, visit_a, limits, now):
        # Patients on the practice's wifi share one address with whoever guesses links from it.
        limits.SURVEY_RATE_LIMIT = "100/m"
        for _ in range(3):
            client.get(unknown_link())
        assert client.get(unknown_link()).status_code == 429
        assert client.get(link(visit_a)).status_code == 200

    def test_used_and_expired_links_are_not_misses(self, client, visit_a, limits, now):
        answers = factories.full_answers(factories.patient_invitation(visit_a))
        client.post(link(visit_a), answers)
        now.t += 60  # a fresh request window; misses are counted over ten minutes
        for _ in range(3):
            assert client.get(link(visit_a)).status_code == 409

    def test_no_limit_when_turned_off(self, client, visit_a, settings):
        settings.SURVEY_RATE_LIMIT = "0"
        settings.SURVEY_MISS_LIMIT = "0"
        for _ in range(10):
            assert client.get(unknown_link()).status_code == 404
        assert client.get(link(visit_a)).status_code == 200

    def test_the_staff_pages_are_not_limited(self, client, limits, now, db):
        for _ in range(6):
            assert client.get(reverse("login")).status_code == 200


def redis_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not redis_available(), reason="needs Redis on 127.0.0.1:6379 (CI starts one)")
def test_it_counts_exactly_on_redis_under_concurrency():
    """cache.add + cache.incr on Redis: concurrent requests of one address get distinct, gapless counts."""
    redis_cache = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/14",
        "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
    }
    with override_settings(CACHES={"default": redis_cache}):
        rate = Rate(1000, 60)
        counts, barrier = [], threading.Barrier(20)

        def burst():
            barrier.wait(timeout=10)
            for _ in range(10):
                counts.append(ratelimit.hit("t", "198.51.100.1", rate, now=T0).count)

        threads = [threading.Thread(target=burst) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        # Keys expire with their window; the prefix is this run's own, so nothing else is touched.
        assert sorted(counts) == list(range(1, 201))


class TestPasswordReset:
    def test_requests_are_limited_per_client_and_per_address_asked_for(self, client, settings, now, db):
        settings.PASSWORD_RESET_LIMIT = "2/h"
        url = reverse("password_reset")
        for _ in range(2):
            assert client.post(url, {"email": "someone@example.org"}).status_code == 302
        refused = client.post(url, {"email": "someone@example.org"})
        assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
        # Another client asking for the same inbox is refused too; asking for another is not.
        assert client.post(url, {"email": "someone@example.org"}, REMOTE_ADDR="192.0.2.9").status_code == 429
        assert client.post(url, {"email": "other@example.org"}, REMOTE_ADDR="192.0.2.9").status_code == 302
        assert client.get(url).status_code == 200  # the form itself is never refused
