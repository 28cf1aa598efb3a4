"""Patient link tokens stay out of the access log and Django's request warnings."""

import datetime as dt
import logging
from types import SimpleNamespace

from django.conf import settings
from gunicorn.config import Config

from plumbing.redaction import AccessLogger, RedactTokensFilter, redact

TOKEN = "3cq9sDvUJ6AH3qah3BPf2amn93qsicZHJkjteHKoBkY"


def test_redact_hides_the_token_of_every_patient_link_form():
    assert redact(f"POST /s/{TOKEN}/ HTTP/1.1") == "POST /s/<token>/ HTTP/1.1"
    assert redact(f"/s/{TOKEN}/qr.svg") == "/s/<token>/qr.svg"
    assert redact(f"https://clinic.example/s/{TOKEN}?lang=es") == "https://clinic.example/s/<token>?lang=es"
    assert redact("/s/thanks/?lang=en") == "/s/thanks/?lang=en"
    assert redact("/practice/demo-1/") == "/practice/demo-1/"


def test_redact_hides_a_qr_cards_short_code_in_the_path_and_in_the_form_query():
    assert redact("GET /q/ABCD-EFGH-JKMN HTTP/1.1") == "GET /q/<token> HTTP/1.1"
    assert redact("GET /q/abcdefghjkmn/ HTTP/1.1") == "GET /q/<token>/ HTTP/1.1"
    assert redact("GET /q/?code=ABCD-EFGH-JKMN&lang=es HTTP/1.1") == "GET /q/?code=<token>&lang=es HTTP/1.1"
    assert redact("GET /q/ HTTP/1.1") == "GET /q/ HTTP/1.1"
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Not Found: %s", ("/q/ABCD-EFGH-JKMN",), None)
    assert RedactTokensFilter().filter(record) is True
    assert record.getMessage() == "Not Found: /q/<token>"


def test_a_refused_short_code_request_is_never_cached_nor_referred():
    from django.test import RequestFactory

    from plumbing.middleware import error_page

    response = error_page(RequestFactory().get("/q/ABCD-EFGH-JKMN"), "429.html", 429, minutes=2)
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "no-referrer"


def test_redact_hides_the_token_of_a_password_reset_link():
    assert redact("GET /accounts/reset/MQ/cxk2pb-5e1f0c1f6a2d3b4c5d6e7f8a9b0c1d2e/ HTTP/1.1") == (
        "GET /accounts/reset/MQ/<token>/ HTTP/1.1"
    )
    assert redact("/accounts/reset/MQ/set-password/") == "/accounts/reset/MQ/set-password/"
    assert redact("/accounts/password_reset/done/") == "/accounts/password_reset/done/"


def test_djangos_request_warning_is_redacted_by_the_console_handlers_filter():
    for name in ("django", "django.request", "django.server"):
        logger = logging.getLogger(name)
        while not logger.handlers and logger.propagate:
            logger = logger.parent
        ours = [h for h in logger.handlers if h.__module__.startswith("logging")]  # not pytest's capture handlers
        assert ours
        assert all(any(isinstance(f, RedactTokensFilter) for f in h.filters) for h in ours), name
    assert "redact_tokens" in settings.LOGGING["handlers"]["console"]["filters"]
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Not Found: %s", (f"/s/{TOKEN}/",), None)

    assert RedactTokensFilter().filter(record) is True
    assert record.getMessage() == "Not Found: /s/<token>/"


def test_the_gunicorn_access_log_line_has_no_token():
    logger = AccessLogger(Config())
    request = SimpleNamespace(method="POST", path=f"/s/{TOKEN}/", query="", version=(1, 1), headers=[])
    response = SimpleNamespace(status="302 Found", response_length=0, sent=0, headers=[])
    environ = {
        "REMOTE_ADDR": "127.0.0.1",
        "REQUEST_METHOD": "POST",
        "RAW_URI": f"/s/{TOKEN}/",
        "PATH_INFO": f"/s/{TOKEN}/",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": f"https://clinic.example/s/{TOKEN}/",
    }

    atoms = logger.atoms(response, request, environ, dt.timedelta(milliseconds=5))

    line = logger.cfg.access_log_format % atoms
    assert TOKEN not in line and TOKEN not in atoms["U"] and TOKEN not in atoms["f"]
    assert "/s/<token>/" in line
