from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Invitation messages"

    def ready(self):
        from surveys.selectors import register_link_source

        from .models import OutboundMessage

        register_link_source(OutboundMessage)  # the links in our emails and SMS open the patient's questionnaire
