"""The tools' kafka-python transports hand over bytes read just before end of file, then the end of file."""

from __future__ import annotations

import socket

from kafka.net.transport import KafkaSSLTransport, KafkaTCPTransport

from logbroker.tools import read_before_close


class _Stub(KafkaTCPTransport):  # type: ignore[misc]
    """Only what ``_sock_recv`` touches: the socket."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def __str__(self) -> str:
        return "<stub transport>"


def test_an_answer_followed_by_a_close_is_read_before_the_close() -> None:
    read_before_close.install()
    read_before_close.install()  # a second install wraps nothing twice
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    theirs.sendall(b"the refusal")
    theirs.close()
    stub = _Stub(ours)
    try:
        data, error = stub._sock_recv()
        assert (data, error) == (b"the refusal", None)
        data, error = stub._sock_recv()
        assert data == b"" and error is not None and "disconnected" in str(error)
    finally:
        ours.close()
    assert KafkaSSLTransport.__dict__["_sock_recv"] is not KafkaTCPTransport.__dict__["_sock_recv"]


def test_nothing_but_a_close_is_reported_at_once() -> None:
    read_before_close.install()
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    theirs.close()
    try:
        data, error = _Stub(ours)._sock_recv()
        assert data == b"" and error is not None
    finally:
        ours.close()
