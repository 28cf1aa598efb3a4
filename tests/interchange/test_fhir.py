"""FHIR R4 endpoints (README.md): every resource checked by the FHIR models of `fhir.resources` (its R4B package:
the library has no R4 one, and R4B kept these resources' elements as R4 had them), then against our own data.

fhir.resources checks structure and types (unknown elements, cardinality, primitives) but not invariants or
required code bindings, so the tests check the codes and the extension rule (ext-1) that matter to us.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhir.resources.R4B.structuredefinition import StructureDefinition

from audit.models import Action, AuditEvent
from interchange.fhir import resources as fhir
from measurement.instruments import spec_for_version
from surveys import services
from surveys.models import DomainScore, InstrumentVersion, Response
from tests import factories

SITE = "http://healing.test"
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.SITE_URL = SITE
    # django-axes logs each sign-in with the client address; force_login's request has none, which axes stores
    # as "unknown" and PostgreSQL's inet column refuses. Sign-in throttling is not what these tests are about.
    settings.AXES_ENABLED = False


# --- helpers -----------------------------------------------------------------------------------


def walk_codings(node):
    """Every Coding (a dict with system and code) anywhere in a resource."""
    if isinstance(node, dict):
        if "system" in node and "code" in node:
            yield node
        for value in node.values():
            yield from walk_codings(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk_codings(value)


def leaves(items, parent=None):
    """(item, its group's linkId) for every non-group item, however deep."""
    for item in items or []:
        if item.get("type") == "group" or (item.get("item") and not item.get("answer")):
            yield from leaves(item.get("item"), item["linkId"])
        else:
            yield item, parent


def spanish(element: dict) -> str | None:
    for ext in (element or {}).get("extension", []):
        if ext["url"] == TRANSLATION:
            parts = {p["url"]: p for p in ext["extension"]}
            if parts["lang"]["valueCode"] == "es":
                return parts["content"]["valueString"]
    return None


def walk_extensions(node):
    """Every extension anywhere in a resource."""
    if isinstance(node, dict):
        for ext in node.get("extension", []):
            yield ext
        for value in node.values():
            yield from walk_extensions(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk_extensions(value)


def assert_extensions_are_well_formed(resource):
    """ext-1: an extension has a value or sub-extensions, never both, and always a url."""
    for ext in walk_extensions(resource):
        values = [key for key in ext if key.startswith("value")]
        assert ext.get("url"), ext
        assert (len(values) == 1) != bool(ext.get("extension")), ext


def get_fhir(client, path, query=None):
    response = client.get(path, query or {})
    assert response["Content-Type"] == "application/fhir+json", response["Content-Type"]
    return response, response.json()


def questionnaire_path(slug="patient", version="1.0"):
    return f"/fhir/Questionnaire/{slug}-{version}"


def response_path(response):
    return f"/fhir/QuestionnaireResponse/{response.pk}"


def varied_answers(invitation) -> dict[str, str]:
    """A different answer per item (cycling the scale), "na" wherever the item allows it."""
    spec = spec_for_version(invitation.instrument_version)
    return {
        item.code: "na" if item.allow_na else str(1 + index % 5)
        for index, item in enumerate(spec.items)
    }


@pytest.fixture
def patient_response(visit_a):
    invitation = factories.patient_invitation(visit_a)
    return services.submit_response(invitation, varied_answers(invitation), comment="Kind and careful", language="es")


@pytest.fixture
def clinician_response(visit_a):
    invitation = factories.clinician_invitation(visit_a)
    return services.submit_response(invitation, varied_answers(invitation))


@pytest.fixture
def platform_admin(db):
    return get_user_model().objects.create_user("staff", password=factories.PASSWORD, is_staff=True)


# --- Questionnaire -----------------------------------------------------------------------------


class TestQuestionnaire:
    @pytest.mark.parametrize("slug", ["patient", "clinician"])
    def test_it_is_a_valid_fhir_questionnaire(self, client, clinician_a, slug):
        client.force_login(clinician_a)
        response, body = get_fhir(client, questionnaire_path(slug))
        assert response.status_code == 200
        parsed = Questionnaire.model_validate(body)
        assert parsed.id == f"{slug}-1.0"
        assert parsed.url == f"{SITE}/fhir/Questionnaire/{slug}"
        assert parsed.version == "1.0"
        assert parsed.status == "active"
        assert_extensions_are_well_formed(body)

    @pytest.mark.parametrize("slug", ["patient", "clinician"])
    def test_its_link_ids_are_our_item_codes_grouped_by_domain(self, client, clinician_a, slug):
        client.force_login(clinician_a)
        _, body = get_fhir(client, questionnaire_path(slug))
        version = InstrumentVersion.objects.get(instrument__slug=slug, version="1.0")
        items = list(version.items.select_related("domain").order_by("position"))
        found = list(leaves(body["item"]))
        assert [item["linkId"] for item, _ in found] == [item.code for item in items]
        assert [group for _, group in found] == [item.domain.code for item in items]
        assert [group["linkId"] for group in body["item"]] == list(
            version.domains.order_by("position").values_list("code", flat=True)
        )
        for group in body["item"]:
            assert group["type"] == "group"
            assert group["code"] == [
                {"system": f"{SITE}/fhir/CodeSystem/domains", "code": group["linkId"], "display": group["text"]}
            ]

    def test_each_question_carries_its_domain_choices_and_spanish(self, client, clinician_a):
        client.force_login(clinician_a)
        _, body = get_fhir(client, questionnaire_path())
        version = InstrumentVersion.objects.get(instrument__slug="patient")
        by_code = {item.code: item for item in version.items.select_related("domain")}
        labels = version.definition["scale"]["labels"]
        for question, group in leaves(body["item"]):
            item = by_code[question["linkId"]]
            assert question["type"] == "choice"
            assert question["required"] is True
            assert [c["code"] for c in question["code"]] == [item.domain.code]
            assert question["code"][0]["system"] == f"{SITE}/fhir/CodeSystem/domains"
            assert question["text"] == item.text["en"]
            assert spanish(question["_text"]) == item.text["es"]
            codings = [option["valueCoding"] for option in question["answerOption"]]
            expected = ["1", "2", "3", "4", "5"] + (["na"] if item.allow_na else [])
            assert [c["code"] for c in codings] == expected
            assert {c["system"] for c in codings} == {f"{SITE}/fhir/CodeSystem/answers"}
            assert [c["display"] for c in codings[:5]] == labels["en"]
            assert [spanish(c["_display"]) for c in codings[:5]] == labels["es"]
            reverse = [e for e in question.get("extension", []) if e["url"].endswith("/reverse-keyed")]
            assert bool(reverse) == item.reverse
        assert any(item.allow_na for item in by_code.values())

    def test_its_title_is_english_with_a_spanish_translation(self, client, clinician_a):
        client.force_login(clinician_a)
        _, body = get_fhir(client, questionnaire_path())
        title = InstrumentVersion.objects.get(instrument__slug="patient").title
        assert body["title"] == title["en"]
        assert spanish(body["_title"]) == title["es"]
        assert body["language"] == "en"

    def test_any_signed_in_person_may_read_it(self, client, clinician_b, manager_a, platform_admin):
        for user in (clinician_b, manager_a, platform_admin):
            client.force_login(user)
            assert client.get(questionnaire_path()).status_code == 200

    def test_a_superseded_version_is_retired(self, client, clinician_a):
        InstrumentVersion.objects.filter(instrument__slug="patient").update(is_current=False)
        client.force_login(clinician_a)
        _, body = get_fhir(client, questionnaire_path())
        assert body["status"] == "retired"

    @pytest.mark.parametrize(
        "resource_id", ["patient-9.9", "nobody-1.0", "nobody", "patient-", "-1.0", "x" * 300, "patient-1.0-1.0"]
    )
    def test_an_unknown_id_is_404_as_an_operation_outcome(self, client, clinician_a, resource_id):
        client.force_login(clinician_a)
        response, body = get_fhir(client, f"/fhir/Questionnaire/{resource_id}")
        assert response.status_code == 404
        outcome = OperationOutcome.model_validate(body)
        assert outcome.issue[0].code == "not-found"

    def test_anonymous_gets_401_as_an_operation_outcome(self, client, instruments):
        response, body = get_fhir(client, questionnaire_path())
        assert response.status_code == 401
        assert OperationOutcome.model_validate(body).issue[0].code == "login"
        assert response["WWW-Authenticate"]
        assert "Sign in" in body["issue"][0]["diagnostics"]


# --- QuestionnaireResponse ---------------------------------------------------------------------


class TestQuestionnaireResponse:
    def test_it_is_a_valid_fhir_response_to_the_questionnaire(self, client, platform_admin, patient_response):
        client.force_login(platform_admin)
        response, body = get_fhir(client, response_path(patient_response))
        assert response.status_code == 200
        parsed = QuestionnaireResponse.model_validate(body)
        assert parsed.id == str(patient_response.pk)
        assert parsed.status == "completed"
        assert parsed.questionnaire == f"{SITE}/fhir/Questionnaire/patient|1.0"
        assert parsed.authored == patient_response.submitted_at
        assert body["language"] == "es"
        assert_extensions_are_well_formed(body)
        # The canonical points at the Questionnaire we serve.
        _, questionnaire = get_fhir(client, questionnaire_path())
        assert f"{questionnaire['url']}|{questionnaire['version']}" == body["questionnaire"]

    def test_its_answers_round_trip(self, client, platform_admin, visit_a, patient_response):
        client.force_login(platform_admin)
        _, body = get_fhir(client, response_path(patient_response))
        sent = varied_answers(factories.patient_invitation(visit_a))
        got = {}
        for item, _ in leaves(body["item"]):
            assert len(item["answer"]) == 1
            coding = item["answer"][0]["valueCoding"]
            assert coding["system"] == f"{SITE}/fhir/CodeSystem/answers"
            got[item["linkId"]] = coding["code"]
        assert got == sent
        assert "na" in got.values()
        stored = {a.item.code: a.value for a in patient_response.answers.select_related("item")}
        assert {code: None if value == "na" else int(value) for code, value in got.items()} == stored

    def test_the_answer_items_sit_in_their_domain_groups(self, client, platform_admin, patient_response):
        client.force_login(platform_admin)
        _, body = get_fhir(client, response_path(patient_response))
        version = patient_response.instrument_version
        domain_of = dict(version.items.values_list("code", "domain__code"))
        for item, group in leaves(body["item"]):
            assert group == domain_of[item["linkId"]]

    def test_its_domain_scores_and_indices_are_the_stored_ones(self, client, platform_admin, patient_response):
        client.force_login(platform_admin)
        _, body = get_fhir(client, response_path(patient_response))
        scores = {}
        for ext in body["extension"]:
            if ext["url"] == f"{SITE}/fhir/StructureDefinition/domain-score":
                parts = {part["url"]: part for part in ext["extension"]}
                assert parts["domain"]["valueCoding"]["system"] == f"{SITE}/fhir/CodeSystem/domains"
                scores[parts["domain"]["valueCoding"]["code"]] = parts["score"]["valueDecimal"]
        stored = dict(DomainScore.objects.filter(response=patient_response).values_list("domain", "score"))
        assert scores == stored
        assert len(scores) == 6
        indices = {ext["url"].rsplit("/", 1)[1]: ext.get("valueDecimal") for ext in body["extension"]}
        assert indices["process-index"] == patient_response.process_index
        assert indices["outcome-index"] == patient_response.outcome_index
        # And through the FHIR model too: decimals survive exactly.
        parsed = QuestionnaireResponse.model_validate(body)
        decimals = [e.valueDecimal for e in parsed.extension if e.url.endswith("/process-index")]
        assert float(decimals[0]) == patient_response.process_index

    def test_a_missing_score_has_no_score_and_a_missing_index_no_extension(self, client, platform_admin, patient_response):
        DomainScore.objects.filter(response=patient_response, domain="valuing").update(score=None)
        Response.objects.filter(pk=patient_response.pk).update(process_index=None)
        client.force_login(platform_admin)
        _, body = get_fhir(client, response_path(patient_response))
        QuestionnaireResponse.model_validate(body)
        assert_extensions_are_well_formed(body)
        valuing = [
            {part["url"]: part for part in ext["extension"]}
            for ext in body["extension"]
            if ext["url"].endswith("/domain-score") and ext["extension"][0]["valueCoding"]["code"] == "valuing"
        ]
        assert valuing and "score" not in valuing[0]
        urls = [ext["url"] for ext in body["extension"]]
        assert not any(url.endswith("/process-index") for url in urls)
        assert any(url.endswith("/outcome-index") for url in urls)

    def test_the_patient_is_a_pseudonymous_identifier_and_the_author(self, client, platform_admin, patient_response):
        client.force_login(platform_admin)
        _, body = get_fhir(client, response_path(patient_response))
        patient = {
            "type": "Patient",
            "identifier": {"system": f"{SITE}/fhir/sid/practices/a/patients", "value": "PA-001"},
        }
        assert body["subject"] == patient
        assert body["author"] == body["source"] == patient
        assert body["encounter"]["identifier"]["value"] == str(patient_response.visit_id)
        assert "Kind and careful" not in str(body)  # free text stays out

    def test_a_clinician_response_has_the_clinician_as_author(self, client, platform_admin, clinician_response):
        client.force_login(platform_admin)
        response, body = get_fhir(client, response_path(clinician_response))
        assert response.status_code == 200
        QuestionnaireResponse.model_validate(body)
        assert body["questionnaire"] == f"{SITE}/fhir/Questionnaire/clinician|1.0"
        assert body["author"]["type"] == "Practitioner"
        assert body["author"]["identifier"] == {"system": f"{SITE}/fhir/sid/clinicians", "value": "clin-a"}
        assert body["subject"]["identifier"]["value"] == "PA-001"
        stored = dict(DomainScore.objects.filter(response=clinician_response).values_list("domain", "score"))
        got = {
            ext["extension"][0]["valueCoding"]["code"]: ext["extension"][1]["valueDecimal"]
            for ext in body["extension"]
            if ext["url"].endswith("/domain-score")
        }
        assert got == stored and len(got) == 10

    def test_reading_it_is_audited_as_an_export(self, client, platform_admin, practice_a, patient_response):
        client.force_login(platform_admin)
        client.get(response_path(patient_response))
        event = AuditEvent.objects.get(action=Action.EXPORT)
        assert (event.actor, event.practice, event.object_id) == (platform_admin, practice_a, str(patient_response.pk))
        assert event.detail == {"format": "fhir"}

    def test_a_refused_read_is_audited_and_answers_like_an_unknown_id(self, client, manager_a, practice_a, patient_response):
        client.force_login(manager_a)
        refused = client.get(response_path(patient_response))
        unknown = client.get("/fhir/QuestionnaireResponse/999999")
        assert refused.status_code == unknown.status_code == 404
        event = AuditEvent.objects.get(action=Action.RELEASE_REFUSED)
        assert (event.actor, event.practice, event.object_id) == (manager_a, practice_a, str(patient_response.pk))
        assert AuditEvent.objects.filter(action=Action.RELEASE_REFUSED).count() == 1  # nothing for an unknown id

    @pytest.mark.parametrize(
        ("who", "status"),
        [
            ("platform_admin", 200),  # row-level data: platform admins only (docs/privacy.md)
            ("clinician_a", 404),  # the dyad's clinician
            ("manager_a", 404),  # a manager of its practice
            ("clinician_a2", 404),  # a colleague in the same practice
            ("manager_b", 404),  # a manager of another practice
            ("clinician_b", 404),
        ],
    )
    def test_it_checks_who_asks(self, client, request, patient_response, who, status):
        client.force_login(request.getfixturevalue(who))
        response, body = get_fhir(client, response_path(patient_response))
        assert response.status_code == status
        if status == 404:
            assert OperationOutcome.model_validate(body).issue[0].code == "not-found"
            assert "PA-001" not in response.content.decode()

    def test_anonymous_gets_401_not_data(self, client, patient_response):
        response, body = get_fhir(client, response_path(patient_response))
        assert response.status_code == 401
        OperationOutcome.model_validate(body)
        assert "PA-001" not in response.content.decode()

    @pytest.mark.parametrize("resource_id", ["999999", "abc", "1.0", "-1", "٣", "9" * 40])
    def test_an_unknown_or_malformed_id_is_404(self, client, platform_admin, patient_response, resource_id):
        client.force_login(platform_admin)
        response, body = get_fhir(client, f"/fhir/QuestionnaireResponse/{resource_id}")
        assert response.status_code == 404
        OperationOutcome.model_validate(body)

    def test_it_is_never_cached(self, client, platform_admin, patient_response):
        client.force_login(platform_admin)
        response = client.get(response_path(patient_response))
        assert "no-store" in response["Cache-Control"]


# --- the rest of the interface -----------------------------------------------------------------


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
def test_it_only_reads(client, manager_a, patient_response, method):
    client.force_login(manager_a)
    response = getattr(client, method)(response_path(patient_response))
    assert response.status_code == 405
    assert response["Content-Type"] == "application/fhir+json"
    assert response["Allow"] == "GET, HEAD"
    OperationOutcome.model_validate(response.json())


def test_it_refuses_xml(client, manager_a, instruments):
    client.force_login(manager_a)
    response = client.get(questionnaire_path() + "?_format=xml")
    assert response.status_code == 406
    OperationOutcome.model_validate(response.json())
    assert client.get(questionnaire_path() + "?_format=json").status_code == 200


def test_the_capability_statement_is_public_and_valid(client, db):
    response, body = get_fhir(client, "/fhir/metadata")
    assert response.status_code == 200
    statement = CapabilityStatement.model_validate(body)
    assert statement.fhirVersion == "4.0.1"
    resources = {r.type: r for r in statement.rest[0].resource}
    assert set(resources) == {"Questionnaire", "QuestionnaireResponse", "CodeSystem", "StructureDefinition"}
    assert {i.code for i in resources["Questionnaire"].interaction} == {"read", "search-type"}
    assert {p.name for p in resources["Questionnaire"].searchParam} == {"url", "version"}


# --- what a response's references point at resolves ------------------------------------------------


class TestCanonicalReferences:
    def test_the_questionnaire_canonical_of_a_response_resolves_by_search(self, client, platform_admin,
                                                                          patient_response):
        client.force_login(platform_admin)
        _response, body = get_fhir(client, f"/fhir/QuestionnaireResponse/{patient_response.pk}")
        canonical = body["questionnaire"]
        found, bundle = get_fhir(client, "/fhir/Questionnaire", {"url": canonical})
        assert found.status_code == 200
        Bundle.model_validate(bundle)
        assert bundle["type"] == "searchset" and bundle["total"] == 1
        questionnaire = bundle["entry"][0]["resource"]
        assert f"{questionnaire['url']}|{questionnaire['version']}" == canonical
        Questionnaire.model_validate(questionnaire)

    def test_a_search_by_url_gives_every_version_and_version_picks_one(self, client, clinician_a, instruments):
        client.force_login(clinician_a)
        url = fhir.questionnaire_url("patient")
        _r, every = get_fhir(client, "/fhir/Questionnaire", {"url": url})
        versions = {e["resource"]["version"] for e in every["entry"]}
        assert versions and all(e["resource"]["url"] == url for e in every["entry"])
        one = sorted(versions)[0]
        _r, picked = get_fhir(client, "/fhir/Questionnaire", {"url": url, "version": one})
        assert [e["resource"]["version"] for e in picked["entry"]] == [one]
        _r, nothing = get_fhir(client, "/fhir/Questionnaire", {"url": SITE + "/elsewhere/Questionnaire/patient"})
        assert nothing["total"] == 0 and nothing["entry"] == []
        refused, outcome = get_fhir(client, "/fhir/Questionnaire", {"title": "x"})
        assert refused.status_code == 400 and OperationOutcome.model_validate(outcome)

    def test_the_canonical_url_itself_reads_the_current_version(self, client, clinician_a, instruments):
        client.force_login(clinician_a)
        response, body = get_fhir(client, "/fhir/Questionnaire/patient")
        assert response.status_code == 200
        current = InstrumentVersion.objects.get(instrument__slug="patient", is_current=True)
        assert body["version"] == current.version and body["status"] == "active"

    def test_the_code_systems_hold_every_code_our_resources_use(self, client, clinician_a, instruments):
        client.force_login(clinician_a)
        _r, questionnaire = get_fhir(client, questionnaire_path())
        used: dict[str, set] = {}
        for node in walk_codings(questionnaire):
            used.setdefault(node["system"], set()).add(node["code"])
        for name in ("domains", "answers"):
            response, body = get_fhir(client, f"/fhir/CodeSystem/{name}")
            assert response.status_code == 200
            system = CodeSystem.model_validate(body)
            assert system.url == f"{SITE}/fhir/CodeSystem/{name}"
            assert used[system.url] <= {c.code for c in system.concept}
        _r, domains = get_fhir(client, "/fhir/CodeSystem/domains")
        power = next(c for c in domains["concept"] if c["code"] == "power")
        assert power["display"] == "Sharing power" and power["designation"][0]["language"] == "es"
        missing, _body = get_fhir(client, "/fhir/CodeSystem/other")
        assert missing.status_code == 404

    def test_every_extension_url_resolves_to_a_valid_structure_definition(self, client, platform_admin,
                                                                            patient_response):
        client.force_login(platform_admin)
        _r, questionnaire = get_fhir(client, questionnaire_path())
        _r, answer = get_fhir(client, f"/fhir/QuestionnaireResponse/{patient_response.pk}")
        ours = {ext["url"] for ext in [*walk_extensions(questionnaire), *walk_extensions(answer)]
                if ext["url"].startswith(SITE + "/fhir/StructureDefinition/")}
        assert len(ours) >= 5
        for url in ours:
            response, body = get_fhir(client, url.removeprefix(SITE))
            assert response.status_code == 200, url
            definition = StructureDefinition.model_validate(body)
            assert definition.url == url and definition.type == "Extension"


def test_the_mapping_is_pure_and_follows_site_url(settings, instruments):
    """interchange.fhir.resources needs no request: the same spec maps the same way, under whatever SITE_URL says."""
    version = InstrumentVersion.objects.get(instrument__slug="patient")
    spec = spec_for_version(version)
    settings.SITE_URL = "https://example.org"
    resource = fhir.questionnaire(spec, last_updated=dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc))
    Questionnaire.model_validate(resource)
    assert resource["url"] == "https://example.org/fhir/Questionnaire/patient"
    assert resource["meta"]["lastUpdated"] == "2026-01-02T00:00:00+00:00"
    assert fhir.parse_questionnaire_id("my-instrument-2.1") == ("my-instrument", "2.1")


@pytest.mark.parametrize("accept", ["application/fhir+xml", "application/xml;q=0.9, text/xml"])
def test_asking_for_xml_in_the_accept_header_is_406(client, manager_a, instruments, accept):
    client.force_login(manager_a)
    response = client.get("/fhir/Questionnaire/patient-1.0", HTTP_ACCEPT=accept)
    assert response.status_code == 406
    assert response["Content-Type"].startswith("application/fhir+json")


def test_json_or_anything_in_the_accept_header_is_served(client, manager_a, instruments):
    client.force_login(manager_a)
    for accept in ("application/fhir+json", "application/fhir+xml, application/fhir+json;q=0.5", "*/*"):
        assert client.get("/fhir/Questionnaire/patient-1.0", HTTP_ACCEPT=accept).status_code == 200
