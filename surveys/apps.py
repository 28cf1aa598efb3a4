from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "surveys"
    verbose_name = "Surveys"

    def ready(self):
        from . import latest  # noqa: F401  (connects the receiver that keeps the latest flags on deletion)
        from .models import CardLink
        from .selectors import register_link_source

        register_link_source(CardLink)  # every QR card printed for an invitation opens it (issue 14)
