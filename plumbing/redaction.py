"""Keep patient link and password-reset tokens out of logs.

A link's token is the patient's key to their questionnaire (only its hash is stored), and a reset link's token
opens the set-password form, so neither the access log nor Django's request warnings ("Not Found: /s/<token>/")
may write them down. Both pass through `redact`.
"""

from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger

_PATIENT_LINK = re.compile(r"(/s/)(?!thanks/)[^/?#\s\"]+")
# Django's reset link, /accounts/reset/<uidb64>/<token>/; it then moves on to .../set-password/ (no token).
_RESET_LINK = re.compile(r"(/reset/[^/?#\s\"]+/)(?!set-password/)[^/?#\s\"]+")


def redact(text: str) -> str:
    """`/s/<anything>/...` becomes `/s/<token>/...` (the thank-you page keeps its name), and a reset link's
    token becomes `<token>` too."""
    return _RESET_LINK.sub(r"\1<token>", _PATIENT_LINK.sub(r"\1<token>", text))


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
