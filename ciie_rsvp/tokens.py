"""Unguessable public tokens. Only their SHA-256 is stored, so a database leak leaks no links."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

TOKEN_BYTES = 32  # 256 bits of randomness


def new_token() -> tuple[str, str]:
    """A fresh token and the hash to store."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def looks_like_token(token: str) -> bool:
    """Cheap shape check before touching the database."""
    return 20 <= len(token) <= 100 and all(c.isalnum() or c in "-_" for c in token)


def derived_token(secret: str, purpose: str, nonce: str) -> str:
    """A 256-bit token derived from a stored random ``nonce`` and the secret key.

    Only the token's hash is stored, so the database alone reveals no link, yet the service can
    put the same link into a later message (a reminder) without keeping the token itself.
    """
    mac = hmac.new(secret.encode(), f"{purpose}:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")
