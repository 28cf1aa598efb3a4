"""The site's URLs plus the FHIR and API ones, for tests/test_fhir.py and tests/test_api.py until healing/urls.py
mounts them (mounting them twice is harmless)."""

from django.urls import include, path

urlpatterns = [
    path("fhir/", include("surveys.fhir_urls")),
    path("", include("api.urls")),
    path("", include("healing.urls")),
]
