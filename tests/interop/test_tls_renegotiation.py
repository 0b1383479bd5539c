"""A client-initiated TLS 1.2 renegotiation ends the connection, on logbroker as on Apache Kafka
(Kafka's SSL transport refuses renegotiation; logbroker's OpenSSL context does too). Driven with
``openssl s_client``, whose ``R`` command asks the server to renegotiate."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import launch_broker, require_tool
from tests.tls_material import make_material, write_pkcs12_key_store

pytestmark = pytest.mark.interop

STORE_PASSWORD = "reneg-store-secret"


def test_a_client_initiated_renegotiation_closes_the_connection(tmp_path: Path, broker_kind: str) -> None:
    openssl = require_tool("openssl")
    material = make_material(tmp_path / "certs")
    key_store = write_pkcs12_key_store(material.server, material.ca, tmp_path / "server.p12", STORE_PASSWORD)
    props = {"ssl.keystore.type": "PKCS12", "ssl.keystore.location": str(key_store),
             "ssl.keystore.password": STORE_PASSWORD, "ssl.key.password": STORE_PASSWORD}
    broker = launch_broker(broker_kind, tmp_path / "data", tmp_path / "broker.log", props, listeners={"SSL": "SSL"})
    try:
        port = broker.listener_ports["SSL"]
        proc = subprocess.Popen([openssl, "s_client", "-tls1_2", "-connect", f"127.0.0.1:{port}",
                                 "-CAfile", str(material.ca.cert_path), "-verify_return_error"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert proc.stdin is not None
        try:
            time.sleep(2.0)  # the handshake; the connection is up when s_client reads its input
            assert proc.poll() is None, "the first handshake failed"
            proc.stdin.write(b"R\n")
            proc.stdin.flush()
            deadline = time.monotonic() + 20
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            ended = proc.poll() is not None
        finally:
            if proc.poll() is None:
                proc.kill()
            out, _ = proc.communicate(timeout=10)
        text = out.decode(errors="replace")
        assert "Verify return code: 0 (ok)" in text
        assert "RENEGOTIATING" in text
        assert ended, "the connection survived a renegotiation request:\n" + text[-2000:]
    finally:
        broker.stop()
