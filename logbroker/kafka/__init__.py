"""Kafka wire protocol: sans-IO codec (`codec`, `framing`) generated from `messages/*.txt`.

The server, handlers and clients import from here:

    from logbroker.kafka import FrameDecoder, decode_request, encode_response, ApiKey, ErrorCode
"""

from __future__ import annotations

from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.codec import (
    KAFKA_VALID_VERSIONS,
    SUPPORTED,
    Chunk,
    RecordsPart,
    Request,
    Response,
    compile_all,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
    frame_size,
)
from logbroker.kafka.error_codes import RETRIABLE, ErrorCode
from logbroker.kafka.errors import (
    EncodeError,
    FrameTooLarge,
    MalformedRequest,
    ProtocolError,
    UnsupportedVersion,
)
from logbroker.kafka.framing import DEFAULT_MAX_FRAME_BYTES, FrameDecoder

__all__ = [
    "DEFAULT_MAX_FRAME_BYTES",
    "KAFKA_VALID_VERSIONS",
    "RETRIABLE",
    "SUPPORTED",
    "ApiKey",
    "Chunk",
    "EncodeError",
    "ErrorCode",
    "FrameDecoder",
    "FrameTooLarge",
    "MalformedRequest",
    "ProtocolError",
    "RecordsPart",
    "Request",
    "Response",
    "UnsupportedVersion",
    "compile_all",
    "decode_request",
    "decode_response",
    "encode_request",
    "encode_response",
    "frame_size",
]
