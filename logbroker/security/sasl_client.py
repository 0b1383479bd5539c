"""SASL on the client side, sans-IO, for a broker that connects to another broker: server tokens in,
client tokens out.

    mechanism       client tokens
    PLAIN           one: ``NUL username NUL password`` (RFC 4616, empty authorization id)
    SCRAM-SHA-256   client-first, then client-final after the server-first; the server-final is
    SCRAM-SHA-512   checked (RFC 5802, through the ``scramp`` library), so a broker that does not
                    know the password cannot pass for the leader

The broker's own credentials (``inter_broker_credentials``) come from Kafka's setting,
``listener.name.<listener>.<mechanism>.sasl.jaas.config`` with ``username="..." password="..."``
(the login module's options, as in Kafka's ``ScramLoginModule`` and ``PlainLoginModule`` blocks),
else from ``logbroker.inter.broker.sasl.username`` / ``logbroker.inter.broker.sasl.password``.
Sources: Kafka documentation, "Authentication using SASL" (the broker-side JAAS configuration and
``sasl.mechanism.inter.broker.protocol``, https://kafka.apache.org/documentation/#security_sasl).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from logbroker.errors import InvalidConfigError
from logbroker.security.sasl import SUPPORTED_MECHANISMS
from logbroker.security.tls import setting

if TYPE_CHECKING:
    from scramp import ScramClient

# A JAAS login-module option: name="value" (a value may hold escaped quotes).
_OPTION = r'(?<![\w.]){name}\s*=\s*"((?:[^"\\]|\\.)*)"'


class SaslClientFailed(Exception):
    """The server's SASL answer does not hold (a bad server signature, a malformed message)."""


@dataclass(frozen=True, slots=True)
class SaslCredentials:
    mechanism: str
    username: str
    password: str

    def __repr__(self) -> str:  # never the password, wherever a repr lands
        return f"SaslCredentials({self.mechanism}, {self.username!r})"


class SaslClient:
    """One client exchange: ``first()`` gives the first token; ``next(server_token)`` the following
    one (``None`` once the exchange is over on the client's side)."""

    def __init__(self, credentials: SaslCredentials) -> None:
        self.credentials = credentials
        self._scram: ScramClient | None = None
        self._step = 0

    def first(self) -> bytes:
        c = self.credentials
        if c.mechanism == "PLAIN":
            self._step = 2
            return b"\x00" + c.username.encode() + b"\x00" + c.password.encode()
        from scramp import ScramClient  # loaded by a SCRAM exchange only

        self._scram = ScramClient([c.mechanism], c.username, c.password)
        self._step = 1
        first: str = self._scram.get_client_first()
        return first.encode()

    def next(self, server_token: bytes) -> bytes | None:
        from scramp import ScramException

        try:
            text = server_token.decode("utf-8")
            if self._step == 1 and self._scram is not None:
                self._step = 2
                self._scram.set_server_first(text)
                final: str = self._scram.get_client_final()
                return final.encode()
            if self._step == 2 and self._scram is not None:
                self._step = 3
                self._scram.set_server_final(text)
        except (UnicodeDecodeError, ScramException) as exc:
            raise SaslClientFailed(f"{self.credentials.mechanism}: the server's answer does not hold: {exc}") from None
        return None


def _option(jaas: str, name: str) -> str | None:
    m = re.search(_OPTION.format(name=name), jaas)
    return m.group(1).replace('\\"', '"') if m else None


def inter_broker_credentials(props: Mapping[str, str], listener: str) -> SaslCredentials:
    """The mechanism and credentials this broker authenticates with on the inter-broker listener
    ``listener``; InvalidConfigError naming the missing setting when they cannot be had."""
    prefix = f"listener.name.{listener.lower()}."
    mechanism = props.get("sasl.mechanism.inter.broker.protocol", "GSSAPI").strip()
    if mechanism not in SUPPORTED_MECHANISMS:
        raise InvalidConfigError(f"sasl.mechanism.inter.broker.protocol={mechanism}: logbroker brokers "
                                 f"authenticate to each other with {', '.join(SUPPORTED_MECHANISMS)}")
    enabled = [m.strip() for m in setting(props, prefix, "sasl.enabled.mechanisms",
                                          "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512").split(",")]
    if mechanism not in enabled:
        raise InvalidConfigError(f"sasl.mechanism.inter.broker.protocol={mechanism} is not in the "
                                 f"sasl.enabled.mechanisms of the inter-broker listener {listener}")
    jaas = props.get(f"{prefix}{mechanism.lower()}.sasl.jaas.config", "")
    username, password = _option(jaas, "username"), _option(jaas, "password")
    if username is None or password is None:
        username = props.get("logbroker.inter.broker.sasl.username", "").strip() or None
        password = props.get("logbroker.inter.broker.sasl.password") or None
    if not username or password is None:
        raise InvalidConfigError(
            f"inter.broker.listener.name={listener} uses SASL: this broker's own credentials are missing; set "
            f"{prefix}{mechanism.lower()}.sasl.jaas.config with username=\"...\" password=\"...\", or "
            "logbroker.inter.broker.sasl.username and logbroker.inter.broker.sasl.password")
    return SaslCredentials(mechanism, username, password)
