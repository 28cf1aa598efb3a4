"""The strict Content Security Policy in a real browser: pages work and Chromium reports no violation.

The policy (healing/settings.py, docs/security.md) allows no inline script or style. plotly.js would inject
<style> elements and htmx an indicator <style>; the pages serve those rules as files instead. Here Chromium
loads each page, the dashboard draws its charts (and redraws them after an htmx filter change), and every
`securitypolicyviolation` event and console error is collected: there must be none.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from demo.seed import DEMO_PASSWORD, seed_demo
from tests import factories
from tests.e2e.conftest import scroll_through_charts

pytestmark = pytest.mark.e2e

WATCH = """
document.addEventListener('securitypolicyviolation', function (e) {
  console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') +
                ' at ' + e.sourceFile + ':' + e.lineNumber);
});
"""


@pytest.fixture
def watched(page):
    """The page, with every CSP violation, console error and uncaught exception collected in `.problems`."""
    problems = []
    page.add_init_script(WATCH)
    # Failed loads are reported by URL below; the console's own line for them names no URL.
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.on("response", lambda r: problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    page.on("pageerror", lambda e: problems.append(f"uncaught: {e}"))
    page.problems = problems
    return page


@pytest.fixture
def demo(live_server, transactional_db):
    seed_demo(practices=1, clinicians=3, visits=90, seed=5)
    return live_server.url


def sign_in(page, base, username):
    page.goto(base + reverse("login"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("main form [type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def test_the_dashboard_draws_its_charts_with_no_violation(watched, demo):
    page = watched
    page.set_viewport_size({"width": 1280, "height": 1000})
    sign_in(page, demo, "manager1")
    response = page.goto(demo + reverse("practice_dashboard", args=["demo-1"]))
    assert "script-src 'self'" in response.headers["content-security-policy"]
    charts = page.locator("[data-chart]")
    assert charts.count() >= 3
    scroll_through_charts(page)
    page.wait_for_function(
        "n => document.querySelectorAll('[data-chart][data-rendered] .main-svg').length >= n", arg=charts.count()
    )
    # plotly.js found our stylesheet and injected none of its own.
    assert page.evaluate("() => document.querySelectorAll('style').length") == 0
    # Its rules apply: the modebar is positioned absolutely by static/css/plotly.css.
    page.locator(".js-plotly-plot").first.hover()
    assert page.evaluate("() => getComputedStyle(document.querySelector('.modebar-container')).position") == "absolute"

    # A filter change swaps the panels through htmx; charts.js draws the new figures.
    page.select_option("select[name=clinician]", index=1)
    page.wait_for_function("() => /clinician=/.test(location.search)")
    page.wait_for_function("() => document.querySelectorAll('[data-chart][data-rendered] .main-svg').length > 0")
    assert page.problems == []


def test_the_patient_questionnaire_works_with_no_violation(watched, live_server, transactional_db, practice_a, clinician_a):
    page = watched
    new_visit = factories.visit(practice_a, clinician_a, "PA-CSP")
    page.goto(live_server.url + reverse("patient_questionnaire", args=[new_visit.patient_token]))
    page.locator("fieldset.item .choice label").first.tap()
    # questionnaire.js runs: the progress text follows the answers (CSSOM styling is allowed by the policy).
    page.wait_for_function("() => /^1 /.test(document.querySelector('[data-progress-text]').textContent)")
    width = page.evaluate("() => document.querySelector('[data-progress-bar]').style.width")
    assert width.endswith("%") and width != "0%"
    assert page.problems == []


def test_the_sign_in_and_lockout_pages_have_no_violation(watched, live_server, transactional_db, manager_a):
    page = watched
    for _ in range(5):
        page.goto(live_server.url + reverse("login"))
        page.fill("input[name=username]", manager_a.username)
        page.fill("input[name=password]", "wrong password")
        page.click("main form [type=submit]")
    assert page.locator("text=Sign-in paused for this account").is_visible()
    assert [p for p in page.problems if not p.startswith("HTTP 429 ")] == []
