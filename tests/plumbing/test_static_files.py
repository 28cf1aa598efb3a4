"""Static files as runserver serves them (`make run`): a missing one is a 404; plotly.js is the vendored partial
bundle (plumbing/plotlyjs.py)."""

from __future__ import annotations

from wsgiref.util import setup_testing_defaults

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.handlers.wsgi import WSGIHandler

pytestmark = pytest.mark.django_db


def runserver_get(path: str) -> tuple[str, bytes]:
    """What runserver's handler answers: the status line and the body."""
    environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET"}
    setup_testing_defaults(environ)
    answered = {}
    body = b"".join(StaticFilesHandler(WSGIHandler())(environ, lambda status, headers: answered.update(status=status)))
    return answered["status"], body


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("path", ["/static/nope.css", "/static/css/nope.css", "/static/vendor/plotly/nope.js"])
def test_a_missing_static_file_is_a_404_not_a_500(path, debug, settings):
    settings.DEBUG = debug  # `make run` serves with DEBUG on; the page for DEBUG off is ours, before any middleware
    status, _body = runserver_get(path)
    assert status.startswith("404"), status


def test_plotly_js_is_served_from_the_vendored_partial_bundle():
    from plumbing import plotlyjs

    status, body = runserver_get("/static/vendor/plotly/plotly.min.js")
    assert status.startswith("200") and body.decode() == plotlyjs.source()
    assert b"(partial bundle: scatter, bar, heatmap, funnel)" in body[:200]
    assert b"cdn." not in body  # offline clinics: the served file names no CDN either
