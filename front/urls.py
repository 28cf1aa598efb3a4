from django.urls import include, path, re_path

from . import dashboard_views, psychometrics_views, survey_views

urlpatterns = [
    path("", survey_views.home, name="home"),
    path("s/thanks/", survey_views.survey_thanks, name="survey_thanks"),
    path("s/<str:token>/", survey_views.patient_questionnaire, name="patient_questionnaire"),
    path("s/<str:token>/qr.svg", survey_views.patient_qr, name="patient_qr"),
    path("s/<str:token>", survey_views.patient_link_without_slash, name="patient_link_without_slash"),
    # A QR card's short code, typed (docs/security.md): the form at /q/, the questionnaire at /q/<code>.
    path("q/", survey_views.short_code_entry, name="short_code_entry"),
    re_path(r"^q/(?P<code>[^/]{1,40})/?$", survey_views.patient_short_code, name="patient_short_code"),
    path("clinician/", survey_views.clinician_home, name="clinician_home"),
    path("clinician/self-assessment/<slug:slug>/", survey_views.self_assessment, name="self_assessment"),
    path("clinician/visits/<int:visit_id>/questionnaire/", survey_views.clinician_questionnaire, name="clinician_questionnaire"),
    path("psychometrics/", psychometrics_views.psychometrics_page, name="psychometrics"),
    path("practice/<slug:slug>/", dashboard_views.practice_dashboard, name="practice_dashboard"),
    path("practice/<slug:slug>/charts/<slug:key>.csv", dashboard_views.practice_chart_csv, name="practice_chart_csv"),
    path("practice/<slug:slug>/me/", dashboard_views.my_relationships, name="my_relationships"),
    path("practice/<slug:slug>/me/charts/<slug:key>.csv", dashboard_views.my_chart_csv, name="my_chart_csv"),
    path("practice/<slug:slug>/me/dyads/<int:dyad_id>/", dashboard_views.my_dyad, name="my_dyad"),
    path("practice/<slug:slug>/exports/", include("front.export_urls")),
    path("practice/<slug:slug>/", include("front.manager_urls")),
]
