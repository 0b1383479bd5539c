"""Exceptions raised by the Kafka wire codec.

Contract (as in h11): whatever bytes a peer sends, the decoding side of the codec
(`FrameDecoder.feed`, `decode_request`, `decode_response`) raises only `ProtocolError` or one
of its subclasses. Any other exception escaping from decoding peer input is a codec bug.

`EncodeError` is different: it is raised when *our* side hands the encoder a body that does not
fit the schema (a string where an int belongs, `None` for a non-nullable field). It indicates a
bug in the caller, never bad peer input.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """The peer sent bytes that are not a valid Kafka frame, header or message body."""


class FrameTooLarge(ProtocolError):
    """A frame's declared size is negative or above the configured maximum.

    Raised before any of the frame body is buffered. `size` is the declared size in bytes.
    """

    def __init__(self, size: int, max_frame_bytes: int) -> None:
        super().__init__(f"frame size {size} outside 0..{max_frame_bytes} bytes")
        self.size = size
        self.max_frame_bytes = max_frame_bytes


class MalformedRequest(ProtocolError):
    """The request header parsed, but the body (or the header's tail) did not.

    Carries the header fields so the server can log who sent it; Kafka closes the
    connection in this case rather than answering.
    """

    def __init__(self, message: str, api_key: int, api_version: int, correlation_id: int) -> None:
        super().__init__(f"api_key={api_key} v{api_version} correlation_id={correlation_id}: {message}")
        self.api_key = api_key
        self.api_version = api_version
        self.correlation_id = correlation_id


class UnsupportedVersion(ProtocolError):
    """The request header parsed but its (api_key, api_version) has no codec.

    The server should answer an ApiVersions request (api_key 18) of any version with an
    ApiVersions v0 body carrying error_code 35 (UNSUPPORTED_VERSION) and the supported ranges,
    encoded with `encode_response(18, 0, correlation_id, body)`; librdkafka probes with v3/v4
    first and relies on this. For other APIs Kafka closes the connection.
    """

    def __init__(self, api_key: int, api_version: int, correlation_id: int, client_id: str | None = None) -> None:
        super().__init__(f"unsupported api_key={api_key} version={api_version} correlation_id={correlation_id}")
        self.api_key = api_key
        self.api_version = api_version
        self.correlation_id = correlation_id
        self.client_id = client_id


class EncodeError(ValueError):
    """A body handed to the encoder does not match the message schema (a caller bug)."""
