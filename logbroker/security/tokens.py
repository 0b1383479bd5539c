"""Bearer tokens the broker issues for the HTTP API and the console, and their CSRF companions.

    token = base64url(payload) "." base64url(HMAC-SHA256(secret, payload))
    payload = JSON {"sub": user name, "exp": expiry and "iat": issue time (ms since the epoch),
                    "jti": a random id (what a logout revokes), "cred": the binding (below)}

The secret is ``logbroker.http.token.secret`` (a sensitive setting, never logged), else random per
process (tokens then end with the process). A token is refused when its signature does not verify
(compared in constant time) or it has expired. ``binding`` ties a token to the user's credentials
when it was issued (``credential_binding``: an HMAC of their stored keys, so it reveals nothing of
them): a changed password or a deleted user changes it, and the token no longer matches
(``logbroker/http/auth.py`` checks). Revoked ids and users are kept by ``token_revocations.py``.
``csrf_for(token)`` is the console's CSRF token: an HMAC of the session token, so it cannot be
made without the secret and is worthless for another session (the double-submit cookie pattern,
bound to the session; OWASP CSRF Prevention Cheat Sheet).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from logbroker.security.scram_store import ScramCredential


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user: str
    expires_ms: int
    issued_ms: int
    token_id: str
    binding: str


class TokenSigner:
    def __init__(self, secret: bytes | None, lifetime_ms: int) -> None:
        self._secret = secret if secret else secrets.token_bytes(32)
        self.lifetime_ms = lifetime_ms

    def _sign(self, data: bytes) -> str:
        return _b64(hmac.new(self._secret, data, hashlib.sha256).digest())

    def issue(self, user: str, now_ms: int, binding: str = "") -> tuple[str, int]:
        """A token for ``user`` and its expiry (ms since the epoch)."""
        expires = now_ms + self.lifetime_ms
        claims = {"sub": user, "exp": expires, "iat": now_ms, "jti": secrets.token_urlsafe(12), "cred": binding}
        payload = json.dumps(claims, separators=(",", ":")).encode()
        return f"{_b64(payload)}.{self._sign(payload)}", expires

    def credential_binding(self, credentials: Mapping[str, ScramCredential]) -> str:
        """A short HMAC of a user's credentials (mechanism and stored key): changes with the password."""
        material = b"|".join(f"{m}:".encode() + c.stored_key for m, c in sorted(credentials.items()))
        return self._sign(b"cred:" + material)[:22]

    def verify(self, token: str, now_ms: int) -> str | None:
        """The user a valid, unexpired token names; None otherwise."""
        claims = self.claims(token, now_ms)
        return claims.user if claims is not None else None

    def claims(self, token: str, now_ms: int) -> TokenClaims | None:
        """What a valid, unexpired token says; None otherwise."""
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
            user, expires, issued = claims["sub"], claims["exp"], claims["iat"]
            token_id, binding = claims["jti"], claims["cred"]
        except (ValueError, KeyError, TypeError):
            return None
        if not all(isinstance(v, str) for v in (user, token_id, binding)) \
                or not all(isinstance(v, int) for v in (expires, issued)) or expires <= now_ms:
            return None
        return TokenClaims(user, expires, issued, token_id, binding)

    def csrf_for(self, token: str) -> str:
        return self._sign(b"csrf:" + token.encode())
