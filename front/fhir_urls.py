"""FHIR R4 reads, mounted at fhir/ by healing/urls.py (front/fhir_views.py)."""

from django.urls import path

from . import fhir_views

urlpatterns = [
    path("metadata", fhir_views.capability_statement, name="fhir_metadata"),
    path("Questionnaire", fhir_views.questionnaire_search, name="fhir_questionnaire_search"),
    path("Questionnaire/<str:resource_id>", fhir_views.questionnaire, name="fhir_questionnaire"),
    path("CodeSystem/<str:name>", fhir_views.code_system, name="fhir_code_system"),
    path("StructureDefinition/<str:name>", fhir_views.structure_definition, name="fhir_structure_definition"),
    path(
        "QuestionnaireResponse/<str:resource_id>",
        fhir_views.questionnaire_response,
        name="fhir_questionnaire_response",
    ),
]
