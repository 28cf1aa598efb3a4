"""The manager's filters in a browser (issue 14): the "Showing …" line follows every filter change, and an end
date before the start replaces the figures with a clear error instead of showing other dates' figures."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from demo.seed import practice_slug, seed_demo
from tests.e2e.conftest import fresh_page
from tests.e2e.test_phone_layout import sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def desktop(browser, request):
    with fresh_page(browser, request, viewport={"width": 1280, "height": 900}, timeout=15_000) as desktop_page:
        yield desktop_page


def test_the_showing_line_follows_the_filters_and_bad_dates_show_an_error(desktop, live_server, transactional_db):
    seed_demo(practices=1, clinicians=3, visits=150, seed=7)
    page = desktop
    sign_in(page, live_server.url, "manager1")
    page.goto(live_server.url + reverse("practice_dashboard", args=[practice_slug(1)]))
    showing = page.locator("[data-period]")
    expect(showing).to_contain_text("Showing ")
    expect(showing).not_to_contain_text("Figures for")

    option = page.locator("#id_clinician option").nth(1)
    name, value = option.inner_text(), option.get_attribute("value")
    page.select_option("#id_clinician", value=value)
    expect(showing).to_contain_text(f"Figures for {name} only.")
    expect(page.locator("#panel-domains")).to_be_visible()

    page.fill("#id_start", "2025-06-30")
    page.fill("#id_end", "2025-04-01")
    page.locator("#id_end").dispatch_event("change")
    alert = page.locator("[data-filter-errors]")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("The end date must be on or after the start date.")
    expect(page.locator("#panels [data-chart]")).to_have_count(0)
    expect(page.locator("[data-tile]")).to_have_count(0)

    page.fill("#id_end", "2025-06-30")
    page.locator("#id_end").dispatch_event("change")
    expect(alert).to_have_count(0)
    expect(page.locator("[data-period]")).to_have_attribute("data-period", "2025 Q2")
    expect(showing).to_contain_text(f"Figures for {name} only.")
