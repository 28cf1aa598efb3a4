"""Invitation tokens: made with `secrets`, handed out once, stored only as a hash.

A 256-bit random token needs no salt or slow hash: guessing is hopeless and a leaked table
of SHA-256 digests gives nothing back.
"""

import hashlib
import secrets

TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like_token(token: str) -> bool:
    """Cheap shape check so junk URLs never reach the database."""
    return 20 <= len(token) <= 128 and all(c.isalnum() or c in "-_" for c in token)
