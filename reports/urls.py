from django.urls import path

from . import views

urlpatterns = [
    path("practice/<slug:slug>/reports/", views.report_list, name="reports"),
    path("practice/<slug:slug>/reports/<int:pk>/", views.report_detail, name="report_detail"),
    path("practice/<slug:slug>/reports/<int:pk>/status/", views.report_status, name="report_status"),
    path("practice/<slug:slug>/reports/<int:pk>/retry/", views.report_retry, name="report_retry"),
    path(
        "practice/<slug:slug>/reports/<int:pk>/download/<str:fmt>/",
        views.report_download,
        name="report_download",
    ),
]
