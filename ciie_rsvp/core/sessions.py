"""Flask's signed-cookie sessions, with the signing serializer built once per set of keys."""

from __future__ import annotations

import threading

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from .signing import CompactSerializer


class SessionInterface(SecureCookieSessionInterface):
    """Flask's own session cookie, format and keys unchanged.

    Flask builds the signing serializer on every request, twice when the session is written
    (profiled: about a tenth of a millisecond each, mostly itsdangerous trying its JSON
    serializer out); it depends only on the secret key and its fallbacks, so it is kept per
    pair. A changed key (or fallback list) simply gets its own. It signs without trying zlib
    first (see :mod:`.signing`); Flask's own serializer reads its cookies and the other way
    round.
    """

    def __init__(self) -> None:
        self._serializers: dict[tuple[object, ...], URLSafeTimedSerializer | None] = {}
        self._lock = threading.Lock()

    def _build_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        """Flask's serializer for the session cookie (same keys, salt, JSON tags and signer
        settings), as a :class:`.signing.CompactSerializer`."""
        if not app.secret_key:
            return None
        keys = [*(app.config.get("SECRET_KEY_FALLBACKS") or ()), app.secret_key]
        return CompactSerializer(
            keys, salt=self.salt, serializer=self.serializer,
            signer_kwargs={"key_derivation": self.key_derivation,
                           "digest_method": self.digest_method})

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        try:
            return self._serializers[key]
        except KeyError:
            pass
        serializer = self._build_serializer(app)
        with self._lock:
            if len(self._serializers) >= 8:  # keys rotate rarely; never grows unbounded
                self._serializers.clear()
            self._serializers[key] = serializer
        return serializer
