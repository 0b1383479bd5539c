"""SASL mechanisms on the server side, sans-IO: client tokens in, server tokens out.

    mechanism       exchange                                                  checked against
    PLAIN           one token ``authzid NUL authcid NUL password`` (RFC 4616); the configured users file,
                    Kafka refuses an authzid other than empty or the authcid  else the SCRAM store
    SCRAM-SHA-256   client-first, server-first, client-final, server-final    the SCRAM store
    SCRAM-SHA-512   (RFC 5802, through the ``scramp`` library)

Every failure raises ``AuthenticationFailed`` with a message safe to send to the client: it names
the mechanism, never the password, and is the same for an unknown user and a wrong password.
Sources: RFC 4616 (PLAIN), RFC 5802 and RFC 7677 (SCRAM), KIP-84 (SCRAM in Kafka), Kafka's
"Authentication using SASL" documentation (https://kafka.apache.org/documentation/#security_sasl).
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from logbroker.security.scram_store import MECHANISMS, CredentialStore, check_password

log = logging.getLogger(__name__)

SUPPORTED_MECHANISMS = ("PLAIN", *MECHANISMS)


class AuthenticationFailed(Exception):
    """Authentication failed; the message may be sent to the client (no secrets in it)."""


PLAIN_INVALID = "Authentication failed: Invalid username or password"


def invalid_credentials(mechanism: str) -> AuthenticationFailed:
    # Kafka's wording for this case, so clients show the same text.
    return AuthenticationFailed(
        f"Authentication failed during authentication due to invalid credentials with SASL mechanism {mechanism}"
    )


class SaslServer(Protocol):
    mechanism: str
    attempted_user: str | None  # the user name the client gave, for the log of a failure

    @property
    def complete(self) -> bool: ...

    @property
    def username(self) -> str: ...

    def evaluate(self, token: bytes) -> bytes: ...


PasswordCheck = Callable[[str, str], bool]


class PlainServer:
    mechanism = "PLAIN"

    def __init__(self, check: PasswordCheck) -> None:
        self._check = check
        self._user: str | None = None
        self.attempted_user: str | None = None

    @property
    def complete(self) -> bool:
        return self._user is not None

    @property
    def username(self) -> str:
        assert self._user is not None
        return self._user

    def evaluate(self, token: bytes) -> bytes:
        parts = token.split(b"\x00")
        if len(parts) != 3:
            raise AuthenticationFailed("Invalid SASL/PLAIN response: expected 3 tokens, got " + str(len(parts)))
        try:
            authzid, user, password = (p.decode("utf-8") for p in parts)
        except UnicodeDecodeError:
            raise AuthenticationFailed("Invalid SASL/PLAIN response: not UTF-8") from None
        if not user:
            raise AuthenticationFailed("Authentication failed: username not specified")
        if not password:
            raise AuthenticationFailed("Authentication failed: password not specified")
        if authzid and authzid != user:
            raise AuthenticationFailed("Authentication failed: Client requested an authorization id that is "
                                       "different from username")
        self.attempted_user = user
        if not self._check(user, password):
            # Kafka's PLAIN words it its own way (SCRAM's is invalid_credentials), for a wrong password
            # and an unknown user alike.
            raise AuthenticationFailed(PLAIN_INVALID)
        self._user = user
        return b""


class ScramServer:
    """One SCRAM exchange (two client tokens)."""

    def __init__(self, mechanism: str, store: CredentialStore) -> None:
        # scramp is imported by the first SCRAM exchange: a broker without SCRAM listeners never loads it.
        from scramp import ScramMechanism

        self.mechanism = mechanism
        self._store = store
        self._server = ScramMechanism(mechanism).make_server(self._auth_info)
        self._step = 0
        self._user: str | None = None
        self._done = False
        self.attempted_user: str | None = None

    def _auth_info(self, username: str) -> tuple[bytes, bytes, bytes, int]:
        self.attempted_user = username
        credential = self._store.get(username, self.mechanism)
        if credential is None:
            raise invalid_credentials(self.mechanism)
        self._user = username
        return credential.salt, credential.stored_key, credential.server_key, credential.iterations

    @property
    def complete(self) -> bool:
        return self._done

    @property
    def username(self) -> str:
        assert self._user is not None
        return self._user

    def evaluate(self, token: bytes) -> bytes:
        from scramp import ScramException

        try:
            text = token.decode("utf-8")
        except UnicodeDecodeError:
            raise AuthenticationFailed(f"Invalid {self.mechanism} message: not UTF-8") from None
        try:
            if self._step == 0:
                self._step = 1
                self._server.set_client_first(text)
                first: str = self._server.get_server_first()
                return first.encode()
            if self._step == 1:
                self._step = 2
                self._server.set_client_final(text)
                final: str = self._server.get_server_final()
                out = final.encode()
                self._done = True
                return out
        except ScramException as exc:
            log.debug("%s exchange for %r failed: %s", self.mechanism, self.attempted_user, exc)
            raise invalid_credentials(self.mechanism) from None
        raise AuthenticationFailed(f"Unexpected {self.mechanism} message after the exchange completed")


_JAAS_USER = re.compile(r'user_([^\s=]+)\s*=\s*"((?:[^"\\]|\\.)*)"')


def plain_users(text: str) -> dict[str, str]:
    """``user_NAME="password"`` entries of a JAAS PlainLoginModule block (Kafka's PLAIN user list)."""
    return {m.group(1): m.group(2).replace('\\"', '"') for m in _JAAS_USER.finditer(text)}


class PlainUsers(Protocol):
    """PLAIN's users from a source that may change (``plain_users_file.py``)."""

    def password_of(self, user: str) -> str | None: ...


@dataclass(slots=True)
class SaslConfig:
    """What one SASL listener accepts."""

    mechanisms: tuple[str, ...]
    # Where the credentials are, asked at each authentication: a cluster swaps in ZooKeeper's
    # store after the listeners are open.
    store_of: Callable[[], CredentialStore]
    plain_users: dict[str, str] | None = None  # from a JAAS config; None: the file below, else the SCRAM store
    reauth_ms: dict[str, int] = field(default_factory=dict)  # connections.max.reauth.ms by mechanism; 0: none
    plain_users_file: PlainUsers | None = None  # logbroker.sasl.plain.users.file, re-read when it changes

    def check_plain(self, user: str, password: str) -> bool:
        if self.plain_users_file is not None:
            expected = self.plain_users_file.password_of(user)
            return expected is not None and hmac.compare_digest(expected.encode(), password.encode())
        if self.plain_users is not None:
            expected = self.plain_users.get(user)
            return expected is not None and hmac.compare_digest(expected.encode(), password.encode())
        return check_password(self.store_of(), user, password)

    def server(self, mechanism: str) -> SaslServer:
        if mechanism == "PLAIN":
            return PlainServer(self.check_plain)
        return ScramServer(mechanism, self.store_of())

