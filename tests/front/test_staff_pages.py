"""Issue 14 on the staff pages: the clinician's lists (expired questionnaires, paging), filters with bad dates,
each chart's title and the shared notes said once, and the dashboard's card layout."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from figures.figure import caution_note, suppression_note
from front.survey_views import CLINICIAN_ROWS_PER_PAGE
from surveys.models import Invitation
from tests import factories


@pytest.fixture(autouse=True)
def quiet_sign_ins(settings):
    settings.AXES_ENABLED = False


def expire(new_visit, respondent: str) -> None:
    Invitation.objects.filter(visit=new_visit.visit, respondent=respondent).update(
        expires_at=timezone.now() - dt.timedelta(days=1)
    )


# --- the clinician's questionnaires ----------------------------------------------------------------


class TestClinicianHome:
    def test_an_expired_questionnaire_shows_as_expired_and_not_as_something_to_do(self, client, practice_a, clinician_a):
        open_visit = factories.visit(practice_a, clinician_a, "PA-101")
        expired_visit = factories.visit(practice_a, clinician_a, "PA-102")
        expire(expired_visit, "clinician")
        expire(expired_visit, "patient")
        client.force_login(clinician_a)
        response = client.get(reverse("clinician_home"))
        assert [visit.pk for visit in response.context["pending"]] == [open_visit.visit.pk]
        html = response.content.decode()
        pending = html[html.index('data-list="pending"'):html.index('id="recent-visits"')]
        assert "PA-101" in pending and "PA-102" not in pending
        expired_row = re.search(rf'<tr data-visit="{expired_visit.visit.pk}">(.*?)</tr>', html, re.S).group(1)
        assert re.findall(r'data-state="(\w+)"', expired_row) == ["expired", "expired"]
        assert "expired" in expired_row and "open" not in expired_row
        assert reverse("clinician_questionnaire", args=[expired_visit.visit.pk]) not in html
        open_row = re.search(rf'<tr data-visit="{open_visit.visit.pk}">(.*?)</tr>', html, re.S).group(1)
        assert re.findall(r'data-state="(\w+)"', open_row) == ["open", "open"]

    def test_an_expired_questionnaire_shows_as_caducado_in_spanish(self, client, practice_a, clinician_a):
        expire(factories.visit(practice_a, clinician_a, "PA-103"), "clinician")
        client.force_login(clinician_a)
        html = client.get(reverse("clinician_home"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
        assert "caducado" in html.lower()

    def test_long_lists_are_paged_and_the_pager_keeps_the_other_list_s_page(self, client, practice_a, clinician_a):
        count = CLINICIAN_ROWS_PER_PAGE + 5
        for i in range(count):
            factories.visit(practice_a, clinician_a, f"PA-{i:03}", timezone.localdate() - dt.timedelta(days=i))
        client.force_login(clinician_a)
        response = client.get(reverse("clinician_home"), {"todo": "2"})
        assert len(response.context["rows"]) == CLINICIAN_ROWS_PER_PAGE
        assert response.context["visits"].paginator.count == count
        assert len(response.context["pending"]) == 5  # the second page of questionnaires to fill
        html = response.content.decode()
        assert 'href="?todo=2&amp;page=2"' in html  # the visits' next page, the questionnaires' page kept
        assert 'href="?todo=1"' in html  # the questionnaires' previous page
        assert html.count('<nav aria-label="Pages of') == 2
        second = client.get(reverse("clinician_home"), {"page": "2", "todo": "2"})
        assert len(second.context["rows"]) == 5

    def test_its_query_count_does_not_grow_with_the_visits(self, client, practice_a, clinician_a):
        client.force_login(clinician_a)

        def queries_for_page():
            with CaptureQueriesContext(connection) as captured:
                assert client.get(reverse("clinician_home")).status_code == 200
            return len(captured)

        factories.visit(practice_a, clinician_a, "PA-900")
        few = queries_for_page()
        for i in range(12):
            factories.visit(practice_a, clinician_a, f"PA-{i:03}")
        assert queries_for_page() == few


# --- the clinician's patients --------------------------------------------------------------------------


def test_the_my_patients_list_is_paged_keeping_the_filters(client, practice_a, clinician_a, monkeypatch):
    from figures import queries
    from front import dashboard_views

    monkeypatch.setattr(dashboard_views, "DYADS_PER_PAGE", 2)
    rows = [queries.DyadRow(i + 1, f"PA-{i}", 1, None, {}, {}, []) for i in range(5)]
    monkeypatch.setattr(queries, "clinician_dyads", lambda *args, **kwargs: rows)
    client.force_login(clinician_a)
    url = reverse("my_relationships", args=[practice_a.slug])
    response = client.get(url, {"version": "", "dyads_page": "2"})
    assert response.context["dyads"].number == 2 and len(response.context["dyads"]) == 2
    html = response.content.decode()
    assert 'href="?version=&amp;dyads_page=3"' in html and 'href="?version=&amp;dyads_page=1"' in html


# --- filters --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "name"), [("manager_a", "practice_dashboard"), ("clinician_a", "my_relationships")])
def test_an_end_before_the_start_is_an_error_and_shows_no_figures(client, request, practice_a, who, name):
    client.force_login(request.getfixturevalue(who))
    url = reverse(name, args=[practice_a.slug])
    response = client.get(url, {"start": "2025-06-30", "end": "2025-04-01"})
    assert response.status_code == 400
    assert response.context["panels"] == [] and response.context["period"] is None
    html = response.content.decode()
    assert "The end date must be on or after the start date." in html
    assert "These dates cannot be shown" in html
    assert "Showing " not in html and "data-chart=" not in html and "data-tile=" not in html
    # htmx swaps only 2xx answers: its swap carries the error, so the old figures do not stay under the bad dates.
    swapped = client.get(url, {"start": "2025-06-30", "end": "2025-04-01"}, HTTP_HX_REQUEST="true")
    assert swapped.status_code == 200
    assert "The end date must be on or after the start date." in swapped.content.decode()
    assert "data-chart=" not in swapped.content.decode()


def test_a_chart_csv_for_bad_dates_is_refused(client, manager_a, practice_a):
    client.force_login(manager_a)
    url = reverse("practice_chart_csv", args=[practice_a.slug, "domains"])
    response = client.get(url, {"start": "2025-06-30", "end": "2025-04-01"})
    assert response.status_code == 400


def test_good_dates_still_show_their_period(client, manager_a, practice_a):
    client.force_login(manager_a)
    response = client.get(reverse("practice_dashboard", args=[practice_a.slug]), {"start": "2025-04-01", "end": "2025-06-30"})
    assert response.status_code == 200
    assert 'data-period="2025 Q2"' in response.content.decode()


# --- titles, notes and layout --------------------------------------------------------------------------


def chart_titles(html: str) -> list:
    figures = re.findall(r'<script type="application/json" id="chart-[\w-]+">(.*?)</script>', html, re.S)
    return [json.loads(figure)["layout"].get("title", {}).get("text") for figure in figures]


@pytest.fixture
def answered(practice_a, clinician_a):
    with factories.in_closed_quarter():
        for i in range(6):
            new = factories.visit(practice_a, clinician_a, f"PA-{i:03}")
            for respondent in ("patient", "clinician"):
                invitation = new.visit.invitations.get(respondent=respondent)
                from surveys import services

                services.submit_response(invitation, factories.full_answers(invitation, 4))
    return practice_a


@pytest.mark.parametrize(("who", "name"), [("manager_a", "practice_dashboard"), ("clinician_a", "my_relationships")])
def test_each_chart_has_its_title_once_and_the_shared_notes_appear_once(client, request, answered, who, name):
    client.force_login(request.getfixturevalue(who))
    html = client.get(reverse(name, args=[answered.slug])).content.decode()
    titles = chart_titles(html)
    assert titles and all(not title for title in titles)  # the card heading names the chart
    for note in (suppression_note(answered.min_reporting_n), caution_note()):
        assert html.count(escape(str(note))) == 1, note


def test_half_width_cards_come_in_pairs(client, manager_a, answered):
    client.force_login(manager_a)
    html = client.get(reverse("practice_dashboard", args=[answered.slug])).content.decode()
    columns = re.findall(r'<div class="(col-[\w-]+)" data-panel-column>', html)
    assert columns
    halves = [i for i, column in enumerate(columns) if column == "col-lg-6"]
    assert len(halves) % 2 == 0
    assert all(halves[i + 1] == halves[i] + 1 for i in range(0, len(halves), 2))


def test_the_showing_line_names_the_clinician_and_version_filters(client, manager_a, practice_a, clinician_a):
    client.force_login(manager_a)
    url = reverse("practice_dashboard", args=[practice_a.slug])
    whole = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "only." not in whole and 'data-scope="|"' in whole
    filtered = client.get(url, {"clinician": clinician_a.pk}, HTTP_HX_REQUEST="true").content.decode()
    assert "Figures for clin-a only." in filtered
    assert 'data-scope="clin-a|"' in filtered


# --- the visit import ------------------------------------------------------------------------------------


def test_the_import_preview_lists_every_problem_of_a_row_and_keeps_the_good_rows(client, manager_a, practice_a, clinician_a):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(manager_a)
    data = b"date,clinician,patient,email\n2030-01-01,nobody,Jane Smith,x@\n2025-03-04,clin-a,PA-001,\n"
    url = reverse("manager_import", args=[practice_a.slug])
    html = client.post(url, {"file": SimpleUploadedFile("v.csv", data, "text/csv")}).content.decode()
    codes = re.findall(r'<tr class="import-error" data-code="([a-z_]+)"><td>(\d+)</td>', html)
    assert sorted(codes) == sorted(
        [("future_date", "2"), ("name_like_patient", "2"), ("bad_email", "2"), ("unknown_clinician", "2")]
    )
    assert "1 visit will be created" in html
    spanish = client.post(
        url, {"file": SimpleUploadedFile("v.csv", data, "text/csv")}, HTTP_ACCEPT_LANGUAGE="es"
    ).content.decode()
    assert "puede ser un nombre" in spanish and "es posterior a hoy" in spanish
    assert "La dirección de correo electrónico no es válida." in spanish
    assert "No hay ningún profesional «nobody» en este consultorio." in spanish
