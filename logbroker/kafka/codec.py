"""Sans-IO Kafka wire codec: frames in, request/response dicts out, and back.

No sockets, no asyncio: every function here is pure and synchronous. The message layouts come
from the definitions in `logbroker/kafka/messages/*.txt` (format in `schema.py`, sources of the
facts in docs/CODEC.md), compiled per (api_key, version) into specialised functions on first use
(see `compiler.py` for the field wire types). Bodies are plain dicts with snake_case keys
(`topic_id`, `partition_index`); nested structs are dicts and arrays are lists.

Public API
----------
    decode_request(frame) -> Request
        `frame` is one frame *without* its 4-byte size prefix (what `FrameDecoder.feed` returns).
        Produce `records` come back as memoryview slices of `frame` (no copy, not parsed). Bytes
        after the parsed body are ignored, as Kafka does.
        Raises UnsupportedVersion (header parsed, api key/version unknown -- for ApiVersions
        answer error 35 in the v0 body), MalformedRequest or ProtocolError; nothing else.
    encode_response(api_key, api_version, correlation_id, body) -> list[Chunk]
        The whole frame, size prefix included, as chunks to write in order. Responses without
        records are a single `bytes` chunk. A `records` value may be None, bytes-like, a
        `RecordsPart` (anything with `nbytes`, e.g. a file range for sendfile) or a list/tuple of
        those; large or non-bytes parts become chunks of their own, never copied.
    encode_request(api_key, api_version, correlation_id, client_id, body) -> bytes
    decode_response(frame, api_key, api_version) -> Response
    frame_size(chunks) -> int                 total bytes of an encoded response
    SUPPORTED: dict[int, tuple[int, int]]     (min, max) versions the codec can handle
    KAFKA_VALID_VERSIONS: dict[int, tuple[int, int]]  Kafka 4's own `validVersions`
    ApiKey, ErrorCode, RecordsPart, FrameDecoder, ProtocolError and subclasses (re-exported)

Headers (`messages/headers.txt`):

    request header v1 (non-flexible request versions), v2 (flexible):
        request_api_key int16 | request_api_version int16 | correlation_id int32 |
        client_id nullable string, ALWAYS int16-length (even in v2) | v2 only: tagged fields
    response header v0 (non-flexible): correlation_id int32
    response header v1 (flexible):     correlation_id int32 | tagged fields
    ApiVersions responses always use response header v0, so a client that sent a version the
    server does not understand can still read the error (KIP-511).

Versions: the definitions are Kafka 4's, whose `validVersions` dropped some old versions (e.g.
Produce 0-2) while keeping their fields, so the codec decodes and encodes every version from 0 to
Kafka's maximum (`SUPPORTED`). Whether to accept an old version is the server's decision
(`KAFKA_VALID_VERSIONS` holds Kafka's own ranges).
"""

from __future__ import annotations

import logging
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.compiler import CompiledMessage, compile_message
from logbroker.kafka.error_codes import RETRIABLE, ErrorCode
from logbroker.kafka.errors import (
    EncodeError,
    FrameTooLarge,
    MalformedRequest,
    ProtocolError,
    UnsupportedVersion,
)
from logbroker.kafka.framing import FrameDecoder
from logbroker.kafka.schema import Catalog, shipped_catalog
from segments.varint import VarintError, encode_uvarint, read_uvarint


@runtime_checkable
class RecordsPart(Protocol):
    """A records value the encoder emits as its own chunk without reading it.

    The encoder only needs its size in bytes; the transport decides how to send it (for a file
    range: `os.sendfile`). `memoryview` satisfies this protocol too.
    """

    @property
    def nbytes(self) -> int: ...


Chunk = bytes | bytearray | memoryview | RecordsPart

# Bytes-like records at least this large get their own chunk instead of being joined (copied)
# into the surrounding response bytes.
INLINE_RECORDS_LIMIT = 64 * 1024

API_VERSIONS_KEY = 18

_REQ_HEADER = struct.Struct(">hhih")
_REQ_HEADER_FIXED = struct.Struct(">hhi")
_I32 = struct.Struct(">i")
_I16 = struct.Struct(">h")


@dataclass(frozen=True, slots=True)
class Request:
    """A decoded request: header fields plus the body dict."""

    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    body: dict[str, Any]
    # Unknown header tagged fields (request header v2), tag -> raw value bytes.
    tagged_fields: dict[int, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Response:
    """A decoded response: correlation id plus the body dict."""

    api_key: int
    api_version: int
    correlation_id: int
    body: dict[str, Any]
    tagged_fields: dict[int, bytes] = field(default_factory=dict)


class _Registry:
    """Compiled codecs per (api_key, version), built lazily and cached for the process."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._lock = threading.Lock()
        self.requests: dict[tuple[int, int], CompiledMessage] = {}
        self.responses: dict[tuple[int, int], CompiledMessage] = {}
        self.supported: dict[int, tuple[int, int]] = {
            k: (0, spec.valid.hi) for k, spec in sorted(catalog.requests.items())
        }
        self.kafka_valid: dict[int, tuple[int, int]] = {
            k: (spec.valid.lo, spec.valid.hi) for k, spec in sorted(catalog.requests.items())
        }

    def _get(
        self, cache: dict[tuple[int, int], CompiledMessage], is_request: bool, api_key: int, version: int
    ) -> CompiledMessage | None:
        rng = self.supported.get(api_key)
        if rng is None or not rng[0] <= version <= rng[1]:
            return None
        with self._lock:
            compiled = cache.get((api_key, version))
            if compiled is None:
                specs = self.catalog.requests if is_request else self.catalog.responses
                compiled = compile_message(specs[api_key], version)
                cache[(api_key, version)] = compiled
        return compiled

    def request(self, api_key: int, version: int) -> CompiledMessage | None:
        compiled = self.requests.get((api_key, version))
        if compiled is None:
            compiled = self._get(self.requests, True, api_key, version)
        return compiled

    def response(self, api_key: int, version: int) -> CompiledMessage | None:
        compiled = self.responses.get((api_key, version))
        if compiled is None:
            compiled = self._get(self.responses, False, api_key, version)
        return compiled


log = logging.getLogger(__name__)

_REGISTRY = _Registry(shipped_catalog())

SUPPORTED: dict[int, tuple[int, int]] = dict(_REGISTRY.supported)
KAFKA_VALID_VERSIONS: dict[int, tuple[int, int]] = dict(_REGISTRY.kafka_valid)


def compile_all() -> int:
    """Compile every supported (api_key, version) now; returns how many messages were compiled."""
    count = 0
    for api_key, (lo, hi) in SUPPORTED.items():
        for version in range(lo, hi + 1):
            _REGISTRY.request(api_key, version)
            _REGISTRY.response(api_key, version)
            count += 2
    return count


def generated_source(api_key: int, version: int, *, request: bool) -> str:
    """The generated Python source for one message version (for debugging and review)."""
    compiled = _REGISTRY.request(api_key, version) if request else _REGISTRY.response(api_key, version)
    if compiled is None:
        raise KeyError((api_key, version))
    return compiled.source


def is_flexible_request(api_key: int, version: int) -> bool:
    spec = _REGISTRY.catalog.requests.get(api_key)
    return spec is not None and version in spec.flexible


def _as_view(frame: bytes | bytearray | memoryview) -> memoryview:
    view = frame if isinstance(frame, memoryview) else memoryview(frame)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


def _read_raw_tagged(buf: memoryview, pos: int) -> tuple[dict[int, bytes], int]:
    """Read a tagged-field section keeping every value as raw bytes."""
    count, pos = read_uvarint(buf, pos)
    if count > len(buf) - pos:
        raise ProtocolError(f"tagged field count {count} exceeds remaining bytes")
    fields: dict[int, bytes] = {}
    for _ in range(count):
        tag, pos = read_uvarint(buf, pos)
        size, pos = read_uvarint(buf, pos)
        end = pos + size
        if end > len(buf):
            raise ProtocolError(f"tagged field size {size} exceeds remaining bytes")
        fields[tag] = bytes(buf[pos:end])
        pos = end
    return fields, pos


def _write_raw_tagged(fields: dict[int, bytes] | None) -> bytes:
    if not fields:
        return b"\x00"
    parts = [encode_uvarint(len(fields))]
    for tag in sorted(fields):
        value = fields[tag]
        parts.append(encode_uvarint(tag))
        parts.append(encode_uvarint(len(value)))
        parts.append(bytes(value))
    return b"".join(parts)


def decode_request(frame: bytes | bytearray | memoryview) -> Request:
    """Decode one request frame (without its size prefix). Hot path: no copy of record bytes.

    Only `ProtocolError` (or a subclass) is raised for bad input.
    """
    buf = _as_view(frame)
    n = len(buf)
    if n < 10:
        raise ProtocolError(f"request header truncated ({n} bytes)")
    api_key, api_version, correlation_id, client_len = _REQ_HEADER.unpack_from(buf, 0)
    pos = 10
    client_id: str | None = None
    if client_len >= 0:
        end = pos + client_len
        if end > n:
            raise MalformedRequest("client_id exceeds frame", api_key, api_version, correlation_id)
        try:
            client_id = str(buf[pos:end], "utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedRequest("client_id is not UTF-8", api_key, api_version, correlation_id) from exc
        pos = end
    compiled = _REGISTRY.request(api_key, api_version)
    if compiled is None:
        raise UnsupportedVersion(api_key, api_version, correlation_id, client_id)
    tagged: dict[int, bytes] = {}
    try:
        if compiled.flexible:
            tagged, pos = _read_raw_tagged(buf, pos)
        body, pos = compiled.decode(buf, pos)
    except MalformedRequest:
        raise
    except ProtocolError as exc:
        raise MalformedRequest(str(exc), api_key, api_version, correlation_id) from exc
    except (struct.error, IndexError) as exc:
        raise MalformedRequest("truncated body", api_key, api_version, correlation_id) from exc
    except UnicodeDecodeError as exc:
        raise MalformedRequest("string is not UTF-8", api_key, api_version, correlation_id) from exc
    except VarintError as exc:
        raise MalformedRequest(str(exc), api_key, api_version, correlation_id) from exc
    if pos != n:
        # Kafka reads the body its schema describes and ignores whatever follows it in the frame
        # (librdkafka 2.16 sends Metadata v13 with three such bytes); so do we.
        log.debug("ignoring %d bytes after the body of api %d v%d (correlation %d, client %s)",
                  n - pos, api_key, api_version, correlation_id, client_id)
    return Request(api_key, api_version, correlation_id, client_id, body, tagged)


def _encode_body(compiled: CompiledMessage, body: dict[str, Any], out: list[Any]) -> None:
    try:
        compiled.encode(body, out)
    except EncodeError as exc:
        raise EncodeError(f"{compiled.name} v{compiled.version}: {exc}") from exc
    except (struct.error, TypeError, AttributeError, ValueError, OverflowError) as exc:
        raise EncodeError(f"{compiled.name} v{compiled.version}: {exc}") from exc


def _chunk_size(chunk: Any) -> int:
    if isinstance(chunk, bytes | bytearray):
        return len(chunk)
    size = chunk.nbytes
    assert isinstance(size, int)
    return size


def frame_size(chunks: Sequence[Chunk]) -> int:
    """Total number of bytes of an encoded frame (size prefix included)."""
    return sum(_chunk_size(c) for c in chunks)


def encode_response(
    api_key: int,
    api_version: int,
    correlation_id: int,
    body: dict[str, Any],
    tagged_fields: dict[int, bytes] | None = None,
) -> list[Chunk]:
    """Encode a full response frame (size prefix, header, body) as a list of chunks.

    Hot path for Fetch: record parts are passed through untouched as chunks of their own.
    Raises `EncodeError` when the body does not fit the schema, `KeyError` for an unknown
    (api_key, version).
    """
    compiled = _REGISTRY.response(api_key, api_version)
    if compiled is None:
        raise KeyError(f"no response codec for api_key={api_key} version={api_version}")
    header = _I32.pack(correlation_id)
    if compiled.flexible and api_key != API_VERSIONS_KEY:
        header += _write_raw_tagged(tagged_fields)
    out: list[Any] = [b"", header]
    _encode_body(compiled, body, out)
    if not compiled.has_records:
        payload = b"".join(out)
        return [_I32.pack(len(payload)) + payload]
    # Split at record values that must stay separate: anything that is not `bytes` (file ranges,
    # memoryviews of mapped segments) and large bytes, which joining would copy.
    limit = INLINE_RECORDS_LIMIT
    cuts = [i for i, piece in enumerate(out) if type(piece) is not bytes or len(piece) >= limit]
    chunks: list[Chunk] = []
    total = 0
    start = 0
    for i in cuts:
        piece = out[i]
        if isinstance(piece, bytearray | memoryview) and _chunk_size(piece) < limit:
            continue  # small mutable buffers are joined with their neighbours
        if i > start:
            joined = b"".join(out[start:i])
            chunks.append(joined)
            total += len(joined)
        chunks.append(piece)
        total += _chunk_size(piece)
        start = i + 1
    if start < len(out):
        joined = b"".join(out[start:])
        chunks.append(joined)
        total += len(joined)
    # out[0] is an empty placeholder, so chunks[0] is always the joined header run.
    chunks[0] = _I32.pack(total) + chunks[0]  # type: ignore[operator]
    return chunks


def encode_request(
    api_key: int,
    api_version: int,
    correlation_id: int,
    client_id: str | None,
    body: dict[str, Any],
    tagged_fields: dict[int, bytes] | None = None,
) -> bytes:
    """Encode a full request frame (size prefix included). Records must be bytes-like here."""
    compiled = _REGISTRY.request(api_key, api_version)
    if compiled is None:
        raise KeyError(f"no request codec for api_key={api_key} version={api_version}")
    parts: list[Any] = [b"", _REQ_HEADER_FIXED.pack(api_key, api_version, correlation_id)]
    if client_id is None:
        parts.append(b"\xff\xff")
    else:
        raw = client_id.encode("utf-8")
        parts.append(_I16.pack(len(raw)))
        parts.append(raw)
    if compiled.flexible:
        parts.append(_write_raw_tagged(tagged_fields))
    _encode_body(compiled, body, parts)
    for piece in parts:
        if not isinstance(piece, bytes | bytearray | memoryview):
            raise EncodeError(f"{compiled.name}: request records must be bytes-like, got {type(piece).__name__}")
    payload = b"".join(parts)
    return _I32.pack(len(payload)) + payload


def decode_response(frame: bytes | bytearray | memoryview, api_key: int, api_version: int) -> Response:
    """Decode one response frame (without its size prefix) for a request of `api_version`.

    As Kafka's clients do, an ApiVersions response carrying a non-zero error code is read with the
    v0 body layout, whatever version was requested.
    """
    compiled = _REGISTRY.response(api_key, api_version)
    if compiled is None:
        raise ProtocolError(f"no response codec for api_key={api_key} version={api_version}")
    buf = _as_view(frame)
    n = len(buf)
    if n < 4:
        raise ProtocolError("response header truncated")
    correlation_id = _I32.unpack_from(buf, 0)[0]
    pos = 4
    tagged: dict[int, bytes] = {}
    try:
        if api_key == API_VERSIONS_KEY:
            if api_version > 0 and n >= 6 and _I16.unpack_from(buf, 4)[0] != 0:
                v0 = _REGISTRY.response(api_key, 0)
                assert v0 is not None
                compiled = v0
        elif compiled.flexible:
            tagged, pos = _read_raw_tagged(buf, pos)
        body, pos = compiled.decode(buf, pos)
    except (struct.error, IndexError) as exc:
        raise ProtocolError(f"{compiled.name} v{compiled.version}: truncated body") from exc
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"{compiled.name} v{compiled.version}: string is not UTF-8") from exc
    except VarintError as exc:
        raise ProtocolError(f"{compiled.name} v{compiled.version}: {exc}") from exc
    if pos != n:
        raise ProtocolError(f"{compiled.name} v{compiled.version}: {n - pos} trailing bytes")
    return Response(api_key, api_version, correlation_id, body, tagged)


__all__ = [
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
    "generated_source",
    "is_flexible_request",
]
