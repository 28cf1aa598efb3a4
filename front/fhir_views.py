"""FHIR R4 read endpoints (README.md): GET /fhir/Questionnaire/<slug>-<version> (and /Questionnaire/<slug>, its
current version: the canonical URL resolves), GET /fhir/Questionnaire?url=...[&version=...] (a searchset Bundle),
/fhir/QuestionnaireResponse/<id>, /fhir/CodeSystem/<domains|answers>, /fhir/StructureDefinition/<extension> and
/fhir/metadata.

Every answer is FHIR JSON (`application/fhir+json`), errors included, as an OperationOutcome:
- not signed in: 401, not a redirect to the sign-in page. FHIR clients are programs that expect JSON; a 302 to
  an HTML form would be followed and then fail to parse, hiding the real problem. (A browser that is signed in
  gets the JSON like any client.)
- a response the user may not see, an unknown id, a malformed id: 404 alike, never data (docs/privacy.md);
- any method but GET or HEAD: 405.
A Questionnaire is an instrument definition, not practice data: any signed-in person may read any loaded
version. A QuestionnaireResponse is row-level data: platform admins only (docs/privacy.md). Each read of one is
audit-logged as an export, and each refused read of an existing one as a refused release.
"""

from __future__ import annotations

import functools
import json

from django.conf import settings
from django.db.models import Prefetch
from django.http import Http404, HttpResponse
from django.urls import reverse

from interchange.fhir import resources as fhir
from measurement.instruments import spec_for_version
from surveys.models import Answer, InstrumentVersion, Response
from surveys.permissions import may_see_row_level

JSON_FORMATS = {"json", "application/json", "application/fhir+json", "application/json+fhir"}
MAX_RESPONSE_ID = 2**63 - 1  # the largest BigAutoField value: a longer number is not an id of ours

# --- reads, scoped (selectors for this module) -------------------------------------------------


def instrument_version_for(resource_id: str) -> InstrumentVersion:
    """The loaded instrument version behind a Questionnaire id ("patient-1.0"), or behind an instrument's slug
    ("patient", the last part of its canonical URL) its current version; Http404 for anything else."""
    parsed = fhir.parse_questionnaire_id(resource_id)
    versions = InstrumentVersion.objects.select_related("instrument")
    version = None
    if parsed is not None:
        slug, number = parsed
        version = versions.filter(instrument__slug=slug, version=number).first()
    if version is None and len(resource_id) <= 64:
        version = versions.filter(instrument__slug=resource_id, is_current=True).first()
    if version is None:
        raise Http404("No such Questionnaire.")
    return version


def versions_matching(url: str | None, number: str | None) -> list[InstrumentVersion]:
    """The versions a Questionnaire search asks for: by canonical URL (a `|version` suffix, or `version`, picks
    one version), every loaded version when neither is given."""
    versions = InstrumentVersion.objects.select_related("instrument").order_by("instrument__slug", "version")
    if url:
        url, _bar, suffix = url.partition("|")
        prefix = fhir.questionnaire_url("")
        if not url.startswith(prefix) or "/" in url[len(prefix):]:
            return []
        versions = versions.filter(instrument__slug=url[len(prefix):])
        number = number or suffix or None
    if number:
        versions = versions.filter(version=number)
    return list(versions)


def visible_response(request, resource_id: str) -> Response:
    """A submitted response, for a platform admin. Anyone else, and any unknown or malformed id: Http404, the
    same answer whether the response exists or not; a refusal of an existing one is audit-logged."""
    if not (resource_id.isascii() and resource_id.isdigit()) or int(resource_id) > MAX_RESPONSE_ID:
        raise Http404("No such QuestionnaireResponse.")
    if not may_see_row_level(request.user):
        fhir.refuse_questionnaire_response(int(resource_id), request=request)
        raise Http404("No such QuestionnaireResponse.")
    response = (
        Response.objects.filter(pk=int(resource_id))
        .select_related("practice", "dyad__patient", "dyad__clinician", "instrument_version")
        .prefetch_related(Prefetch("answers", queryset=Answer.objects.select_related("item")), "scores")
        .first()
    )
    if response is None:
        raise Http404("No such QuestionnaireResponse.")
    return response


# --- plumbing ----------------------------------------------------------------------------------


def fhir_json(resource: dict, status: int = 200) -> HttpResponse:
    response = HttpResponse(json.dumps(resource, ensure_ascii=False), content_type=fhir.FHIR_JSON, status=status)
    # What a person may read depends on who asks; nothing here is for shared caches, and responses are
    # personal data.
    response["Cache-Control"] = "no-store, private"
    response["Vary"] = "Cookie"
    return response


def _outcome(status: int, code: str, diagnostics: str) -> HttpResponse:
    return fhir_json(fhir.operation_outcome(code, diagnostics), status=status)


def _asks_for_xml_only(accept: str) -> bool:
    """An Accept header that names FHIR or plain XML and no JSON (or */*): the client cannot read what we send."""
    kinds = {part.split(";")[0].strip().lower() for part in accept.split(",") if part.strip()}
    return bool(kinds & {"application/fhir+xml", "application/xml", "text/xml", "application/xml+fhir"}) and not (
        kinds & (JSON_FORMATS | {"*/*", "application/*"})
    )


def fhir_endpoint(*, public: bool = False):
    """GET/HEAD only, signed-in users only (unless public), and every error as an OperationOutcome."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method not in ("GET", "HEAD"):
                response = _outcome(405, "not-supported", "Only read (GET) is supported here.")
                response["Allow"] = "GET, HEAD"
                return response
            asked = request.GET.get("_format")
            if asked is None and _asks_for_xml_only(request.headers.get("Accept", "")):
                asked = "xml"
            if asked is not None and asked.strip().lower() not in JSON_FORMATS:
                return _outcome(406, "not-supported", "Only JSON is supported (_format=json).")
            if not public and not request.user.is_authenticated:
                login = settings.SITE_URL + reverse("login")
                response = _outcome(401, "login", f"Sign in first: {login}")
                # RFC 9110 asks a 401 to name a challenge; ours is the sign-in page's session cookie.
                response["WWW-Authenticate"] = 'Session realm="Healing"'
                return response
            try:
                return view(request, *args, **kwargs)
            except Http404 as exc:
                return _outcome(404, "not-found", str(exc) or "Not found.")

        return wrapped

    return decorate


# --- views -------------------------------------------------------------------------------------


@fhir_endpoint(public=True)
def capability_statement(request):
    return fhir_json(fhir.capability_statement())


def _questionnaire_of(version: InstrumentVersion) -> dict:
    return fhir.questionnaire(spec_for_version(version), current=version.is_current, last_updated=version.loaded_at)


@fhir_endpoint()
def questionnaire(request, resource_id):
    return fhir_json(_questionnaire_of(instrument_version_for(resource_id)))


@fhir_endpoint()
def questionnaire_search(request):
    unknown = set(request.GET) - {"url", "version", "_format"}
    if unknown:
        names = ", ".join(sorted(unknown))
        return _outcome(400, "not-supported", f"Unknown search parameter: {names}. Use url or version.")
    found = versions_matching(request.GET.get("url"), request.GET.get("version"))
    return fhir_json(fhir.questionnaire_bundle([_questionnaire_of(v) for v in found], request.build_absolute_uri()))


@fhir_endpoint()
def code_system(request, name):
    spec = None
    if name == "answers":
        current = InstrumentVersion.objects.filter(instrument__slug="patient", is_current=True).first()
        spec = spec_for_version(current) if current else None
    resource = fhir.code_system(name, spec)
    if resource is None:
        raise Http404("No such CodeSystem: there are CodeSystem/domains and CodeSystem/answers.")
    return fhir_json(resource)


@fhir_endpoint()
def structure_definition(request, name):
    resource = fhir.structure_definition(name)
    if resource is None:
        raise Http404("No such StructureDefinition.")
    return fhir_json(resource)


@fhir_endpoint()
def questionnaire_response(request, resource_id):
    response = visible_response(request, resource_id)
    return fhir_json(fhir.release_questionnaire_response(response, request=request))
