"""Who an HTTP request is: the principal on ``request["principal"]``, for the core to authorize.

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
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import time
from dataclasses import dataclass

from aiohttp import web

from logbroker.config import BrokerConfig
from logbroker.http.errors import Handler, error_response
from logbroker.security.principal import ANONYMOUS, Principal
from logbroker.security.scram_store import CredentialStore, check_password
from logbroker.security.tokens import TokenSigner

log = logging.getLogger(__name__)

SESSION_COOKIE = "logbroker_session"
CSRF_COOKIE = "logbroker_csrf"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_OPEN_PATHS = frozenset({"/health", "/", "/login", "/openapi.json", "/auth/token", "/auth/login", "/auth/logout"})


@dataclass(slots=True)
class HttpAuth:
    enabled: bool
    metrics_protected: bool
    credentials: CredentialStore
    signer: TokenSigner
    secure_cookies: bool  # the listener is TLS: cookies get the Secure attribute

    @classmethod
    def from_config(cls, config: BrokerConfig, store: CredentialStore) -> HttpAuth:
        secret = config.get_str("logbroker.http.token.secret").encode() or None
        return cls(config.get_bool("logbroker.http.auth.enable"), config.get_bool("logbroker.http.metrics.auth"),
                   store, TokenSigner(secret, config.get_int("logbroker.http.token.lifetime.ms")),
                   config.get_bool("logbroker.http.ssl.enable"))

    def check_password(self, user: str, password: str) -> bool:
        return bool(user) and check_password(self.credentials, user, password)


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


def authenticate(request: web.Request, auth: HttpAuth) -> Principal | web.StreamResponse:
    """The principal of ``request``, or the refusal to answer with."""
    peer = request.remote
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        pair = _basic(value.strip())
        if pair is None or not auth.check_password(*pair):
            log.warning("failed HTTP authentication from %s (Basic, user %r)", peer, pair[0] if pair else None)
            return _unauthorized(request, "Basic", "invalid user name or password")
        return Principal.user(pair[0])
    if scheme.lower() == "bearer":
        user = auth.signer.verify(value.strip(), now_ms())
        if user is None:
            log.warning("failed HTTP authentication from %s (Bearer token invalid or expired)", peer)
            return _unauthorized(request, "Bearer", "the token is invalid or has expired")
        return Principal.user(user)
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        user = auth.signer.verify(session, now_ms())
        if user is None:
            return _unauthorized(request, "Bearer", "the session has expired: log in again")
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
    """Put the principal on ``request["principal"]`` or refuse the request (see the module docstring)."""
    auth = request.app[AUTH]
    if not auth.enabled:
        request["principal"] = ANONYMOUS
        return await handler(request)
    if _open(request, auth):
        request["principal"] = ANONYMOUS
        return await handler(request)
    found = authenticate(request, auth)
    if not isinstance(found, Principal):
        return found
    request["principal"] = found
    return await handler(request)
