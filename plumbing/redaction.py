"""Keep patient link and password-reset tokens out of logs.

A link's token is the patient's key to their questionnaire (only its hash is stored), and a reset link's token
opens the set-password form, so neither the access log nor Django's request warnings ("Not Found: /s/<token>/")
may write them down; nor may they write a QR card's short code. All pass through `redact`.
"""

from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger

_PATIENT_LINK = re.compile(r"(/s/)(?!thanks/)[^/?#\s\"]+")
# A QR card's short code, typed at /q/<code> or sent by the /q/ form as ?code=... (docs/security.md).
_SHORT_CODE = re.compile(r"(/q/)[^/?#\s\"]+")
_SHORT_CODE_QUERY = re.compile(r"([?&]code=)[^&#\s\"]+")
# Django's reset link, /accounts/reset/<uidb64>/<token>/; it then moves on to .../set-password/ (no token).
_RESET_LINK = re.compile(r"(/reset/[^/?#\s\"]+/)(?!set-password/)[^/?#\s\"]+")


def redact(text: str) -> str:
    """`/s/<anything>/...` becomes `/s/<token>/...` (the thank-you page keeps its name); a reset link's token,
    a card's short code (`/q/<code>`) and a `code=` query value become `<token>` too."""
    text = _PATIENT_LINK.sub(r"\1<token>", text)
    text = _SHORT_CODE.sub(r"\1<token>", text)
    text = _SHORT_CODE_QUERY.sub(r"\1<token>", text)
    return _RESET_LINK.sub(r"\1<token>", text)


class RedactTokensFilter(logging.Filter):
    """For the log handlers (settings.LOGGING): the message is formatted, then redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class AccessLogger(Logger):
    """gunicorn's logger (gunicorn.conf.py) with the request line, path and referrer redacted."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "f"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms
