"""Production settings and the browser-side defences: check --deploy, security headers, a strict CSP, no inline code.

The CSP is only as strict as the pages allow, so every page a person can reach is rendered here and read for
inline scripts, inline styles and event-handler attributes (tests/e2e/test_csp.py then checks in Chromium
that the dashboard's charts draw with no CSP violation at all).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.urls import reverse

from demo.seed import seed_demo
from plumbing import plotlyjs
from plumbing.templatetags import plotly_csp
from surveys.models import Dyad, Practice
from tests import factories
from tests.system.csp_checks import assert_strict, inline_code

BASE_DIR = Path(settings.BASE_DIR)
PRODUCTION_ENV = {
    "DEBUG": "0",
    "ALLOWED_HOSTS": "healing.example.org",
    "DATABASE_URL": "postgres://healing@db.internal:5432/healing",
    "SITE_URL": "https://healing.example.org",
    "CELERY_BROKER_URL": "redis://redis.internal:6379/0",
    "REDIS_URL": "redis://redis.internal:6379/1",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "SMS_BACKEND": "messaging.sms.HttpSmsBackend",
}
# Variables that would loosen production defaults if the developer's shell happened to set them.
LOOSENING = (
    "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD",
    "SECURE_COOKIES", "SECURE_PROXY_SSL_HEADER", "SURVEY_RATE_LIMIT", "SURVEY_MISS_LIMIT", "AXES_ENABLED",
    # Set by tests/e2e/conftest.py for Playwright's sake; check --deploy rightly objects to it.
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)


def manage(*args, env=None, tmp_path=None):
    base = {k: v for k, v in os.environ.items() if k not in LOOSENING and k != "DJANGO_SETTINGS_MODULE"}
    if tmp_path is not None:
        base["HEALING_VAR_DIR"] = str(tmp_path)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


class TestProductionSettings:
    def test_they_pass_check_deploy_with_no_warnings(self, tmp_path):
        result = manage(
            "check", "--deploy", "--fail-level", "WARNING",
            env={**PRODUCTION_ENV, "SECRET_KEY": secrets.token_urlsafe(64)}, tmp_path=tmp_path,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "System check identified no issues" in result.stdout

    def test_check_deploy_fails_on_the_development_defaults(self, tmp_path):
        # The guard is real: the same check complains about a development configuration.
        result = manage("check", "--deploy", "--fail-level", "WARNING", env={"DEBUG": "1"}, tmp_path=tmp_path)
        assert result.returncode != 0
        assert "security.W018" in result.stdout + result.stderr  # DEBUG on

    def test_they_refuse_to_start_without_a_secret_key(self, tmp_path):
        env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
        result = manage("check", env=env, tmp_path=tmp_path)
        assert result.returncode != 0
        assert "SECRET_KEY must be set" in result.stderr

    def test_they_turn_on_https_hsts_and_secure_cookies(self, tmp_path):
        names = [
            "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD",
            "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "LANGUAGE_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY",
            "CSRF_COOKIE_HTTPONLY", "X_FRAME_OPTIONS", "SECURE_REFERRER_POLICY", "SECURE_CONTENT_TYPE_NOSNIFF",
            "CONTENT_SECURITY_POLICY", "AUTHENTICATION_BACKENDS",
        ]
        script = (
            "import json; from django.conf import settings; "
            f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}, default=str))"
        )
        result = manage("shell", "-c", script, env={**PRODUCTION_ENV, "SECRET_KEY": secrets.token_urlsafe(64)}, tmp_path=tmp_path)
        assert result.returncode == 0, result.stderr
        values = json.loads(result.stdout.strip().splitlines()[-1])
        assert values["SECURE_SSL_REDIRECT"] is True
        assert values["SECURE_HSTS_SECONDS"] >= 31_536_000
        assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
        for cookie in ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "LANGUAGE_COOKIE_SECURE"):
            assert values[cookie] is True, cookie
        assert values["SESSION_COOKIE_HTTPONLY"] is True and values["CSRF_COOKIE_HTTPONLY"] is True
        assert values["X_FRAME_OPTIONS"] == "DENY"
        assert values["SECURE_REFERRER_POLICY"] == "same-origin"
        assert values["SECURE_CONTENT_TYPE_NOSNIFF"] is True
        assert values["AUTHENTICATION_BACKENDS"][0] == "axes.backends.AxesStandaloneBackend"
        assert values["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["script-src"] == ["'self'"]


# --- pages ----------------------------------------------------------------------------------------------------




@pytest.fixture
def demo(db):
    seed_demo(practices=1, clinicians=3, visits=90, seed=11)
    return Practice.objects.get(slug="demo-1")


def user(username):
    return get_user_model().objects.get(username=username)


class TestEveryPageIsStrict:
    def test_the_public_pages(self, client, db):
        for url in [reverse("home"), reverse("login"), reverse("password_reset"), "/no-such-page/"]:
            response = client.get(url)
            assert response.status_code in {200, 404}
            assert_strict(response)

    def test_the_patient_questionnaire_and_its_answers(self, client, visit_a):
        url = reverse("patient_questionnaire", args=[visit_a.patient_token])
        assert_strict(client.get(url))
        assert_strict(client.get(url + "?lang=es"))
        refused = client.post(url, {"P01": "7"})  # an answer off the scale: the page comes back with its errors
        assert refused.status_code == 400
        assert_strict(refused)
        answers = factories.full_answers(factories.patient_invitation(visit_a))
        thanked = client.post(url, answers, follow=True)
        assert thanked.status_code == 200
        assert_strict(thanked)
        used = client.get(url)
        assert used.status_code == 409
        assert_strict(used)
        assert_strict(client.get(reverse("patient_questionnaire", args=["x" * 43])))

    def test_the_patient_pages_still_send_no_referrer(self, client, visit_a):
        response = client.get(reverse("patient_questionnaire", args=[visit_a.patient_token]))
        assert response["Referrer-Policy"] == "no-referrer"
        assert client.get(reverse("login"))["Referrer-Policy"] == "same-origin"

    def test_the_manager_dashboard(self, client, demo):
        client.force_login(user("manager1"))
        response = client.get(reverse("practice_dashboard", args=[demo.slug]))
        assert response.status_code == 200
        html = response.content.decode()
        assert 'type="application/json"' in html, "the dashboard should have charts to check"
        assert_strict(response)
        # The panels htmx swaps in when a filter changes.
        assert_strict(client.get(reverse("practice_dashboard", args=[demo.slug]), HTTP_HX_REQUEST="true"))

    def test_the_clinician_pages(self, client, demo):
        clinician = user("clinician1a")
        client.force_login(clinician)
        for url in [reverse("clinician_home"), reverse("my_relationships", args=[demo.slug])]:
            response = client.get(url)
            assert response.status_code == 200
            assert_strict(response)
        dyad = Dyad.objects.filter(clinician=clinician, visits__responses__isnull=False).first()
        assert_strict(client.get(reverse("my_dyad", args=[demo.slug, dyad.pk])))

    def test_the_clinician_questionnaire(self, client, visit_a, clinician_a):
        client.force_login(clinician_a)
        url = reverse("clinician_questionnaire", args=[visit_a.visit.pk])
        assert_strict(client.get(url))
        assert_strict(client.post(url, {"comment": "x"}))

    def test_the_admin(self, client, demo):
        client.force_login(user("admin"))
        for url in ["/admin/", "/admin/surveys/practice/", f"/admin/surveys/practice/{demo.pk}/change/"]:
            response = client.get(url)
            assert response.status_code == 200
            assert "Content-Security-Policy" in response

    def test_the_error_pages(self, client, visit_a, settings):
        url = reverse("patient_questionnaire", args=[visit_a.patient_token])
        too_big = client.post(url, data=b"x", content_type="text/plain", CONTENT_LENGTH=str(50 * 1024 * 1024))
        assert too_big.status_code == 413
        assert_strict(too_big)
        settings.SURVEY_RATE_LIMIT = "1/m"
        client.get(url)
        limited = client.get(url)
        assert limited.status_code == 429
        assert_strict(limited)

    def test_the_forbidden_page(self, rf, db):
        from django.contrib.auth.models import AnonymousUser
        from django.core.exceptions import PermissionDenied
        from django.views.defaults import permission_denied

        request = rf.get("/")
        request.user = AnonymousUser()
        response = permission_denied(request, PermissionDenied())
        html = response.content.decode()
        assert response.status_code == 403
        assert "You cannot open this page" in html and "No puede abrir esta página" in html
        assert inline_code(html) == []


def test_no_template_has_inline_code():
    """Every template served under the CSP; the self-contained report file is opened offline, not served."""
    offline = {"reports/report.html"}
    problems = {}
    for folder in settings.TEMPLATES[0]["DIRS"] + [BASE_DIR / app / "templates" for app in ("surveys", "reports")]:
        for path in Path(folder).rglob("*.html"):
            name = path.relative_to(folder).as_posix()
            if name in offline:
                continue
            text = path.read_text(encoding="utf-8")
            text = re.sub(r"\{#.*?#\}", "", text, flags=re.S)
            text = re.sub(r"\{% comment %\}.*?\{% endcomment %\}", "", text, flags=re.S)
            text = re.sub(r"\{[{%].*?[%}]\}", "", text, flags=re.S)  # template tags and variables
            found = inline_code(text)
            if found:
                problems[name] = found
    assert problems == {}


def test_the_plotly_stylesheet_matches_the_served_plotly():
    """static/css/plotly.css stands in for the <style> plotly.js would inject; regenerate it after rebuilding
    the bundle: python -m plumbing.templatetags.plotly_csp > static/css/plotly.css"""
    ours = (BASE_DIR / "static" / "css" / "plotly.css").read_text(encoding="utf-8")
    ours = ours.split("*/", 1)[1].lstrip("\n")
    assert ours == plotly_csp.global_css()
    # And that <style> is the only one it would inject (the full bundle adds maplibre's; ours has no maps).
    assert plotlyjs.source().count('createElement("style")') == 1


# --- no secret in a log -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "backends",
    [
        {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"},
        {"SMS_BACKEND": "messaging.sms.ConsoleSmsBackend"},
    ],
)
def test_console_backends_are_refused_in_production_unless_allowed(tmp_path, backends):
    env = {**PRODUCTION_ENV, "SECRET_KEY": secrets.token_urlsafe(64), **backends}
    refused = manage("check", env=env, tmp_path=tmp_path)
    assert refused.returncode != 0
    assert "would write patient links into the logs" in refused.stderr
    allowed = manage("check", env={**env, "ALLOW_CONSOLE_BACKENDS": "1"}, tmp_path=tmp_path)
    assert allowed.returncode == 0, allowed.stderr


def test_a_post_to_the_openapi_document_is_405_not_a_csrf_page(db):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/api/v1/openapi.json", {})
    assert response.status_code == 405
