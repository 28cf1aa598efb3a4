"""A clinician in the browser (issue 14): takes the periodic self-assessment from the home page and is told it
was saved; is told the per-visit questionnaire was saved too."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from surveys.models import Response, SelfAssessment
from tests import factories

from .conftest import fresh_page

pytestmark = pytest.mark.e2e


@pytest.fixture
def signed_in(browser, request, live_server, transactional_db, practice_a, clinician_a, competencies):
    with fresh_page(browser, request, viewport={"width": 390, "height": 844}, has_touch=True) as page:
        page.goto(live_server.url + reverse("login"))
        page.fill("input[name=username]", clinician_a.username)
        page.fill("input[name=password]", factories.PASSWORD)
        page.click("main form [type=submit]")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        yield page


def answer_every_item(page):
    for fieldset in page.locator("fieldset.item").all():
        fieldset.locator(".choice label").nth(3).tap()


def test_a_clinician_takes_the_due_self_assessment_and_is_told_it_is_saved(signed_in, live_server, clinician_a):
    page = signed_in
    page.goto(live_server.url + reverse("clinician_home"))
    due = page.locator("[data-self-assessment-due]")
    expect(due).to_be_visible()
    due.get_by_role("link", name="Take the self-assessment").tap()
    expect(page.locator("fieldset.item")).to_have_count(8)
    answer_every_item(page)
    page.get_by_role("button", name="Send my answers").tap()
    page.wait_for_load_state()
    expect(page.get_by_role("status").filter(has_text="Thank you: your self-assessment is saved.")).to_be_visible()
    expect(page.locator("[data-self-assessment-done]")).to_contain_text("The next one is due from")
    assert SelfAssessment.objects.get().clinician_id == clinician_a.pk
    page.goto(live_server.url + reverse("clinician_home"))
    expect(page.locator("[data-self-assessment-due]")).to_have_count(0)


def test_a_clinician_is_told_the_visit_questionnaire_is_saved(signed_in, live_server, practice_a, clinician_a):
    page = signed_in
    new = factories.visit(practice_a, clinician_a, "PA-9")
    page.goto(live_server.url + reverse("clinician_questionnaire", args=[new.visit.pk]))
    answer_every_item(page)
    page.get_by_role("button", name="Send my answers").tap()
    page.wait_for_url("**/clinician/")
    expect(page.get_by_role("status").filter(has_text="your questionnaire about patient PA-9")).to_be_visible()
    assert Response.objects.filter(visit=new.visit, respondent="clinician").count() == 1
