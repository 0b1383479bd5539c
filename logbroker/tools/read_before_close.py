"""Make kafka-python hand over the bytes that arrived just before the broker closed a connection.

kafka-python 3.0's transports read a readable socket in a loop and, when the loop ends at end of file,
abort the connection with the bytes read so far still unprocessed. Apache Kafka answers a failed SASL
login by sending the SaslAuthenticate error and closing the connection together
(``connection.failed.authentication.delay.ms`` holds both back), so the client usually reads the answer
and the end of file in one go and reports "socket disconnected" instead of the refusal. The tools then
cannot say that the password was wrong.

``install()`` wraps each transport's ``_sock_recv`` so that a read which found data and then end of
file returns the data now and the end of file on the next read, which the transport's loop performs
at once (a closed socket stays readable). Only the tools' own process installs it; the connection is
still closed when the broker closed it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_PENDING = "_logbroker_pending_error"
_INSTALLED = "_logbroker_read_before_close"

_Recv = Callable[[Any], "tuple[bytes, BaseException | None]"]


def _holding_end_of_file(original: _Recv) -> _Recv:
    def recv(transport: Any) -> tuple[bytes, BaseException | None]:
        pending = getattr(transport, _PENDING, None)
        if pending is not None:
            setattr(transport, _PENDING, None)
            return b"", pending
        data, error = original(transport)
        if error is not None and data:
            setattr(transport, _PENDING, error)
            return data, None
        return data, error

    setattr(recv, _INSTALLED, True)
    return recv


def install() -> None:
    """Wrap the transports of the installed kafka-python once; a version without them is left as it is."""
    try:
        from kafka.net import transport
    except ImportError:  # a kafka-python before 3.0 reads differently
        return
    for name in ("KafkaTCPTransport", "KafkaSSLTransport"):
        cls = getattr(transport, name, None)
        recv = cls.__dict__.get("_sock_recv") if cls is not None else None
        if cls is None or recv is None or getattr(recv, _INSTALLED, False):
            continue
        cls._sock_recv = _holding_end_of_file(recv)
