"""Browser tests: Playwright's sync API driving Debian's Chromium against pytest-django's live server.

One browser per session (starting Chromium is the slow part); a fresh context and page per test, so
cookies and localStorage drafts never leak from one test into the next.
"""

import os
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest

# Playwright's sync API keeps an asyncio event loop running in this thread for as long as the browser
# lives, and Django refuses ORM calls from a thread with a running loop. The test thread only reads
# and sets up rows while the page waits, so the check has nothing to protect here.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from playwright.sync_api import sync_playwright  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
PHONE = {"width": 390, "height": 844}
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
# The README's screenshots: written by the browser tests to tests/e2e/artifacts/, and to docs/screenshots/ when
# UPDATE_SCREENSHOTS=1 is set, so an ordinary test run never changes tracked files.
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots" if os.environ.get("UPDATE_SCREENSHOTS") == "1" else ARTIFACTS
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the test, so the page fixture can tell a failed test at teardown.
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        message = f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def fresh_page(browser, request, *, timeout: int = 10_000, **context_options):
    """A page in a fresh browser context; on failure its screenshot lands in tests/e2e/artifacts/."""
    context = browser.new_context(locale="en-US", **context_options)
    context.set_default_timeout(timeout)
    page = context.new_page()
    try:
        yield page
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            try:
                page.screenshot(path=str(artifacts_dir() / f"FAILED-{request.node.name}.png"), full_page=True)
            except Exception:  # a crashed page must not hide the test's own failure
                pass
        context.close()


@pytest.fixture
def page(browser, request):
    """A phone-sized page with touch."""
    with fresh_page(browser, request, viewport=PHONE, has_touch=True) as phone_page:
        yield phone_page


def scroll_through_charts(page):
    """Bring every chart into view, one after the other: charts.js draws a chart only when it nears the viewport
    (and fetches plotly.js for the first one), so a chart nobody scrolls to is never drawn."""
    charts = page.locator("[data-chart]")
    for i in range(charts.count()):
        chart = charts.nth(i)
        if chart.is_visible():  # a chart in a closed tab or panel is drawn when it is shown
            chart.scroll_into_view_if_needed()
            chart.locator("svg.main-svg").first.wait_for(state="attached")
    page.evaluate("() => window.scrollTo(0, 0)")


@pytest.fixture
def artifacts():
    """The folder for screenshots (git-ignored)."""
    return artifacts_dir()


def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def patient_link(live_server, transactional_db, practice_a, clinician_a):
    """A fresh visit's patient link on the live server, with its invitation, instrument spec and answer values."""
    from django.urls import reverse

    from measurement.instruments import spec_for_version
    from tests import factories

    new_visit = factories.visit(practice_a, clinician_a, "PA-001")
    invitation = factories.patient_invitation(new_visit)
    spec = spec_for_version(invitation.instrument_version)
    return SimpleNamespace(
        url=live_server.url + reverse("patient_questionnaire", args=[new_visit.patient_token]),
        visit=new_visit.visit,
        invitation=invitation,
        spec=spec,
        codes=[item.code for item in spec.items],
        scale=[str(v) for v in range(spec.scale.min, spec.scale.max + 1)],
    )
