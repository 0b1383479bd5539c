"""Who an HTTP request is: the principal on ``request[PRINCIPAL]``, for the core to authorize.

With ``logbroker.http.auth.enable=false`` (the default) every request is ``User:ANONYMOUS`` and
nothing else changes. Enabled, a request proves a user one of three ways, checked in this order:

    credential                          checked against                           refused
    Authorization: Basic user:password  the SCRAM credential store (the password  401, WWW-Authenticate: Basic
                                        derived with the stored salt/iterations)
    Authorization: Bearer <token>       a token from POST /auth/token (HMAC,      401, WWW-Authenticate: Bearer
                                        expiring; logbroker/security/tokens.py)
    the console's session cookie        the same tokens, set HttpOnly and         401; a state-changing request
    (logbroker_session)                 SameSite=Strict by POST /auth/login       without X-CSRF-Token matching
                                                                                  the session: 403

Open without credentials: ``/health``, the console's page and files (``/``, ``/login``,
``/console/*``), ``/openapi.json`` and the ``/auth/*`` routes that log in and out; ``/metrics`` too
unless ``logbroker.http.metrics.auth``. Each refusal is logged with the peer and the user name
given, never a password or token.

Password attempts (Basic, ``/auth/token``, ``/auth/login``) are limited per client address and per
user name (``logbroker/security/login_throttle.py``): after ``logbroker.http.auth.max.failures``
failures within ``logbroker.http.auth.failure.window.ms``, attempts are answered 429 with
``Retry-After`` before the password is checked. An unknown user costs the same key derivation as a
known one, so neither the answers, the limit nor the time taken tell which users exist.

A token is refused once revoked (a logout, an operator's ``POST /auth/revoke``;
``token_revocations.py``) or once its user's credentials changed or were deleted (the token's
credential binding no longer matches the store).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from logbroker.config import BrokerConfig
from logbroker.http.context import PRINCIPAL
from logbroker.http.errors import Handler, error_response
from logbroker.security.login_throttle import LoginThrottle
from logbroker.security.password_checks import PasswordChecks
from logbroker.security.principal import ANONYMOUS, Principal
from logbroker.security.scram_store import (
    DEFAULT_ITERATIONS,
    CredentialStore,
    ScramCredential,
    check_password,
    from_password,
    verify_password,
)
from logbroker.security.token_revocations import RevocationStore, TokenRevocations
from logbroker.security.tokens import TokenClaims, TokenSigner

log = logging.getLogger(__name__)

SESSION_COOKIE = "logbroker_session"
CSRF_COOKIE = "logbroker_csrf"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_OPEN_PATHS = frozenset({"/health", "/", "/login", "/openapi.json", "/auth/token", "/auth/login", "/auth/logout"})


# Derived for a user without credentials, so that a refusal costs the same either way.
_DECOY = from_password("SCRAM-SHA-512", "-", DEFAULT_ITERATIONS)


@dataclass(slots=True)
class HttpAuth:
    enabled: bool
    metrics_protected: bool
    store_of: Callable[[], CredentialStore]  # asked each time: a cluster swaps in ZooKeeper's store
    signer: TokenSigner
    secure_cookies: bool  # the listener is TLS: cookies get the Secure attribute
    throttle: LoginThrottle
    own_revocations: TokenRevocations  # this broker's file
    checks: PasswordChecks  # where PBKDF2 runs: never on the event loop
    # A cluster's revocations (ZooKeeper), asked each time: the broker swaps them in after it joins.
    cluster_revocations: Callable[[], RevocationStore | None]

    @property
    def revocations(self) -> RevocationStore:
        found = self.cluster_revocations()
        return found if found is not None else self.own_revocations

    @classmethod
    def from_config(cls, config: BrokerConfig, store_of: Callable[[], CredentialStore], checks: PasswordChecks,
                    data_dir: Path | None = None,
                    cluster_revocations: Callable[[], RevocationStore | None] = lambda: None) -> HttpAuth:
        secret = config.get_str("logbroker.http.token.secret").encode() or None
        lifetime = config.get_int("logbroker.http.token.lifetime.ms")
        throttle = LoginThrottle(config.get_int("logbroker.http.auth.max.failures"),
                                 config.get_int("logbroker.http.auth.failure.window.ms"))
        return cls(config.get_bool("logbroker.http.auth.enable"), config.get_bool("logbroker.http.metrics.auth"),
                   store_of, TokenSigner(secret, lifetime), config.get_bool("logbroker.http.ssl.enable"),
                   throttle, TokenRevocations(data_dir, lifetime), checks, cluster_revocations)

    async def check_password(self, user: str, password: str) -> bool:
        """Whether ``password`` is ``user``'s; the PBKDF2 runs in the password-check threads."""
        if not user:
            return False
        return await self.checks.run(self._check_password, self.store_of(), user, password)

    @staticmethod
    def _check_password(store: CredentialStore, user: str, password: str) -> bool:
        if not any(store.get(user, m) is not None for m in ("SCRAM-SHA-512", "SCRAM-SHA-256")):
            verify_password("SCRAM-SHA-512", _DECOY, password)
            return False
        return check_password(store, user, password)

    def _credentials_of(self, user: str) -> dict[str, ScramCredential]:
        store = self.store_of()
        found = {m: store.get(user, m) for m in ("SCRAM-SHA-256", "SCRAM-SHA-512")}
        return {m: c for m, c in found.items() if c is not None}

    def issue(self, user: str, now: int) -> tuple[str, int]:
        """A token for ``user``, bound to the user's present credentials."""
        return self.signer.issue(user, now, self.signer.credential_binding(self._credentials_of(user)))

    def claims(self, token: str, now: int) -> TokenClaims | None:
        """A token's claims while it is valid: signed, unexpired, not revoked, and its user's
        credentials unchanged since it was issued (a password change or deletion ends it)."""
        claims = self.signer.claims(token, now)
        if claims is None or self.revocations.is_revoked(claims):
            return None
        credentials = self._credentials_of(claims.user)
        if not credentials or not hmac.compare_digest(claims.binding,
                                                      self.signer.credential_binding(credentials)):
            return None
        return claims

    def throttled(self, request: web.Request, user: str | None) -> web.StreamResponse | None:
        """429 with Retry-After when the client address or the user name has failed too often."""
        wait_ms = self.throttle.retry_after_ms(request.remote, user, now_ms())
        if not wait_ms:
            return None
        log.warning("HTTP authentication from %s (user %r) refused: too many failed attempts", request.remote, user)
        response = error_response(request, 429, "TOO_MANY_AUTHENTICATION_FAILURES",
                                  "too many failed authentication attempts; retry later")
        response.headers["Retry-After"] = str(max(1, math.ceil(wait_ms / 1000)))
        return response

    def failed(self, request: web.Request, user: str | None) -> None:
        self.throttle.record_failure(request.remote, user, now_ms())


AUTH: web.AppKey[HttpAuth] = web.AppKey("logbroker_http_auth", HttpAuth)


def now_ms() -> int:
    return int(time.time() * 1000)


def _open(request: web.Request, auth: HttpAuth) -> bool:
    path = request.path
    if path in _OPEN_PATHS or path.startswith("/console/"):
        return True
    return path == "/metrics" and not auth.metrics_protected


def _unauthorized(request: web.Request, scheme: str, message: str) -> web.StreamResponse:
    response = error_response(request, 401, "SASL_AUTHENTICATION_FAILED", message)
    response.headers["WWW-Authenticate"] = f'{scheme} realm="logbroker"'
    return response


def _basic(header: str) -> tuple[str, str] | None:
    try:
        user, sep, password = base64.b64decode(header, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


async def authenticate(request: web.Request, auth: HttpAuth) -> Principal | web.StreamResponse:
    """The principal of ``request``, or the refusal to answer with."""
    peer = request.remote
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        pair = _basic(value.strip())
        throttled = auth.throttled(request, pair[0] if pair else None)
        if throttled is not None:
            return throttled
        if pair is None or not await auth.check_password(*pair):
            log.warning("failed HTTP authentication from %s (Basic, user %r)", peer, pair[0] if pair else None)
            auth.failed(request, pair[0] if pair else None)
            return _unauthorized(request, "Basic", "invalid user name or password")
        return Principal.user(pair[0])
    if scheme.lower() == "bearer":
        claims = auth.claims(value.strip(), now_ms())
        if claims is None:
            log.warning("failed HTTP authentication from %s (Bearer token invalid, expired or revoked)", peer)
            return _unauthorized(request, "Bearer", "the token is invalid, has expired or was revoked")
        return Principal.user(claims.user)
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        found = auth.claims(session, now_ms())
        if found is None:
            return _unauthorized(request, "Bearer", "the session has ended: log in again")
        user = found.user
        if request.method not in _SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), auth.signer.csrf_for(session).encode()):
                log.warning("refused %s %s from %s (user %r): missing or wrong %s", request.method, request.path,
                            peer, user, CSRF_HEADER)
                return error_response(request, 403, "CSRF_TOKEN_INVALID",
                                      f"a cookie-authenticated {request.method} needs the {CSRF_HEADER} header")
        return Principal.user(user)
    # A page's script (fetch: Sec-Fetch-Mode other than navigate) is challenged with Bearer, not Basic,
    # so the browser does not open its own password dialog over the console's login page.
    scripted = request.headers.get("Sec-Fetch-Mode", "navigate") != "navigate"
    return _unauthorized(request, "Bearer" if scripted else "Basic",
                         "credentials required (HTTP Basic, a bearer token or a console login)")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Put the principal on ``request[PRINCIPAL]`` or refuse the request (see the module docstring)."""
    auth = request.app[AUTH]
    if not auth.enabled:
        request[PRINCIPAL] = ANONYMOUS
        return await handler(request)
    if _open(request, auth):
        request[PRINCIPAL] = ANONYMOUS
        return await handler(request)
    found = await authenticate(request, auth)
    if not isinstance(found, Principal):
        return found
    request[PRINCIPAL] = found
    return await handler(request)
