"""Reading a visit list exported by an EHR: CSV bytes in, checked rows and a row-by-row error report out.

Pure: no database and no I/O, so it can be fuzzed. The checks that need the database (is this person a
clinician of the practice? was this visit already imported?) are in `selectors.plan_import`, which takes
the rows this module returns.

A file that cannot be read as a whole (too big, not UTF-8 text, no header...) raises `ImportFileError` and
nothing in it is imported. A file that can be read gives good rows and, for each bad row, its line number
and what is wrong with it, so the manager can fix the export and upload it again.

Email addresses and phone numbers are personal data: they are checked here but never repeated in a
message, an exception or a log line.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext

from plumbing.period import EARLIEST, LATEST
from surveys import references

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
REQUIRED_COLUMNS = ("date", "clinician", "patient")
OPTIONAL_COLUMNS = ("email", "phone")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
MAX_REFERENCE = references.MAX_LENGTH
MAX_EMAIL = 254  # Invitation.contact_email
MAX_PHONE = 32  # Invitation.contact_phone
MIN_PHONE_DIGITS = 6

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PHONE = re.compile(r"\+?[0-9 ()./-]+")
# Control characters other than tab, CR and LF mean a binary file (or UTF-16 read as UTF-8).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _save_as_hint() -> str:
    return gettext('In your spreadsheet or EHR, save or export it as "CSV UTF-8 (comma delimited)".')


def _header_hint() -> str:
    return gettext("The first line must name the columns: date, clinician, patient, and optionally email and phone.")


class ImportFileError(Exception):
    """The file as a whole cannot be imported; the message says what to fix. Nothing in it is imported."""


@dataclass(frozen=True)
class ImportRow:
    """One good row: a visit to create, with where to send the patient's link (optional)."""

    line: int
    date: dt.date
    clinician: str
    patient: str
    # Kept out of repr() so a row that ends up in a log line or a traceback does not carry them.
    email: str = field(default="", repr=False)
    phone: str = field(default="", repr=False)

    @property
    def key(self) -> tuple[str, str, dt.date]:
        """What makes a visit the same visit: same clinician, patient reference and date."""
        return (self.clinician, self.patient, self.date)


@dataclass(frozen=True, order=True)
class RowError:
    line: int
    code: str
    message: str


@dataclass
class ParsedFile:
    text: str
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    # (line, clinician) of the rows refused here that name a clinician: `selectors.plan_import` checks those
    # clinicians too, so that a row's every problem is reported at once, not one per upload (issue 14).
    refused_clinicians: list[tuple[int, str]] = field(default_factory=list)

    @property
    def digest(self) -> str:
        return text_digest(self.text)

    @property
    def bad_lines(self) -> int:
        return len({error.line for error in self.errors})


def _empty_file() -> str:
    return gettext("The file is empty. Export the visit list again and choose the file it saved.")


def duplicate_message(first_line: int) -> str:
    return gettext("Same clinician, patient and date as line %(line)s.") % {"line": first_line}


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_csv(data: bytes, today: dt.date | None = None) -> ParsedFile:
    """Read an uploaded file. Raises ImportFileError for a file that cannot be read at all."""
    return parse_text(decode(data), today)


def decode(data: bytes) -> str:
    """The file's text: UTF-8, with or without a byte-order mark."""
    if len(data) > MAX_BYTES:
        raise ImportFileError(
            gettext(
                "The file is larger than %(mb)s MB. Split it into smaller files (at most %(rows)s visits each) and "
                "import them one at a time."
            ) % {"mb": MAX_BYTES // (1024 * 1024), "rows": f"{MAX_ROWS:,}"}
        )
    if not data.strip():
        raise ImportFileError(_empty_file())
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise ImportFileError(
            gettext("This is a spreadsheet file (such as .xlsx or .xls), not a CSV file.") + " " + _save_as_hint()
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportFileError(gettext("The file is saved as UTF-16 text, which we cannot read.") + " " + _save_as_hint())
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError(
            gettext("The file is not UTF-8 text (it may be a spreadsheet, another encoding or not text at all).")
            + " " + _save_as_hint()
        ) from None


def parse_text(text: str, today: dt.date | None = None) -> ParsedFile:
    """Check the file's text row by row. Raises ImportFileError when there is nothing sensible to check.

    `today` (the practice's local date by default) bounds the visit dates: a visit list records visits that
    took place, so a visit dated after today is refused (a typo such as 2030 for 2025 would otherwise make a
    questionnaire for a visit that never happened)."""
    today = today or timezone.localdate()
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise ImportFileError(
            gettext("The file is larger than %(mb)s MB. Split it into smaller files.") % {"mb": MAX_BYTES // (1024 * 1024)}
        )
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise ImportFileError(_empty_file())
    if _CONTROL.search(text) or re.search(r"[\ud800-\udfff]", text):
        raise ImportFileError(
            gettext("The file does not look like a CSV text file (it contains binary data).") + " " + _save_as_hint()
        )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        return _read(reader, text, today)
    except csv.Error as exc:
        raise ImportFileError(
            gettext("Line %(line)s could not be read as CSV (%(error)s). Check its quotes, or export the file again.")
            % {"line": reader.line_num, "error": exc}
        ) from None


def _delimiter(text: str) -> str:
    """A comma, or a semicolon for files from spreadsheets set to languages that write decimals with commas."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    return ";" if "," not in first and ";" in first else ","


def _read(reader, text: str, today: dt.date) -> ParsedFile:
    header, header_line = _header(reader)
    parsed = ParsedFile(text=text)
    first_line_of: dict[tuple, int] = {}
    count = 0
    while True:
        line = reader.line_num + 1
        record = next(reader, None)
        if record is None:
            break
        if not any(cell.strip() for cell in record):
            continue  # blank lines and rows of empty cells, as spreadsheets leave at the end
        count += 1
        if count > MAX_ROWS:
            raise ImportFileError(
                gettext("The file has more than %(rows)s visits. Split it into smaller files and import them one at a time.")
                % {"rows": f"{MAX_ROWS:,}"}
            )
        row, errors = _check(record, header, line, today)
        if row is None and (clinician := _clinician_of(record, header)):
            parsed.refused_clinicians.append((line, clinician))
        if row is not None:
            first = first_line_of.setdefault(row.key, line)
            if first != line:
                row, errors = None, [RowError(line, "duplicate", duplicate_message(first))]
        parsed.errors.extend(errors)
        if row is not None:
            parsed.rows.append(row)
    if count == 0:
        raise ImportFileError(
            gettext("The file has a header (line %(line)s) but no visits under it.") % {"line": header_line}
        )
    return parsed


def _header(reader) -> tuple[list[str], int]:
    for record in reader:
        if any(cell.strip() for cell in record):
            break
    else:
        raise ImportFileError(_empty_file())
    line = reader.line_num
    names = [cell.strip().removeprefix("\ufeff").strip().lower() for cell in record]
    if any(_ISO_DATE.fullmatch(name) for name in names) or not set(names) & set(COLUMNS):
        raise ImportFileError(gettext("The header row is missing.") + " " + _header_hint())
    # Columns we do not know are refused rather than ignored: they may carry names or other personal
    # data we must not hold, and a misspelt "emial" would otherwise be dropped without a word.
    unknown = [name or "(blank)" for name in names if name not in COLUMNS]
    if unknown:
        raise ImportFileError(
            gettext("Unknown column(s) in the header: %(columns)s.") % {"columns": ", ".join(_short(n) for n in unknown[:5])}
            + " " + _header_hint()
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ImportFileError(
            gettext("The header names a column twice: %(columns)s.") % {"columns": ", ".join(repeated)} + " " + _header_hint()
        )
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        raise ImportFileError(
            gettext("The header has no %(columns)s column.") % {"columns": ", ".join(missing)} + " " + _header_hint()
        )
    return names, line


def _clinician_of(record: list[str], header: list[str]) -> str:
    """The clinician a row names, when its columns line up with the header."""
    if any(cell.strip() for cell in record[len(header) :]):
        return ""
    return dict(zip(header, (cell.strip() for cell in record))).get("clinician", "")


def reference_problems(reference: str) -> list[tuple[str, str]]:
    """Why a patient reference cannot be imported, as (code, message) pairs; none when it can.

    References are the practice's pseudonymous codes, never names: one that has no digit may be a name
    (`surveys.references.looks_like_name`). Each problem is reported (a too-long name is both too long and a
    name)."""
    problems = []
    if len(reference) > MAX_REFERENCE:
        problems.append(("patient_too_long", gettext("The patient reference is longer than %(limit)s characters.")
                         % {"limit": MAX_REFERENCE}))
    if any(c in reference for c in "\r\n\t"):
        problems.append(("bad_patient", gettext("The patient reference contains a line break or a tab.")))
    if references.looks_like_name(reference):
        problems.append((
            "name_like_patient",
            gettext("The patient reference has no digit, so it may be a name: use the practice's reference code "
                    "(it must contain at least one digit), never the patient's name."),
        ))
    return problems


def _check(record: list[str], header: list[str], line: int, today: dt.date) -> tuple[ImportRow | None, list[RowError]]:
    extra = record[len(header) :]
    if any(cell.strip() for cell in extra):
        return None, [
            RowError(
                line, "wrong_columns",
                gettext("Has %(values)s values but the header names %(columns)s columns.")
                % {"values": len(record), "columns": len(header)},
            )
        ]
    # Short rows are padded: spreadsheets drop trailing empty cells, and a missing required value
    # is reported by name below.
    values = dict(zip(header, (cell.strip() for cell in record)))
    get = lambda name: values.get(name, "")  # noqa: E731
    errors = []

    date = None
    if not get("date"):
        errors.append(RowError(line, "missing_date", gettext("The visit date is missing.")))
    else:
        date = _date(get("date"))
        if date is None:
            errors.append(RowError(
                line, "bad_date", gettext("“%(value)s” is not a date written as YYYY-MM-DD.") % {"value": _short(get("date"))}
            ))
        elif not EARLIEST <= date <= LATEST:
            errors.append(RowError(
                line, "date_out_of_range",
                gettext("The visit date %(date)s is not between %(first)s and %(last)s.")
                % {"date": date, "first": EARLIEST, "last": LATEST},
            ))
        elif date > today:
            errors.append(RowError(
                line, "future_date",
                gettext("The visit date %(date)s is after today (%(today)s): only visits that have taken place can "
                        "be imported.") % {"date": date, "today": today},
            ))

    if not get("clinician"):
        errors.append(RowError(line, "missing_clinician", gettext("The clinician's username is missing.")))

    patient = get("patient")
    if not patient:
        errors.append(RowError(line, "missing_patient", gettext("The patient reference is missing.")))
    else:
        errors.extend(RowError(line, code, message) for code, message in reference_problems(patient))

    email = get("email")
    if email and not _is_email(email):
        errors.append(RowError(line, "bad_email", gettext("The email address is not valid.")))

    phone = get("phone")
    if phone and not _is_phone(phone):
        errors.append(RowError(line, "bad_phone", gettext("The phone number is not valid (digits, spaces, + - ( ) only).")))

    if errors:
        return None, errors
    return ImportRow(line=line, date=date, clinician=get("clinician"), patient=patient, email=email, phone=phone), []


def _date(value: str) -> dt.date | None:
    if not _ISO_DATE.fullmatch(value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _is_email(value: str) -> bool:
    if len(value) > MAX_EMAIL:
        return False
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def _is_phone(value: str) -> bool:
    return (
        len(value) <= MAX_PHONE
        and _PHONE.fullmatch(value) is not None
        and sum(c.isdigit() for c in value) >= MIN_PHONE_DIGITS
    )


def _short(value: str, limit: int = 20) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
