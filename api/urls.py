"""The EHR integration API and the managers' API key pages; mounted at the site root by healing/urls.py."""

from django.urls import path, re_path

from . import views

urlpatterns = [
    path("api/v1/openapi.json", views.openapi_document, name="api_openapi"),
    path("api/v1/practices/<slug:slug>/visits", views.create_visit, name="api_create_visit"),
    # Anything else under api/v1/ (a practice that is not a slug, a mistyped path): a JSON 404, as the document
    # promises every answer is JSON.
    re_path(r"^api/v1/", views.unknown_endpoint, name="api_unknown"),
    path("practice/<slug:slug>/api-keys/", views.key_list, name="api_keys"),
    path("practice/<slug:slug>/api-keys/<int:key_id>/revoke/", views.key_revoke, name="api_key_revoke"),
]
