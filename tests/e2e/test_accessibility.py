"""WCAG 2.1 AA in a real browser: axe-core finds no serious or critical violation on the pages people use.

axe-core is vendored from its npm package (tests/e2e/vendor/, see VERSION there); nothing is downloaded at
run time and the site never serves it. It is injected with `page.evaluate`, which the page's Content
Security Policy does not govern, so each page is checked exactly as it is served: strict CSP on.

Only the WCAG 2.0/2.1 A and AA rules run. A failure lists every serious or critical violation with its
help text and the first elements it found; docs/accessibility.md says what was checked and fixed.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from playwright.sync_api import expect

from demo.seed import DEMO_PASSWORD, practice_slug, seed_demo
from surveys.models import Practice
from tests import factories
from tests.e2e.conftest import scroll_through_charts

pytestmark = pytest.mark.e2e

AXE_SOURCE = (Path(__file__).resolve().parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = {"serious", "critical"}
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
HAS_ERROR = re.compile(r"\bhas-error\b")


def axe_violations(page) -> list[dict]:
    """Every WCAG A/AA violation axe finds on the page as it stands."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SOURCE)  # evaluated by the DevTools protocol: not an inline script, so CSP allows it
    results = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})", WCAG_AA
    )
    return results["violations"]


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        targets = ", ".join(" ".join(node["target"]) if isinstance(node["target"], list) else str(node["target"]) for node in v["nodes"][:3])
        lines.append(f"- {v['id']} [{v['impact']}] {v['help']} ({len(v['nodes'])} elements; first: {targets}) {v['helpUrl']}")
        summary = (v["nodes"][0].get("failureSummary") or "").replace("\n", " ").strip() if v["nodes"] else ""
        if summary:
            lines.append(f"    {summary[:300]}")
    return "\n".join(lines)


def assert_accessible(page, what: str):
    blocking = [v for v in axe_violations(page) if v["impact"] in BLOCKING]
    assert not blocking, f"axe found serious or critical WCAG 2.1 AA violations on {what} ({page.url}):\n{describe(blocking)}"


@pytest.fixture
def demo(live_server, transactional_db):
    """A seeded practice, and one fresh visit of its first clinician: an open patient link and an open clinician form."""
    seed_demo(practices=1, clinicians=4, visits=200, seed=5)
    practice = Practice.objects.get(slug=practice_slug(1))
    clinician = get_user_model().objects.get(username="clinician1a")
    new_visit = factories.visit(practice, clinician, "A11Y-001")
    return SimpleNamespace(
        url=live_server.url,
        practice=practice,
        patient_url=live_server.url + reverse("patient_questionnaire", args=[new_visit.patient_token]),
        clinician_url=live_server.url + reverse("clinician_questionnaire", args=[new_visit.visit.pk]),
    )


def sign_in(page, base: str, username: str):
    """Through the real sign-in form (django-axes watches it), as a person would."""
    page.goto(base + reverse("login"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.locator("main form [type=submit]").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def wait_for_charts(page):
    """Every chart drawn by Plotly and its drawing hidden from assistive technology (charts.js does both)."""
    charts = page.locator("[data-chart]")
    assert charts.count() >= 1
    scroll_through_charts(page)
    expect(page.locator('[data-chart][data-rendered="1"]')).to_have_count(charts.count())
    page.wait_for_function(
        """n => document.querySelectorAll('[data-chart][data-rendered="1"] svg.main-svg[aria-hidden="true"]').length >= n
               && !document.querySelector('[data-chart] svg.main-svg:not([aria-hidden])')""",
        arg=charts.count(),
    )


def open_tables(page):
    """Open every 'The numbers as a table' disclosure, so the tables are checked too."""
    page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_patient_questionnaire_is_accessible(page, demo, language):
    page.set_viewport_size(PHONE)
    response = page.goto(f"{demo.patient_url}?lang={language}")
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator("html")).to_have_attribute("lang", language)
    assert_accessible(page, f"the patient questionnaire ({language})")


def test_the_questionnaire_with_errors_is_accessible(page, demo):
    page.set_viewport_size(PHONE)
    page.goto(demo.patient_url)
    page.locator("fieldset.item .choice label").first.tap()
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.locator("[data-submit]").tap()
    assert posted.value.status == 400
    page.wait_for_load_state()
    expect(page.locator("#form-errors")).to_be_visible()
    expect(page.locator("fieldset.item.has-error").first).to_have_class(HAS_ERROR)
    assert_accessible(page, "the questionnaire re-rendered with errors")


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_thank_you_page_is_accessible(page, demo, language):
    page.set_viewport_size(PHONE)
    page.goto(demo.url + reverse("survey_thanks") + f"?lang={language}")
    expect(page.locator("h1")).to_be_visible()
    assert_accessible(page, "the thank-you page")


def test_the_unavailable_page_is_accessible(page, demo):
    page.set_viewport_size(PHONE)
    response = page.goto(demo.url + reverse("patient_questionnaire", args=["not-a-real-token"]))
    assert response.status == 404
    expect(page.get_by_role("heading", name="We could not find this questionnaire")).to_be_visible()
    assert_accessible(page, "the unavailable page")


def test_the_sign_in_page_is_accessible(page, demo):
    page.set_viewport_size(PHONE)
    page.goto(demo.url + reverse("login"))
    assert_accessible(page, "the sign-in page")
    # And with the form's error shown.
    page.get_by_label("Username").fill("clinician1a")
    page.get_by_label("Password").fill("not the password")
    page.locator("main form [type=submit]").click()
    page.wait_for_load_state()
    expect(page.locator(".alert-danger, .invalid-feedback, .errorlist").first).to_be_visible()
    assert_accessible(page, "the sign-in page with an error")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_my_relationships_is_accessible(page, demo, viewport):
    page.set_viewport_size(viewport)
    sign_in(page, demo.url, "clinician1a")
    page.goto(demo.url + reverse("my_relationships", args=[demo.practice.slug]))
    wait_for_charts(page)
    assert_accessible(page, "My relationships")
    open_tables(page)
    assert_accessible(page, "My relationships with its tables open")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_my_questionnaires_is_accessible(page, demo, viewport):
    page.set_viewport_size(viewport)
    sign_in(page, demo.url, "clinician1a")
    page.goto(demo.url + reverse("clinician_home"))
    expect(page.get_by_role("heading", name="My questionnaires")).to_be_visible()
    assert_accessible(page, "My questionnaires")
    # The navigation's menu, opened from the keyboard (on a phone, behind the collapsed navigation's button).
    if viewport == PHONE:
        page.get_by_role("button", name="Menu").click()
    menu = page.get_by_role("button", name="Practices")
    menu.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".dropdown-menu.show")).to_be_visible()
    assert_accessible(page, "My questionnaires with the navigation menu open")


def test_the_clinician_questionnaire_is_accessible(page, demo):
    page.set_viewport_size(DESKTOP)
    sign_in(page, demo.url, "clinician1a")
    response = page.goto(demo.clinician_url)
    assert response.status == 200
    expect(page.locator("form[data-questionnaire]")).to_be_visible()
    assert_accessible(page, "the clinician questionnaire")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_practice_dashboard_is_accessible(page, demo, viewport):
    page.set_viewport_size(viewport)
    sign_in(page, demo.url, "manager1")
    response = page.goto(demo.url + reverse("practice_dashboard", args=[demo.practice.slug]))
    assert "script-src 'self'" in response.headers["content-security-policy"]
    wait_for_charts(page)
    assert_accessible(page, "the practice dashboard")
    open_tables(page)
    assert_accessible(page, "the practice dashboard with its tables open")


def test_the_dashboard_stays_accessible_after_a_filter_change(page, demo):
    """htmx swaps the panels; the new ones must be as accessible as the first."""
    page.set_viewport_size(DESKTOP)
    sign_in(page, demo.url, "manager1")
    page.goto(demo.url + reverse("practice_dashboard", args=[demo.practice.slug]))
    wait_for_charts(page)
    page.select_option("select[name=clinician]", index=1)
    page.wait_for_function("() => /clinician=/.test(location.search)")
    wait_for_charts(page)
    assert_accessible(page, "the practice dashboard after a filter change")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_psychometrics_page_is_accessible(page, demo, viewport):
    get_user_model().objects.create_user("platform-admin", password=DEMO_PASSWORD, is_staff=True)
    page.set_viewport_size(viewport)
    sign_in(page, demo.url, "platform-admin")
    page.goto(demo.url + "/")
    if viewport == PHONE:
        page.get_by_role("button", name="Menu").click()  # the navigation is collapsed on a phone
    page.get_by_role("link", name="Psychometrics").click()  # from the navigation, as an admin finds it
    expect(page.get_by_role("heading", name="Psychometrics", level=1)).to_be_visible()
    page.goto(demo.url + reverse("psychometrics") + f"?practice={demo.practice.slug}")
    expect(page.locator("table caption").first).to_be_visible()
    assert_accessible(page, "the psychometrics page")


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_short_code_page_is_accessible(page, demo, language):
    page.set_viewport_size(PHONE)
    page.goto(demo.url + reverse("short_code_entry") + f"?lang={language}")
    expect(page.locator("h1")).to_be_visible()
    assert_accessible(page, "the short-code page")
    page.locator("#short-code").fill("not a code")
    page.locator("form[data-short-code] [type=submit]").click()
    page.wait_for_load_state()
    expect(page.locator("#code-error")).to_be_visible()
    assert_accessible(page, "the short-code page with its error")


def test_the_self_assessment_is_accessible(page, demo):
    page.set_viewport_size(PHONE)
    sign_in(page, demo.url, "clinician1a")
    page.goto(demo.url + reverse("self_assessment", args=[demo.practice.slug]))
    # The demo has no self-assessments: it is due, so the form, then what the page says once it is sent.
    expect(page.locator("form[data-questionnaire]")).to_be_visible()
    assert_accessible(page, "the self-assessment form")
    for fieldset in page.locator("fieldset.item").all():
        fieldset.locator(".choice label").nth(3).click()
    page.get_by_role("button", name="Send my answers").click()
    page.wait_for_load_state()
    expect(page.locator("[data-self-assessment-done]")).to_be_visible()
    assert_accessible(page, "the saved self-assessment")
