"""Reading an API request body: bytes in, a checked visit request or an error per field out.

Pure (no database), so it can be fuzzed. The rules are the visit import's (interchange/ehr/parse.py), so a visit
is the same whether it comes in a file or over the API; what the database must answer (is this username a
clinician of the practice?) is checked by the service.

Email addresses and phone numbers are personal data: checked here, never repeated in an error.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field

from interchange.ehr import parse as imports
from plumbing.period import EARLIEST, LATEST
from surveys import references

MAX_BODY_BYTES = 16 * 1024
MAX_USERNAME = 150  # django.contrib.auth's username
REQUIRED_FIELDS = ("clinician", "patient")
OPTIONAL_FIELDS = ("date", "email", "phone")
FIELDS = REQUIRED_FIELDS + OPTIONAL_FIELDS
MAX_REPORTED_UNKNOWN = 10
# Control characters and lone surrogates can be written in JSON ("\u0000", "\ud800") but cannot be stored:
# PostgreSQL refuses NUL in text, and no database encodes a lone surrogate.
_UNSTORABLE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


class BadBody(ValueError):
    """The body as a whole cannot be read: not UTF-8, not JSON, not an object."""


class TooLarge(ValueError):
    pass


@dataclass(frozen=True)
class VisitRequest:
    clinician: str
    patient: str
    date: dt.date | None = None
    # Kept out of repr() so a request that ends up in a log line or a traceback does not carry them.
    email: str = field(default="", repr=False)
    phone: str = field(default="", repr=False)


def read_json_object(body: bytes) -> dict:
    """The body as a JSON object; raises TooLarge or BadBody with a message that says what to send instead."""
    if len(body) > MAX_BODY_BYTES:
        raise TooLarge(f"The body is larger than {MAX_BODY_BYTES // 1024} KB.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBody("The body is not UTF-8 text: send a JSON object.") from None
    if not text.strip():
        raise BadBody("The body is empty: send a JSON object.")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        # ValueError covers JSONDecodeError and integers too long to convert; RecursionError, deep nesting.
        raise BadBody("The body is not valid JSON: send a JSON object.") from None
    if not isinstance(data, dict):
        raise BadBody("The body must be a JSON object, such as {\"clinician\": ..., \"patient\": ...}.")
    return data


def visit_request(data: dict) -> tuple[VisitRequest | None, dict[str, str]]:
    """Check the fields of a visit request: (request, {}) when good, (None, {field: problem}) when not."""
    errors: dict[str, str] = {}
    unknown = [name for name in data if name not in FIELDS]
    for name in unknown[:MAX_REPORTED_UNKNOWN]:
        errors[name[:64]] = f"Unknown field: the fields are {', '.join(FIELDS)}."
    values = {}
    for name in FIELDS:
        value = data.get(name)
        if value is None or (name in OPTIONAL_FIELDS and value == ""):
            if name in REQUIRED_FIELDS:
                errors[name] = "Required."
            continue
        if not isinstance(value, str):
            errors[name] = "Must be a string."
            continue
        if _UNSTORABLE.search(value):
            errors[name] = "Must not contain control characters (such as line breaks)."
            continue
        values[name] = value.strip()

    if "clinician" in values:
        if not values["clinician"]:
            errors["clinician"] = "Required."
        elif len(values["clinician"]) > MAX_USERNAME:
            errors["clinician"] = f"Longer than {MAX_USERNAME} characters: no username is."
    if "patient" in values:
        if not values["patient"]:
            errors["patient"] = "Required."
        elif len(values["patient"]) > references.MAX_LENGTH:
            errors["patient"] = f"Longer than {references.MAX_LENGTH} characters."
        elif references.looks_like_name(values["patient"]):
            errors["patient"] = "Has no digit, so it may be a name: send the practice's reference code, never a name."
    date = None
    if "date" in values:
        date = imports._date(values["date"])
        if date is None:
            errors["date"] = "Not a date written as YYYY-MM-DD."
        elif not EARLIEST <= date <= LATEST:
            errors["date"] = f"Not between {EARLIEST} and {LATEST}."
    if "email" in values and not imports._is_email(values["email"]):
        errors["email"] = "Not a valid email address."
    if "phone" in values and not imports._is_phone(values["phone"]):
        errors["phone"] = "Not a valid phone number (digits, spaces, + - ( ) only)."

    if errors:
        return None, errors
    return (
        VisitRequest(
            clinician=values["clinician"],
            patient=values["patient"],
            date=date,
            email=values.get("email", ""),
            phone=values.get("phone", ""),
        ),
        {},
    )
