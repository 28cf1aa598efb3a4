"""Staff pages on a 390 px phone (issue 14): the navigation collapses behind a menu button, no page is wider than
the screen, and the language picker is reachable once the menu is open."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from demo.seed import DEMO_PASSWORD, practice_slug, seed_demo
from surveys.models import Practice
from tests.e2e.conftest import scroll_through_charts

pytestmark = pytest.mark.e2e

PHONE_WIDTH = 390


@pytest.fixture
def demo_url(live_server, transactional_db):
    seed_demo(practices=1, clinicians=3, visits=150, seed=7)
    return live_server.url


def sign_in(page, base: str, username: str):
    page.goto(base + reverse("login"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.locator("main form [type=submit]").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def page_width(page) -> int:
    return page.evaluate("() => document.scrollingElement.scrollWidth")


def assert_fits_and_menu_works(page, what: str):
    page.wait_for_load_state("load")
    assert page.viewport_size["width"] == PHONE_WIDTH
    width = page_width(page)
    assert width <= PHONE_WIDTH, f"{what} is {width} px wide on a {PHONE_WIDTH} px phone"
    picker = page.locator("#interface-language")
    expect(picker).to_be_hidden()  # collapsed with the rest of the navigation
    toggle = page.get_by_role("button", name="Menu")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(picker).to_be_visible()
    expect(page.get_by_role("button", name="Change")).to_be_visible()
    assert page_width(page) <= PHONE_WIDTH, f"{what} with the menu open is wider than the phone"
    box = picker.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE_WIDTH  # not cut off


def test_the_clinicians_pages_fit_a_phone_and_the_menu_opens(page, demo_url):
    sign_in(page, demo_url, "clinician1a")
    page.goto(demo_url + reverse("clinician_home"))
    assert_fits_and_menu_works(page, "My questionnaires")
    slug = Practice.objects.get(slug=practice_slug(1)).slug
    page.goto(demo_url + reverse("my_relationships", args=[slug]))
    scroll_through_charts(page)  # every chart drawn: a drawn chart must fit too
    assert_fits_and_menu_works(page, "My relationships")


def test_the_dashboard_fits_a_phone_and_the_language_can_be_changed(page, demo_url):
    sign_in(page, demo_url, "manager1")
    slug = Practice.objects.get(slug=practice_slug(1)).slug
    page.goto(demo_url + reverse("practice_dashboard", args=[slug]))
    scroll_through_charts(page)  # every chart drawn: a drawn chart must fit too
    assert_fits_and_menu_works(page, "the dashboard")
    page.select_option("#interface-language", "es")
    page.get_by_role("button", name="Change").click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("button", name="Menú")).to_be_visible()
