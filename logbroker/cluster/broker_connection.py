"""A connection from this broker to another one on the inter-broker listener, secured as that
listener is: TLS (the peer verified against the trust store, this broker's key store presented)
and/or SASL with the broker's own credentials.

SASL follows the client side of KIP-152: SaslHandshake v1 names the mechanism, then each token
travels in a SaslAuthenticate v2 request until the exchange completes. A refused handshake or a
SaslAuthenticate error raises ``InterBrokerAuthenticationFailed`` with the peer's message. When
the peer answers a session lifetime (KIP-368, ``connections.max.reauth.ms``), the connection
records when its session is due for renewal (80 % of the lifetime); the caller then re-authenticates
in place, as Kafka's clients do: a new SaslHandshake and SaslAuthenticate exchange on the same open
connection, between two requests, with the same mechanism and credentials (``reauthenticate``).
"""

from __future__ import annotations

import asyncio
import ssl
import struct
import time
from dataclasses import dataclass
from typing import Any

from logbroker.kafka import codec
from logbroker.kafka.api_keys import ApiKey
from logbroker.security.sasl_client import SaslClient, SaslClientFailed, SaslCredentials

HANDSHAKE_VERSION = 1
AUTHENTICATE_VERSION = 2
CONNECT_TIMEOUT_S = 5.0
# A session is renewed once this fraction of its lifetime has passed, well before the peer would end it.
REAUTH_MARGIN = 0.8
_SIZE = struct.Struct(">i")


class InterBrokerAuthenticationFailed(Exception):
    """The peer broker refused this broker's SASL credentials (or its mechanism)."""


@dataclass(frozen=True, slots=True)
class InterBrokerSecurity:
    """How this broker connects to the others: TLS context and/or SASL credentials (None: not used)."""

    tls: ssl.SSLContext | None = None
    sasl: SaslCredentials | None = None


@dataclass(slots=True)
class BrokerConnection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    reauth_at: float | None = None  # monotonic seconds; None: the session does not expire
    correlation: int = 0
    # What authenticated the connection, to renew its session with: credentials, client id, peer.
    sasl: tuple[SaslCredentials, str, str] | None = None

    @property
    def reauth_due(self) -> bool:
        return self.reauth_at is not None and time.monotonic() >= self.reauth_at

    async def reauthenticate(self) -> None:
        """Renew the SASL session on this connection (KIP-368); InterBrokerAuthenticationFailed
        when the peer refuses, after which the connection must be closed."""
        assert self.sasl is not None
        await _authenticate(self, *self.sasl)

    async def request(self, api_key: int, version: int, client_id: str, body: dict[str, Any],
                      timeout_s: float) -> dict[str, Any]:
        self.correlation += 1
        self.writer.write(codec.encode_request(api_key, version, self.correlation, client_id, body))
        await self.writer.drain()
        size = _SIZE.unpack(await asyncio.wait_for(self.reader.readexactly(4), timeout_s))[0]
        frame = await asyncio.wait_for(self.reader.readexactly(size), timeout_s)
        return dict(codec.decode_response(frame, api_key, version).body)

    def close(self) -> None:
        self.writer.close()


async def connect(address: tuple[str, int], security: InterBrokerSecurity | None,
                  client_id: str) -> BrokerConnection:
    """Open and, for a SASL listener, authenticate a connection to the broker at ``address``."""
    host, port = address
    if security is not None and security.tls is not None:
        opened = asyncio.open_connection(host, port, ssl=security.tls, server_hostname=host)
    else:
        opened = asyncio.open_connection(host, port)
    reader, writer = await asyncio.wait_for(opened, CONNECT_TIMEOUT_S)
    conn = BrokerConnection(reader, writer)
    if security is not None and security.sasl is not None:
        try:
            await _authenticate(conn, security.sasl, client_id, f"{host}:{port}")
        except BaseException:
            conn.close()
            raise
    return conn


async def _authenticate(conn: BrokerConnection, credentials: SaslCredentials, client_id: str, peer: str) -> None:
    mechanism = credentials.mechanism
    what = f"SASL authentication to {peer} ({mechanism} as {credentials.username!r})"
    answer = await conn.request(ApiKey.SASL_HANDSHAKE, HANDSHAKE_VERSION, client_id, {"mechanism": mechanism},
                                CONNECT_TIMEOUT_S)
    if answer["error_code"]:
        raise InterBrokerAuthenticationFailed(
            f"{what} failed: handshake error {answer['error_code']}; the peer serves "
            f"{', '.join(answer.get('mechanisms') or []) or 'no mechanism'}")
    client = SaslClient(credentials)
    token: bytes | None = client.first()
    lifetime_ms = 0
    while token is not None:
        answer = await conn.request(ApiKey.SASL_AUTHENTICATE, AUTHENTICATE_VERSION, client_id,
                                    {"auth_bytes": token}, CONNECT_TIMEOUT_S)
        if answer["error_code"]:
            raise InterBrokerAuthenticationFailed(
                f"{what} failed: error {answer['error_code']}: {answer.get('error_message') or ''}".rstrip(": "))
        lifetime_ms = int(answer.get("session_lifetime_ms") or 0)
        try:
            token = client.next(bytes(answer["auth_bytes"]))
        except SaslClientFailed as exc:
            raise InterBrokerAuthenticationFailed(f"{what} failed: {exc}") from None
    conn.sasl = (credentials, client_id, peer)
    conn.reauth_at = time.monotonic() + lifetime_ms / 1000 * REAUTH_MARGIN if lifetime_ms > 0 else None
