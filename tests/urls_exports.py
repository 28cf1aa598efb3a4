"""healing.urls with the research exports mounted where surveys/urls.py will mount them.

Used by tests/test_research_exports.py (through @pytest.mark.urls) until the include line is wired.
"""

from django.urls import include, path

from healing.urls import handler400  # noqa: F401 - the same error pages
from healing.urls import urlpatterns as healing_urlpatterns

urlpatterns = [
    path("practice/<slug:slug>/exports/", include("surveys.export_urls")),
    *healing_urlpatterns,
]
