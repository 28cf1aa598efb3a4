"""Research exports, mounted under practice/<slug:slug>/exports/ (docs/exports.md)."""

from django.urls import path

from . import export_views

urlpatterns = [
    path("", export_views.exports_page, name="research_exports"),
    path("answers.csv", export_views.download, {"name": "answers.csv"}, name="research_answers_csv"),
    path("responses.csv", export_views.download, {"name": "responses.csv"}, name="research_responses_csv"),
    path("codebook.csv", export_views.download, {"name": "codebook.csv"}, name="research_codebook_csv"),
    path("responses.sav", export_views.download, {"name": "responses.sav"}, name="research_responses_sav"),
    path("research.zip", export_views.download, {"name": "research.zip"}, name="research_zip"),
    path("redcap-<str:name>.csv", export_views.redcap_dictionary, name="research_redcap"),
]
