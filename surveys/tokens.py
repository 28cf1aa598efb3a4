"""Invitation tokens: made with `secrets`, handed out once, stored only as a hash.

A 256-bit random token needs no salt or slow hash: guessing is hopeless and a leaked table
of SHA-256 digests gives nothing back.

A QR card also carries a short code for patients who cannot scan (issue 14): twelve characters of Crockford's
base32 (no I, L, O or U, so nothing reads as something else), shown as `ABCD-EFGH-JKMN`: 60 bits. That is far
too few for an unkeyed digest (a leaked table could be searched offline), so codes are stored as an HMAC keyed
by SECRET_KEY; online guessing is bounded by the code rate limit (plumbing.ratelimit.limit_short_codes).
docs/security.md works through the numbers.
"""

import hashlib
import secrets

from django.utils.crypto import salted_hmac

TOKEN_BYTES = 32

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32
CODE_LENGTH = 12  # 12 × 5 = 60 bits
CODE_GROUP = 4
# What people type by mistake for what the code means (Crockford's decoding rules).
_CODE_READS_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like_token(token: str) -> bool:
    """Cheap shape check so junk URLs never reach the database."""
    return 20 <= len(token) <= 128 and all(c.isalnum() or c in "-_" for c in token)


def new_short_code() -> str:
    """A fresh card code, grouped for reading aloud and typing: `ABCD-EFGH-JKMN`."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + CODE_GROUP] for i in range(0, CODE_LENGTH, CODE_GROUP))


def normalize_short_code(typed: str) -> str | None:
    """The code as stored from what a person typed: case, spaces and dashes ignored, O read as 0 and I or L as 1.
    None when it cannot be a code (so junk never reaches the database)."""
    if len(typed) > 40:
        return None
    code = "".join(c for c in typed.upper() if c not in " -").translate(_CODE_READS_AS)
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        return None
    return code


def hash_short_code(code: str) -> str:
    """Keyed digest of a normalized code (see the module docstring for why keyed)."""
    return salted_hmac("surveys.card-code", code, algorithm="sha256").hexdigest()
