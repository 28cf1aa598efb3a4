"""QR cards in the browser (issue 14): the date stays on one line, and a patient without a camera types the
card's short code and gets the questionnaire."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests import factories

from .conftest import fresh_page

pytestmark = pytest.mark.e2e

DAY = dt.date(2026, 12, 4)

# The rendered lines of an element's text: distinct tops of its text's line boxes.
LINES = """el => { const range = document.createRange(); range.selectNodeContents(el);
  return new Set(Array.from(range.getClientRects()).map(r => Math.round(r.top))).size; }"""


@pytest.fixture
def printed_cards(browser, request, live_server, transactional_db, practice_a, clinician_a, manager_a):
    """The cards page for DAY, as a manager sees it on a phone-wide window, for a practice with a long name."""
    practice_a.name = "The Very Long Named Community Health Practice of the Northern Valley"
    practice_a.save()
    for ref in ("PA-1", "PA-2"):
        factories.visit(practice_a, clinician_a, ref, DAY)
    with fresh_page(browser, request, viewport={"width": 390, "height": 844}) as page:
        page.goto(live_server.url + reverse("login"))
        page.fill("input[name=username]", manager_a.username)
        page.fill("input[name=password]", factories.PASSWORD)
        page.click("main form [type=submit]")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        page.goto(live_server.url + reverse("manager_cards", args=[practice_a.slug]) + f"?date={DAY.isoformat()}")
        page.get_by_role("button", name="Make 2 cards").click()
        page.wait_for_load_state()
        yield page


@pytest.mark.parametrize("media", ["screen", "print"])
def test_the_card_date_never_wraps(printed_cards, media):
    printed_cards.emulate_media(media=media)
    dates = printed_cards.locator(".qr-card-date")
    expect(dates).to_have_count(2)
    for i in range(2):
        expect(dates.nth(i)).to_have_text("2026-12-04")
        assert dates.nth(i).evaluate(LINES) == 1
    # The long practice name wraps instead, beside it.
    assert printed_cards.locator(".qr-card-practice").first.evaluate(LINES) > 1


def test_a_patient_types_the_short_code_and_answers(printed_cards, browser, request, live_server):
    printed = printed_cards.locator(".qr-card-link").first.inner_text()
    assert re.fullmatch(r"\S+/q/[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", printed)
    code = printed.rsplit("/q/", 1)[1]
    with fresh_page(browser, request, viewport={"width": 390, "height": 844}, has_touch=True) as phone:
        phone.goto(live_server.url + reverse("short_code_entry"))
        phone.get_by_label("Code (12 letters and numbers, as on the card)").fill(code.lower().replace("-", " "))
        phone.get_by_role("button", name="Open my questionnaire").tap()
        phone.wait_for_load_state()
        expect(phone.locator("form[data-questionnaire]")).to_be_visible()
        expect(phone.locator("input[name=P01]")).to_have_count(5)
