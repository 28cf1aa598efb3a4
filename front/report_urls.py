from django.urls import path

from . import report_views

urlpatterns = [
    path("practice/<slug:slug>/reports/", report_views.report_list, name="reports"),
    path("practice/<slug:slug>/reports/<int:pk>/", report_views.report_detail, name="report_detail"),
    path("practice/<slug:slug>/reports/<int:pk>/status/", report_views.report_status, name="report_status"),
    path("practice/<slug:slug>/reports/<int:pk>/retry/", report_views.report_retry, name="report_retry"),
    path(
        "practice/<slug:slug>/reports/<int:pk>/download/<str:fmt>/",
        report_views.report_download,
        name="report_download",
    ),
]
