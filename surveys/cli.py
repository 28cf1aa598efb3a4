"""Shared bits of the command-line tools: clear errors with exit code 2, and lookups by name."""

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from .selectors import practice_by_slug

USAGE_ERROR = 2


def fail(message: str) -> CommandError:
    return CommandError(message, returncode=USAGE_ERROR)


def practice_or_fail(slug: str):
    practice = practice_by_slug(slug)
    if practice is None:
        raise fail(f"Unknown practice {slug!r}: create it with `manage.py create_practice --slug {slug} --name ...`.")
    return practice


def user_or_fail(username: str):
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise fail(f"Unknown user {username!r}.")
    return user


def date_or_fail(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise fail(f"Bad date {value!r}: use YYYY-MM-DD, for example 2026-03-31.") from None
