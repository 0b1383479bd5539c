"""Who a Kafka connection is: the listener's security protocol, TLS client certificates and SASL.

One ``ListenerSecurity`` per listener; one ``ConnectionAuth`` per connection (kept in the
transport's ``ConnectionInfo.state``). The dispatcher asks ``gate`` before every request:

    listener protocol   principal                                   before it is known
    PLAINTEXT           User:ANONYMOUS                              -
    SSL                 the client certificate's subject, mapped by  the TLS handshake refuses
                        ssl.principal.mapping.rules; ANONYMOUS       untrusted or expired
                        without a certificate (ssl.client.auth=       certificates (server.py)
                        requested or none)
    SASL_PLAINTEXT,     User:<the SASL user>                         only ApiVersions, SaslHandshake
    SASL_SSL                                                         and SaslAuthenticate; any other
                                                                     request closes the connection

SASL follows KIP-84/KIP-152: SaslHandshake names a mechanism (UNSUPPORTED_SASL_MECHANISM with the
enabled list otherwise, then the connection closes), then the tokens travel in SaslAuthenticate
requests (v1 handshake) or as bare size-prefixed frames (v0 handshake). A failed exchange answers
SASL_AUTHENTICATION_FAILED with a message, is logged (peer, mechanism, user; never the password) and
closes the connection. Re-authentication (KIP-368): with ``connections.max.reauth.ms`` set, the
SaslAuthenticate v1+ answer carries the session lifetime; a client that asked with v1+ and has not
re-authenticated when it ends has its connection closed on its next request other than a
handshake. A re-authentication must keep the principal and the mechanism.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

from logbroker.config import BrokerConfig
from logbroker.errors import InvalidConfigError
from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from logbroker.listeners import ListenerSettings
from logbroker.security.plain_users_file import PlainUsersFile
from logbroker.security.principal import ANONYMOUS, Principal
from logbroker.security.sasl import (
    SUPPORTED_MECHANISMS,
    AuthenticationFailed,
    SaslConfig,
    SaslServer,
    plain_users,
)
from logbroker.security.scram_store import CredentialStore
from logbroker.security.tls import PrincipalMapper, server_context, setting, subject_dn

log = logging.getLogger(__name__)

PRE_AUTH_APIS = frozenset({ApiKey.API_VERSIONS, ApiKey.SASL_HANDSHAKE, ApiKey.SASL_AUTHENTICATE})
_STATE_KEY = "auth"


class AuthClose(Exception):
    """Close the connection (after the response in ``body``, if any)."""

    def __init__(self, reason: str, body: dict[str, object] | None = None) -> None:
        super().__init__(reason)
        self.body = body


@dataclass(frozen=True, slots=True)
class ListenerSecurity:
    protocol: str = "PLAINTEXT"
    mapper: PrincipalMapper | None = None  # SSL listeners: certificate subject -> user
    sasl: SaslConfig | None = None  # SASL listeners
    # connection.failed.authentication.delay.ms: how long a SASL failure waits before it is answered
    # and the connection closed, as Kafka's Selector holds it (KIP-306).
    failed_auth_delay_ms: int = 0

    @property
    def uses_sasl(self) -> bool:
        return self.sasl is not None


@dataclass(slots=True)
class ConnectionAuth:
    principal: Principal | None = None  # None: not authenticated yet (SASL) or not yet mapped (SSL)
    mechanism: str | None = None  # chosen by the last SaslHandshake
    server: SaslServer | None = None  # the exchange in progress
    raw_tokens: bool = False  # after a v0 SaslHandshake: tokens are bare frames
    session_expires: float | None = None  # monotonic seconds; None: no re-authentication due
    authenticated_mechanism: str | None = None


def connection_auth(state: dict[str, object]) -> ConnectionAuth:
    auth = state.get(_STATE_KEY)
    if not isinstance(auth, ConnectionAuth):
        auth = ConnectionAuth()
        state[_STATE_KEY] = auth
    return auth


class Authenticator:
    """The SASL and certificate rules of one listener (see the module docstring)."""

    def __init__(self, security: ListenerSecurity) -> None:
        self.security = security
        self._now = time.monotonic  # session lifetimes are measured on the monotonic clock

    def principal(self, auth: ConnectionAuth, peer: str, cert: dict[str, object] | None) -> Principal:
        """The principal of an authenticated connection (computed once for a certificate)."""
        if self.security.uses_sasl:
            return auth.principal if auth.principal is not None else ANONYMOUS
        if auth.principal is not None:
            return auth.principal
        if self.security.mapper is not None and cert is not None:
            dn = subject_dn(cert)
            try:
                auth.principal = Principal.user(self.security.mapper.map(dn))
            except ValueError as exc:
                log.warning("failed authentication from %s: %s", peer, exc)
                raise AuthClose(f"certificate subject {dn!r} maps to no principal") from None
            log.info("authenticated %s as %s (TLS client certificate %s)", peer, auth.principal, dn)
            return auth.principal
        auth.principal = ANONYMOUS
        return ANONYMOUS

    def failure_delay_s(self, auth: ConnectionAuth) -> float:
        """How long to hold a refusal before answering and closing: the SASL failure delay while the
        connection is still authenticating (Kafka delays only failures of the authenticator, not a
        TLS handshake or an expired session), else none."""
        if self.security.sasl is None or auth.authenticated_mechanism is not None:
            return 0.0
        return self.security.failed_auth_delay_ms / 1000

    def gate(self, auth: ConnectionAuth, api_key: int) -> None:
        """Refuse (close) a request the connection may not send yet."""
        if not self.security.uses_sasl or api_key in PRE_AUTH_APIS:
            return
        if auth.authenticated_mechanism is None or auth.server is not None:
            raise AuthClose(f"api key {api_key} before SASL authentication completed")
        if auth.session_expires is not None and self._now() >= auth.session_expires:
            raise AuthClose("SASL session expired without re-authentication (connections.max.reauth.ms)")

    def handshake(self, auth: ConnectionAuth, version: int, mechanism: str, peer: str) -> dict[str, object]:
        sasl = self.security.sasl
        if sasl is None:
            # Kafka's answer on a listener without SASL.
            return {"error_code": ErrorCode.ILLEGAL_SASL_STATE, "mechanisms": []}
        body: dict[str, object] = {"error_code": 0, "mechanisms": list(sasl.mechanisms)}
        if mechanism not in sasl.mechanisms:
            log.warning("failed authentication from %s: unsupported SASL mechanism %r", peer, mechanism)
            body["error_code"] = ErrorCode.UNSUPPORTED_SASL_MECHANISM
            raise AuthClose(f"unsupported SASL mechanism {mechanism!r}", body)
        if auth.server is not None and auth.mechanism is not None:
            body["error_code"] = ErrorCode.ILLEGAL_SASL_STATE
            raise AuthClose("SaslHandshake during an authentication exchange", body)
        if auth.authenticated_mechanism is not None and mechanism != auth.authenticated_mechanism:
            log.warning("failed re-authentication from %s: mechanism %s differs from %s", peer, mechanism,
                        auth.authenticated_mechanism)
            body["error_code"] = ErrorCode.ILLEGAL_SASL_STATE
            raise AuthClose("re-authentication with a different SASL mechanism", body)
        auth.mechanism = mechanism
        auth.server = sasl.server(mechanism)
        auth.raw_tokens = version == 0
        return body

    def authenticate(self, auth: ConnectionAuth, version: int, token: bytes, peer: str) -> dict[str, object]:
        """One SaslAuthenticate request; AuthClose with the error response when it fails."""
        if self.security.sasl is not None and auth.server is None and auth.authenticated_mechanism is None:
            raise AuthClose("SaslAuthenticate before a SaslHandshake")  # Kafka closes: no mechanism yet
        if self.security.sasl is None or auth.server is None:
            # Kafka's answer on a listener without SASL, or when already authenticated.
            return {"error_code": ErrorCode.ILLEGAL_SASL_STATE, "auth_bytes": b"", "session_lifetime_ms": 0,
                    "error_message": "SaslAuthenticate request received after successful authentication"}
        try:
            out = self.step(auth, token, peer)
        except AuthenticationFailed as exc:
            raise AuthClose(f"authentication failed: {exc}", {
                "error_code": ErrorCode.SASL_AUTHENTICATION_FAILED, "error_message": str(exc),
                "auth_bytes": b"", "session_lifetime_ms": 0}) from None
        lifetime = 0
        reauth_ms = self.security.sasl.reauth_ms.get(auth.authenticated_mechanism or "", 0)
        if auth.server is None and version >= 1 and reauth_ms > 0:
            lifetime = reauth_ms
            auth.session_expires = self._now() + lifetime / 1000
        return {"error_code": 0, "error_message": None, "auth_bytes": out, "session_lifetime_ms": lifetime}

    def step(self, auth: ConnectionAuth, token: bytes, peer: str) -> bytes:
        """Feed one client token; when the exchange completes, the connection is authenticated."""
        server = auth.server
        assert server is not None
        try:
            out = server.evaluate(token)
        except AuthenticationFailed as exc:
            auth.server = None
            user = server.attempted_user
            log.warning("failed authentication from %s (mechanism %s, user %r): %s", peer, server.mechanism,
                        user, exc)
            raise
        if server.complete:
            principal = Principal.user(server.username)
            auth.server = None
            auth.raw_tokens = False
            if auth.principal is not None and auth.authenticated_mechanism is not None and principal != auth.principal:
                log.warning("failed re-authentication from %s: principal %s differs from %s", peer, principal,
                            auth.principal)
                raise AuthenticationFailed(f"Cannot change principals during re-authentication from "
                                           f"{auth.principal}: {principal}")
            if auth.authenticated_mechanism is None:
                log.info("authenticated %s as %s (%s)", peer, principal, server.mechanism)
            else:
                log.info("re-authenticated %s as %s (%s) on the same connection", peer, principal, server.mechanism)
            auth.principal = principal
            auth.authenticated_mechanism = server.mechanism
            auth.session_expires = None
        return out


def listener_security(config: BrokerConfig, listener: ListenerSettings,
                      store_of: Callable[[], CredentialStore]) -> tuple[ListenerSecurity, ssl.SSLContext | None]:
    """The security of one listener from the broker's settings (per-listener values win:
    ``listener.name.<name lower-cased>.<setting>``); InvalidConfigError when they do not hold."""
    props = config.props
    prefix = f"listener.name.{listener.name.lower()}."
    what = f"listener {listener.name}"
    context: ssl.SSLContext | None = None
    mapper: PrincipalMapper | None = None
    if listener.tls:
        tls = server_context(props, prefix, what=what)
        context, mapper = tls.context, tls.principal_mapper
    sasl: SaslConfig | None = None
    if listener.sasl:
        mechanisms = tuple(m.strip() for m in setting(props, prefix, "sasl.enabled.mechanisms",
                                                      config.get_str("sasl.enabled.mechanisms")).split(",")
                           if m.strip())
        unknown = [m for m in mechanisms if m not in SUPPORTED_MECHANISMS]
        if unknown or not mechanisms:
            raise InvalidConfigError(f"{what}: sasl.enabled.mechanisms {', '.join(unknown) or '(empty)'}: "
                                     f"logbroker serves {', '.join(SUPPORTED_MECHANISMS)}")
        plain: dict[str, str] | None = None
        plain_file: PlainUsersFile | None = None
        users_file = config.get_str("logbroker.sasl.plain.users.file").strip()
        jaas = setting(props, prefix, "plain.sasl.jaas.config") or setting(props, "", "sasl.jaas.config")
        if "PLAIN" in mechanisms and users_file:
            try:
                plain_file = PlainUsersFile(users_file)
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or str(exc)
                raise InvalidConfigError(f"logbroker.sasl.plain.users.file: cannot read {users_file}: "
                                         f"{reason}") from None
        elif "PLAIN" in mechanisms and "PlainLoginModule" in jaas:
            plain = plain_users(jaas)
        # connections.max.reauth.ms, optionally per listener and per mechanism (Kafka's prefixes).
        reauth: dict[str, int] = {}
        for mechanism in mechanisms:
            value = setting(props, f"{prefix}{mechanism.lower()}.", "connections.max.reauth.ms",
                            setting(props, prefix, "connections.max.reauth.ms",
                                    str(config.get_int("connections.max.reauth.ms"))))
            try:
                reauth[mechanism] = max(0, int(value))
            except ValueError:
                raise InvalidConfigError(f"{what}: connections.max.reauth.ms={value!r} is not a number") from None
        sasl = SaslConfig(mechanisms, store_of, plain, reauth, plain_file)
    delay = config.get_int("connection.failed.authentication.delay.ms") if sasl is not None else 0
    return ListenerSecurity(listener.protocol, mapper, sasl, delay), context
