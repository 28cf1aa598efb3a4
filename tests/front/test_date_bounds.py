"""No date in a URL, a form, a file or a command gives a 5xx: the year 9999 gets a clear message."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from interchange.ehr.parse import parse_text
from plumbing.period import EARLIEST, LATEST

EXTREMES = [("9999-12-30", "9999-12-31"), ("0001-01-01", "9999-12-31"), ("0001-01-01", "0001-01-01")]


@pytest.fixture(autouse=True)
def quiet_sign_ins(settings):
    settings.AXES_ENABLED = False


@pytest.mark.parametrize(("start", "end"), EXTREMES)
@pytest.mark.parametrize(
    ("who", "name", "args"),
    [
        ("manager_a", "practice_dashboard", []),
        ("manager_a", "practice_chart_csv", ["domains"]),
        ("clinician_a", "my_relationships", []),
        ("clinician_a", "my_chart_csv", ["comparison"]),
        ("manager_a", "research_exports", []),
        ("manager_a", "manager_invitations", []),
        ("manager_a", "reports", []),
    ],
)
def test_extreme_dates_in_a_url_never_give_a_5xx(client, request, practice_a, who, name, args, start, end):
    client.force_login(request.getfixturevalue(who))
    response = client.get(reverse(name, args=[practice_a.slug, *args]), {"start": start, "end": end})
    assert response.status_code < 500


def test_a_report_for_the_year_9999_is_refused_with_a_message(client, manager_a, practice_a):
    client.force_login(manager_a)
    response = client.post(reverse("reports", args=[practice_a.slug]),
                           {"kind": "practice", "start": "9999-12-30", "end": "9999-12-31"})
    assert response.status_code in (200, 400)
    assert f"between {EARLIEST} and {LATEST}" in response.content.decode()


def test_a_visit_in_the_year_9999_is_refused_by_the_command(practice_a, clinician_a):
    with pytest.raises(CommandError, match="between"):
        call_command("create_visit", "--practice", practice_a.slug, "--clinician", clinician_a.username,
                     "--patient", "FAR-1", "--date", "9999-12-31", stdout=io.StringIO())


def test_an_imported_row_dated_outside_the_bounds_is_a_row_error():
    parsed = parse_text("date,clinician,patient\n9999-12-31,dr,PT-1\n0001-01-01,dr,PT-2\n2026-01-05,dr,PT-3\n")
    assert [error.code for error in parsed.errors] == ["date_out_of_range", "date_out_of_range"]
    assert [row.patient for row in parsed.rows] == ["PT-3"]
