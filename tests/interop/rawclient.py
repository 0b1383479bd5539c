"""A minimal blocking Kafka client over a raw socket, built on logbroker's own codec.

For tests that need exact control of the bytes on the wire (duplicate batches, bad versions,
pipelining), which real clients do not expose.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

from logbroker.kafka import codec


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
