from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("s/thanks/", views.survey_thanks, name="survey_thanks"),
    path("s/<str:token>/", views.patient_questionnaire, name="patient_questionnaire"),
    path("s/<str:token>/qr.svg", views.patient_qr, name="patient_qr"),
    path("clinician/", views.clinician_home, name="clinician_home"),
    path("clinician/visits/<int:visit_id>/questionnaire/", views.clinician_questionnaire, name="clinician_questionnaire"),
    path("practice/<slug:slug>/", views.practice_home, name="practice_home"),
]
