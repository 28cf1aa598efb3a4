"""The API's OpenAPI 3.1 description, served at GET /api/v1/openapi.json (docs/api.md says the same in prose).

A static document: tests/api/test_api.py checks it with openapi-spec-validator and checks real answers against its
schemas, so it cannot drift from what the views do. `document()` adds the server's address.
"""

from __future__ import annotations

import copy

from django.conf import settings

from .payloads import MAX_BODY_BYTES, MAX_USERNAME

_ERROR = {"$ref": "#/components/schemas/Error"}
# interchange.ehr.parse's phone rule as one pattern: an optional leading +, then at least six digits among
# spaces and ( ) . / - (the rule the server applies, so a client validating against the schema agrees with it).
PHONE_PATTERN = r"^\+?[ ()./-]*(?:[0-9][ ()./-]*){6,}$"


def _json(schema: dict, description: str, **extra) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}, **extra}


DOCUMENT: dict = {
    "openapi": "3.1.0",
    "info": {
        "title": "Healing EHR integration API",
        "version": "1.0.0",
        "summary": "Create visits from an EHR and get back the patient's questionnaire link and QR code.",
        "description": (
            "Each practice makes its own API keys (Practice → API keys, managers only); a key works for its "
            "practice alone. Send it as `Authorization: Bearer hk_…`. A visit is the same as one row of the "
            "visit import: same checks, and the same clinician, patient and date never make two visits."
        ),
    },
    "paths": {
        "/api/v1/practices/{practice}/visits": {
            "post": {
                "operationId": "createVisit",
                "summary": "Create a visit with its pair of questionnaires",
                "description": (
                    "Creates the visit, the patient's single-use questionnaire link and the clinician's "
                    "questionnaire. The patient link is in this answer only: it is not stored (only its hash "
                    "is), so keep it or send it on at once. Optional email and phone are kept on the patient's "
                    "invitation for sending the link, and deleted once it is used or expired."
                ),
                "security": [{"bearerKey": []}],
                "parameters": [
                    {
                        "name": "practice",
                        "in": "path",
                        "required": True,
                        "description": "The practice's slug; it must be the key's practice.",
                        "schema": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/VisitRequest"}}},
                },
                "responses": {
                    "201": _json({"$ref": "#/components/schemas/VisitCreated"}, "The visit was created."),
                    "400": _json(
                        {"$ref": "#/components/schemas/ValidationError"},
                        "The body is not a JSON object, or some fields are wrong: `fields` says which and why.",
                    ),
                    "401": _json(
                        _ERROR,
                        "No key, or not a live key (unknown or revoked).",
                        headers={"WWW-Authenticate": {"schema": {"type": "string"}}},
                    ),
                    "404": _json(_ERROR, "The practice in the URL is not the key's practice (or does not exist)."),
                    "405": _json(_ERROR, "Only POST is allowed."),
                    "409": _json(
                        {"$ref": "#/components/schemas/DuplicateVisit"},
                        "This clinician already has a visit with this patient on this date.",
                    ),
                    "413": _json(_ERROR, f"The body is larger than {MAX_BODY_BYTES // 1024} KB."),
                    "429": _json(
                        _ERROR,
                        "Too many requests with bad keys from this address; try again after Retry-After seconds.",
                        headers={"Retry-After": {"schema": {"type": "integer"}}},
                    ),
                    "503": _json(_ERROR, "The site cannot take visits yet (its questionnaires are not loaded)."),
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "getOpenApiDocument",
                "summary": "This document",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "The OpenAPI 3.1 description of this API.")},
            }
        },
    },
    "components": {
        "securitySchemes": {
            "bearerKey": {
                "type": "http",
                "scheme": "bearer",
                "description": "A practice API key, `hk_` and 43 more characters, made by a manager of the practice.",
            }
        },
        "schemas": {
            "VisitRequest": {
                "type": "object",
                "additionalProperties": False,
                "required": ["clinician", "patient"],
                "properties": {
                    "clinician": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": MAX_USERNAME,
                        "description": "The clinician's username; they must be a clinician of this practice.",
                    },
                    "patient": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 64,
                        "pattern": "[0-9]",
                        "description": (
                            "The practice's own reference code for the patient, with at least one digit. Never a "
                            "name: a reference without a digit may be one, and is refused."
                        ),
                    },
                    # Optional fields: null, "" (both mean "none": EHR exports often send empty strings) or a value.
                    "date": {
                        "anyOf": [{"type": "null"}, {"const": ""}, {"type": "string", "format": "date"}],
                        "description": "The visit date, YYYY-MM-DD, between 2000-01-01 and 2099-12-31. "
                        "Default: today (the site's time zone).",
                    },
                    "email": {
                        "anyOf": [
                            {"type": "null"},
                            {"const": ""},
                            {"type": "string", "format": "email", "maxLength": 254},
                        ],
                        "description": "Where to send the patient's link (optional).",
                    },
                    "phone": {
                        "anyOf": [
                            {"type": "null"},
                            {"const": ""},
                            # At least six digits, among spaces, a leading + and ( ) . / -.
                            {"type": "string", "maxLength": 32, "pattern": PHONE_PATTERN},
                        ],
                        "description": "Where to text the patient's link (optional); at least 6 digits.",
                    },
                },
                "examples": [{"clinician": "dr-lopez", "patient": "PT-00412", "date": "2026-03-02"}],
            },
            "VisitCreated": {
                "type": "object",
                "additionalProperties": False,
                "required": ["visit", "patient_url", "clinician_url", "qr_svg_url"],
                "properties": {
                    "visit": {"type": "integer", "description": "The visit's id."},
                    "patient_url": {
                        "type": "string",
                        "format": "uri",
                        "description": "The patient's single-use questionnaire link. Shown only here.",
                    },
                    "clinician_url": {
                        "type": "string",
                        "format": "uri",
                        "description": "The clinician's questionnaire for this visit (they sign in).",
                    },
                    "qr_svg_url": {
                        "type": "string",
                        "format": "uri",
                        "description": "The patient link as an SVG QR code, while the link is open.",
                    },
                },
            },
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"type": "string"}},
            },
            "ValidationError": {
                "type": "object",
                "required": ["error", "fields"],
                "properties": {
                    "error": {"type": "string"},
                    "fields": {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                        "description": "Field name → what is wrong with it; empty when the body as a whole is wrong.",
                    },
                },
            },
            "DuplicateVisit": {
                "type": "object",
                "required": ["error", "visit"],
                "properties": {"error": {"type": "string"}, "visit": {"type": "integer"}},
            },
        },
    },
}


def document() -> dict:
    served = copy.deepcopy(DOCUMENT)
    served["servers"] = [{"url": settings.SITE_URL}]
    return served
