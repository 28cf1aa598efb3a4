from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"

    def ready(self):
        from surveys.signals import responses_erased

        from . import services, tasks  # noqa: F401  (tasks: registered in every process, for plumbing.tasks.task)

        def rebuild_without_erased(sender, practice, first, last, **kwargs):
            """Reports covering an erased response must not keep serving it: rebuild them without the patient."""
            services.rebuild_reports_covering(practice, first, last, actor_name="patient erasure")

        responses_erased.connect(rebuild_without_erased, dispatch_uid="reports.rebuild_without_erased")
