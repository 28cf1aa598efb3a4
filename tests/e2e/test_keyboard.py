"""A patient with only a keyboard: from the top of the page to the thank-you page, no mouse, no script.

Everything goes through `page.keyboard` (Tab, Shift+Tab, arrow keys, Space, Enter, typing); each step checks
where the focus is, as a person would see it, and the focused radio shows a visible focus indicator.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from measurement.instruments import localized
from surveys import casemix
from surveys.models import Response

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
COMMENT = "Typed with the keyboard only."

FOCUSED = """() => {
  const el = document.activeElement;
  return el ? {tag: el.tagName, type: el.type || null, name: el.name || null, value: el.value || null} : null;
}"""

# A focus indicator a sighted keyboard user can see: an outline or a box-shadow on the focused element.
FOCUS_STYLE = """() => {
  const style = getComputedStyle(document.activeElement);
  return {outline: style.outlineStyle, outlineWidth: parseFloat(style.outlineWidth) || 0, shadow: style.boxShadow,
          focusVisible: document.activeElement.matches(':focus-visible')};
}"""

# The focused element must be on screen and not under the sticky progress bar (healing.css: scroll-padding-top).
IN_VIEW = """() => {
  const box = document.activeElement.getBoundingClientRect();
  const sticky = document.querySelector('.progress-wrap').getBoundingClientRect();
  return {inView: box.top >= sticky.bottom - 1 && box.bottom <= window.innerHeight + 1,
          top: box.top, bottom: box.bottom, stickyBottom: sticky.bottom, viewport: window.innerHeight};
}"""


def focused(page) -> dict:
    return page.evaluate(FOCUSED)


def assert_focus_visible(page):
    style = page.evaluate(FOCUS_STYLE)
    assert style["focusVisible"], f"{focused(page)} has focus but not :focus-visible"
    shown = (style["outline"] != "none" and style["outlineWidth"] > 0) or style["shadow"] != "none"
    assert shown, f"no visible focus indicator on {focused(page)}: {style}"


def assert_in_view(page, code: str):
    where = page.evaluate(IN_VIEW)
    assert where["inView"], f"the focused answer of {code} is off screen or under the progress bar: {where}"


def choose_with_arrows(page, choices: list[str], value: str):
    """Focus is on a group's first radio, none checked: Space takes the first; each ArrowDown takes the next."""
    steps = choices.index(value)
    if steps == 0:
        page.keyboard.press("Space")
    for _ in range(steps):
        page.keyboard.press("ArrowDown")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_patient_completes_the_form_with_the_keyboard_alone(page, patient_link, viewport):
    page.set_viewport_size(viewport)
    # Reduced motion: Bootstrap then scrolls at once, not smoothly, so where the focus lands can be read at once.
    page.emulate_media(reduced_motion="reduce")
    items = patient_link.spec.items
    na_item = next(item for item in items if item.allow_na)
    values = {item.code: patient_link.scale[i % len(patient_link.scale)] for i, item in enumerate(items)}
    values[na_item.code] = "na"
    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    page.goto(patient_link.url)

    # The first Tab from the top of the page: the skip link, shown when focused.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    assert_focus_visible(page)
    page.keyboard.press("Enter")
    page.wait_for_url("**#main")
    # The next Tab starts inside the main content: the language switch, the first control there.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Español")).to_be_focused()
    assert_focus_visible(page)

    for number, item in enumerate(items):
        page.keyboard.press("Tab")
        now = focused(page)
        assert (now["type"], now["name"]) == ("radio", item.code), f"Tab {number + 1} into the form reached {now}"
        assert_focus_visible(page)
        assert_in_view(page, item.code)
        choices = [*patient_link.scale, *(["na"] if item.allow_na else [])]
        choose_with_arrows(page, choices, values[item.code])
        checked = page.locator(f"input[name='{item.code}']:checked")
        expect(checked).to_have_value(values[item.code])
        expect(checked).to_be_focused()

    expect(page.locator("[data-progress-text]")).to_have_text(f"{len(items)} of {len(items)} answered")

    # Reviewing: Shift+Tab walks back through every group onto its chosen answer, each one clear of the
    # progress bar as the page scrolls up under it; Tab walks forward again to the last.
    for key, item in [*(("Shift+Tab", i) for i in reversed(items[:-1])), *(("Tab", i) for i in items[1:])]:
        page.keyboard.press(key)
        expect(page.locator(f"input[name='{item.code}'][value='{values[item.code]}']")).to_be_focused()
        assert_in_view(page, item.code)
    # "Does not apply" was reached by arrow keys like any other answer, and is named by its label.
    expect(page.locator(f"#item-{na_item.code}").get_by_role("radio", name=localized(patient_link.spec.na_label, "en"))).to_be_checked()

    page.keyboard.press("Tab")
    expect(page.get_by_role("textbox", name=localized(patient_link.spec.comment_label, "en"))).to_be_focused()
    assert_focus_visible(page)
    page.keyboard.type(COMMENT)
    # The consent to share one's own answers with the clinician: off until the patient ticks it (Space).
    page.keyboard.press("Tab")
    share = page.get_by_role("checkbox", name=re.compile("Share my answers with"))
    expect(share).to_be_focused()
    expect(share).not_to_be_checked()
    assert_focus_visible(page)
    page.keyboard.press("Space")
    expect(share).to_be_checked()
    # The optional "About you" questions: a group each, reached by Tab like the items; the patient gives an age
    # band with the arrows ("Prefer not to say" comes first) and Tabs past the rest.
    for name in casemix.fields():
        page.keyboard.press("Tab")
        now = focused(page)
        assert (now["type"], now["name"]) == ("radio", name), f"Tab reached {now}, not {name}"
        assert_focus_visible(page)
        if name == "age_band":
            choose_with_arrows(page, ["skip", *casemix.ANSWERS[name]], "65_74")
            expect(page.locator("input[name='age_band']:checked")).to_have_value("65_74")
    expect(page.locator("[data-progress-text]")).to_have_text(f"{len(items)} of {len(items)} answered")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Send my answers")).to_be_focused()
    assert_focus_visible(page)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.keyboard.press("Enter")
    assert posted.value.status == 302, posted.value.status
    page.wait_for_url("**/s/thanks/**")
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()

    assert len(posts) == 1, posts
    assert Response.objects.filter(visit=patient_link.visit).count() == 1
    saved = Response.objects.get(visit=patient_link.visit)
    assert saved.comment == COMMENT
    assert saved.shared_with_clinician is True
    stored = {a.item.code: a.value for a in saved.answers.select_related("item")}
    assert stored == {code: (None if value == "na" else int(value)) for code, value in values.items()}
    assert (saved.casemix.age_band, saved.casemix.general_health) == ("65_74", None)
