from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Invitation messages"

    def ready(self):
        from surveys.selectors import register_link_source

        from . import tasks  # noqa: F401  (registered in every process, for plumbing.tasks.task)
        from .models import OutboundMessage

        register_link_source(OutboundMessage)  # the links in our emails and SMS open the patient's questionnaire
