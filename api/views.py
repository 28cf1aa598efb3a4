"""The EHR integration API (JSON, key-authenticated) and the managers' API key pages.

API answers are always JSON, never a 500 and never an HTML page from these views:
- 401: no key, or not a live key (with `WWW-Authenticate: Bearer`, RFC 6750); the address's failures are
  counted and over API_KEY_MISS_LIMIT it gets 429;
- 404: a live key used on another practice's URL (or a practice that does not exist). We answer 404 rather
  than 403, as for any other practice's object (docs/privacy.md): the key's holder learns nothing about which
  practices exist;
- 400 with {"error", "fields"}: the body is not a JSON object (fields empty), or fields are missing, unknown
  or wrong (one message per field); 409: that visit already exists; 413: body over 16 KB.
The endpoint is csrf_exempt: it reads no cookie-based identity (the key is the only credential, and the
request's user is reset to anonymous), so there is nothing for a cross-site request to borrow.
"""

from __future__ import annotations

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from plumbing import ratelimit
from surveys import selectors as survey_selectors
from surveys.links import visit_links

from . import openapi, payloads, selectors, services

# Requests with a bad key, per client address. Keys carry 256 bits, so guessing is hopeless; this stops anyone
# trying, and a misconfigured client hammering us with a revoked key.
DEFAULT_MISS_LIMIT = "20/10m"


def _json(body: dict, status: int, **headers) -> JsonResponse:
    response = JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "no-store"
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _bearer_key(request) -> str:
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


DEFAULT_KEY_LIMIT = "300/m"


def _miss_rate():
    return ratelimit.Rate.parse(getattr(settings, "API_KEY_MISS_LIMIT", DEFAULT_MISS_LIMIT))


def _key_rate():
    return ratelimit.Rate.parse(getattr(settings, "API_KEY_RATE_LIMIT", DEFAULT_KEY_LIMIT))


def _too_many(message: str, count) -> JsonResponse:
    return _json({"error": message}, 429, Retry_After=str(count.reset_in))


@csrf_exempt
def create_visit(request, slug):
    if request.method != "POST":
        return _json({"error": "Use POST."}, 405, Allow="POST")
    request.user = AnonymousUser()  # the key is the only credential here
    # Limits per key, not per address: bad keys from a shared address (an EHR gateway, a clinic's NAT) get 429
    # once over API_KEY_MISS_LIMIT, but never lock out a live key; each live key has its own API_KEY_RATE_LIMIT.
    address, rate = ratelimit.client_address(request) or "unknown", _miss_rate()
    raw_key = _bearer_key(request)
    try:
        key = services.authenticate(slug, raw_key) if raw_key else None
    except Http404:
        return _json({"error": "No such practice for this key."}, 404)
    if key is None:
        if rate and (misses := ratelimit.hit("api-key-miss", address, rate)).exceeded:
            return _too_many("Too many requests with bad keys. Try again later.", misses)
        problem = "invalid_token" if raw_key else "invalid_request"
        return _json(
            {"error": "Send a live API key of this practice as 'Authorization: Bearer <key>'."},
            401,
            WWW_Authenticate=f'Bearer realm="Healing API", error="{problem}"',
        )
    if (key_rate := _key_rate()) and (used := ratelimit.hit("api-key", str(key.pk), key_rate)).exceeded:
        return _too_many("Too many requests with this key. Try again later.", used)

    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > payloads.MAX_BODY_BYTES:
        return _json({"error": f"The body is larger than {payloads.MAX_BODY_BYTES // 1024} KB."}, 413)
    try:
        data = payloads.read_json_object(request.body)
    except RequestDataTooBig:
        return _json({"error": f"The body is larger than {payloads.MAX_BODY_BYTES // 1024} KB."}, 413)
    except payloads.TooLarge as exc:
        return _json({"error": str(exc)}, 413)
    except payloads.BadBody as exc:
        return _json({"error": str(exc), "fields": {}}, 400)
    visit, errors = payloads.visit_request(data)
    if errors:
        return _json({"error": "Some fields are missing or wrong.", "fields": errors}, 400)

    try:
        new_visit = services.create_visit(key, visit, request=request)
    except services.InvalidVisit as exc:
        return _json({"error": "Some fields are missing or wrong.", "fields": exc.errors}, 400)
    except services.DuplicateVisit as exc:
        return _json({"error": str(exc), "visit": exc.visit_id}, 409)
    except services.ApiError as exc:
        return _json({"error": str(exc)}, 503)
    links = visit_links(new_visit)
    links["qr_svg_url"] = settings.SITE_URL + reverse("patient_qr", args=[new_visit.patient_token])
    return _json(links, 201)


@csrf_exempt  # a program's request: no CSRF page, a JSON answer
def unknown_endpoint(request):
    return _json({"error": "No such endpoint: see /api/v1/openapi.json."}, 404)


@csrf_exempt  # a public, read-only document: a POST is answered 405, not with the CSRF failure page
@require_GET
def openapi_document(request):
    return JsonResponse(openapi.document(), json_dumps_params={"ensure_ascii": False})


# --- the managers' key pages -------------------------------------------------------------------


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What the key is for, such as the EHR system that will hold it."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("create", _("Create key")))


@login_required
@require_http_methods(["GET", "POST"])
def key_list(request, slug):
    """The practice's keys; POST makes one and shows it, this once."""
    practice = survey_selectors.practice_for(request.user, slug)
    form = ApiKeyForm(request.POST or None)
    new_key = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                key, new_key = services.create_key(practice, form.cleaned_data["name"], request.user, request=request)
            except ValidationError as exc:
                form.add_error("name", exc.messages)
            else:
                form = ApiKeyForm()
        if form.errors:
            status = 400
    context = {
        "practice": practice,
        "form": form,
        "keys": selectors.practice_keys(practice),
        "new_key": new_key,
        "endpoint": settings.SITE_URL + reverse("api_create_visit", args=[practice.slug]),
        "docs_url": reverse("api_openapi"),
    }
    response = render(request, "api/keys.html", context, status=status)
    # The new key is in this page: no copy of it in any cache, nor in the browser's history of pages.
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def key_revoke(request, slug, key_id):
    practice = survey_selectors.practice_for(request.user, slug)
    key = selectors.practice_key(practice, key_id)
    if services.revoke_key(key, request.user, request=request):
        messages.success(request, _("The key “%(name)s” is revoked: it no longer works.") % {"name": key.name})
    else:
        messages.info(request, _("The key “%(name)s” was already revoked.") % {"name": key.name})
    return redirect("api_keys", slug=practice.slug)
