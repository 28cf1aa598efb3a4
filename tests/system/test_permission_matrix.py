"""The permission matrix (docs/security.md): every named URL of the site × every kind of visitor → the designed answer.

The visitors are the standing people of two practices, Alder (A) and Birch (B):
anonymous; a patient (anonymous too, but holding a live patient link of practice A); clinician A; clinician B;
the manager of A; the manager of B; and a platform admin (a staff account with no membership).

Every URL is built from practice A's objects (its slug, a visit, a dyad, an invitation, a report, an API key, a
chart key...), so the B people, the anonymous visitor and the patient ask for someone else's data: they get the
sign-in page, or 404 and never data (docs/privacy.md). A page a role may not open is 404 too (a clinician asking for
the practice dashboard, a manager asking for a clinician's own page). Every answer to an outsider is checked
for practice A's data: its name, its patients' references, its clinician's name, its API key's name.

ROWS holds one row per URL name: how to build the URL's arguments, the method to probe it with (POST-only
endpoints are probed with POST, and `test_post_only_urls_refuse_get` checks that GET answers 405), and the
answer per role. `test_every_url_has_a_row` walks the resolver, so a new URL without a row fails the suite, and
a row whose URL is gone fails it too. A row may be written before its URL is wired: mark it `pending=True` and
it is checked as soon as its name resolves (skipped until then); drop the mark once the URL is in.

Left out: Django's admin (its own permission system: staff only, tested by Django) and static files.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.http import QueryDict
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from surveys import services
from surveys.models import Response
from surveys.tokens import new_token
from tests import factories

# --- the people -----------------------------------------------------------------------------------

ANON, PATIENT, CLIN_A, CLIN_B, MGR_A, MGR_B, ADMIN = ROLES = (
    "anonymous",
    "patient",
    "clinician_a",
    "clinician_b",
    "manager_a",
    "manager_b",
    "admin",
)
# People outside practice A: nothing they are shown may carry practice A's data.
OUTSIDERS = (ANON, PATIENT, CLIN_B, MGR_B)

SLUG_A, SLUG_B = "alder", "birch"
PRACTICE_A_NAME = "Alder Lane Practice"
CLINICIAN_A_NAME = ("Ada", "Alderson")
PATIENT_PREFIX_A = "ALDER-PT-"
API_KEY_NAME_A = "Alder front desk EHR"
# What must never reach an outsider: any of these in a page means practice A's data leaked.
PRACTICE_A_MARKERS = (PRACTICE_A_NAME, "Alderson", PATIENT_PREFIX_A, API_KEY_NAME_A)

# --- the answers ----------------------------------------------------------------------------------

LOGIN = "login redirect"  # 302 to /accounts/login/?next=<the path asked for>
FHIR_401 = "401 OperationOutcome"  # FHIR clients get JSON, not a sign-in page
KEY_401 = "401 Bearer"  # the API authenticates by key only


@dataclass(frozen=True)
class Redirect:
    """302 to this path (the whole path, or a prefix ending in '/' when the rest is an id)."""

    to: str
    prefix: bool = False

    def __str__(self):
        return f"302 → {self.to}{'…' if self.prefix else ''}"


def mismatch(expected, response, path: str) -> str | None:
    """None when the response is the designed answer; otherwise what came back instead."""
    status = response.status_code
    location = response.headers.get("Location", "")
    got = f"{status}" + (f" → {location}" if location else "")
    if expected == LOGIN:
        wanted = QueryDict(mutable=True)
        wanted["next"] = path
        login = f"{reverse('login')}?{wanted.urlencode(safe='/')}"
        return None if status == 302 and location == login else got
    if isinstance(expected, Redirect):
        ok = status == 302 and (location.startswith(expected.to) if expected.prefix else location == expected.to)
        return None if ok and not location.startswith(reverse("login") + "?") else got
    if expected == FHIR_401:
        if status != 401 or not response["Content-Type"].startswith("application/fhir+json"):
            return f"{got} ({response.get('Content-Type')})"
        return None if json.loads(body(response))["resourceType"] == "OperationOutcome" else "401, not an OperationOutcome"
    if expected == KEY_401:
        if status != 401 or not response.get("WWW-Authenticate", "").startswith("Bearer"):
            return f"{got} (WWW-Authenticate: {response.get('WWW-Authenticate')!r})"
        return None if "error" in json.loads(body(response)) else "401 without a JSON error"
    return None if status == expected else got


def body(response) -> str:
    if getattr(response, "streaming", False):
        content = b"".join(response.streaming_content)
        response.close()
        # Keep it readable for a second look (the leak check after the status check).
        response.streaming_content = [content]
        return content.decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


# Answers by kind of page; `over` changes one role's answer.
def answers(anonymous, patient=None, *, clin_a, clin_b, mgr_a, mgr_b, admin) -> dict:
    return {
        ANON: anonymous,
        PATIENT: anonymous if patient is None else patient,
        CLIN_A: clin_a,
        CLIN_B: clin_b,
        MGR_A: mgr_a,
        MGR_B: mgr_b,
        ADMIN: admin,
    }


def public(ok=200, **over) -> dict:
    return {**{role: ok for role in ROLES}, **over}


def signed_in(ok=200, **over) -> dict:
    """Any signed-in person; anonymous visitors (and patients) are sent to sign in."""
    return {**answers(LOGIN, clin_a=ok, clin_b=ok, mgr_a=ok, mgr_b=ok, admin=ok), **over}


def manager_page(ok=200, **over) -> dict:
    """Practice A's managers and platform admins; any other signed-in person gets 404."""
    return {**answers(LOGIN, clin_a=404, clin_b=404, mgr_a=ok, mgr_b=404, admin=ok), **over}


def admin_page(ok=200, **over) -> dict:
    """Platform admins only; any other signed-in person gets 404."""
    return {**answers(LOGIN, clin_a=404, clin_b=404, mgr_a=404, mgr_b=404, admin=ok), **over}


def clinician_page(ok=200, **over) -> dict:
    """Clinician A's own pages: nobody else's, not their manager's, not a platform admin's."""
    return {**answers(LOGIN, clin_a=ok, clin_b=404, mgr_a=404, mgr_b=404, admin=404), **over}


def fhir_read(**signed) -> dict:
    return {**answers(FHIR_401, clin_a=200, clin_b=200, mgr_a=200, mgr_b=200, admin=200), **signed}


Kwargs = Callable[["World", str, str], dict]  # (world, practice slug, role) -> URL kwargs


def slug_kwargs(w, slug, role):
    return {"slug": slug}


@dataclass(frozen=True)
class Row:
    kwargs: Kwargs
    expect: dict
    method: str = "get"
    data: dict | str | None = None
    content_type: str | None = None
    owned: bool = False  # carries the id of one of practice A's objects besides the slug
    pending: bool = False  # being wired now: checked once the name resolves


def practice_row(**extra) -> Callable:
    return lambda w, slug, role: {"slug": slug, **extra}


def token_kwargs(w, slug, role):
    # The link is the patient's only credential: the patient holds a live one, everyone else a guess.
    return {"token": w.patient_token if role == PATIENT else w.guessed_token}


def code_kwargs(w, slug, role):
    # A QR card's short code is a credential like the link: the patient holds a printed one, everyone else a guess.
    return {"code": w.card_code if role == PATIENT else "AAAA-BBBB-CCCC"}


ROWS: dict[str, Row] = {
    # --- signing in and passwords: Django's views with our templates --------------------------------
    "login": Row(lambda w, s, r: {}, public(200)),
    "favicon": Row(lambda w, s, r: {}, public(301)),  # to the static icon, for everyone
    "logout": Row(lambda w, s, r: {}, public(Redirect("/accounts/login/")), method="post"),
    "password_change": Row(lambda w, s, r: {}, signed_in(200)),
    "password_change_done": Row(lambda w, s, r: {}, signed_in(200)),
    "password_reset": Row(lambda w, s, r: {}, public(200)),
    "password_reset_done": Row(lambda w, s, r: {}, public(200)),
    # A link that is not a real one shows the "invalid link" page; a real one: test_a_password_reset_link_*.
    "password_reset_confirm": Row(lambda w, s, r: {"uidb64": "MQ", "token": "abc-123"}, public(200)),
    "password_reset_complete": Row(lambda w, s, r: {}, public(200)),
    "set_language": Row(lambda w, s, r: {}, public(Redirect("/")), method="post", data={"language": "es", "next": "/"}),
    # --- the start page and the patient's pages ------------------------------------------------------
    "home": Row(
        lambda w, s, r: {},
        answers(
            200,
            clin_a=Redirect("/clinician/"),
            clin_b=Redirect("/clinician/"),
            mgr_a=Redirect(f"/practice/{SLUG_A}/"),
            mgr_b=Redirect(f"/practice/{SLUG_B}/"),
            admin=Redirect(f"/practice/{SLUG_A}/"),  # the first practice by name
        ),
    ),
    "survey_thanks": Row(lambda w, s, r: {}, public(200)),
    "patient_questionnaire": Row(token_kwargs, public(404, **{PATIENT: 200})),
    "patient_qr": Row(token_kwargs, public(404, **{PATIENT: 200})),
    "patient_link_without_slash": Row(token_kwargs, public(302)),  # on to the questionnaire, which checks the token
    "short_code_entry": Row(lambda w, s, r: {}, public(200)),  # the form to type a QR card's code
    "patient_short_code": Row(code_kwargs, public(404, **{PATIENT: 200})),
    # --- clinicians ------------------------------------------------------------------------------------
    "clinician_home": Row(lambda w, s, r: {}, signed_in(200)),
    "clinician_questionnaire": Row(lambda w, s, r: {"visit_id": w.open_visit.pk}, clinician_page(200)),
    "self_assessment": Row(slug_kwargs, clinician_page(200)),  # the competencies self-assessment: their own
    "my_relationships": Row(slug_kwargs, clinician_page(200)),
    "my_chart_csv": Row(practice_row(key="comparison"), clinician_page(200)),
    "my_dyad": Row(lambda w, s, r: {"slug": s, "dyad_id": w.answered_dyad.pk}, clinician_page(200), owned=True),
    # --- managers: dashboard, tools, exports --------------------------------------------------------
    "practice_dashboard": Row(slug_kwargs, manager_page(200)),
    "practice_chart_csv": Row(practice_row(key="heatmap"), manager_page(200)),
    "manager_import": Row(slug_kwargs, manager_page(200)),
    # With no preview in the session there is nothing to confirm: 400 and a page that says so.
    "manager_import_confirm": Row(slug_kwargs, manager_page(400), method="post", data={"sha256": "0" * 64}),
    "manager_invitations": Row(slug_kwargs, manager_page(200)),
    "manager_invitations_send_unsent": Row(
        slug_kwargs, manager_page(Redirect(f"/practice/{SLUG_A}/invitations/")), method="post"
    ),
    "manager_invitation_send": Row(
        lambda w, s, r: {"slug": s, "invitation_id": w.open_invitation.pk},
        manager_page(Redirect(f"/practice/{SLUG_A}/invitations/")),
        method="post",
        owned=True,
    ),
    "manager_cards": Row(slug_kwargs, manager_page(200)),
    "research_exports": Row(slug_kwargs, manager_page(200)),
    "research_codebook_csv": Row(slug_kwargs, manager_page(200)),
    "research_redcap": Row(practice_row(name="patient-1.0"), manager_page(200)),
    # Row-level research files are the admin export: a manager gets 403 (and the page says why).
    "research_answers_csv": Row(slug_kwargs, manager_page(200, **{MGR_A: 403})),
    "research_responses_csv": Row(slug_kwargs, manager_page(200, **{MGR_A: 403})),
    "research_responses_sav": Row(slug_kwargs, manager_page(200, **{MGR_A: 403})),
    "research_zip": Row(slug_kwargs, manager_page(200, **{MGR_A: 403})),
    # --- reports (front/report_urls.py) ----------------------------------------------------------------------
    # A clinician has a reports page of their own (their clinician reports); a practice report is managers'.
    "reports": Row(slug_kwargs, manager_page(200, **{CLIN_A: 200})),
    "report_detail": Row(lambda w, s, r: {"slug": s, "pk": w.report.pk}, manager_page(200), owned=True),
    "report_status": Row(lambda w, s, r: {"slug": s, "pk": w.report.pk}, manager_page(200), owned=True),
    "report_retry": Row(
        lambda w, s, r: {"slug": s, "pk": w.report.pk},
        manager_page(Redirect(f"/practice/{SLUG_A}/reports/", prefix=True)),
        method="post",
        owned=True,
    ),
    "report_download": Row(
        lambda w, s, r: {"slug": s, "pk": w.report.pk, "fmt": "html"}, manager_page(200), owned=True
    ),
    # --- platform admins: the psychometrics page (its practice is chosen in the query string) ---------------
    "psychometrics": Row(lambda w, s, r: {}, admin_page(200)),
    # --- the EHR API (api/urls.py): a key is its only credential, whoever is signed in ---------------
    "api_openapi": Row(lambda w, s, r: {}, public(200)),
    "api_unknown": Row(lambda w, s, r: {}, public(404)),  # any other path under api/v1/: a JSON 404
    "api_create_visit": Row(
        slug_kwargs, public(KEY_401), method="post", data="{}", content_type="application/json"
    ),
    "api_keys": Row(slug_kwargs, manager_page(200)),
    "api_key_revoke": Row(
        lambda w, s, r: {"slug": s, "key_id": w.api_key.pk},
        manager_page(Redirect(f"/practice/{SLUG_A}/api-keys/")),
        method="post",
        owned=True,
    ),
    # --- FHIR (front/fhir_urls.py): signed-in, scoped, 401 OperationOutcome to anonymous ---------------
    "fhir_metadata": Row(lambda w, s, r: {}, public(200)),
    "fhir_questionnaire": Row(lambda w, s, r: {"resource_id": "patient-1.0"}, fhir_read()),
    "fhir_questionnaire_search": Row(lambda w, s, r: {}, fhir_read()),
    "fhir_code_system": Row(lambda w, s, r: {"name": "domains"}, fhir_read()),
    "fhir_structure_definition": Row(lambda w, s, r: {"name": "domain-score"}, fhir_read()),
    "fhir_questionnaire_response": Row(
        lambda w, s, r: {"resource_id": str(w.patient_response.pk)},
        fhir_read(**{CLIN_A: 404, CLIN_B: 404, MGR_A: 404, MGR_B: 404}),  # row-level: platform admins only
    ),
}

SKIPPED_NAMESPACES = {"admin"}  # Django's admin: staff only, its own permission checks


# --- the world: two practices and their people --------------------------------------------------------


@dataclass
class World:
    practice_a: object
    practice_b: object
    users: dict
    open_visit: object  # clinician A's visit whose questionnaires are still open
    patient_token: str  # its patient link: the patient role's credential
    answered_dyad: object  # a dyad of clinician A with both questionnaires answered
    patient_response: object
    guessed_token: str = field(default_factory=new_token)
    _report_builder: Callable | None = None

    @property
    def open_invitation(self):
        return self.open_visit.invitations.get(respondent="patient")

    @cached_property
    def card_code(self):
        return services.print_cards(self.practice_a, self.open_visit.date)[0].code

    @cached_property
    def report(self):
        return self._report_builder()

    @cached_property
    def api_key(self):
        from api import services as api_services

        return api_services.create_key(self.practice_a, API_KEY_NAME_A, self.users[MGR_A])[0]


def _answered_visit(practice, clinician, reference, value):
    new = factories.visit(practice, clinician, reference)
    for respondent in ("patient", "clinician"):
        invitation = new.visit.invitations.get(respondent=respondent)
        # The patient shares their answers with the clinician, so the dyad's page exists to be checked.
        services.submit_response(invitation, factories.full_answers(invitation, value), shared=respondent == "patient")
    return new.visit


@pytest.fixture(autouse=True)
def quiet_sign_ins(settings):
    # django-axes logs each sign-in with the client address; force_login's request has none, which axes stores
    # as "unknown" and PostgreSQL's inet column refuses. Sign-in throttling is tested in tests/system/test_axes.py.
    settings.AXES_ENABLED = False


@pytest.fixture
def world(instruments, settings, tmp_path, django_capture_on_commit_callbacks):
    from healing.celery import app as celery_app

    practice_a = services.create_practice(SLUG_A, PRACTICE_A_NAME, 5)[0]
    practice_b = services.create_practice(SLUG_B, "Birch Road Practice", 5)[0]
    users = {
        CLIN_A: factories.member(practice_a, "clin-a", "clinician"),
        CLIN_B: factories.member(practice_b, "clin-b", "clinician"),
        MGR_A: factories.member(practice_a, "mgr-a", "manager"),
        MGR_B: factories.member(practice_b, "mgr-b", "manager"),
        ADMIN: get_user_model().objects.create_user("staff", password=factories.PASSWORD, is_staff=True),
    }
    users[CLIN_A].first_name, users[CLIN_A].last_name = CLINICIAN_A_NAME
    users[CLIN_A].save()
    open_visit = factories.visit(practice_a, users[CLIN_A], f"{PATIENT_PREFIX_A}0001")
    answered = _answered_visit(practice_a, users[CLIN_A], f"{PATIENT_PREFIX_A}0002", 4)
    _answered_visit(practice_b, users[CLIN_B], "BIRCH-PT-0001", 3)

    settings.SITE_URL = "http://healing.test"

    def build_report():
        previous = celery_app.conf.task_always_eager
        celery_app.conf.task_always_eager = True
        try:
            from reports import services as report_services

            today = dt.date.today()
            with django_capture_on_commit_callbacks(execute=True):
                report = report_services.request_report(
                    practice_a, today - dt.timedelta(days=30), today + dt.timedelta(days=1), requested_by=users[MGR_A]
                )
        finally:
            celery_app.conf.task_always_eager = previous
        report.refresh_from_db()
        assert report.status == "done", report.error
        return report

    return World(
        practice_a=practice_a,
        practice_b=practice_b,
        users=users,
        open_visit=open_visit.visit,
        patient_token=open_visit.patient_token,
        answered_dyad=answered.dyad,
        patient_response=Response.objects.get(visit=answered, respondent="patient"),
        _report_builder=build_report,
    )


def client_for(world: World, role: str) -> Client:
    client = Client()
    if role in world.users:
        client.force_login(world.users[role])
    return client


def ask(client: Client, row: Row, url: str):
    if row.method == "post":
        extra = {"content_type": row.content_type} if row.content_type else {}
        return client.post(url, row.data if row.data is not None else {}, **extra)
    return client.get(url)


def url_for(name: str, world: World, row: Row, role: str, slug: str = SLUG_A) -> str:
    return reverse(name, kwargs=row.kwargs(world, slug, role))


def leaks(response, role: str, expected) -> list[str]:
    """Practice A's data in an answer to an outsider (the patient's own pages may name their practice)."""
    if role not in OUTSIDERS or (role == PATIENT and expected == 200):
        return []
    text = body(response)
    return [marker for marker in PRACTICE_A_MARKERS if marker in text]


# --- the resolver -------------------------------------------------------------------------------------


def site_url_names() -> dict[str, str]:
    """{name: route} for every URL of the site but the admin's; unnamed routes are listed as '<unnamed ...>'."""
    found: dict[str, str] = {}

    def walk(patterns, prefix: str, namespace: str | None):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.namespace in SKIPPED_NAMESPACES:
                    continue
                inner = ":".join(filter(None, [namespace, pattern.namespace]))
                walk(pattern.url_patterns, prefix + str(pattern.pattern), inner or None)
            elif isinstance(pattern, URLPattern):
                route = prefix + str(pattern.pattern)
                if pattern.lookup_str.startswith("django.views.static."):
                    continue  # static() in DEBUG: files, not pages
                name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
                found.setdefault(name or f"<unnamed {route}>", route)

    walk(get_resolver().url_patterns, "/", None)
    return found


def resolves(name: str) -> bool:
    return name in site_url_names()


# --- the tests ----------------------------------------------------------------------------------------


def test_every_url_has_a_row():
    names = site_url_names()
    unnamed = sorted(name for name in names if name.startswith("<unnamed"))
    missing = sorted(name for name in names if name not in ROWS and not name.startswith("<unnamed"))
    gone = sorted(name for name, row in ROWS.items() if name not in names and not row.pending)
    problems = []
    if missing:
        problems.append("URLs with no row in ROWS: " + ", ".join(f"{n} ({names[n]})" for n in missing))
    if unnamed:
        problems.append("URLs with no name (name them, then add a row): " + ", ".join(unnamed))
    if gone:
        problems.append("rows for URLs that no longer exist: " + ", ".join(gone))
    assert not problems, "\n".join(problems)


def test_every_row_is_a_url_of_the_site():
    # A row for a URL that no longer exists is a check that silently stopped running: fail, never skip.
    assert [name for name in ROWS if not resolves(name)] == []


def test_every_row_answers_every_role():
    for name, row in ROWS.items():
        assert set(row.expect) == set(ROLES), name


@pytest.mark.parametrize("name", sorted(ROWS))
def test_the_matrix(name, world):
    row = ROWS[name]
    problems = []
    for role in ROLES:
        url = url_for(name, world, row, role)
        response = ask(client_for(world, role), row, url)
        expected = row.expect[role]
        wrong = mismatch(expected, response, url)
        if wrong:
            problems.append(f"{role:12} {row.method.upper()} {url}: expected {expected}, got {wrong}")
        if response.status_code >= 500:
            continue
        leaked = leaks(response, role, expected)
        if leaked:
            problems.append(f"{role:12} {row.method.upper()} {url}: answer holds practice A's data {leaked}")
    assert not problems, "\n" + "\n".join(problems)


OWNED = sorted(name for name, row in ROWS.items() if row.owned)


@pytest.mark.parametrize("name", OWNED)
def test_another_practices_id_under_ones_own_slug_is_404(name, world):
    """Practice B's people (and platform admins) asking for practice A's object under practice B's slug."""
    row = ROWS[name]
    problems = []
    for role in (CLIN_B, MGR_B, ADMIN):
        url = url_for(name, world, row, role, slug=SLUG_B)
        response = ask(client_for(world, role), row, url)
        if response.status_code != 404:
            problems.append(f"{role} {row.method.upper()} {url}: {response.status_code}, not 404")
        leaked = [m for m in PRACTICE_A_MARKERS if m in body(response)]
        if leaked:
            problems.append(f"{role} {url}: answer holds practice A's data {leaked}")
    assert not problems, "\n" + "\n".join(problems)


# Django's own set_language answers a GET with a redirect that changes nothing, so it is not POST-only.
POST_ONLY = sorted(name for name, row in ROWS.items() if row.method == "post" and name != "set_language")


@pytest.mark.parametrize("name", POST_ONLY)
def test_post_only_urls_refuse_get(name, world):
    row = ROWS[name]
    allowed = next(role for role in (MGR_A, CLIN_A, ADMIN, ANON) if row.expect[role] not in (404, LOGIN))
    url = url_for(name, world, row, allowed)
    response = client_for(world, allowed).get(url)
    assert response.status_code == 405, (url, response.status_code)
    anonymous = client_for(world, ANON).get(url)
    assert mismatch(row.expect[ANON] if row.expect[ANON] == LOGIN else 405, anonymous, url) is None


def test_a_password_reset_link_leads_to_the_new_password_form(world, client):
    user = world.users[MGR_A]
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    url = reverse("password_reset_confirm", args=[uid, default_token_generator.make_token(user)])

    response = client.get(url)

    assert response.status_code == 302 and response["Location"].endswith("/set-password/")
    form = client.get(response["Location"])
    assert form.status_code == 200 and b'name="new_password1"' in form.content


def test_the_404_page_for_another_practice_names_nothing_of_it(world):
    """Spot check of what the matrix asserts everywhere: manager B asking for A's dashboard learns nothing."""
    url = reverse("practice_dashboard", args=[SLUG_A])
    response = client_for(world, MGR_B).get(url)
    assert response.status_code == 404
    text = response.content.decode()
    assert "We could not find this page" in text
    for marker in PRACTICE_A_MARKERS:
        assert marker not in text


def test_outsiders_cannot_tell_a_real_practice_from_a_made_up_one(world):
    real = client_for(world, MGR_B).get(reverse("practice_dashboard", args=[SLUG_A]))
    made_up = client_for(world, MGR_B).get(reverse("practice_dashboard", args=["no-such-practice"]))
    assert real.status_code == made_up.status_code == 404
    # The same page, byte for byte, but for the per-request CSRF token and the language form's own path.
    assert without_csrf_token(real.content) == without_csrf_token(made_up.content)


def without_csrf_token(content: bytes) -> bytes:
    """The page without its per-request parts: the CSRF token and the language form's return path."""
    content = re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", content)
    return re.sub(rb'name="next" value="[^"]*"', b"", content)
