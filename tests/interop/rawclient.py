"""A minimal blocking Kafka client over a raw socket, built on logbroker's own codec.

For tests that need exact control of the bytes on the wire (duplicate batches, bad versions,
pipelining), which real clients do not expose.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from logbroker.kafka import codec
from logbroker.kafka.api_keys import ApiKey


class RawClient:
    def __init__(self, port: int, client_id: str = "raw-test") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=15)
        self.client_id = client_id
        self.correlation = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sasl_plain(self, username: str, password: str) -> None:
        """Log in with SASL/PLAIN (SaslHandshake v1, then SaslAuthenticate v2), as a SASL_PLAINTEXT client does."""
        handshake = self.call(ApiKey.SASL_HANDSHAKE, 1, {"mechanism": "PLAIN"})
        assert handshake["error_code"] == 0, handshake
        token = b"\0" + username.encode() + b"\0" + password.encode()
        answer = self.call(ApiKey.SASL_AUTHENTICATE, 2, {"auth_bytes": token})
        assert answer["error_code"] == 0, answer

    def send(self, api_key: int, version: int, body: dict[str, Any]) -> int:
        self.correlation += 1
        self.sock.sendall(codec.encode_request(api_key, version, self.correlation, self.client_id, body))
        return self.correlation

    def recv_frame(self) -> bytes:
        size = struct.unpack(">i", self._recv_exact(4))[0]
        return self._recv_exact(size)

    def recv(self, api_key: int, version: int) -> codec.Response:
        return codec.decode_response(self.recv_frame(), api_key, version)

    def call(self, api_key: int, version: int, body: dict[str, Any]) -> dict[str, Any]:
        corr = self.send(api_key, version, body)
        response = self.recv(api_key, version)
        assert response.correlation_id == corr
        return response.body

    def _recv_exact(self, n: int) -> bytes:
        chunks = []
        while n:
            chunk = self.sock.recv(n)
            if not chunk:
                raise ConnectionError("closed by the broker")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def is_closed_by_peer(self, timeout: float = 5.0) -> bool:
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True


def wait_for_leaders(c: RawClient, topic: str, partitions: int, timeout_s: float = 15) -> None:
    """Until Metadata shows a leader for every partition. Kafka answers CreateTopics once the controller
    has the topic, a moment before the broker leads its partitions; real clients retry in between."""
    deadline = time.monotonic() + timeout_s
    while True:
        meta = c.call(ApiKey.METADATA, 12, {"topics": [{"name": topic, "topic_id": None}],
                                            "allow_auto_topic_creation": False,
                                            "include_topic_authorized_operations": False})
        parts = meta["topics"][0]["partitions"]
        if meta["topics"][0]["error_code"] == 0 and len(parts) == partitions and \
                all(p["error_code"] == 0 and p["leader_id"] >= 0 for p in parts):
            # Kafka's metadata can name the leader a moment before the partition serves requests.
            listed = c.call(ApiKey.LIST_OFFSETS, 5, {"replica_id": -1, "isolation_level": 0, "topics": [
                {"name": topic, "partitions": [{"partition_index": i, "current_leader_epoch": -1, "timestamp": -1}
                                               for i in range(partitions)]}]})
            if all(p["error_code"] == 0 for p in listed["topics"][0]["partitions"]):
                return
        assert time.monotonic() < deadline, f"no leaders for {topic}: {meta['topics'][0]}"
        time.sleep(0.05)


@dataclass
class AfterCreate:
    """What Metadata said of a topic in the moments after its CreateTopics answer."""

    answers: int = 0
    first_complete: bool = False  # the first answer listed every partition, each with a leader
    complete: bool = False  # some answer did
    leaderless: list[dict[str, Any]] = field(default_factory=list)  # listed partitions without a leader
    partial: list[list[int]] = field(default_factory=list)  # answers listing some partitions, not all


def leaderless_after_create(admin: RawClient, asker: RawClient, topic: str, partitions: int,
                            seconds: float, replication_factor: int = -1) -> AfterCreate:
    """Create ``topic`` through ``admin`` (timeout 10 s), then ask ``asker`` for its Metadata as fast
    as it answers for ``seconds``, recording every listed partition that has no leader and every
    answer that lists only some of the partitions."""
    created = admin.call(ApiKey.CREATE_TOPICS, 5, {"topics": [{
        "name": topic, "num_partitions": partitions, "replication_factor": replication_factor, "assignments": [],
        "configs": []}], "timeout_ms": 10000, "validate_only": False})
    assert created["topics"][0]["error_code"] == 0, created
    seen = AfterCreate()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        meta = asker.call(ApiKey.METADATA, 12, {"topics": [{"name": topic, "topic_id": None}],
                                                "allow_auto_topic_creation": False,
                                                "include_topic_authorized_operations": False})
        seen.answers += 1
        parts = meta["topics"][0]["partitions"]
        seen.leaderless += [p for p in parts if p["leader_id"] < 0 or p["error_code"] != 0]
        if 0 < len(parts) < partitions:
            seen.partial.append(sorted(p["partition_index"] for p in parts))
        if meta["topics"][0]["error_code"] == 0 and len(parts) == partitions and \
                all(p["leader_id"] >= 0 and p["error_code"] == 0 for p in parts):
            seen.complete = True
            seen.first_complete = seen.first_complete or seen.answers == 1
    return seen

