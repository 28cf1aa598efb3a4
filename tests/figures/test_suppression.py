"""Suppression and caution over HTTP (docs/measurement.md): what pages, charts and CSV downloads actually show.

One practice with the default minimum of 5: Sam Small has 3 dyads and Tim Tiny 2 (below it: their figures are
hidden from everyone but platform admins; together they hold 5, so the practice figure minus Bea's gives back
only their pooled figure) and Bea Big has 6 (shown, with "few responses: interpret with care", as every
figure under 30 is). Answers vary item by item, so every mean has many decimals and a leak would show.
"""

from __future__ import annotations

import csv
import html
import io
import json
import random
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from surveys import services
from surveys.domains import SHARED_DOMAINS, domain_label
from tests import factories

HIDDEN = "hidden"
CAUTION = "few responses: interpret with care"
SUPPRESSION_SENTENCE = (
    "Figures for a single clinician based on fewer than 5 patients are hidden, "
    "so that no patient's answers can be singled out."
)
SAM, BEA, TIM = "Sam Small", "Bea Big", "Tim Tiny"
DOMAINS = [str(domain_label(d)) for d in SHARED_DOMAINS]


# --- the practice ------------------------------------------------------------------------------------


def answered_dyad(practice, clinician, reference: str, rng: random.Random):
    """A visit with both questionnaires answered, each item its own value, in the latest closed quarter (the one
    the pages show)."""
    with factories.in_closed_quarter():
        new = factories.visit(practice, clinician, reference)
        for respondent in ("patient", "clinician"):
            invitation = new.visit.invitations.get(respondent=respondent)
            base = rng.randint(2, 4)
            answers = {
                code: str(min(5, max(1, base + rng.choice((-1, 0, 1))))) for code in factories.full_answers(invitation)
            }
            services.submit_response(invitation, answers)
    return new.visit


def named_clinician(practice, username, full_name):
    user = factories.member(practice, username, "clinician")
    user.first_name, user.last_name = full_name.split()
    user.save()
    return user


@pytest.fixture(autouse=True)
def quiet_sign_ins(settings):
    settings.AXES_ENABLED = False  # force_login has no client address for axes to log (see tests/api/test_api.py)


@pytest.fixture
def practice(instruments):
    return services.create_practice("small-and-big", "Small and Big Practice", 5)[0]


@pytest.fixture
def sam(practice):
    return named_clinician(practice, "sam", SAM)


@pytest.fixture
def bea(practice):
    return named_clinician(practice, "bea", BEA)


@pytest.fixture
def tim(practice):
    return named_clinician(practice, "tim", TIM)


@pytest.fixture
def manager(practice):
    return factories.member(practice, "manager", "manager")


@pytest.fixture
def admin(db):
    return get_user_model().objects.create_user("staff", password=factories.PASSWORD, is_staff=True)


@pytest.fixture
def scored(practice, sam, bea, tim):
    rng = random.Random(2024)
    for i in range(3):
        answered_dyad(practice, sam, f"SAM-{i}", rng)
    for i in range(2):
        answered_dyad(practice, tim, f"TIM-{i}", rng)
    for i in range(6):
        answered_dyad(practice, bea, f"BEA-{i}", rng)
    return practice


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- reading what was shown --------------------------------------------------------------------------


class PanelTables(HTMLParser):
    """{panel key: [row cells]} from the tables of `<section id="panel-KEY">`, header row first."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.figures: dict[str, dict] = {}
        self._panel = None
        self._row = None
        self._cell = None
        self._script = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section" and (attrs.get("id") or "").startswith("panel-"):
            self._panel = attrs["id"].removeprefix("panel-")
            self.tables.setdefault(self._panel, [])
        elif tag == "tr" and self._panel:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "script" and attrs.get("type") == "application/json" and (attrs.get("id") or "").startswith("chart-"):
            self._script = (attrs["id"].removeprefix("chart-"), [])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._panel].append(self._row)
            self._row = None
        elif tag == "section":
            self._panel = None
        elif tag == "script" and self._script:
            key, parts = self._script
            self.figures[key] = json.loads("".join(parts))
            self._script = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._script is not None:
            self._script[1].append(data)


def read_page(response) -> PanelTables:
    assert response.status_code == 200, response.status_code
    parser = PanelTables()
    parser.feed(response.content.decode())
    return parser


def page_text(response) -> str:
    return html.unescape(response.content.decode())


def rows_as_dicts(table: list[list[str]]) -> list[dict]:
    header, *rows = table
    return [dict(zip(header, row)) for row in rows]


def read_csv(response) -> list[dict]:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte order mark, for spreadsheets
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def of(rows: list[dict], column: str, value: str) -> list[dict]:
    return [row for row in rows if row[column] == value]


FIGURES = ("n", "Mean", "95% CI low", "95% CI high")


def is_hidden(row: dict, figures=FIGURES) -> bool:
    """A withheld figure: every number withheld, n included ("hidden" on the page, an empty cell in a CSV),
    and a note that says it is hidden."""
    return all(row[column] in ("", HIDDEN) for column in figures) and row["Note"].startswith(HIDDEN)


def assert_hidden(rows: list[dict], figures=FIGURES):
    assert rows
    for row in rows:
        assert is_hidden(row, figures), row
        assert CAUTION not in row.get("Note", ""), row


def assert_shown(rows: list[dict], n: int, figures=FIGURES):
    assert rows
    for row in rows:
        assert row[figures[0]] == str(n), row
        for column in figures[1:]:
            float(row[column])  # a number, not "hidden"
        assert row["Note"].split("; ")[0] == CAUTION, row  # n < 30 (a comparison may add its reliability)


def dashboard(client, practice, **query):
    return client.get(reverse("practice_dashboard", args=[practice.slug]), query)


def dashboard_csv(client, practice, key, **query):
    return client.get(reverse("practice_chart_csv", args=[practice.slug, key]), query)


def my_page(client, practice):
    return client.get(reverse("my_relationships", args=[practice.slug]))


def my_csv(client, practice, key):
    return client.get(reverse("my_chart_csv", args=[practice.slug, key]))


def sams_full_precision_means(admin, practice) -> set[str]:
    """Sam's means as the platform admin's CSV gives them (full precision): strings no other page should hold."""
    rows = of(read_csv(dashboard_csv(signed_in(admin), practice, "heatmap")), "Clinician", SAM)
    values = set()
    for row in rows:
        for column in ("Mean", "95% CI low", "95% CI high"):
            if row[column] and len(row[column]) > 6:
                values.add(row[column])
    assert len(values) >= 6, values  # unround means: a leak would show
    return values


# --- the manager's dashboard -------------------------------------------------------------------------


def test_the_dashboard_hides_the_small_clinicians_figures_and_shows_the_bigger_ones(scored, manager):
    response = dashboard(signed_in(manager), scored)
    page = read_page(response)

    for key in ("heatmap", "means"):
        rows = rows_as_dicts(page.tables[key])
        name_column = "Clinician" if key == "heatmap" else "Series"
        assert_hidden(of(rows, name_column, SAM))
        assert_shown(of(rows, name_column, BEA), n=6)
        assert len(of(rows, name_column, SAM)) == len(DOMAINS)
    assert SUPPRESSION_SENTENCE in page_text(response)


def test_the_dashboards_charts_leave_the_small_clinician_out(scored, manager):
    page = read_page(dashboard(signed_in(manager), scored))

    figure = page.figures["heatmap"]
    heatmap = next(trace for trace in figure["data"] if trace.get("type") == "heatmap")
    # Rows are placed by index, named by the axis's tick text.
    names = dict(zip(figure["layout"]["yaxis"]["tickvals"], figure["layout"]["yaxis"]["ticktext"]))
    by_name = {names[row]: values for row, values in zip(heatmap["y"], heatmap["z"])}
    assert all(value is None for value in by_name[SAM])
    # Bea's means are drawn: coloured where reliable enough to compare clinicians, else in grey text on no colour.
    beas_row = next(row for row, name in names.items() if name == BEA)
    greyed = {a["x"] for a in figure["layout"]["annotations"] if a.get("y") == beas_row and a.get("text") != HIDDEN}
    assert all(isinstance(value, float) or column in greyed for column, value in enumerate(by_name[BEA]))
    sams_row = next(row for row, name in names.items() if name == SAM)
    marked = [a for a in figure["layout"]["annotations"] if a.get("y") == sams_row and a.get("text") == HIDDEN]
    assert len(marked) == len(DOMAINS)

    # The funnel plot draws the clinicians the manager may see, and no point of Sam's.
    points = [text for trace in page.figures["means"]["data"] for text in (trace.get("text") or [])]
    assert not [text for text in points if text.startswith(SAM)]
    assert [text for text in points if text.startswith(BEA)]


def test_the_dashboards_csv_files_say_hidden_for_the_small_clinician(scored, manager, admin):
    secret = sams_full_precision_means(admin, scored)
    client = signed_in(manager)

    heatmap = dashboard_csv(client, scored, "heatmap")
    rows = read_csv(heatmap)
    assert_hidden(of(rows, "Clinician", SAM))
    assert_shown(of(rows, "Clinician", BEA), n=6)
    means = dashboard_csv(client, scored, "means")
    rows = read_csv(means)
    assert_hidden(of(rows, "Series", SAM))
    assert_shown(of(rows, "Series", BEA), n=6)

    for response in (heatmap, means, dashboard(client, scored)):
        text = response.content.decode()
        assert not [value for value in secret if value in text]


def test_filtering_the_dashboard_to_the_small_clinician_hides_every_figure(scored, manager, sam):
    client = signed_in(manager)
    response = dashboard(client, scored, clinician=sam.pk)
    page = read_page(response)

    assert_hidden(rows_as_dicts(page.tables["domains"]), figures=(*FIGURES, "SD"))
    assert_hidden(rows_as_dicts(page.tables["heatmap"]))
    # Neither the distribution nor the patient-clinician pairs of 3 dyads are drawn.
    assert "distribution" not in page.figures and "concordance" not in page.figures
    assert SUPPRESSION_SENTENCE in page_text(response)

    rows = read_csv(dashboard_csv(client, scored, "domains", clinician=sam.pk))
    assert_hidden(rows, figures=(*FIGURES, "SD"))
    assert len(rows) == len(DOMAINS)


def test_filtering_the_dashboard_to_the_bigger_clinician_shows_their_figures(scored, manager, bea):
    page = read_page(dashboard(signed_in(manager), scored, clinician=bea.pk))

    assert_shown(rows_as_dicts(page.tables["domains"]), n=6)
    assert "domains" in page.figures and "distribution" in page.figures
    # The figures are Bea's, and say so: the series is hers, not "Practice".
    assert [trace["name"] for trace in page.figures["domains"]["data"] if trace.get("name")] == [BEA]
    assert [row["Series"] for row in rows_as_dicts(page.tables["means"])] == [BEA] * len(DOMAINS)  # once each


# --- a clinician's own page --------------------------------------------------------------------------


MY = ("My n", "My mean", "My 95% CI low", "My 95% CI high")


def test_the_small_clinicians_own_page_hides_their_figures_and_says_why(scored, sam, admin):
    secret = sams_full_precision_means(admin, scored)
    client = signed_in(sam)
    response = my_page(client, scored)
    page = read_page(response)

    comparison = rows_as_dicts(page.tables["comparison"])
    assert_hidden(comparison, figures=MY)
    for row in comparison:
        assert row["Practice n"] == "11"  # the practice's figure is not a clinician's: shown
    assert_hidden(rows_as_dicts(page.tables["gaps"]), figures=("Waves", "Mean gap (me − patient)", "95% CI low", "95% CI high"))
    assert all(value is None for value in next(t for t in page.figures["comparison"]["data"] if t["name"] == "Me")["y"])
    text = page_text(response)
    assert SUPPRESSION_SENTENCE in text
    assert not [value for value in secret if value in response.content.decode()]

    rows = read_csv(my_csv(client, scored, "comparison"))
    assert_hidden(rows, figures=MY)
    assert not [value for value in secret if value in str(rows)]


def test_the_bigger_clinicians_own_page_shows_their_figures_with_the_caution(scored, bea):
    client = signed_in(bea)
    page = read_page(my_page(client, scored))

    comparison = rows_as_dicts(page.tables["comparison"])
    assert_shown(comparison, n=6, figures=MY)
    assert all(isinstance(v, float) for v in next(t for t in page.figures["comparison"]["data"] if t["name"] == "Me")["y"])
    assert_shown(read_csv(my_csv(client, scored, "comparison")), n=6, figures=MY)


# --- platform admins ---------------------------------------------------------------------------------


def test_a_platform_admin_sees_both_clinicians(scored, admin):
    client = signed_in(admin)
    page = read_page(dashboard(client, scored))

    for key, column in (("heatmap", "Clinician"), ("means", "Series")):
        rows = rows_as_dicts(page.tables[key])
        assert_shown(of(rows, column, SAM), n=3)
        assert_shown(of(rows, column, BEA), n=6)
        csv_rows = read_csv(dashboard_csv(client, scored, key))
        assert_shown(of(csv_rows, column, SAM), n=3)
        assert_shown(of(csv_rows, column, BEA), n=6)
    figure = page.figures["heatmap"]
    heatmap = next(trace for trace in figure["data"] if trace.get("type") == "heatmap")
    greyed = {(a["x"], a["y"]) for a in figure["layout"]["annotations"] if a.get("text") != HIDDEN}
    assert all(
        isinstance(value, float) or (column, row) in greyed
        for row, line in zip(heatmap["y"], heatmap["z"]) for column, value in enumerate(line)
    )


# --- caution --------------------------------------------------------------------------------------------


def test_figures_from_fewer_than_30_carry_the_caution_and_30_or_more_do_not(practice, bea, manager):
    rng = random.Random(30)
    for i in range(30):
        answered_dyad(practice, bea, f"BEA-{i}", rng)
    other = named_clinician(practice, "sam", SAM)
    for i in range(6):
        answered_dyad(practice, other, f"SAM-{i}", rng)

    page = read_page(dashboard(signed_in(manager), practice))

    domains = rows_as_dicts(page.tables["domains"])
    assert {row["n"] for row in domains} == {"36"}
    assert all(row["Note"] != CAUTION for row in domains)
    heatmap = rows_as_dicts(page.tables["heatmap"])
    assert all(row["n"] == "30" and CAUTION not in row["Note"] for row in of(heatmap, "Clinician", BEA))
    assert all(row["n"] == "6" and row["Note"].startswith(CAUTION) for row in of(heatmap, "Clinician", SAM))
    rows = read_csv(dashboard_csv(signed_in(manager), practice, "heatmap"))
    assert all(CAUTION not in row["Note"] for row in of(rows, "Clinician", BEA))
    assert all(row["Note"].startswith(CAUTION) for row in of(rows, "Clinician", SAM))


def test_the_practice_figures_of_a_small_practice_carry_the_caution(scored, manager):
    page = read_page(dashboard(signed_in(manager), scored))
    domains = rows_as_dicts(page.tables["domains"])
    assert all(row["n"] == "11" and row["Note"] == CAUTION for row in domains)


# --- complementary suppression ------------------------------------------------------------


def test_the_small_clinicians_mean_cannot_be_worked_out_from_the_others(scored, manager, admin):
    """Practice mean × 11 − Bea's mean × 6 gives only Sam's and Tim's pooled mean, never Sam's own.

    Every figure used here is one the manager is shown (the practice's and Bea's, with their n); Sam's true
    means come from the platform admin's CSV. Half a point is far coarser than what the sum recovers.
    """
    client = signed_in(manager)
    practice_rows = {row["Domain"]: row for row in read_csv(dashboard_csv(client, scored, "domains"))}
    beas = {row["Domain"]: row for row in of(read_csv(dashboard_csv(client, scored, "heatmap")), "Clinician", BEA)}
    sams = {row["Domain"]: row for row in of(read_csv(dashboard_csv(signed_in(admin), scored, "heatmap")), "Clinician", SAM)}
    recovered = []
    for domain in DOMAINS:
        p, b = practice_rows[domain], beas[domain]
        if p["Mean"] in ("", HIDDEN) or b["Mean"] in ("", HIDDEN):
            continue
        rest = int(p["n"]) - int(b["n"])
        worked_out = (float(p["Mean"]) * int(p["n"]) - float(b["Mean"]) * int(b["n"])) / rest
        if abs(worked_out - float(sams[domain]["Mean"])) < 0.5:
            recovered.append(domain)
    assert not recovered, f"Sam's hidden mean worked out from the shown figures for {recovered}"


def test_with_one_small_clinician_beside_one_other_both_are_hidden(instruments):
    """Two clinicians, one small: showing the other's figure beside the practice's would give the small one's
    back by subtraction, so both are hidden and the practice figure (two clinicians, 9 dyads) stays."""
    practice = services.create_practice("two", "Two Clinicians", 5)[0]
    small, big = named_clinician(practice, "small", "Sue Small"), named_clinician(practice, "big", "Bob Big")
    rng = random.Random(7)
    for i in range(3):
        answered_dyad(practice, small, f"S-{i}", rng)
    for i in range(6):
        answered_dyad(practice, big, f"B-{i}", rng)
    client = signed_in(factories.member(practice, "boss", "manager"))
    heatmap = read_csv(client.get(reverse("practice_chart_csv", args=[practice.slug, "heatmap"])))
    assert heatmap and all(is_hidden(row) for row in heatmap)
    domains = read_csv(client.get(reverse("practice_chart_csv", args=[practice.slug, "domains"])))
    assert all(row["Mean"] not in ("", HIDDEN) and row["n"] == "9" for row in domains)


def test_a_single_small_clinician_hides_the_practice_figure_too(instruments):
    """With one clinician under the minimum, the practice figure is that clinician's figure."""
    practice = services.create_practice("solo", "Solo Practice", 5)[0]
    solo = named_clinician(practice, "solo", "Sol Solo")
    rng = random.Random(8)
    for i in range(3):
        answered_dyad(practice, solo, f"O-{i}", rng)
    client = signed_in(factories.member(practice, "boss", "manager"))
    domains = read_csv(client.get(reverse("practice_chart_csv", args=[practice.slug, "domains"])))
    assert domains and all(is_hidden(row) for row in domains)
