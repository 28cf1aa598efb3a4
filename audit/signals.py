"""Sign-ins and admin changes become audit events wherever they happen."""

from django.contrib.admin.models import LogEntry
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import Action
from .services import record


@receiver(user_logged_in)
def on_sign_in(sender, request, user, **kwargs):
    record(Action.SIGN_IN, actor=user, request=request)


@receiver(user_logged_out)
def on_sign_out(sender, request, user, **kwargs):
    if user is not None:
        record(Action.SIGN_OUT, actor=user, request=request)


@receiver(user_login_failed)
def on_sign_in_failed(sender, credentials, request=None, **kwargs):
    # The username tried is recorded (to see guessing); the password never is.
    record(Action.SIGN_IN_FAILED, request=request, actor_name=str(credentials.get("username", ""))[:150])


@receiver(post_save, sender=LogEntry)
def on_admin_change(sender, instance, created, **kwargs):
    if created:
        record(
            Action.ADMIN_CHANGE,
            actor=instance.user,
            actor_name=instance.user.get_username(),
            content_type=str(instance.content_type) if instance.content_type_id else "",
            object_repr=instance.object_repr[:200],
            object_key=instance.object_id,
            change=["", "added", "changed", "deleted"][instance.action_flag],
        )
