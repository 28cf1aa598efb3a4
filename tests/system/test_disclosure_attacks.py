"""The attacker's suite: what a curious manager or clinician tries, against demo data (docs/privacy.md).

Seeded like the review that found the leaks: one practice, four clinicians, 500 visits, minimum n 5. Each attack
is run the way the review ran it, over the site's own URLs, and fails if it recovers any figure based on fewer
than the practice's minimum of dyads. The figure checks read every panel a page has (its chart CSVs are the
same rows), so a new chart is attacked too without touching this file.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from demo.seed import practice_slug, seed_demo
from surveys import services
from surveys.models import Dyad, Practice, Response
from surveys.selectors import latest_patient_response_shared
from tests import factories

MIN_N = 5  # the demo practice's minimum (the default)


@pytest.fixture(autouse=True)
def quiet_sign_ins(settings):
    settings.AXES_ENABLED = False  # force_login's request has no client address for axes to log


@pytest.fixture
def demo(db):
    seed_demo(practices=1, clinicians=4, visits=500, seed=11)
    practice = Practice.objects.get(slug=practice_slug(1))
    assert practice.min_reporting_n == MIN_N
    return practice


def signed_in(client, username):
    client.force_login(get_user_model().objects.get(username=username))
    return client


def attacked_days() -> list[dt.date]:
    """The last ten days, and the last and first days around each of the last four quarter boundaries: where
    a period one day longer crosses into the next reporting period."""
    today = timezone.localdate()
    days = {today - dt.timedelta(days=i) for i in range(10)}
    quarter_start = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    for _ in range(4):
        days |= {quarter_start - dt.timedelta(days=1), quarter_start, quarter_start - dt.timedelta(days=2)}
        quarter_start = dt.date(quarter_start.year - (quarter_start.month == 1), (quarter_start.month - 4) % 12 + 1, 1)
    return sorted(days)


def panels_of(client, url: str, start: dt.date, end: dt.date, **extra) -> tuple[tuple, dict]:
    """The reporting period a page served for these dates, and its panels' rows as a CSV holds them."""
    response = client.get(url, {"start": start.isoformat(), "end": end.isoformat(), **extra})
    assert response.status_code == 200
    period = response.context["period"]
    tables = {}
    for panel in response.context["panels"]:
        columns = [str(c) for c in panel.columns]
        tables[panel.key] = [dict(zip(columns, ["" if v is None else str(v) for v in row])) for row in panel.csv_rows()]
    return (period.start, period.end), tables


def n_cells(row: dict) -> dict[str, str]:
    """The row's counts of dyads: every column named n ("n", "My n", "Practice n") or "Waves"."""
    return {column: value for column, value in row.items() if column in ("n", "Waves") or column.endswith(" n")}


def row_key(row: dict) -> tuple:
    """What a row is about: its label columns (domain, clinician, month...), not its numbers."""
    return tuple((c, v) for c, v in row.items() if not re.search(r"\bn\b|mean|CI|SD|Note|Waves|gap|Mean", c))


def assert_no_small_figure(tables: dict, where: str):
    """No released count of dyads below the minimum: a figure is hidden (empty) or rests on MIN_N or more."""
    for key, rows in tables.items():
        if key in ("funnel", "distribution", "concordance", "competencies"):
            continue  # invitation counts; bands of a shown figure; the clinician's own self-ratings
        for row in rows:
            for column, value in n_cells(row).items():
                assert value == "" or int(value) >= MIN_N, f"{where} {key}: {column}={value} in {row}"


def assert_no_small_difference(first: dict, second: dict, where: str):
    """Two releases of the same figures for nested periods must not differ by fewer than MIN_N dyads."""
    for key, rows in first.items():
        others = {row_key(row): row for row in second.get(key, [])}
        for row in rows:
            other = others.get(row_key(row))
            if other is None:
                continue
            for column, value in n_cells(row).items():
                if value and other[column]:
                    delta = abs(int(value) - int(other[column]))
                    assert delta == 0 or delta >= MIN_N, f"{where} {key}: {column} {value} vs {other[column]}"


# --- 1. row-level data ---------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["manager1", "clinician1a"])
def test_row_level_fhir_responses_are_not_released(client, demo, username):
    signed_in(client, username)
    ids = list(Response.objects.filter(practice=demo).values_list("pk", flat=True)[:40])
    for pk in ids:
        response = client.get(f"/fhir/QuestionnaireResponse/{pk}")
        assert response.status_code == 404
        assert b"valueDecimal" not in response.content and b"PT-" not in response.content


def test_row_level_research_files_are_refused_to_a_manager(client, demo):
    signed_in(client, "manager1")
    for name in ("research_answers_csv", "research_responses_csv", "research_responses_sav", "research_zip"):
        url = reverse(name, args=[demo.slug])
        assert client.get(url, {"start": "2020-01-01", "end": timezone.localdate().isoformat()}).status_code == 403


# --- 2. the complement beside one's own figure, and 3. differencing by date -------------------------


@pytest.mark.parametrize(
    ("username", "page"), [("clinician1a", "my_relationships"), ("manager1", "practice_dashboard")]
)
def test_no_single_day_or_one_day_longer_period_gives_a_small_figure(client, demo, username, page):
    signed_in(client, username)
    url = reverse(page, args=[demo.slug])
    for day in attacked_days():
        served, tables = panels_of(client, url, day, day)
        assert_no_small_figure(tables, f"{page} {day}")
        longer_served, longer = panels_of(client, url, day, day + dt.timedelta(days=1))
        assert_no_small_figure(longer, f"{page} {day}+1")
        if served == longer_served:
            assert tables == longer  # the same reporting period: the same figures, nothing to subtract
        elif served[0] <= longer_served[0] and longer_served[1] >= served[1] and longer_served[0] <= served[1]:
            assert_no_small_difference(tables, longer, f"{page} {day}")  # nested: what a subtraction would show


def test_the_chart_csvs_hold_the_same_rows_as_the_page(client, demo):
    signed_in(client, "manager1")
    today = timezone.localdate()
    _served, tables = panels_of(client, reverse("practice_dashboard", args=[demo.slug]), today, today)
    for key, rows in tables.items():
        url = reverse("practice_chart_csv", args=[demo.slug, key])
        response = client.get(url, {"start": today.isoformat(), "end": today.isoformat()})
        text = b"".join(response.streaming_content if response.streaming else [response.content]).decode("utf-8-sig")
        assert list(csv.DictReader(io.StringIO(text))) == rows, key


def test_a_clinician_or_version_filter_gives_back_no_small_figure(client, demo):
    signed_in(client, "manager1")
    url = reverse("practice_dashboard", args=[demo.slug])
    today = timezone.localdate()
    _served, whole = panels_of(client, url, today, today)
    version = Response.objects.filter(practice=demo, respondent="patient").values_list(
        "instrument_version_id", flat=True
    ).first()
    for clinician in Dyad.objects.filter(practice=demo).values_list("clinician_id", flat=True).distinct():
        _served, filtered = panels_of(client, url, today, today, clinician=clinician)
        assert_no_small_figure(filtered, f"clinician {clinician}")
        assert_no_small_difference(whole, filtered, f"clinician {clinician}")
    _served, by_version = panels_of(client, url, today, today, version=version)
    assert_no_small_figure(by_version, "version")
    assert_no_small_difference(whole, by_version, "version")


# --- 4. presence -------------------------------------------------------------------------------------


def test_a_clinician_with_few_or_no_patients_shows_as_hidden_not_as_a_count(client, demo):
    quiet = factories.member(demo, "quiet", "clinician")  # a clinician with no patients this quarter
    quiet.first_name, quiet.last_name = "Quinn", "Quiet"
    quiet.save()
    signed_in(client, "manager1")
    today = timezone.localdate()
    _served, tables = panels_of(client, reverse("practice_dashboard", args=[demo.slug]), today, today)
    for key in ("heatmap", "means"):
        quinn = [row for row in tables[key] if "Quinn Quiet" in row.values()]
        assert quinn, key
        assert all(row["n"] == "" and row["Note"].startswith("hidden") for row in quinn), quinn


# --- 5. what patients are told, and what their clinician sees of them ----------------------------------


@pytest.mark.parametrize(("lang", "heading", "share"), [("en", "Who sees your answers", "Share my answers with"),
                                                         ("es", "Quién ve sus respuestas", "Compartir mis respuestas con")])
def test_the_form_says_who_sees_the_answers_before_the_first_item(client, demo, lang, heading, share):
    clinician = get_user_model().objects.get(username="clinician1a")
    new = factories.visit(demo, clinician, "TOLD-1")
    page = client.get(f"/s/{new.patient_token}/", {"lang": lang}).content.decode()
    assert page.index(heading) < page.index('class="item')
    assert share in page and clinician.get_full_name() in page
    box = re.search(r'<input[^>]*name="share"[^>]*>', page).group(0)
    assert "checked" not in box  # off unless the patient ticks it


def test_a_clinician_sees_by_name_only_the_patients_who_shared(client, demo):
    clinician = get_user_model().objects.get(username="clinician1a")
    signed_in(client, "clinician1a")
    response = client.get(reverse("my_relationships", args=[demo.slug]), {"start": "2000-01-01", "end": str(timezone.localdate())})
    listed = {row.dyad_id for row in response.context["dyads"]}
    shared = set(
        Dyad.objects.filter(practice=demo, clinician=clinician)
        .annotate(shared=latest_patient_response_shared())
        .filter(shared=True)
        .values_list("pk", flat=True)
    )
    assert listed <= shared
    unshared = Dyad.objects.filter(practice=demo, clinician=clinician).exclude(pk__in=shared).first()
    assert unshared is not None
    assert client.get(reverse("my_dyad", args=[demo.slug, unshared.pk])).status_code == 404
    assert "appear only in the figures above" in response.content.decode()


# --- 6. watching a figure move: the same page before and after one patient answers ----------------------


def one_more_patient_answers(practice, username: str = "clinician1a") -> None:
    clinician = get_user_model().objects.get(username=username)
    new = factories.visit(practice, clinician, "WATCHED-1")
    invitation = factories.patient_invitation(new)
    services.submit_response(invitation, factories.full_answers(invitation, 1))


@pytest.mark.parametrize(
    ("username", "page"), [("clinician1a", "my_relationships"), ("manager1", "practice_dashboard")]
)
def test_reading_a_page_before_and_after_one_answer_gives_nothing_back(client, demo, username, page):
    signed_in(client, username)
    url = reverse(page, args=[demo.slug])
    today = timezone.localdate()
    asked = [(today, today), (today - dt.timedelta(days=30), today), (dt.date(today.year, 1, 1), today)]
    before = [panels_of(client, url, start, end) for start, end in asked]
    one_more_patient_answers(demo)
    after = [panels_of(client, url, start, end) for start, end in asked]
    for (start, end), (served, tables), (served_after, tables_after) in zip(asked, before, after):
        assert served == served_after
        assert tables == tables_after, f"{page} {start}..{end} moved with one patient's answers"


def test_reports_for_nested_periods_are_the_same_report(demo):
    from reports import services as reports

    today = timezone.localdate()
    month_start = today.replace(day=1)
    manager = get_user_model().objects.get(username="manager1")
    shorter = reports.request_report(demo, month_start, today - dt.timedelta(days=1), requested_by=manager)
    longer = reports.request_report(demo, month_start, today, requested_by=manager)
    quarter = reports.request_report(demo, month_start - dt.timedelta(days=80), today, requested_by=manager)
    assert shorter.pk == longer.pk == quarter.pk  # one reporting period: one report, nothing to subtract
    assert longer.end < today  # never a period still under way, whose figures move with each answer
