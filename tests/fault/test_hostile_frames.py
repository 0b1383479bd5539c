"""Hostile and malformed frames get an error or a closed connection, never a broker that stops
serving everyone else.

Inputs, each on its own connection to a real broker: frames captured from real clients
(``tests/kafka/golden``) with bytes flipped, cut short or extended; random API keys and versions
with random bodies; size prefixes that are negative, zero or beyond ``socket.request.max.bytes``.
Every 50 inputs a well-formed ApiVersions request must be answered; at the end a real client
produces and reads back, and the broker's log must hold no traceback (an exception the codec did
not turn into its own ``ProtocolError`` is a bug). Inputs: 600, times ``LOGBROKER_FAULT_SCALE``.
"""

from __future__ import annotations

import json
import random
import socket
import struct
import time
from pathlib import Path

from tests.conftest import BrokerProcess
from tests.fault.figures import record, scale
from tests.interop.expected import check_round_trip, make_records
from tests.interop.test_confluent import consume_all, produce

GOLDEN = Path(__file__).resolve().parents[1] / "kafka" / "golden"
INPUTS = 600
API_VERSIONS_V0 = struct.pack(">hhi", 18, 0, 424242) + struct.pack(">h", 5) + b"probe"


def _golden_frames() -> list[bytes]:
    index = json.loads((GOLDEN / "index.json").read_text())
    return [(GOLDEN / entry["file"]).read_bytes() for entry in index]


def _framed(body: bytes) -> bytes:
    return struct.pack(">i", len(body)) + body


def _hostile(rng: random.Random, golden: list[bytes]) -> bytes:
    kind = rng.randrange(6)
    if kind <= 2:
        body = bytearray(rng.choice(golden)[4:])
        if kind == 0:  # flipped bytes
            for _ in range(rng.randrange(1, 8)):
                body[rng.randrange(len(body))] = rng.randrange(256)
        elif kind == 1:  # cut short, the size saying so
            del body[rng.randrange(len(body)):]
        else:  # trailing garbage
            body += rng.randbytes(rng.randrange(1, 200))
        return _framed(bytes(body))
    if kind == 3:  # any API, any version, a random body
        header = struct.pack(">hhi", rng.randrange(-5, 80), rng.randrange(-2, 20), rng.randrange(2**31))
        return _framed(header + struct.pack(">h", rng.choice([-1, 0, 3, 30000])) + rng.randbytes(rng.randrange(64)))
    if kind == 4:  # sizes that cannot be honoured
        return struct.pack(">i", rng.choice([-1, -(2**31), 0, 2**31 - 1, 100 * 1024 * 1024 + 1])) + rng.randbytes(8)
    return rng.randbytes(rng.randrange(1, 300))  # no framing at all


def _send(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data``, half-close, read until the broker closes; returns what it answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            return b""
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except OSError:
            pass
        return b"".join(chunks)


def test_hostile_frames_never_stop_the_broker(broker_factory) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(4242)
    broker: BrokerProcess = broker_factory(request_receive_timeout_ms="2000")
    golden = _golden_frames()
    inputs = INPUTS * scale()
    answered = probe_worst = 0.0
    for i in range(inputs):
        if _send(broker.port, _hostile(rng, golden)):
            answered += 1
        if i % 50 == 49:
            t0 = time.monotonic()
            reply = _send(broker.port, _framed(API_VERSIONS_V0))
            probe_worst = max(probe_worst, time.monotonic() - t0)
            assert reply[4:8] == struct.pack(">i", 424242), f"ApiVersions unanswered after {i + 1} inputs"
    assert broker.proc is not None and broker.proc.poll() is None
    records = make_records(500, "after-hostile")
    produce(broker.bootstrap, "after-hostile", records, "zstd")
    check_round_trip(records, consume_all(broker.bootstrap, "after-hostile", 1, len(records), timeout_s=30))
    tracebacks = broker.log_text().count("Traceback")
    record("hostile_frames", inputs_tried=inputs, answered=int(answered), closed_without_answer=inputs - int(answered),
           probe_worst_ms=round(probe_worst * 1000, 1), tracebacks=tracebacks)
    assert tracebacks == 0, "an input raised something other than ProtocolError; see the broker log"
