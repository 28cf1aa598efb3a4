from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "surveys"
    verbose_name = "Surveys"

    def ready(self):
        from . import latest  # noqa: F401  (connects the receiver that keeps the latest flags on deletion)
