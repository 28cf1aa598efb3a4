"""Research exports (issue #7 item 4): tidy answers and responses, codebook, SPSS, REDCap; who may download them."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil
import subprocess
import zipfile

import pyreadstat
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from audit.models import Action, AuditEvent
from interchange.research import exports as research
from interchange.research.scores import SCORE_COLUMNS
from measurement.instruments import spec_for_version
from plumbing.period import Period
from surveys import services
from surveys.domains import domain_labels
from surveys.models import Answer, DomainScore, Response
from tests import factories

UTC = dt.UTC
PERIOD = Period(dt.date(2025, 3, 1), dt.date(2025, 3, 31))
QUERY = {"start": "2025-03-01", "end": "2025-03-31"}
EMPTY = {"start": "2020-01-01", "end": "2020-01-31"}
ROW_FILES = ["research_answers_csv", "research_responses_csv", "research_responses_sav", "research_zip"]
REVERSED = {"P03", "P13", "P18", "C03", "C10", "C21"}


def submit(new_visit, respondent: str, answers: dict, when: dt.datetime, language: str = "en") -> Response:
    invitation = new_visit.visit.invitations.get(respondent=respondent)
    response = services.submit_response(invitation, answers, language=language)
    Response.objects.filter(pk=response.pk).update(submitted_at=when)
    return response


def answers_for(new_visit, respondent: str, value, **overrides) -> dict:
    invitation = new_visit.visit.invitations.get(respondent=respondent)
    return {**factories.full_answers(invitation, value), **overrides}


@pytest.fixture(autouse=True)
def no_axes_on_force_login(settings):
    # Sign-ins are not under test here. force_login signs in with a bare request that has no address, and
    # django-axes' access log (an inet column on PostgreSQL) refuses the placeholder it records for that.
    settings.AXES_ENABLED = False


@pytest.fixture
def admin(db):
    return get_user_model().objects.create_user("platform-admin", password=factories.PASSWORD, is_staff=True)


@pytest.fixture
def data(practice_a, practice_b, clinician_a, clinician_a2, clinician_b):
    """Responses in and around March 2025: the first and last instants of the period count, the next ones do not."""
    first = factories.visit(practice_a, clinician_a, "PA-001", dt.date(2025, 3, 4))
    second = factories.visit(practice_a, clinician_a2, "PA-002", dt.date(2025, 3, 31))
    before = factories.visit(practice_a, clinician_a, "PA-003", dt.date(2025, 2, 28))
    after = factories.visit(practice_a, clinician_a, "PA-001", dt.date(2025, 4, 1))
    elsewhere = factories.visit(practice_b, clinician_b, "PB-001", dt.date(2025, 3, 10))
    # Agreeing (4) with everything, but disagreeing (2) with the reverse-keyed P03; P08 does not apply.
    patient_answers = answers_for(first, "patient", 4, P03="2", P08="na")
    clinician_answers = answers_for(first, "clinician", 5, C06="na", C21="1")
    inside = [
        submit(first, "patient", patient_answers, dt.datetime(2025, 3, 1, 0, 0, tzinfo=UTC), "es"),
        submit(first, "clinician", clinician_answers, dt.datetime(2025, 3, 4, 12, 0, tzinfo=UTC)),
        submit(second, "patient", answers_for(second, "patient", 1, P13="5"), dt.datetime(2025, 3, 31, 23, 59, 59, tzinfo=UTC)),
    ]
    submit(before, "patient", answers_for(before, "patient", 3), dt.datetime(2025, 2, 28, 23, 59, 59, tzinfo=UTC))
    submit(after, "patient", answers_for(after, "patient", 3), dt.datetime(2025, 4, 1, 0, 0, tzinfo=UTC))
    submit(elsewhere, "patient", answers_for(elsewhere, "patient", 2), dt.datetime(2025, 3, 10, tzinfo=UTC))
    return inside


def get(client, name, practice, query=None, *args):
    return client.get(reverse(name, args=[practice.slug, *args]), query or {})


def content(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def csv_dicts(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def csv_header(data: bytes) -> list[str]:
    return next(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


@pytest.fixture
def as_admin(client, admin):
    client.force_login(admin)
    return client


# --- answers.csv -------------------------------------------------------------------------------------


class TestAnswersCsv:
    def test_it_has_one_row_per_stored_answer_in_the_period(self, as_admin, practice_a, data):
        rows = csv_dicts(content(get(as_admin, "research_answers_csv", practice_a, QUERY)))
        stored = Answer.objects.filter(response__in=data).select_related("item", "response")
        assert len(rows) == stored.count() == 21 + 25 + 21
        assert {(int(r["visit"]), r["respondent"], r["item"]) for r in rows} == {
            (a.response.visit_id, a.response.respondent, a.item.code) for a in stored
        }
        assert list(rows[0]) == research.ANSWER_COLUMNS

    def test_it_mirrors_reverse_keyed_items_in_the_scored_value(self, as_admin, practice_a, data):
        rows = csv_dicts(content(get(as_admin, "research_answers_csv", practice_a, QUERY)))
        for row in rows:
            assert row["reverse"] == ("1" if row["item"] in REVERSED else "0")
            if row["answer_na"] == "1":
                assert row["answer"] == row["scored"] == ""
            elif row["reverse"] == "1":
                assert int(row["scored"]) == 6 - int(row["answer"])
            else:
                assert row["scored"] == row["answer"]
        by_key = {(r["respondent"], r["item"], r["patient"]): r for r in rows}
        p03 = by_key[("patient", "P03", "PA-001")]
        assert (p03["answer"], p03["scored"], p03["domain"]) == ("2", "4", "valuing")
        p08 = by_key[("patient", "P08", "PA-001")]
        assert (p08["answer"], p08["answer_na"], p08["scored"]) == ("", "1", "")
        assert by_key[("patient", "P13", "PA-002")]["scored"] == "1"

    def test_it_carries_the_response_context(self, as_admin, practice_a, data):
        rows = csv_dicts(content(get(as_admin, "research_answers_csv", practice_a, QUERY)))
        first = rows[0]
        response = data[0]
        assert first["visit"] == str(response.visit_id) and first["dyad"] == str(response.dyad_id)
        assert (first["clinician"], first["patient"], first["respondent"]) == ("clin-a", "PA-001", "patient")
        assert (first["instrument"], first["version"], first["language"]) == ("patient", "1.0", "es")
        assert dt.datetime.fromisoformat(first["submitted_at"]) == dt.datetime(2025, 3, 1, tzinfo=UTC)

    def test_no_other_practice_and_no_day_outside_the_period(self, as_admin, practice_a, data):
        rows = csv_dicts(content(get(as_admin, "research_answers_csv", practice_a, QUERY)))
        assert {r["patient"] for r in rows} == {"PA-001", "PA-002"}
        assert all(r["submitted_at"].startswith("2025-03") for r in rows)


# --- responses.csv -----------------------------------------------------------------------------------


def test_responses_csv_matches_export_scores_for_the_period(as_admin, practice_a, data):
    out = io.StringIO()
    call_command("export_scores", "--practice", practice_a.slug, stdout=out)
    start, end = PERIOD.bounds
    expected = [
        row for row in csv.DictReader(io.StringIO(out.getvalue()))
        if start <= dt.datetime.fromisoformat(row["submitted_at"]) < end
    ]
    data_bytes = content(get(as_admin, "research_responses_csv", practice_a, QUERY))
    assert csv_header(data_bytes) == SCORE_COLUMNS
    assert csv_dicts(data_bytes) == expected
    assert len(expected) == 3


# --- responses.sav -----------------------------------------------------------------------------------


def read_sav(tmp_path, data: bytes, **options):
    path = tmp_path / "responses.sav"
    path.write_bytes(data)
    return pyreadstat.read_sav(str(path), output_format="dict", **options)


class TestSav:
    def test_it_reads_back_with_labels(self, as_admin, practice_a, data, tmp_path):
        columns, meta = read_sav(tmp_path, content(get(as_admin, "research_responses_sav", practice_a, QUERY)))
        spec = spec_for_version(data[0].instrument_version)
        p01 = next(item for item in spec.items if item.code == "P01")
        assert meta.column_names_to_labels["P01"].endswith(p01.text["en"])
        assert "(reverse-keyed)" in meta.column_names_to_labels["P03"]
        assert meta.column_names_to_labels["valuing"] == "Valuing (domain score, 0-100)"
        assert meta.column_names_to_labels["process_index"] == "Process index (0-100)"
        assert meta.variable_value_labels["P01"] == {
            1.0: "Strongly disagree", 2.0: "Disagree", 3.0: "Neutral", 4.0: "Agree", 5.0: "Strongly agree",
            9.0: "Does not apply",
        }
        assert meta.variable_value_labels["C25"][9.0] == "Does not apply"
        assert columns["clinician"] == ["clin-a", "clin-a", "clin-a2"]
        assert columns["respondent"] == ["patient", "clinician", "patient"]
        assert columns["submitted_at"][2] == dt.datetime(2025, 3, 31, 23, 59, 59)

    def test_it_holds_the_same_numbers(self, as_admin, practice_a, data, tmp_path):
        columns, _meta = read_sav(tmp_path, content(get(as_admin, "research_responses_sav", practice_a, QUERY)))
        assert columns["visit"] == [float(r.visit_id) for r in data]
        for row, response in enumerate(data):
            for answer in Answer.objects.filter(response=response).select_related("item"):
                # Not applicable is user-missing: None when read like SPSS does by default.
                assert columns[answer.item.code][row] == (None if answer.value is None else float(answer.value))
            other = "C01" if response.respondent == "patient" else "P01"
            assert columns[other][row] is None  # the other instrument's items are system-missing
            for score in DomainScore.objects.filter(response=response):
                assert columns[score.domain][row] == score.score  # full precision
            assert columns["process_index"][row] == response.process_index
            assert columns["outcome_index"][row] == response.outcome_index
        assert columns["P03"][0] == 2.0  # the raw answer: value labels read true

    def test_not_applicable_is_the_user_missing_code_nine(self, as_admin, practice_a, data, tmp_path):
        columns, meta = read_sav(
            tmp_path, content(get(as_admin, "research_responses_sav", practice_a, QUERY)), user_missing=True
        )
        assert columns["P08"][0] == 9.0
        assert columns["C06"][1] == 9.0
        assert meta.missing_ranges["P08"] == [{"lo": 9.0, "hi": 9.0}]


# --- REDCap data dictionaries --------------------------------------------------------------------------

REDCAP_HEADER = (
    '"Variable / Field Name","Form Name","Section Header","Field Type","Field Label",'
    '"Choices, Calculations, OR Slider Labels","Field Note","Text Validation Type OR Show Slider Number",'
    '"Text Validation Min","Text Validation Max","Identifier?","Branching Logic (Show field only if...)",'
    '"Required Field?","Custom Alignment","Question Number (surveys only)","Matrix Group Name","Matrix Ranking?",'
    '"Field Annotation"'
)
CHOICES = re.compile(r"^-?\d+, [^|]+?( \| -?\d+, [^|]+?)*$")


@pytest.mark.parametrize("name", ["patient-1.0", "clinician-1.0"])
def test_the_redcap_dictionary_has_one_valid_row_per_item(client, manager_a, practice_a, name):
    client.force_login(manager_a)
    response = get(client, "research_redcap", practice_a, None, name)
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="redcap-{name}.csv"'
    text = response.content.decode("utf-8")
    assert text.splitlines()[0] == REDCAP_HEADER
    assert csv_header(response.content) == research.REDCAP_COLUMNS
    record_id, *rows = csv_dicts(response.content)
    spec = next(s for s in research.instrument_specs() if f"{s.slug}-{s.version}" == name)
    # REDCap's first field is the record id; here the visit's id, shared by the patient's and clinician's forms.
    assert (record_id["Variable / Field Name"], record_id["Field Type"]) == ("record_id", "text")
    assert record_id["Form Name"] == name.replace("-", "_").replace(".", "_")
    assert [r["Variable / Field Name"] for r in rows] == [item.code.lower() for item in spec.items]
    for row, item in zip(rows, spec.items):
        assert row["Field Type"] == "radio"
        assert row["Form Name"] == name.replace("-", "_").replace(".", "_")
        assert row["Field Label"] == item.text["en"]
        assert CHOICES.match(row["Choices, Calculations, OR Slider Labels"]), row
        assert row["Choices, Calculations, OR Slider Labels"].startswith("1, Strongly disagree | 2, Disagree | 3, Neutral")
        assert row["Choices, Calculations, OR Slider Labels"].endswith(
            "5, Strongly agree | 9, Does not apply" if item.allow_na else "5, Strongly agree"
        )
    headed = [r["Section Header"] for r in rows if r["Section Header"]]
    assert headed == [domain_labels(domain.code)["en"] for domain in spec.domains]  # the one name of each domain
    assert text.count("\n") == len(spec.items) + 2


def redcap_import_problems(dictionary: bytes, data: bytes) -> list[str]:
    """What REDCap's data import would refuse, checked against the dictionary: the record id first, every
    column a field of the dictionary (or its form's status), every radio value one of the field's codes."""
    fields = csv_dicts(dictionary)
    choices = {
        f["Variable / Field Name"]: {c.split(",", 1)[0].strip() for c in f["Choices, Calculations, OR Slider Labels"].split("|")}
        for f in fields if f["Field Type"] == "radio"
    }
    known = {f["Variable / Field Name"] for f in fields} | {f"{f['Form Name']}_complete" for f in fields}
    header, rows = csv_header(data), csv_dicts(data)
    problems = [] if header[0] == fields[0]["Variable / Field Name"] == "record_id" else ["the record id is not first"]
    problems += [f"unknown field {column}" for column in header if column not in known]
    ids = [row["record_id"] for row in rows]
    problems += [] if all(ids) and len(set(ids)) == len(ids) else ["record ids blank or repeated"]
    for row in rows:
        for column, value in row.items():
            if column in choices and value not in choices[column] | {""}:
                problems.append(f"record {row['record_id']}: {column}={value!r} is not a choice")
            if column.endswith("_complete") and value not in {"0", "1", "2"}:
                problems.append(f"record {row['record_id']}: {column}={value!r}")
    return problems


def test_the_zip_has_a_redcap_data_file_per_version_that_imports_against_its_dictionary(as_admin, practice_a, data):
    archive = zipfile.ZipFile(io.BytesIO(content(get(as_admin, "research_zip", practice_a, QUERY))))
    for name in ("patient-1.0", "clinician-1.0"):
        dictionary, flat = archive.read(f"redcap-{name}.csv"), archive.read(f"redcap-data-{name}.csv")
        assert redcap_import_problems(dictionary, flat) == []
        assert not flat.startswith(b"\xef\xbb\xbf")  # imported as it is, like the dictionary
    patients = csv_dicts(archive.read("redcap-data-patient-1.0.csv"))
    first, second = data[0], data[2]
    assert [row["record_id"] for row in patients] == [str(first.visit_id), str(second.visit_id)]
    assert (patients[0]["p01"], patients[0]["p03"], patients[0]["p08"]) == ("4", "2", "9")  # raw answers; 9: does not apply
    assert patients[0]["patient_1_0_complete"] == "2"
    clinicians = csv_dicts(archive.read("redcap-data-clinician-1.0.csv"))
    assert [(row["record_id"], row["c06"], row["c21"]) for row in clinicians] == [(str(first.visit_id), "9", "1")]


def test_the_redcap_data_of_an_empty_period_is_its_header(as_admin, practice_a, data):
    archive = zipfile.ZipFile(io.BytesIO(content(get(as_admin, "research_zip", practice_a, EMPTY))))
    flat = archive.read("redcap-data-patient-1.0.csv").decode()
    assert flat.splitlines() == [",".join(research.redcap_data_columns(research.instrument_specs()[0]))]
    assert flat.startswith("record_id,p01,")


def test_an_unknown_instrument_version_is_404(client, manager_a, practice_a):
    client.force_login(manager_a)
    assert get(client, "research_redcap", practice_a, None, "patient-9.9").status_code == 404


# --- codebook ----------------------------------------------------------------------------------------


def test_the_codebook_covers_every_column(client, manager_a, practice_a):
    client.force_login(manager_a)
    response = get(client, "research_codebook_csv", practice_a)
    assert csv_header(response.content) == research.CODEBOOK_COLUMNS
    rows = csv_dicts(response.content)
    described = {(r["file"], r["column"]) for r in rows if r["meaning"] and r["type"]}
    assert {("answers.csv", c) for c in research.ANSWER_COLUMNS} <= described
    assert {("responses.csv", c) for c in SCORE_COLUMNS} <= described
    variables = research.sav_variables(research.instrument_specs())
    assert {("responses.sav", v.name) for v in variables} <= described
    assert {("casemix.csv", c) for c in research.CASEMIX_COLUMNS} <= described
    assert len(rows) == (
        len(research.ANSWER_COLUMNS) + len(SCORE_COLUMNS) + len(variables) + len(research.CASEMIX_COLUMNS)
    )


# --- who may download ------------------------------------------------------------------------------

ALL_URLS = ["research_exports", "research_codebook_csv", *ROW_FILES]


class TestAccess:
    @pytest.mark.parametrize("name", ALL_URLS)
    def test_anonymous_visitors_are_sent_to_sign_in(self, client, practice_a, name):
        response = get(client, name, practice_a, QUERY)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))

    @pytest.mark.parametrize("name", ALL_URLS)
    def test_it_checks_the_practice(self, client, practice_a, manager_b, name):
        client.force_login(manager_b)
        assert get(client, name, practice_a, QUERY).status_code == 404
        assert get(client, "research_redcap", practice_a, None, "patient-1.0").status_code == 404

    @pytest.mark.parametrize("name", ALL_URLS)
    def test_a_clinician_gets_404(self, client, practice_a, clinician_a, name):
        client.force_login(clinician_a)
        assert get(client, name, practice_a, QUERY).status_code == 404
        assert get(client, "research_redcap", practice_a, None, "patient-1.0").status_code == 404

    @pytest.mark.parametrize("name", ROW_FILES)
    def test_row_level_files_are_for_platform_admins_only(self, client, practice_a, manager_a, data, name):
        client.force_login(manager_a)
        assert get(client, name, practice_a, QUERY).status_code == 403
        assert not AuditEvent.objects.filter(action=Action.EXPORT).exists()

    def test_the_manager_page_says_why_and_offers_the_dictionaries(self, client, practice_a, manager_a, data):
        client.force_login(manager_a)
        response = get(client, "research_exports", practice_a, QUERY)
        html = response.content.decode()
        assert response.status_code == 200
        assert 'id="row-level-admins-only"' in html and "fewer than 5 dyads" in html
        for name in ROW_FILES:
            assert reverse(name, args=[practice_a.slug]) not in html
        assert reverse("research_codebook_csv", args=[practice_a.slug]) in html
        assert reverse("research_redcap", args=[practice_a.slug, "clinician-1.0"]) in html

    def test_a_platform_admin_gets_every_file(self, as_admin, practice_a, data):
        page = get(as_admin, "research_exports", practice_a, QUERY)
        html = page.content.decode()
        assert "3 responses and 67 answers in this period." in html
        for name in ROW_FILES:
            assert f'{reverse(name, args=[practice_a.slug])}?start=2025-03-01&amp;end=2025-03-31' in html
            response = get(as_admin, name, practice_a, QUERY)
            assert response.status_code == 200
            assert response["Cache-Control"] == "private, no-store"
            assert "attachment" in response["Content-Disposition"]


# --- audit -------------------------------------------------------------------------------------------


def test_every_download_is_audited(as_admin, practice_a, data):
    names = {
        "research_answers_csv": "answers.csv",
        "research_responses_csv": "responses.csv",
        "research_responses_sav": "responses.sav",
        "research_zip": "research.zip",
        "research_codebook_csv": "codebook.csv",
    }
    for url_name in names:
        get(as_admin, url_name, practice_a, QUERY)
    get(as_admin, "research_redcap", practice_a, None, "patient-1.0")
    events = AuditEvent.objects.filter(action=Action.EXPORT).order_by("id")
    assert [e.detail["kind"] for e in events] == [*names.values(), "redcap-patient-1.0.csv"]
    assert all(e.practice_id == practice_a.pk and e.actor_name == "platform-admin" for e in events)
    assert events[0].detail == {"kind": "answers.csv", "start": "2025-03-01", "end": "2025-03-31"}


# --- files of different periods stack ---------------------------------------------------------------


def test_every_period_gives_the_same_variables_with_the_same_widths(as_admin, practice_a, data, tmp_path):
    """String widths were the data's: `clinician` was A11 in a full period and A1 in an empty one, so PSPP's
    ADD FILES of the two failed. Widths are now the most bytes each field can hold."""
    _columns, full = read_sav(tmp_path, content(get(as_admin, "research_responses_sav", practice_a, QUERY)))
    _columns, empty = read_sav(tmp_path, content(get(as_admin, "research_responses_sav", practice_a, EMPTY)))
    assert full.number_rows == 3 and empty.number_rows == 0
    assert full.original_variable_types == empty.original_variable_types
    assert full.original_variable_types["clinician"] == "A600"  # 150 characters of up to 4 bytes each
    assert full.original_variable_types["patient"] == "A256"
    assert full.original_variable_types["version"] == "A64"
    assert full.original_variable_types["P01"] == "F1.0" and full.original_variable_types["visit"] == "F12.0"


@pytest.mark.skipif(not shutil.which("pspp"), reason="needs PSPP (apt-get install pspp; .ci/run installs it)")
def test_pspp_stacks_a_full_and_an_empty_period_with_add_files(as_admin, practice_a, data, tmp_path):
    (tmp_path / "march.sav").write_bytes(content(get(as_admin, "research_responses_sav", practice_a, QUERY)))
    (tmp_path / "empty.sav").write_bytes(content(get(as_admin, "research_responses_sav", practice_a, EMPTY)))
    (tmp_path / "stack.sps").write_text(
        "ADD FILES /FILE='march.sav' /FILE='empty.sav'.\n"
        "SAVE OUTFILE='stacked.sav'.\n"
        "DISPLAY DICTIONARY /VARIABLES=clinician patient version.\n"
    )
    result = subprocess.run(["pspp", "-o", "out.txt", "stack.sps"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=60)
    output = (tmp_path / "out.txt").read_text(errors="replace")
    assert result.returncode == 0 and "error" not in (result.stdout + result.stderr + output).lower(), output
    columns, meta = pyreadstat.read_sav(str(tmp_path / "stacked.sav"), output_format="dict")
    assert meta.number_rows == 3 and meta.original_variable_types["clinician"] == "A600"
    assert sorted(columns["clinician"]) == ["clin-a", "clin-a", "clin-a2"]


# --- empty and wrong periods -------------------------------------------------------------------------


def test_an_empty_period_gives_header_only_files(as_admin, practice_a, data, tmp_path):
    answers = content(get(as_admin, "research_answers_csv", practice_a, EMPTY))
    assert answers.decode() == "\ufeff" + ",".join(research.ANSWER_COLUMNS) + "\n"
    responses = content(get(as_admin, "research_responses_csv", practice_a, EMPTY))
    assert responses.decode() == "\ufeff" + ",".join(SCORE_COLUMNS) + "\n"
    columns, meta = read_sav(tmp_path, content(get(as_admin, "research_responses_sav", practice_a, EMPTY)))
    assert meta.number_rows == 0 and "P01" in columns and "valuing" in columns
    archive = zipfile.ZipFile(io.BytesIO(content(get(as_admin, "research_zip", practice_a, EMPTY))))
    assert set(archive.namelist()) == {
        "answers.csv", "responses.csv", "codebook.csv", "responses.sav", "redcap-patient-1.0.csv", "redcap-clinician-1.0.csv",
        "redcap-data-patient-1.0.csv", "redcap-data-clinician-1.0.csv", "casemix.csv",
    }
    page = get(as_admin, "research_exports", practice_a, EMPTY)
    assert page.status_code == 200 and "0 responses and 0 answers" in page.content.decode()


@pytest.mark.parametrize("query", [{"start": "2025-03-31", "end": "2025-03-01"}, {"start": "soon", "end": "2025-03-01"}])
def test_a_wrong_period_is_refused_with_the_form(as_admin, practice_a, query):
    for name in ["research_exports", "research_answers_csv", "research_zip"]:
        response = get(as_admin, name, practice_a, query)
        assert response.status_code == 400
        assert "invalid-feedback" in response.content.decode()
    assert not AuditEvent.objects.filter(action=Action.EXPORT).exists()


def test_without_a_period_the_page_shows_the_last_twelve_months(as_admin, practice_a):
    response = get(as_admin, "research_exports", practice_a)
    default = Period.last_days(365)
    assert response.status_code == 200
    assert f"?start={default.start.isoformat()}&amp;end={default.end.isoformat()}" in response.content.decode()


# --- the ZIP and the command -------------------------------------------------------------------------


def test_the_zip_holds_the_same_files_as_the_single_downloads(as_admin, practice_a, data):
    archive = zipfile.ZipFile(io.BytesIO(content(get(as_admin, "research_zip", practice_a, QUERY))))
    assert archive.read("answers.csv") == content(get(as_admin, "research_answers_csv", practice_a, QUERY))
    assert archive.read("responses.csv") == content(get(as_admin, "research_responses_csv", practice_a, QUERY))
    assert archive.read("codebook.csv") == content(get(as_admin, "research_codebook_csv", practice_a))
    assert archive.read("redcap-patient-1.0.csv") == content(get(as_admin, "research_redcap", practice_a, None, "patient-1.0"))


def test_the_command_writes_the_same_files(as_admin, practice_a, data, tmp_path):
    out = io.StringIO()
    call_command(
        "export_research", "--practice", practice_a.slug, "--start", "2025-03-01", "--end", "2025-03-31",
        "--out", str(tmp_path / "out"), stdout=out,
    )
    printed = json.loads(out.getvalue())
    written = {path.name for path in (tmp_path / "out").iterdir()}
    assert written == set(printed["files"]) == {
        "answers.csv", "responses.csv", "codebook.csv", "responses.sav", "redcap-patient-1.0.csv",
        "redcap-clinician-1.0.csv", "redcap-data-patient-1.0.csv", "redcap-data-clinician-1.0.csv", "casemix.csv",
        "research.zip",
    }
    assert (tmp_path / "out" / "answers.csv").read_bytes() == content(get(as_admin, "research_answers_csv", practice_a, QUERY))
    assert (tmp_path / "out" / "responses.csv").read_bytes() == content(get(as_admin, "research_responses_csv", practice_a, QUERY))
    columns, _meta = read_sav(tmp_path, (tmp_path / "out" / "responses.sav").read_bytes())
    assert len(columns["visit"]) == 3
    event = AuditEvent.objects.filter(action=Action.EXPORT, detail__source="export_research").get()
    assert event.actor_name == "command line" and event.practice_id == practice_a.pk


@pytest.mark.parametrize(
    "args",
    [
        ["--practice", "nope", "--start", "2025-03-01", "--end", "2025-03-31"],
        ["--practice", "a", "--start", "2025-03-31", "--end", "2025-03-01"],
        ["--practice", "a", "--start", "March", "--end", "2025-03-31"],
    ],
)
def test_the_command_refuses_bad_arguments_with_exit_code_2(practice_a, tmp_path, args):
    with pytest.raises(CommandError) as excinfo:
        call_command("export_research", *args, "--out", str(tmp_path), stdout=io.StringIO())
    assert excinfo.value.returncode == 2
    assert list(tmp_path.iterdir()) == []


# --- pure builders -----------------------------------------------------------------------------------


def test_sav_variable_names_are_valid_and_unique(instruments):
    variables = research.sav_variables(research.instrument_specs())
    names = [v.name for v in variables]
    assert len({n.upper() for n in names}) == len(names)
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", n) for n in names)
    assert names[:9] == ["visit", "dyad", "clinician", "patient", "respondent", "instrument", "version", "submitted_at", "language"]
    assert names[-2:] == ["process_index", "outcome_index"]


def test_a_code_shared_by_two_instruments_gets_the_instrument_in_front(instruments):
    patient, clinician = research.instrument_specs()
    clash = clinician.__class__(**{**clinician.__dict__, "items": (patient.items[0],) + clinician.items[1:]})
    names = [v.name for v in research.sav_variables([patient, clash])]
    assert "patient_P01" in names and "clinician_P01" in names and "P01" not in names


def test_na_code_stays_off_the_scale():
    assert research.na_code(5) == 9
    assert research.na_code(9) == research.na_code(10) == 99


# --- casemix.csv -------------------------------------------------------------------------------------


def test_the_about_you_answers_are_in_the_zip_for_platform_admins_only(client, as_admin, practice_a, data, manager_a):
    from surveys.models import CaseMix

    CaseMix.objects.create(response=data[0], age_band="50_64", general_health="good")
    archive = zipfile.ZipFile(io.BytesIO(content(get(as_admin, "research_zip", practice_a, QUERY))))
    rows = csv_dicts(archive.read("casemix.csv"))
    assert len(rows) == 1
    row = rows[0]
    assert (row["visit"], row["dyad"]) == (str(data[0].visit_id), str(data[0].dyad_id))
    assert row["patient"] == "PA-001" and row["clinician"] == data[0].dyad.clinician.username
    assert dt.datetime.fromisoformat(row["submitted_at"]) == dt.datetime(2025, 3, 1, 0, 0, tzinfo=UTC)  # as submitted
    assert {name: row[name] for name in research.CASEMIX_COLUMNS[5:]} == {
        "age_band": "50_64", "education": "", "general_health": "good", "mental_health": "", "time_with_clinician": "",
    }
    # Managers get no row-level file, this one included: the ZIP is refused.
    client.force_login(manager_a)
    assert get(client, "research_zip", practice_a, QUERY).status_code == 403
