"""Bearer tokens the broker issues for the HTTP API and the console, and their CSRF companions.

    token = base64url(payload) "." base64url(HMAC-SHA256(secret, payload))
    payload = JSON {"sub": user name, "exp": expiry, ms since the epoch}

The secret is ``logbroker.http.token.secret`` (a sensitive setting, never logged), else random per
process (tokens then end with the process). A token is refused when its signature does not verify
(compared in constant time) or it has expired. ``csrf_for(token)`` is the console's CSRF token: an
HMAC of the session token, so it cannot be made without the secret and is worthless for another
session (the double-submit cookie pattern, bound to the session; OWASP CSRF Prevention Cheat Sheet).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    def __init__(self, secret: bytes | None, lifetime_ms: int) -> None:
        self._secret = secret if secret else secrets.token_bytes(32)
        self.lifetime_ms = lifetime_ms

    def _sign(self, data: bytes) -> str:
        return _b64(hmac.new(self._secret, data, hashlib.sha256).digest())

    def issue(self, user: str, now_ms: int) -> tuple[str, int]:
        """A token for ``user`` and its expiry (ms since the epoch)."""
        expires = now_ms + self.lifetime_ms
        payload = json.dumps({"sub": user, "exp": expires}, separators=(",", ":")).encode()
        return f"{_b64(payload)}.{self._sign(payload)}", expires

    def verify(self, token: str, now_ms: int) -> str | None:
        """The user a valid, unexpired token names; None otherwise."""
        body, dot, signature = token.partition(".")
        if not dot:
            return None
        try:
            payload = _unb64(body)
        except (ValueError, TypeError):
            return None
        if not hmac.compare_digest(self._sign(payload), signature):
            return None
        try:
            claims = json.loads(payload)
            user, expires = claims["sub"], claims["exp"]
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(user, str) or not isinstance(expires, int) or expires <= now_ms:
            return None
        return user

    def csrf_for(self, token: str) -> str:
        return self._sign(b"csrf:" + token.encode())
