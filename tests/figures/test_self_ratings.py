"""'My competency self-ratings' (issue 14): the periodic self-assessments over periods, and per-visit competency
ratings by month with points from few questionnaires marked."""

import csv
import datetime as dt
import io
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from figures import panels, queries
from plumbing.period import Period
from surveys import selectors, services
from surveys.models import Respondent
from tests import factories

ANSWERS = {f"S0{i}": "4" for i in range(1, 9)}


def visit_monthly(practice, clinician):
    period = Period(timezone.localdate() - dt.timedelta(days=90), timezone.localdate(), clinician_id=clinician.pk)
    return queries.monthly_summaries(practice, period, respondent=Respondent.CLINICIAN)


def answer_clinician_side(practice, clinician, reference):
    invitation = factories.clinician_invitation(factories.visit(practice, clinician, reference))
    services.submit_response(invitation, factories.full_answers(invitation))


def test_a_month_from_one_visit_questionnaire_is_marked_as_few(practice_a, clinician_a):
    answer_clinician_side(practice_a, clinician_a, "PA-1")  # clinician 1.0 carries the competencies
    panel = panels._self_ratings_panel([], visit_monthly(practice_a, clinician_a), few_below=5)
    traces = panel.figure.to_plotly_json()["data"]
    assert len(traces) == 4  # one per competency, from visit questionnaires only
    for trace in traces:
        assert list(trace["marker"]["symbol"]) == ["circle-open"] and list(trace["customdata"]) == [1]
        assert "n = %{customdata}" in trace["hovertemplate"]
    assert all(row[3] == 1 and row[5] == "few questionnaires: interpret with care" for row in panel.rows)
    assert "hollow points are built from fewer than 5 questionnaires" in panel.notes[0]


def test_a_month_from_enough_questionnaires_is_drawn_solid(practice_a, clinician_a):
    for i in range(3):
        answer_clinician_side(practice_a, clinician_a, f"PA-{i}")
    panel = panels._self_ratings_panel([], visit_monthly(practice_a, clinician_a), few_below=3)
    assert all(list(trace["marker"]["symbol"]) == ["circle"] for trace in panel.figure.to_plotly_json()["data"])
    assert all(row[5] == "" for row in panel.rows)


def test_self_assessments_are_plotted_one_point_per_period(practice_a, clinician_a, competencies):
    services.submit_self_assessment(practice_a, clinician_a, ANSWERS, now=timezone.now() - dt.timedelta(days=100))
    services.submit_self_assessment(practice_a, clinician_a, {**ANSWERS, "S01": "5"})
    assessments = selectors.own_self_assessments(clinician_a, practice_a)
    panel = panels._self_ratings_panel(assessments, {}, few_below=5)
    traces = panel.figure.to_plotly_json()["data"]
    assert len(traces) == 4 and all(trace["marker"]["symbol"] == "diamond" for trace in traces)
    assert all(len(trace["x"]) == 2 for trace in traces)
    assert [row[0] for row in panel.rows[:2]] == [a.period_start.strftime("%Y-%m") for a in assessments]
    assert {row[1] for row in panel.rows} == {"Self-assessment"}


def test_nothing_to_draw_without_ratings():
    assert panels._self_ratings_panel([], {}, few_below=5).figure is None


def test_my_relationships_shows_only_my_own_self_assessments(client, practice_a, clinician_a, clinician_a2, competencies):
    services.submit_self_assessment(practice_a, clinician_a, {**ANSWERS, "S01": "5"})
    services.submit_self_assessment(practice_a, clinician_a2, ANSWERS)
    client.force_login(clinician_a)
    response = client.get(reverse("my_chart_csv", args=[practice_a.slug, "competencies"]))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Period", "Source", "Domain"] and len(rows) == 1 + 4
    mine = selectors.own_self_assessments(clinician_a, practice_a)[0].scores
    assert sorted(float(row[4]) for row in rows[1:]) == pytest.approx(sorted(mine.values()))
    page = client.get(reverse("my_relationships", args=[practice_a.slug])).content.decode()
    assert "My competency self-ratings" in page and json.dumps("diamond") in page
