"""Password checks (PBKDF2) run off the event loop: while one connection's password is being
checked, another connection's requests are answered.

The credential is planted with a very high iteration count, so one check takes seconds; a request
sent on another connection after the check has begun must be answered before the check's own
answer. With the check on the event loop the order is the other way round, however fast the machine.
"""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Iterator

import pytest

from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from logbroker.security.scram_store import FileCredentialStore, from_password
from tests.conftest import BrokerProcess, launch_broker
from tests.interop.rawclient import RawClient

pytestmark = [pytest.mark.interop, pytest.mark.logbroker_only(
    reason="plants a credential with more PBKDF2 iterations than Kafka accepts, in logbroker's own file")]

SLOW_ITERATIONS = 1_500_000  # about 3 s of SHA-512 on a quiet 2-core machine; Kafka's own bound is 16384
SETTLE_S = 0.5  # lets the slow request be read and its check begin before the other request goes


@pytest.fixture(scope="module")
def slow_user(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    base = tmp_path_factory.mktemp("password-checks")
    data = base / "data"
    data.mkdir()
    FileCredentialStore(data).upsert("slow", "SCRAM-SHA-512", from_password("SCRAM-SHA-512", "slow-secret",
                                                                            SLOW_ITERATIONS))
    broker = launch_broker("logbroker", data, base / "broker.log", {
        "logbroker.http.auth.enable": "true",
        "sasl.enabled.mechanisms": "PLAIN",  # PLAIN without a JAAS user list: checked against SCRAM credentials
    }, listeners={"SASL_PLAINTEXT": "SASL_PLAINTEXT"})
    assert isinstance(broker, BrokerProcess)
    yield broker
    broker.stop()


def _http_request(port: int, path: str, headers: dict[str, str]) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *(f"{k}: {v}" for k, v in headers.items())]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return sock


def _http_answer(sock: socket.socket) -> int:
    """The status of the answer on ``sock`` (read whole, until the server closes)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    return int(data.split(b" ", 2)[1])


def _answered_yet(sock: socket.socket) -> bool:
    """Whether any byte of an answer has arrived on ``sock`` (without waiting or consuming it)."""
    sock.settimeout(0)
    try:
        return bool(sock.recv(1, socket.MSG_PEEK))
    except BlockingIOError:
        return False
    finally:
        sock.settimeout(60)


def test_an_http_request_is_answered_while_a_basic_password_is_checked(slow_user: BrokerProcess) -> None:
    port = slow_user.http_port
    slow = _http_request(port, "/auth/whoami", {"Authorization": "Basic " + base64.b64encode(b"slow:slow-secret")
                                                .decode()})
    time.sleep(SETTLE_S)
    assert _http_answer(_http_request(port, "/health", {})) == 200
    assert not _answered_yet(slow), "the password check answered before a request sent after it"
    assert _http_answer(slow) == 200


def test_a_kafka_request_is_answered_while_a_plain_password_is_checked(slow_user: BrokerProcess) -> None:
    port = slow_user.listener_ports["SASL_PLAINTEXT"]
    with RawClient(port) as slow, RawClient(port) as other:
        assert slow.call(ApiKey.SASL_HANDSHAKE, 1, {"mechanism": "PLAIN"})["error_code"] == 0
        slow.send(ApiKey.SASL_AUTHENTICATE, 2, {"auth_bytes": b"\0slow\0slow-secret"})
        time.sleep(SETTLE_S)
        versions = other.call(ApiKey.API_VERSIONS, 3, {"client_software_name": "t", "client_software_version": "1"})
        assert versions["error_code"] == 0
        assert not _answered_yet(slow.sock), "the password check answered before a request sent after it"
        slow.sock.settimeout(60)
        assert slow.recv(ApiKey.SASL_AUTHENTICATE, 2).body["error_code"] == ErrorCode.NONE
