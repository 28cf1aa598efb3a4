"""A patient on a phone: opens the link, answers by tapping, keeps a draft, fixes errors, sends once."""

import re

import pytest
from playwright.sync_api import expect

from surveys.models import Answer, Invitation, Response
from surveys.services import submit_response
from tests import factories
from tests.e2e.conftest import SCREENSHOTS

pytestmark = pytest.mark.e2e

HAS_ERROR = re.compile(r"\bhas-error\b")


def tap_answer(page, code: str, value: str):
    """Tap the visible label of one answer, as a thumb would (never set the radio by script)."""
    choice = page.locator(f"#item-{code} .choice").filter(has=page.locator(f"input[value='{value}']"))
    choice.locator("label").tap()
    expect(choice.locator("input")).to_be_checked()


def journey_values(link) -> dict[str, str]:
    """Answers across the whole scale, with 'does not apply' where the instrument allows it once."""
    values = {code: str(i % 5 + 1) for i, code in enumerate(link.codes)}
    na_item = next(item for item in link.spec.items if item.allow_na)
    values[na_item.code] = "na"
    return values


def answer_all(page, link) -> dict[str, str]:
    values = journey_values(link)
    for code, value in values.items():
        tap_answer(page, code, value)
    return values


def assert_redirected_to_thanks(response):
    """The POST itself must redirect; say what came back instead of timing out on a navigation."""
    if response.status != 302:
        pytest.fail(f"POST answered {response.status}, not 302: {response.text()[:300]}")
    assert "/s/thanks/" in response.headers["location"]


def progress(page):
    return page.locator("[data-progress-text]")


def test_a_patient_answers_every_item_and_is_thanked(page, patient_link, artifacts):
    total = len(patient_link.codes)
    response = page.goto(patient_link.url)
    assert response.status == 200
    expect(progress(page)).to_have_text(f"0 of {total} answered")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "patient-form.png"))  # the README's: what a phone shows first

    values = answer_all(page, patient_link)

    expect(progress(page)).to_have_text(f"{total} of {total} answered")
    expect(page.locator("[data-progress]")).to_have_attribute("aria-valuenow", str(total))
    page.screenshot(path=str(artifacts / "patient-journey-answered.png"), full_page=True)

    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Send my answers").tap()
    assert_redirected_to_thanks(posted.value)
    page.wait_for_url("**/s/thanks/**")
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    page.screenshot(path=str(artifacts / "patient-journey-thanks.png"), full_page=True)
    # Saved answers need no draft on this device any more.
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('healing-draft:')).length") == 0

    saved = Response.objects.get(visit=patient_link.visit)
    assert Response.objects.filter(visit=patient_link.visit).count() == 1
    assert saved.respondent == "patient"
    stored = {a.item.code: a.value for a in saved.answers.select_related("item")}
    assert stored == {code: (None if v == "na" else int(v)) for code, v in values.items()}
    scores = {s.domain: s.score for s in saved.scores.all()}
    assert set(scores) == {d.code for d in patient_link.spec.domains}
    assert all(score is not None and 0 <= score <= 100 for score in scores.values())
    assert saved.process_index is not None and saved.outcome_index is not None


def test_the_draft_survives_a_reload(page, patient_link):
    total = len(patient_link.codes)
    page.goto(patient_link.url)
    first_three = dict(zip(patient_link.codes[:3], ["5", "2", "4"]))
    for code, value in first_three.items():
        tap_answer(page, code, value)
    expect(progress(page)).to_have_text(f"3 of {total} answered")

    page.reload()

    for code, value in first_three.items():
        expect(page.locator(f"#item-{code} input[value='{value}']")).to_be_checked()
    expect(page.locator("input[type=radio]:checked")).to_have_count(3)
    expect(progress(page)).to_have_text(f"3 of {total} answered")
    draft = page.evaluate(
        "JSON.parse(localStorage.getItem(Object.keys(localStorage).find(k => k.startsWith('healing-draft:'))))"
    )
    assert draft["answers"] == first_three
    assert not Response.objects.exists()


def test_errors_are_shown_inline_and_nothing_is_saved(page, patient_link):
    total = len(patient_link.codes)
    answered = dict(zip(patient_link.codes[:3], ["1", "3", "5"]))
    page.goto(patient_link.url)
    for code, value in answered.items():
        tap_answer(page, code, value)

    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Send my answers").tap()
    assert posted.value.status == 400
    page.wait_for_load_state()

    summary = page.locator("#form-errors")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("Nothing was saved yet")
    expect(summary).to_contain_text(f"{total - 3} questions need attention.")
    expect(page.locator("fieldset.item.has-error")).to_have_count(total - 3)
    for code in patient_link.codes[3:]:
        item = page.locator(f"#item-{code}")
        expect(item).to_have_class(HAS_ERROR)
        expect(item.locator(f"#{code}-error")).to_have_text("Please choose an answer.")
    for code, value in answered.items():
        expect(page.locator(f"#item-{code}")).not_to_have_class(HAS_ERROR)
        radio = page.locator(f"#item-{code} input[value='{value}']")
        expect(radio).to_be_checked()
        # Checked by the server's re-render itself, not only restored from the local draft.
        expect(radio).to_have_attribute("checked", "")
    expect(progress(page)).to_have_text(f"3 of {total} answered")

    assert not Response.objects.exists()
    assert not Answer.objects.exists()
    assert Invitation.objects.get(pk=patient_link.invitation.pk).used_at is None


def test_the_questionnaire_switches_to_spanish(page, patient_link):
    total = len(patient_link.codes)
    page.goto(patient_link.url)
    expect(page.locator("label", has_text="Strongly agree")).to_have_count(total)

    page.get_by_role("link", name="Español").tap()
    page.wait_for_url("**?lang=es")

    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("label", has_text="Totalmente de acuerdo")).to_have_count(total)
    expect(page.locator("label", has_text="Totalmente en desacuerdo")).to_have_count(total)
    expect(page.locator("label", has_text="Strongly agree")).to_have_count(0)
    expect(page.get_by_role("link", name="English")).to_be_visible()


def test_a_double_click_on_send_saves_one_response(page, patient_link):
    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    page.goto(patient_link.url)
    answer_all(page, patient_link)

    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.locator("[data-submit]").dblclick()
    assert_redirected_to_thanks(posted.value)
    page.wait_for_url("**/s/thanks/**")

    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    assert len(posts) == 1, posts
    assert Response.objects.filter(visit=patient_link.visit).count() == 1
    assert Answer.objects.count() == len(patient_link.codes)


def test_a_used_link_says_already_completed(page, patient_link):
    submit_response(patient_link.invitation, factories.full_answers(patient_link.invitation))

    response = page.goto(patient_link.url)

    assert response.status == 409
    expect(page.get_by_role("heading", name="This questionnaire is already completed")).to_be_visible()
    expect(page.locator("form[data-questionnaire]")).to_have_count(0)
    assert Response.objects.count() == 1


@pytest.mark.parametrize(
    ("lang", "heading", "share_label"),
    [("en", "Who sees your answers", "Share my answers with"), ("es", "Quién ve sus respuestas", "Compartir mis respuestas con")],
)
def test_the_patient_is_told_who_sees_the_answers_and_shares_only_by_choice(page, patient_link, lang, heading, share_label):
    """Before the first item, in the patient's language: who sees the answers. The share box names the clinician
    and is off; left off, the response is not shared; a patient may tick it and untick it before sending."""
    page.goto(f"{patient_link.url}?lang={lang}")
    notice = page.locator("[data-who-sees]")
    expect(notice.get_by_role("heading", name=heading)).to_be_visible()
    first_item = page.locator("fieldset.item").first
    assert notice.bounding_box()["y"] < first_item.bounding_box()["y"]
    clinician = patient_link.visit.dyad.clinician.get_full_name() or patient_link.visit.dyad.clinician.username
    share = page.get_by_role("checkbox", name=re.compile(share_label))
    expect(page.locator("[data-share] label")).to_contain_text(clinician)
    expect(share).not_to_be_checked()
    answer_all(page, patient_link)
    share.check()
    share.uncheck()  # changed their mind: still theirs to decide until they send
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.locator("button[type=submit]").tap()
    assert_redirected_to_thanks(posted.value)
    assert Response.objects.get(visit=patient_link.visit).shared_with_clinician is False


# --- issue 14: what stays on screen after an error, the draft notice, the section headings ----------------------


def send_answers(page):
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Send my answers").tap()
    page.wait_for_load_state()
    return posted.value


def test_an_answered_item_loses_its_message_and_red_bar_and_the_summary_goes_with_the_last(page, patient_link):
    total = len(patient_link.codes)
    page.goto(patient_link.url)
    for code in patient_link.codes[:3]:
        tap_answer(page, code, "4")
    assert send_answers(page).status == 400
    summary = page.locator("#form-errors")
    expect(summary).to_contain_text(f"{total - 3} questions need attention.")

    fixed = patient_link.codes[3]
    tap_answer(page, fixed, "2")
    item = page.locator(f"#item-{fixed}")
    expect(item).not_to_have_class(HAS_ERROR)
    expect(item.locator(f"#{fixed}-error")).to_have_count(0)
    expect(item).not_to_have_attribute("aria-describedby", re.compile(".*"))
    expect(item.locator("[aria-invalid]")).to_have_count(0)
    # The red bar is the item's left border: gone with the error.
    assert item.evaluate("el => getComputedStyle(el).borderLeftStyle") == "none"
    expect(summary).to_contain_text(f"{total - 4} questions need attention.")
    expect(page.locator("fieldset.item.has-error")).to_have_count(total - 4)

    for code in patient_link.codes[4:-1]:
        tap_answer(page, code, "3")
    expect(summary).to_contain_text("1 question needs attention.")
    tap_answer(page, patient_link.codes[-1], "3")
    expect(summary).to_be_hidden()
    expect(page.locator("fieldset.item.has-error")).to_have_count(0)
    assert_redirected_to_thanks(send_answers(page))


def test_the_answers_kept_message_shows_only_when_answers_were_kept(page, patient_link):
    page.goto(patient_link.url)
    assert send_answers(page).status == 400
    summary = page.locator("#form-errors")
    expect(summary).to_contain_text("Nothing was saved yet")
    expect(summary).not_to_contain_text("Your answers are still here")

    tap_answer(page, patient_link.codes[0], "5")
    assert send_answers(page).status == 400
    expect(page.locator("#form-errors")).to_contain_text("Your answers are still here.")


def test_the_draft_notice_shows_only_when_a_draft_holds_answers(page, patient_link):
    notice = page.locator("[data-draft-restored]")
    page.goto(patient_link.url)
    expect(notice).to_be_hidden()
    # Leaving the page (a tab switch, a reload) with nothing answered keeps no draft and claims none.
    page.reload()
    expect(notice).to_be_hidden()
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('healing-draft:')).length") == 0

    tap_answer(page, patient_link.codes[0], "5")
    page.reload()
    expect(notice).to_be_visible()
    expect(notice).to_have_text("Your answers from earlier on this device are filled in: check them and carry on.")


def test_a_reprinted_card_keeps_the_patients_draft(page, patient_link, practice_a):
    """Issue 14: reprinting voided the printed link, and the patient lost their draft. Cards now add links."""
    from surveys import services

    page.goto(patient_link.url)
    tap_answer(page, patient_link.codes[0], "5")
    services.print_cards(practice_a, patient_link.visit.date)
    page.reload()
    expect(page.locator(f"#item-{patient_link.codes[0]} input[value='5']")).to_be_checked()
    expect(page.locator("[data-draft-restored]")).to_be_visible()


def test_section_headings_sit_inside_the_card_border(page, patient_link):
    page.goto(patient_link.url)
    boxes = page.evaluate(
        """() => Array.from(document.querySelectorAll('fieldset.domain')).map(fs => {
            const legend = fs.querySelector(':scope > legend').getBoundingClientRect();
            const card = fs.getBoundingClientRect();
            return {legendTop: legend.top, cardTop: card.top, border: parseFloat(getComputedStyle(fs).borderTopWidth)};
        })"""
    )
    assert boxes
    for box in boxes:
        # A legend drawn across the border starts above the border's inner edge; inside the card, below it.
        assert box["legendTop"] >= box["cardTop"] + box["border"] - 0.5, box
