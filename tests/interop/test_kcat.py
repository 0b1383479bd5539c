"""The Debian `kcat` command (librdkafka) against a real `logbroker serve`."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import BrokerFactory, BrokerHandle, require_tool
from tests.interop.expected import BASE_TS, CODECS, Got, Sent, check_round_trip

N = 10_000


def kcat(*args: str, stdin: bytes | None = None, timeout: float = 60) -> bytes:
    exe = require_tool("kcat")
    proc = subprocess.run([exe, *args], input=stdin, capture_output=True, timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


@pytest.fixture(scope="module")
def shared_broker(module_broker_factory: BrokerFactory) -> BrokerHandle:
    return module_broker_factory(num_partitions="4")


def consume_json(bootstrap: str, topic: str) -> list[Got]:
    out = kcat("-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-J", "-q")
    got = []
    for line in out.decode().splitlines():
        m = json.loads(line)
        headers = m.get("headers") or []
        pairs = tuple((headers[i], headers[i + 1].encode() if headers[i + 1] is not None else None)
                      for i in range(0, len(headers), 2))
        got.append(Got(m["partition"], m["offset"], m["key"].encode() if m["key"] is not None else None,
                       m["payload"].encode() if m["payload"] is not None else None, pairs, m["ts"]))
    return got


@pytest.mark.parametrize("codec", CODECS)
def test_round_trip_10k_records(shared_broker: BrokerHandle, codec: str) -> None:
    topic = f"kc-{codec}"
    sent = [Sent(key=f"key-{i % 101}".encode(), value=f"kc-{codec}:{i:06d}:v".encode(),
                 headers=(("tag", codec.encode()),), timestamp=0) for i in range(N)]
    lines = b"\n".join(s.key + b":" + s.value for s in sent) + b"\n"
    kcat("-P", "-b", shared_broker.bootstrap, "-t", topic, "-K:", "-H", f"tag={codec}", "-z", codec,
         "-X", "enable.idempotence=true", stdin=lines)
    got = consume_json(shared_broker.bootstrap, topic)
    assert {g.partition for g in got} == {0, 1, 2, 3}
    check_round_trip(sent, got, check_timestamps=False)
    assert all(g.timestamp > BASE_TS for g in got)  # producer CreateTime of now


def test_metadata_and_offsets_for_times(shared_broker: BrokerHandle) -> None:
    topic = "kc-times"
    kcat("-P", "-b", shared_broker.bootstrap, "-t", topic, "-p", "0", stdin=b"a\nb\nc\n")
    meta = json.loads(kcat("-L", "-J", "-b", shared_broker.bootstrap, "-t", topic))
    assert meta["topics"][0]["topic"] == topic
    assert len(meta["topics"][0]["partitions"]) == 4
    got = consume_json(shared_broker.bootstrap, topic)
    ts = sorted(g.timestamp for g in got)[0]
    out = kcat("-Q", "-b", shared_broker.bootstrap, "-t", f"{topic}:0:{ts}").decode()
    assert "offset 0" in out, out
    out = kcat("-Q", "-b", shared_broker.bootstrap, "-t", f"{topic}:0:{ts + 10**9}").decode()
    assert "offset -1" in out, out
