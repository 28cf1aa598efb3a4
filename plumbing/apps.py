from django.apps import AppConfig


class PlumbingConfig(AppConfig):
    name = "plumbing"

    def ready(self):
        from . import workers  # noqa: F401  (connects the worker heartbeat to Celery's worker signals)
