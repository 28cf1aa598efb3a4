"""The dashboards in a real browser: a manager and a clinician sign in through the form and read their charts.

Demo data (demo.seed.seed_demo: one practice, four clinicians, 300 visits) in the test's transactional
database, served by pytest-django's live server. The same tests write the README's screenshots, at 1280×900,
to tests/e2e/artifacts/, and to docs/screenshots/ (dashboard.png, my-relationships.png) when
UPDATE_SCREENSHOTS=1 is set, so an ordinary test run never changes tracked files.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from demo.seed import DEMO_PASSWORD, seed_demo
from plumbing.period import calendar_quarter, quarter_name
from surveys.models import Dyad
from tests.e2e.conftest import SCREENSHOTS, fresh_page, scroll_through_charts

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1280, "height": 900}
DRAWN = '[data-chart][data-rendered="1"]:has(svg.main-svg)'

# Every drawn chart's traces, as Plotly holds them on the chart's element (gd.data), keyed by the panel.
CHART_DATA = """() => Object.fromEntries(Array.from(document.querySelectorAll('[data-chart]')).map(el =>
  [el.closest('section').id, (el.data || []).map(t => ({x: t.x, y: t.y, z: t.z, values: t.values}))]))"""


@pytest.fixture
def demo(live_server, transactional_db):
    result = seed_demo(practices=1, clinicians=4, visits=600, seed=5)  # enough for the current quarter alone
    return SimpleNamespace(url=live_server.url, practice=result.first_practice)


@pytest.fixture
def desktop(browser, request):
    """A desktop-sized page that accepts downloads."""
    with fresh_page(browser, request, viewport=DESKTOP, accept_downloads=True, timeout=15_000) as desktop_page:
        yield desktop_page


def sign_in(page, base: str, username: str):
    """Through the real sign-in form (django-axes watches it), then wherever the start page sends this person."""
    page.goto(base + reverse("login"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("main form [type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def wait_for_charts(page) -> int:
    """Every chart on the page drawn by Plotly; returns how many there are."""
    charts = page.locator("[data-chart]")
    expect(charts.first).to_be_attached()
    count = charts.count()
    scroll_through_charts(page)
    expect(page.locator('[data-chart][data-rendered="1"]')).to_have_count(count)
    expect(page.locator(DRAWN)).to_have_count(count)
    return count


def chart_data(page) -> dict:
    return page.evaluate(CHART_DATA)


def has_numbers(traces) -> bool:
    """A chart with data: some trace holds a number (ignores null cells and category labels)."""
    def numeric(values):
        if isinstance(values, list):
            return any(numeric(v) for v in values)
        return isinstance(values, (int, float)) and not isinstance(values, bool)

    return any(numeric(trace.get(key)) for trace in traces for key in ("y", "z", "values", "x"))


def tiles(page) -> dict:
    return {key: page.locator(f"[data-tile={key}]").inner_text() for key in ("sent", "completion", "minutes", "responses")}


def screenshot(page, name: str):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


# --- the first screen's cost ---------------------------------------------------------------------------


def test_a_chart_that_only_peeks_into_the_first_screen_costs_nothing_until_it_is_scrolled_to(browser, request, demo):
    """plotly.js (1 MB, the page's one long task on a phone) is fetched only once a quarter of a chart is in
    view: a chart whose top edge shows at the bottom of the first screen waits for the reader (docs/performance.md)."""
    with fresh_page(browser, request, viewport={"width": 390, "height": 2000}) as page:
        sign_in(page, demo.url, "clinician1a")
        mine = demo.url + reverse("my_relationships", args=[demo.practice.slug])
        page.goto(mine)
        first = page.locator("[data-chart]").first
        box = first.bounding_box()
        top, height = int(box["y"]), int(box["height"])
    assert height >= 200

    fetched = []
    with fresh_page(browser, request, viewport={"width": 390, "height": top + height // 10}) as page:
        page.on("request", lambda r: fetched.append(r.url) if "vendor/plotly" in r.url else None)
        sign_in(page, demo.url, "clinician1a")
        page.goto(mine)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(500)
        assert not fetched and not page.evaluate("!!window.Plotly")  # a tenth of it shows: not drawn yet
        expect(page.locator("[data-chart]").first).not_to_have_attribute("data-rendered", "1")

        page.locator("[data-chart]").first.scroll_into_view_if_needed()
        expect(page.locator(DRAWN).first).to_be_attached()
    assert any("vendor/plotly" in url for url in fetched)


# --- a practice manager -------------------------------------------------------------------------------


def test_a_manager_reads_the_dashboard_filters_it_and_downloads_a_chart(desktop, demo):
    page = desktop
    sign_in(page, demo.url, "manager1")
    dashboard = reverse("practice_dashboard", args=[demo.practice.slug])
    expect(page).to_have_url(demo.url + dashboard)  # the start page takes a manager to the dashboard
    expect(page.get_by_role("heading", name=demo.practice.name, level=1)).to_be_visible()

    count = wait_for_charts(page)
    assert count >= 6
    before = chart_data(page)
    empty = [panel for panel, traces in before.items() if not has_numbers(traces)]
    assert not empty, f"charts drawn without data: {empty}"
    before_tiles = tiles(page)
    assert int(before_tiles["sent"]) > 0 and int(before_tiles["responses"]) > 0
    screenshot(page, "dashboard.png")

    # One clinician: the figures are theirs alone, and the address says so (htmx pushes the query string).
    clinician = page.locator("#id_clinician option").nth(1)
    name, clinician_id = clinician.inner_text(), clinician.get_attribute("value")
    with page.expect_response(lambda r: f"clinician={clinician_id}" in r.url and r.request.headers.get("hx-request")):
        page.select_option("#id_clinician", value=clinician_id)
    expect(page).to_have_url(re.compile(rf"\?(.+&)?clinician={clinician_id}(&|$)"))
    expect(page.locator("[data-tile=responses]")).not_to_have_text(before_tiles["responses"])
    wait_for_charts(page)
    after = chart_data(page)
    assert after["panel-domains"] != before["panel-domains"]
    assert has_numbers(after["panel-domains"])
    assert int(tiles(page)["responses"]) < int(before_tiles["responses"])
    expect(page.locator("#panel-heatmap table tbody tr").first).to_contain_text(name)

    # Another period: dates are snapped to whole calendar quarters, and the page says which one it shows.
    shown = calendar_quarter(timezone.localdate())
    previous = calendar_quarter(shown.start - dt.timedelta(days=1))
    for field, day in (("#id_start", previous.start), ("#id_end", previous.end)):
        with page.expect_response(lambda r: "end=" in r.url and r.request.headers.get("hx-request")):
            page.fill(field, day.isoformat())
            page.locator(field).dispatch_event("change")
    expect(page).to_have_url(re.compile(r"end=\d{4}-\d\d-\d\d"))
    expect(page.locator("[data-period]")).to_have_attribute("data-period", quarter_name(previous))
    expect(page.locator("[data-tile=sent]")).not_to_have_text(before_tiles["sent"])

    # Back to the whole practice for the table and the CSV.
    page.goto(demo.url + dashboard)
    wait_for_charts(page)
    domains = page.locator("#panel-domains")
    domains.get_by_text("The numbers as a table").click()
    table = domains.locator("table")
    expect(table).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(6)
    expect(table.locator("thead")).to_contain_text("Mean")

    with page.expect_download() as download:
        domains.get_by_role("link", name=re.compile("CSV")).click()
    assert download.value.suggested_filename.startswith(f"{demo.practice.slug}-domains-")
    assert download.value.suggested_filename.endswith(".csv")
    raw = Path(download.value.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte order mark: spreadsheets read it as UTF-8
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 6
    assert {"Domain", "n", "Mean", "95% CI low", "95% CI high"} <= set(rows[0])
    assert all(float(row["Mean"]) for row in rows)


# --- a clinician ---------------------------------------------------------------------------------------


def test_a_clinician_reads_their_relationships_and_nobody_elses(desktop, demo):
    page = desktop
    sign_in(page, demo.url, "clinician1a")
    expect(page).to_have_url(demo.url + reverse("clinician_home"))

    page.get_by_role("link", name=re.compile("My relationships")).first.click()
    expect(page).to_have_url(demo.url + reverse("my_relationships", args=[demo.practice.slug]))
    expect(page.get_by_role("heading", name="My relationships", level=1)).to_be_visible()
    assert wait_for_charts(page) >= 3
    drawn = chart_data(page)
    # A clinician's months are small groups of patients: the trend is drawn, its points may well be hidden.
    assert has_numbers(drawn["panel-comparison"]) and "panel-my_trend" in drawn
    screenshot(page, "my-relationships.png")

    # One of their own relationships.
    first = page.locator("#dyads-title").locator("xpath=ancestor::section").locator("tbody a").first
    reference = first.inner_text()
    first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Patient {reference}")
    assert page.locator("section.card").count() >= 1

    # A colleague's relationship and the practice dashboard: the 404 page, and nothing of theirs.
    colleague = Dyad.objects.filter(practice=demo.practice, clinician__username="clinician1b").select_related("patient").first()
    response = page.goto(demo.url + reverse("my_dyad", args=[demo.practice.slug, colleague.pk]))
    assert response.status == 404
    expect(page.get_by_role("heading", name="We could not find this page")).to_be_visible()
    assert colleague.patient.reference not in page.content()

    response = page.goto(demo.url + reverse("practice_dashboard", args=[demo.practice.slug]))
    assert response.status == 404
    expect(page.get_by_role("heading", name="We could not find this page")).to_be_visible()
    expect(page.locator("[data-chart]")).to_have_count(0)
    expect(page.locator("[data-tile]")).to_have_count(0)


def test_the_my_patients_table_shows_each_relationships_indices(desktop, demo):
    page = desktop
    sign_in(page, demo.url, "clinician1a")
    page.goto(demo.url + reverse("my_relationships", args=[demo.practice.slug]))
    table = page.locator("#dyads-title").locator("xpath=ancestor::section").locator("table")
    headers = table.locator("thead th").all_inner_texts()
    process, outcome = headers.index("Process index"), headers.index("Outcome index")
    rows = [row.locator("th, td").all_inner_texts() for row in table.locator("tbody tr").all()]
    assert rows
    # A dyad with a patient response in the period has its latest wave's indices (a few may lack a domain).
    with_indices = [row for row in rows if row[process] != "–" and row[outcome] != "–"]
    assert len(with_indices) >= len(rows) // 2, f"{len(with_indices)} of {len(rows)} rows show their indices"
