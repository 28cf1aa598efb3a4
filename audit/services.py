"""The one way to write an audit event; services and views call `record`."""

from __future__ import annotations

from .models import Action, AuditEvent


def client_address(request) -> str | None:
    """The client's address as the web server saw it (behind a proxy, set the proxy to pass REMOTE_ADDR)."""
    return request.META.get("REMOTE_ADDR") if request is not None else None


def record(
    action: str,
    *,
    actor=None,
    practice=None,
    obj=None,
    request=None,
    actor_name: str | None = None,
    **detail,
) -> AuditEvent:
    if actor is None and request is not None and getattr(request, "user", None) and request.user.is_authenticated:
        actor = request.user
    return AuditEvent.objects.create(
        action=Action(action),
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=actor_name or (actor.get_username() if getattr(actor, "pk", None) else "command line"),
        practice=practice,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        client_address=client_address(request),
        detail=detail,
    )
