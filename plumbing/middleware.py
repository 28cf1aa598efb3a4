"""Requests too big or too broken to read: a page a person can act on, never a 500.

Django already refuses form bodies over DATA_UPLOAD_MAX_MEMORY_SIZE and more than
DATA_UPLOAD_MAX_NUMBER_FIELDS fields (RequestDataTooBig, TooManyFieldsSent), but answers both, like any
unreadable body, with its generic 400. Here:

- `RequestSizeLimitMiddleware` refuses a body whose declared length is over MAX_REQUEST_BODY_SIZE with a
  413 before anything reads it. Uploaded files are not bounded by DATA_UPLOAD_MAX_MEMORY_SIZE (they spill to
  temporary files), so this is the one cap on what a client can make us store. (The proxy in front should
  refuse such bodies too, and chunked bodies with no length: see docs/security.md.)
- `bad_request` (handler400) tells "too big" (413) from "too many fields" and "could not be read" (400).
- `locked_out` (django-axes' AXES_LOCKOUT_CALLABLE): too many failed sign-ins, and when to try again.
"""

from __future__ import annotations

import math

from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import translation


def _languages(request) -> list[str]:
    """Both languages on error pages (we may not know the person's yet), theirs first."""
    asked = (request.GET.get("lang") or translation.get_language() or "en").split("-")[0].lower()
    return ["es", "en"] if asked == "es" else ["en", "es"]


def error_page(request, template: str, status: int, **context):
    """A refusal page in both languages, the person's first (context: languages, language, and the extras)."""
    languages = _languages(request)
    # Rendered without the request: the size check runs before the session and user are known, and these
    # pages need neither (no navigation bar, no form).
    content = render_to_string(template, {"languages": languages, "language": languages[0], **context})
    response = HttpResponse(content, status=status)
    # A refused patient request still has a token (or a card's short code) in its URL: same headers as the
    # survey pages.
    if request.path.startswith(("/s/", "/q/")):
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"
    return response


def too_large(request):
    limit_kb = max(settings.DATA_UPLOAD_MAX_MEMORY_SIZE, 1) // 1024
    return error_page(request, "413.html", 413, limit_kb=limit_kb)


class RequestSizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = getattr(settings, "MAX_REQUEST_BODY_SIZE", None)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django reads an unreadable length as an empty body
        if limit and length > limit:
            return too_large(request)
        return self.get_response(request)


def bad_request(request, exception=None):
    """handler400: a body too big to read is a 413; the rest are 400s that say what to do."""
    if isinstance(exception, RequestDataTooBig):
        return too_large(request)
    reason = "too_many_fields" if isinstance(exception, (TooManyFieldsSent, TooManyFilesSent)) else "unreadable"
    return error_page(request, "400.html", 400, reason=reason)


def locked_out(request, original_response=None, credentials=None):
    """django-axes' lockout answer (AXES_LOCKOUT_CALLABLE): our page, saying when to try again."""
    cool_off = get_cool_off(request)
    context = {
        "failure_limit": get_failure_limit(request, credentials),
        "username": get_client_username(request, credentials) or "",
        "cooloff_minutes": max(1, math.ceil(cool_off.total_seconds() / 60)) if cool_off else None,
    }
    return render(request, "axes/lockout.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)


MAX_USERNAME = 150  # django.contrib.auth's own limit: no account has a longer name


def axes_username(request, credentials=None) -> str | None:
    """The user name django-axes records and locks out: at most MAX_USERNAME characters. Axes stores at most 255,
    and a longer name typed at a sign-in page made PostgreSQL refuse the row (a 500); no account can have one, so
    it is kept cut instead."""
    if credentials:
        name = credentials.get("username")
    else:
        name = getattr(request, "data", request.POST).get("username")
    return None if name is None else str(name)[:MAX_USERNAME]
