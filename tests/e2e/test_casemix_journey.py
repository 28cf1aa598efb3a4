"""The optional "About you" questions in the browser: outside the progress count, kept in the draft, sent once."""

import pytest
from playwright.sync_api import expect

from surveys.models import CaseMix, Response

from .test_patient_journey import answer_all, assert_redirected_to_thanks, progress, tap_answer

pytestmark = pytest.mark.e2e


def tap_about(page, name: str, value: str):
    choice = page.locator(f"#item-{name} .choice").filter(has=page.locator(f"input[value='{value}']"))
    choice.locator("label").tap()
    expect(choice.locator("input")).to_be_checked()


def test_about_you_answers_are_kept_in_the_draft_and_saved_with_the_response(page, patient_link):
    total = len(patient_link.codes)
    page.goto(patient_link.url)
    expect(page.get_by_role("group", name="About you (optional)")).to_be_visible()
    tap_answer(page, patient_link.codes[0], "4")
    tap_about(page, "general_health", "very_good")
    tap_about(page, "education", "skip")
    expect(progress(page)).to_have_text(f"1 of {total} answered")

    page.reload()

    expect(page.locator("#item-general_health input[value='very_good']")).to_be_checked()
    expect(page.locator("#item-education input[value='skip']")).to_be_checked()
    expect(progress(page)).to_have_text(f"1 of {total} answered")

    answer_all(page, patient_link)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Send my answers").tap()
    assert_redirected_to_thanks(posted.value)
    saved = CaseMix.objects.get(response=Response.objects.get(visit=patient_link.visit))
    assert (saved.general_health, saved.education, saved.age_band) == ("very_good", None, None)
