"""Per-address limits on the patient links (/s/<token>/ and its QR code), counted in the Django cache.

Tokens carry 256 bits, so guessing one is hopeless; the limits are there so nobody can try, scan the URL
space or flood the questionnaire pages from one address. Two counters per client address:

- every request to a link (SURVEY_RATE_LIMIT, generous: a waiting room's phones often share one public
  address behind the practice's wifi), and
- links that do not exist (SURVEY_MISS_LIMIT, strict: a real patient mistypes a link once or twice, a
  guesser does nothing else). An address over it gets the 429 page for each further link that does not exist,
  until its window ends; a real link from the same address still opens, so a guesser on the waiting room's
  wifi locks no patient out (a hit is one chance in 2^256, so refusing real links would add no safety).

An address over the first limit gets a friendly 429 page until its window ends.

Fixed windows: the first request of a window creates its counter with `cache.add` (set only if missing),
the others `cache.incr` it. On Redis both are single atomic commands (SET NX, INCRBY), so gunicorn workers
on several machines count together and exactly; LocMemCache does both under a lock, per process.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import math
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches

from .middleware import error_page

_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]*)\s*$")


@dataclass(frozen=True)
class Rate:
    """`limit` requests per `seconds`; written "120/60", "120/m", "20/10m" or "0" (no limit)."""

    limit: int
    seconds: int

    @classmethod
    def parse(cls, text: str | None) -> Rate | None:
        if text is None or str(text).strip() in {"", "0", "off", "none"}:
            return None
        match = _RATE.match(str(text).lower())
        if not match:
            raise ValueError(f"Cannot read the rate {text!r}: write it as 120/60, 120/m or 20/10m.")
        limit, count, unit = int(match[1]), int(match[2] or 1), match[3] or "s"
        if unit not in _UNITS:
            raise ValueError(f"Unknown unit {unit!r} in the rate {text!r}: use s, m, h or d.")
        if limit <= 0:
            return None
        return cls(limit=limit, seconds=count * _UNITS[unit])


@dataclass(frozen=True)
class Count:
    """Where one address stands in the current window."""

    count: int
    rate: Rate
    reset_in: int  # seconds until the window ends

    @property
    def exceeded(self) -> bool:
        return self.count > self.rate.limit


def client_address(request) -> str | None:
    """The client's address: REMOTE_ADDR, or with TRUSTED_PROXY_COUNT proxies in front, the address the
    outermost trusted proxy saw (counted from the right of X-Forwarded-For, which a client cannot forge).
    None when unknown (a request made in code, as `client.force_login` does). Also used by django-axes."""
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies and _is_address(forwarded[-proxies]):
            return forwarded[-proxies]
    remote = request.META.get("REMOTE_ADDR") or ""
    return remote if _is_address(remote) else None


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _cache():
    return caches[getattr(settings, "RATELIMIT_CACHE", "default")]


def _key(scope: str, address: str, rate: Rate, window: int) -> str:
    # Hashed: keeps addresses out of the cache's key space and keys short and safe for memcached/Redis.
    digest = hashlib.sha256(address.encode("utf-8", "replace")).hexdigest()[:24]
    return f"ratelimit:{scope}:{rate.seconds}:{window}:{digest}"


def _now() -> float:
    return time.time()


def _window(rate: Rate, now: float | None) -> tuple[int, int]:
    now = _now() if now is None else now
    window = int(now // rate.seconds)
    return window, max(1, math.ceil((window + 1) * rate.seconds - now))


def hit(scope: str, address: str, rate: Rate, *, now: float | None = None) -> Count:
    """Count one request of `address` in this window and return the count so far (this one included)."""
    window, reset_in = _window(rate, now)
    key = _key(scope, address, rate, window)
    cache = _cache()
    # The TTL starts at the window's first request (at or after the window's start), so one window plus a
    # second outlives the window: within its window, incr never meets an expired counter.
    if cache.add(key, 1, timeout=rate.seconds + 1):
        return Count(1, rate, reset_in)
    try:
        return Count(cache.incr(key), rate, reset_in)
    except ValueError:  # expired between add and incr: this request opens the window again
        cache.add(key, 1, timeout=rate.seconds + 1)
        return Count(1, rate, reset_in)


def peek(scope: str, address: str, rate: Rate, *, now: float | None = None) -> Count:
    """The count so far in this window, without counting."""
    window, reset_in = _window(rate, now)
    return Count(_cache().get(_key(scope, address, rate, window), 0), rate, reset_in)


def too_many_requests(request, retry_after: int):
    """The 429 page: bilingual (the person's language first), with when to try again."""
    response = error_page(request, "429.html", 429, minutes=max(1, math.ceil(retry_after / 60)))
    response["Retry-After"] = str(retry_after)
    return response


def limit_patient_links(view):
    """Rate-limit a patient-link view per client address (see the module docstring).

    A link that does not exist answers 404 from the view; those answers are what the miss counter counts, and
    past its limit they become 429. The view's lookup of an unknown link reads nothing but an index.
    """

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        requests_rate = Rate.parse(getattr(settings, "SURVEY_RATE_LIMIT", None))
        misses_rate = Rate.parse(getattr(settings, "SURVEY_MISS_LIMIT", None))
        address = client_address(request) or "unknown"
        if requests_rate:
            requests = hit("link", address, requests_rate)
            if requests.exceeded:
                return too_many_requests(request, requests.reset_in)
        response = view(request, *args, **kwargs)
        if misses_rate and response.status_code == 404:
            misses = hit("link-miss", address, misses_rate)
            if misses.exceeded:
                return too_many_requests(request, misses.reset_in)
        return response

    return wrapped


def limit_short_codes(view):
    """Rate-limit the short-code view (/q/<code>) per client address, more strictly than links.

    A card's short code has 60 bits, not 256 (surveys.tokens), so here, unlike on links, an address past the
    miss limit (SURVEY_CODE_MISS_LIMIT) is refused every code, found or not, until its window ends: otherwise a
    guesser would keep every chance of a hit. A patient locked out by a guesser on the same wifi can still scan
    the card's QR code. Every request also counts against SURVEY_RATE_LIMIT, as on links.
    """

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        requests_rate = Rate.parse(getattr(settings, "SURVEY_RATE_LIMIT", None))
        misses_rate = Rate.parse(getattr(settings, "SURVEY_CODE_MISS_LIMIT", None))
        address = client_address(request) or "unknown"
        if misses_rate:
            misses = peek("code-miss", address, misses_rate)
            if misses.count >= misses.rate.limit:
                return too_many_requests(request, misses.reset_in)
        if requests_rate:
            requests = hit("link", address, requests_rate)
            if requests.exceeded:
                return too_many_requests(request, requests.reset_in)
        response = view(request, *args, **kwargs)
        if misses_rate and response.status_code == 404:
            hit("code-miss", address, misses_rate)
        return response

    return wrapped


def limit_password_resets(view):
    """Password-reset requests (POST) per client address and per e-mail address asked for (PASSWORD_RESET_LIMIT):
    each sends a mail, so without a limit one client could flood a colleague's inbox or the mail server."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        rate = Rate.parse(getattr(settings, "PASSWORD_RESET_LIMIT", None))
        if rate and request.method == "POST":
            email = str(request.POST.get("email", "")).strip().lower()[:254]
            for scope, who in (("reset", client_address(request) or "unknown"), ("reset-email", email)):
                count = hit(scope, who, rate)
                if count.exceeded:
                    return too_many_requests(request, count.reset_in)
        return view(request, *args, **kwargs)

    return wrapped
