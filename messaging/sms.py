"""Sending SMS: a small pluggable backend, chosen by the SMS_BACKEND setting (a dotted path), as Django does
for email.

- `ConsoleSmsBackend` (the default) prints each message to stdout: for development, like Django's console
  email backend. It masks the number; the body, link included, is printed so a developer can follow it.
- `HttpSmsBackend` posts `{"to": ..., "body": ...}` as JSON to SMS_HTTP_URL with `Authorization: Bearer
  SMS_HTTP_TOKEN`: a generic adapter for providers (or a small relay in front of one) that take that shape.
- `LocmemSmsBackend` keeps messages in `outbox`, for tests.

A backend raises `TransientSendError` when trying again later may work (5xx, timeouts, no connection) and
`PermanentSendError` when it will not (4xx: a bad number, a rejected token). Their messages are ours and never
carry the number, the body or the provider's reply, because they end up in logs and on the invitations list.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


class SendError(Exception):
    """A message was not sent. The text is safe to log and show: no contact details, no message body."""


class TransientSendError(SendError):
    """Worth retrying later."""


class PermanentSendError(SendError):
    """Retrying the same message will not help."""


class BaseSmsBackend:
    def send(self, to: str, body: str) -> None:
        raise NotImplementedError


def get_backend(path: str | None = None) -> BaseSmsBackend:
    return import_string(path or settings.SMS_BACKEND)()


def mask_number(number: str) -> str:
    """Enough of a phone number to tell two apart in a console, no more."""
    digits = [c for c in number if c.isdigit()]
    return "•" * max(0, len(digits) - 2) + "".join(digits[-2:])


class ConsoleSmsBackend(BaseSmsBackend):
    def __init__(self, stream=None):
        self.stream = stream or sys.stdout

    def send(self, to: str, body: str) -> None:
        self.stream.write(f"SMS to {mask_number(to)}\n{body}\n{'-' * 40}\n")
        self.stream.flush()


outbox: list[tuple[str, str]] = []


class LocmemSmsBackend(BaseSmsBackend):
    """Tests: messages go to `messaging.sms.outbox` as (to, body) pairs."""

    def send(self, to: str, body: str) -> None:
        outbox.append((to, body))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # urllib would turn a redirected POST into a GET without its body; an API that redirects is misconfigured.
    def redirect_request(self, *args, **kwargs):
        return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HttpSmsBackend(BaseSmsBackend):
    def __init__(self, url: str | None = None, token: str | None = None, timeout: float | None = None):
        self.url = url if url is not None else settings.SMS_HTTP_URL
        self.token = token if token is not None else settings.SMS_HTTP_TOKEN
        self.timeout = timeout if timeout is not None else settings.SMS_HTTP_TIMEOUT
        parts = urlsplit(self.url)
        if not parts.hostname:
            raise ImproperlyConfigured("SMS_HTTP_URL must be set to use messaging.sms.HttpSmsBackend.")
        # The bearer token and patients' numbers never travel in clear, except to a relay on this machine.
        if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(parts.hostname)):
            raise ImproperlyConfigured("SMS_HTTP_URL must use https (plain http only to a loopback address).")
        self.opener = urllib.request.build_opener(_NoRedirects())

    def send(self, to: str, body: str) -> None:
        request = urllib.request.Request(
            self.url,
            data=json.dumps({"to": to, "body": body}).encode("utf-8"),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Authorization": f"Bearer {self.token}",
                "User-Agent": "Healing/1 (+invitations)",
            },
        )
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                response.read(4096)  # drain a little, so the connection closes cleanly; the content is not needed
        except urllib.error.HTTPError as exc:
            exc.close()
            raise self._http_error(exc.code) from None
        except (TimeoutError, socket.timeout):
            raise TransientSendError(f"The SMS provider did not answer within {self.timeout:g} s.") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                raise TransientSendError(f"The SMS provider did not answer within {self.timeout:g} s.") from None
            raise TransientSendError(f"Could not reach the SMS provider ({type(exc.reason).__name__}).") from None
        except OSError as exc:
            raise TransientSendError(f"Could not reach the SMS provider ({type(exc).__name__}).") from None

    @staticmethod
    def _http_error(code: int) -> SendError:
        if code in (408, 429) or code >= 500:
            return TransientSendError(f"The SMS provider answered HTTP {code}.")
        return PermanentSendError(f"The SMS provider refused the message (HTTP {code}).")
