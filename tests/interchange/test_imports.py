"""Reading visit lists from EHR exports, and the services that import them."""

import datetime as dt
import logging

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interchange.ehr import parse as imports
from interchange.ehr import selectors as import_selectors
from interchange.ehr import services as import_services
from interchange.ehr.parse import ImportFileError, parse_csv, parse_text
from surveys import selectors, services
from surveys.models import Invitation, Visit
from tests import factories

D1, D2 = dt.date(2025, 3, 4), dt.date(2025, 3, 5)


def csv_bytes(*lines: str, header="date,clinician,patient,email,phone", bom=False) -> bytes:
    text = "\r\n".join(([header] if header is not None else []) + list(lines)) + "\r\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


def codes_by_line(parsed) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for error in parsed.errors:
        found.setdefault(error.line, set()).add(error.code)
    return found


# --- parsing -----------------------------------------------------------------------------------


class TestParseGoodFiles:
    def test_it_reads_rows_with_optional_contact_details(self):
        parsed = parse_csv(
            csv_bytes(
                "2025-03-04,clin-a,PA-001,ana@example.org,",
                "2025-03-04,clin-a,PA-002,,+34 600 000 000",
                "2025-03-05,clin-a2, PA-003 ,,",
            )
        )
        assert parsed.errors == []
        assert [(r.line, r.date, r.clinician, r.patient, r.email, r.phone) for r in parsed.rows] == [
            (2, D1, "clin-a", "PA-001", "ana@example.org", ""),
            (3, D1, "clin-a", "PA-002", "", "+34 600 000 000"),
            (4, D2, "clin-a2", "PA-003", "", ""),
        ]

    def test_it_accepts_a_utf8_byte_order_mark(self):
        parsed = parse_csv(csv_bytes("2025-03-04,clin-a,PA-001,,", bom=True))
        assert [r.patient for r in parsed.rows] == ["PA-001"]

    def test_the_contact_columns_are_optional_and_the_header_forgiving(self):
        parsed = parse_csv(csv_bytes("2025-03-04,clin-a,PA-001", header="DATE, Clinician ,patient"))
        assert [(r.date, r.clinician, r.patient, r.email) for r in parsed.rows] == [(D1, "clin-a", "PA-001", "")]

    def test_columns_may_come_in_any_order(self):
        parsed = parse_csv(csv_bytes("PA-001,ana@example.org,clin-a,2025-03-04", header="patient,email,clinician,date"))
        assert [(r.date, r.clinician, r.patient, r.email) for r in parsed.rows] == [(D1, "clin-a", "PA-001", "ana@example.org")]

    def test_blank_lines_are_skipped_and_line_numbers_stay_those_of_the_file(self):
        parsed = parse_csv(csv_bytes("", "2025-03-04,clin-a,PA-001,,", ",,,,", "2025-03-04,clin-a,,,"))
        assert [r.line for r in parsed.rows] == [3]
        assert codes_by_line(parsed) == {5: {"missing_patient"}}

    def test_a_quoted_field_over_two_lines_keeps_later_line_numbers_right(self):
        parsed = parse_csv(csv_bytes('2025-03-04,clin-a,"PA 001, the first",,', '2025-03-04,clin-a,"PA\n002",,', "bad,clin-a,PA-3,,"))
        assert [r.patient for r in parsed.rows] == ["PA 001, the first"]
        assert codes_by_line(parsed) == {3: {"bad_patient"}, 5: {"bad_date"}}

    def test_short_rows_are_padded_and_trailing_empty_cells_ignored(self):
        parsed = parse_csv(csv_bytes("2025-03-04,clin-a,PA-001", "2025-03-04,clin-a,PA-002,,,,"))
        assert [r.patient for r in parsed.rows] == ["PA-001", "PA-002"]

    def test_it_reads_semicolon_separated_files(self):
        parsed = parse_csv(csv_bytes("2025-03-04;clin-a;PA-001;;", header="date;clinician;patient;email;phone"))
        assert [r.patient for r in parsed.rows] == ["PA-001"]

    def test_the_digest_is_the_sha256_of_the_text(self):
        parsed = parse_csv(csv_bytes("2025-03-04,clin-a,PA-001,,"))
        assert parsed.digest == imports.text_digest(parsed.text) and len(parsed.digest) == 64


class TestParseBadRows:
    @pytest.mark.parametrize(
        "row, code",
        [
            ("04/03/2025,clin-a,PA-001,,", "bad_date"),
            ("2025-13-01,clin-a,PA-001,,", "bad_date"),
            ("2025-02-30,clin-a,PA-001,,", "bad_date"),
            ("20250304,clin-a,PA-001,,", "bad_date"),
            ("２０２５-０３-０４,clin-a,PA-001,,", "bad_date"),
            (",clin-a,PA-001,,", "missing_date"),
            ("2025-03-04,,PA-001,,", "missing_clinician"),
            ("2025-03-04,clin-a,,,", "missing_patient"),
            ("2025-03-04,clin-a,   ,,", "missing_patient"),
            ("2025-03-04,clin-a," + "7" * 65 + ",,", "patient_too_long"),
            ("2025-03-04,clin-a,PA-001,not-an-email,", "bad_email"),
            ("2025-03-04,clin-a,PA-001,ana@,", "bad_email"),
            ("2025-03-04,clin-a,PA-001,,call me", "bad_phone"),
            ("2025-03-04,clin-a,PA-001,,12", "bad_phone"),
            ("2025-03-04,clin-a,PA-001,,extra,cells", "wrong_columns"),
        ],
    )
    def test_each_bad_row_is_reported_with_its_line_number(self, row, code):
        parsed = parse_csv(csv_bytes("2025-03-04,clin-a,PA-K01,,", row))
        assert [r.patient for r in parsed.rows] == ["PA-K01"]
        assert codes_by_line(parsed) == {3: {code}}

    def test_a_row_with_several_problems_reports_each(self):
        parsed = parse_csv(csv_bytes("2025-99-01,clin-a,,bad,"))
        assert codes_by_line(parsed) == {2: {"bad_date", "missing_patient", "bad_email"}}

    def test_a_duplicate_within_the_file_names_the_first_line(self):
        parsed = parse_csv(csv_bytes("2025-03-04,clin-a,PA-001,,", "2025-03-05,clin-a,PA-001,,", "2025-03-04,clin-a,PA-001,x@example.org,"))
        assert [r.line for r in parsed.rows] == [2, 3]
        assert [(e.line, e.code) for e in parsed.errors] == [(4, "duplicate")]
        assert "line 2" in parsed.errors[0].message

    def test_a_rows_repr_leaves_out_contact_details(self):
        row = parse_csv(csv_bytes("2025-03-04,clin-a,PA-001,ana@example.org,+34 600 000 000")).rows[0]
        assert "PA-001" in repr(row) and "ana@" not in repr(row) and "600" not in repr(row)

    def test_messages_never_repeat_contact_details(self):
        parsed = parse_csv(csv_bytes("2025-03-04,clin-a,PA-001,secret-address@,", "2025-03-04,clin-a,PA-002,,+1 (555) secret"))
        text = " ".join(e.message for e in parsed.errors)
        assert "secret" not in text


class TestParseBadFiles:
    @pytest.mark.parametrize(
        "data, message",
        [
            (b"", "empty"),
            (b"   \r\n\r\n", "empty"),
            (b"\xef\xbb\xbf", "empty"),
            (csv_bytes(), "no visits"),
            (csv_bytes("2025-03-04,clin-a,PA-001,,", header=None), "header row is missing"),
            (b"name,phone\r\nAna,600\r\n", "Unknown column"),
            (b"date,clinician,patient,name\r\n", "Unknown column"),
            (b"date,clinician,email\r\n2025-03-04,clin-a,\r\n", "no patient column"),
            (b"date,clinician,patient,date\r\n", "twice"),
            ("date,clinician,patient\r\n2025-03-04,clin-a,PA-ñ\r\n".encode("utf-16"), "UTF-16"),
            ("date,clinician,patient\r\n2025-03-04,clin-a,PA-ñ\r\n".encode("latin-1"), "not UTF-8"),
            (bytes(range(256)) * 4, "not UTF-8"),
            (b"PK\x03\x04\x14\x00\x06\x00", "spreadsheet file"),
            (b"\x07\x08date,clinician,patient\r\n", "binary"),
            (b"date,clinician,patient\r\n2025-03-04,clin-a,PA\x00\r\n", "binary"),
            (b"date,clinician,patient\r\n" + b"x" * (imports.MAX_BYTES), "larger than 2 MB"),
        ],
    )
    def test_it_refuses_with_a_clear_message(self, data, message):
        with pytest.raises(ImportFileError, match=message):
            parse_csv(data)

    def test_it_refuses_more_than_the_row_limit(self):
        lines = [f"2025-03-04,clin-a,PA-{i},," for i in range(imports.MAX_ROWS + 1)]
        with pytest.raises(ImportFileError, match="more than 5,000"):
            parse_csv(csv_bytes(*lines))

    def test_it_takes_exactly_the_row_limit(self):
        lines = [f"2025-03-04,clin-a,PA-{i},," for i in range(imports.MAX_ROWS)]
        assert len(parse_csv(csv_bytes(*lines)).rows) == imports.MAX_ROWS

    def test_a_field_too_large_for_csv_is_a_clear_error(self):
        with pytest.raises(ImportFileError, match="Line 2 could not be read"):
            parse_csv(csv_bytes('2025-03-04,clin-a,"' + "x" * 200_000 + '",,'))


# Anything at all, raw or shaped like our CSV, gives rows and errors or our own refusal: nothing else.
_cells = st.text(alphabet=st.sampled_from(list('2025-03-04,;"\r\n @.+()x\ufeffñ\x00é')) | st.characters(), max_size=30)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise_anything_but_our_error(data):
    _parses_or_refuses(lambda: parse_csv(data))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2000))
def test_arbitrary_text_never_raises_anything_but_our_error(text):
    _parses_or_refuses(lambda: parse_text(text))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["date,clinician,patient,email,phone", "date,clinician,patient", "date;clinician;patient;email"]),
    st.lists(st.lists(_cells, max_size=7), max_size=20),
    st.sampled_from([",", ";", "\t"]),
    st.sampled_from(["\r\n", "\n", "\r"]),
)
def test_csv_shaped_text_never_raises_anything_but_our_error(header, rows, delimiter, newline):
    text = newline.join([header] + [delimiter.join(cells) for cells in rows])
    parsed = _parses_or_refuses(lambda: parse_csv(text.encode("utf-8", "surrogatepass")))
    if parsed is not None:
        for row in parsed.rows:
            assert row.patient and row.clinician and isinstance(row.date, dt.date)
            assert len(row.patient) <= 64 and len(row.email) <= 254 and len(row.phone) <= 32


def _parses_or_refuses(parse):
    try:
        parsed = parse()
    except ImportFileError as exc:
        assert str(exc)
        return None
    assert len(parsed.rows) + parsed.bad_lines >= 1
    assert all(error.line >= 2 and error.message for error in parsed.errors)
    return parsed


# --- planning and importing (database) ---------------------------------------------------------


@pytest.fixture
def people(manager_a, clinician_a, clinician_a2, clinician_b, manager_b):
    return {user.username: user for user in (manager_a, clinician_a, clinician_a2, clinician_b, manager_b)}


class TestEveryProblemOfARow:
    """Issue 14: a name accepted as a reference, a visit dated 2030 accepted, only a row's first problem told."""

    TODAY = dt.date(2025, 6, 30)

    @pytest.mark.parametrize("name", ["Jane Smith", "smith", "O'Brien-López", "María José"])
    def test_it_refuses_a_reference_without_a_digit_as_a_possible_name(self, name):
        parsed = parse_csv(csv_bytes(f"2025-03-04,clin-a,{name},,"), today=self.TODAY)
        assert parsed.rows == []
        assert codes_by_line(parsed) == {2: {"name_like_patient"}}
        assert "never the patient's name" in parsed.errors[0].message

    @pytest.mark.parametrize("reference", ["PA-001", "004512", "MRN 7", "x1"])
    def test_it_accepts_a_reference_with_a_digit(self, reference):
        parsed = parse_csv(csv_bytes(f"2025-03-04,clin-a,{reference},,"), today=self.TODAY)
        assert [row.patient for row in parsed.rows] == [reference] and parsed.errors == []

    def test_it_refuses_a_visit_dated_after_today_and_says_why(self):
        parsed = parse_csv(
            csv_bytes("2025-06-30,clin-a,PA-1,,", "2025-07-01,clin-a,PA-2,,", "2030-03-04,clin-a,PA-3,,"),
            today=self.TODAY,
        )
        assert [row.patient for row in parsed.rows] == ["PA-1"]
        assert codes_by_line(parsed) == {3: {"future_date"}, 4: {"future_date"}}
        assert "after today (2025-06-30)" in parsed.errors[-1].message

    def test_the_default_today_is_the_local_date(self):
        tomorrow = timezone.localdate() + dt.timedelta(days=1)
        parsed = parse_csv(csv_bytes(f"{tomorrow},clin-a,PA-1,,"))
        assert codes_by_line(parsed) == {2: {"future_date"}}

    def test_it_reports_every_problem_of_a_row_the_clinician_included(self, practice_a, people):
        parsed = parse_csv(
            csv_bytes("2030-01-01,nobody,Jane Smith,not-an-email,12", "2025-03-04,clin-a,PA-1,,"), today=self.TODAY
        )
        assert codes_by_line(parsed) == {2: {"future_date", "name_like_patient", "bad_email", "bad_phone"}}
        assert parsed.refused_clinicians == [(2, "nobody")]
        plan = import_selectors.plan_import(practice_a, parsed.rows, parsed.refused_clinicians)
        report = plan.report(parsed.errors)
        assert {(e.line, e.code) for e in report} == {
            (2, "future_date"), (2, "name_like_patient"), (2, "bad_email"), (2, "bad_phone"), (2, "unknown_clinician")
        }
        assert [row.line for row in plan.new] == [3]  # the good row is kept: bad input loses nothing else

    def test_the_import_reports_the_refused_rows_clinician_too(self, practice_a, people):
        parsed = parse_csv(csv_bytes("2025-03-04,mgr-a,Jane Smith,,", "2025-03-04,clin-a,PA-1,,"), today=self.TODAY)
        result = import_services.import_visits(
            practice_a, parsed.rows, people["mgr-a"], refused_clinicians=parsed.refused_clinicians
        )
        assert len(result.created) == 1
        assert [(e.line, e.code) for e in result.errors] == [(2, "not_clinician")]


def rows_of(*lines):
    return parse_csv(csv_bytes(*lines)).rows


class TestPlanImport:
    def test_it_sorts_rows_into_new_already_imported_and_refused(self, practice_a, people):
        factories.visit(practice_a, people["clin-a"], "PA-O01", D1)
        plan = import_selectors.plan_import(
            practice_a,
            rows_of(
                "2025-03-04,clin-a,PA-N01,,",
                "2025-03-04,clin-a,PA-O01,,",
                "2025-03-04,nobody,PA-1,,",
                "2025-03-04,clin-b,PA-2,,",
                "2025-03-04,mgr-a,PA-3,,",
                "2025-03-05,clin-a,PA-O01,,",
            ),
        )
        assert [r.line for r in plan.new] == [2, 7]
        assert [r.line for r in plan.already_imported] == [3]
        assert [(e.line, e.code) for e in plan.errors] == [
            (4, "unknown_clinician"),
            (5, "unknown_clinician"),  # a clinician of another practice: we do not say they exist
            (6, "not_clinician"),
        ]
        assert [(e.line, e.code) for e in plan.report()] == [
            (3, "already_imported"),
            (4, "unknown_clinician"),
            (5, "unknown_clinician"),
            (6, "not_clinician"),
        ]

    def test_it_takes_a_fixed_number_of_queries(self, practice_a, people, django_assert_max_num_queries):
        rows = rows_of(*[f"2025-03-04,clin-a,PA-{i},," for i in range(300)])
        with django_assert_max_num_queries(2):
            plan = import_selectors.plan_import(practice_a, rows)
        assert len(plan.new) == 300


class TestImportVisits:
    FILE = (
        "2025-03-04,clin-a,PA-001,ana@example.org,",
        "2025-03-04,clin-a2,PA-002,,+34 600 000 000",
        "2025-03-05,clin-a,PA-003,,",
    )

    def test_it_creates_visits_with_their_invitations_and_contact_details(self, practice_a, people):
        result = import_services.import_visits(practice_a, rows_of(*self.FILE), people["mgr-a"])
        assert len(result.created) == 3 and result.already_imported == [] and result.errors == []
        assert result.dates == [D1, D2]
        assert Visit.objects.filter(practice=practice_a).count() == 3
        assert Invitation.objects.filter(visit__practice=practice_a).count() == 6
        invitation = Invitation.objects.get(visit__dyad__patient__reference="PA-001", respondent="patient")
        assert (invitation.contact_email, invitation.contact_phone, invitation.visit.date) == ("ana@example.org", "", D1)
        invitation = Invitation.objects.get(visit__dyad__patient__reference="PA-002", respondent="patient")
        assert (invitation.contact_email, invitation.contact_phone) == ("", "+34 600 000 000")
        assert not Invitation.objects.filter(respondent="clinician").exclude(contact_email="", contact_phone="").exists()

    def test_importing_the_same_rows_twice_creates_nothing_new(self, practice_a, people):
        import_services.import_visits(practice_a, rows_of(*self.FILE), people["mgr-a"])
        again = import_services.import_visits(practice_a, rows_of(*self.FILE), people["mgr-a"])
        assert again.created == [] and len(again.already_imported) == 3
        assert again.dates == [D1, D2]
        assert Visit.objects.count() == 3 and Invitation.objects.count() == 6

    def test_a_repeated_row_from_a_caller_is_created_once(self, practice_a, people):
        row = rows_of("2025-03-04,clin-a,PA-001,,")[0]
        result = import_services.import_visits(practice_a, [row, row], people["mgr-a"])
        assert len(result.created) == 1 and [e.code for e in result.errors] == ["duplicate"]

    @pytest.mark.parametrize("who", ["clin-a", "mgr-b"])
    def test_only_a_manager_of_the_practice_may_import(self, practice_a, people, who):
        with pytest.raises(services.ServiceError):
            import_services.import_visits(practice_a, rows_of(*self.FILE), people[who])
        assert not Visit.objects.exists()

    def test_it_is_all_or_nothing(self, practice_a, people, monkeypatch):
        def failing(*args, **kwargs):
            assert Visit.objects.exists()  # half-way: the visits are written, their invitations are not
            raise services.ServiceError("boom")

        monkeypatch.setattr(Invitation.objects, "bulk_create", failing)
        with pytest.raises(services.ServiceError):
            import_services.import_visits(practice_a, rows_of(*self.FILE), people["mgr-a"])
        assert not Visit.objects.exists() and not Invitation.objects.exists()

    def test_it_costs_the_same_queries_for_ten_rows_as_for_two_hundred(self, practice_a, people):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        def queries_for(count: int, day: str) -> int:
            lines = [f"{day},clin-a{'2' if n % 2 else ''},PB-{n:04d},,{'+34 600 000 000' if n % 3 else ''}" for n in range(count)]
            with CaptureQueriesContext(connection) as captured:
                result = import_services.import_visits(practice_a, rows_of(*lines), people["mgr-a"])
            assert len(result.created) == count
            return len(captured)

        small, large = queries_for(10, "2025-04-01"), queries_for(200, "2025-04-02")
        # Bulk statements only split where the database's parameter limit says (SQLite: ~1,000 per statement);
        # one visit at a time cost five or more queries a row.
        assert small <= 20 and large <= small + 8, (small, large)
        assert Invitation.objects.filter(respondent="patient").exclude(contact_phone="").count() == 6 + 133

    def test_contact_details_are_never_logged(self, practice_a, people, caplog):
        with caplog.at_level(logging.DEBUG):
            import_services.import_visits(practice_a, rows_of(*self.FILE), people["mgr-a"])
        assert "visit import" in caplog.text
        assert "ana@example.org" not in caplog.text and "600 000" not in caplog.text


class TestInvitationStatus:
    @pytest.mark.parametrize("status", selectors.INVITATION_STATUSES)
    def test_the_filter_and_the_row_status_agree(self, practice_a, clinician_a, status):
        visits = {s: factories.visit(practice_a, clinician_a, f"PA-{s}", D1) for s in selectors.INVITATION_STATUSES}
        services.mark_opened(factories.patient_invitation(visits["opened"]))
        invitation = factories.patient_invitation(visits["completed"])
        services.submit_response(invitation, factories.full_answers(invitation))
        Invitation.objects.filter(pk=factories.patient_invitation(visits["expired"]).pk).update(
            expires_at=timezone.now() - dt.timedelta(seconds=1), opened_at=timezone.now()
        )
        found = list(selectors.practice_invitations(practice_a, status=status))
        assert [i.visit.dyad.patient.reference for i in found] == [f"PA-{status}"]
        assert selectors.invitation_status(found[0]) == status
        assert selectors.invitation_status(found[0], timezone.now()) == status
