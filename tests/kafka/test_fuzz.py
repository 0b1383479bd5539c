"""Peer input can only raise ProtocolError: random, truncated and mutated frames (codec.py)."""

from __future__ import annotations

import contextlib
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka_python_bridge import random_body

from logbroker.kafka.codec import SUPPORTED, decode_request, decode_response, encode_request, encode_response
from logbroker.kafka.errors import ProtocolError
from logbroker.kafka.framing import FrameDecoder
from logbroker.kafka.schema import load_catalog

CATALOG = load_catalog()


def _corpus() -> tuple[list[bytes], list[tuple[int, int, bytes]]]:
    requests: list[bytes] = []
    responses: list[tuple[int, int, bytes]] = []
    for api_key, (lo, hi) in SUPPORTED.items():
        for version in range(lo, hi + 1):
            rng = random.Random(api_key * 1000 + version)
            body = random_body(CATALOG.requests[api_key].fields, version, rng)
            requests.append(encode_request(api_key, version, 1, "fuzz", body)[4:])
            body = random_body(CATALOG.responses[api_key].fields, version, rng)
            if api_key == 18:
                body["error_code"] = 0  # non-zero switches to the shorter v0 layout by design
            wire = b"".join(bytes(c) for c in encode_response(api_key, version, 1, body))  # type: ignore[arg-type]
            responses.append((api_key, version, wire[4:]))
    return requests, responses


REQUESTS, RESPONSES = _corpus()
EDITS = st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)), min_size=1, max_size=6)


def _decode_request_or_protocol_error(frame: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decode_request(frame)


def _decode_response_or_protocol_error(frame: bytes, api_key: int, version: int) -> None:
    with contextlib.suppress(ProtocolError):
        decode_response(frame, api_key, version)


def test_every_truncation_of_every_request_is_a_protocol_error() -> None:
    for frame in REQUESTS:
        for end in range(len(frame)):
            try:
                decode_request(frame[:end])
            except ProtocolError:
                continue
            raise AssertionError(f"truncated frame decoded: {frame[:end]!r}")


def test_every_truncation_of_every_response_is_a_protocol_error() -> None:
    for api_key, version, frame in RESPONSES:
        for end in range(len(frame)):
            try:
                decode_response(frame[:end], api_key, version)
            except ProtocolError:
                continue
            raise AssertionError(f"truncated response decoded: api_key={api_key} v{version} end={end}")


def test_single_byte_mutations_of_every_request() -> None:
    for frame in REQUESTS:
        for pos in range(min(len(frame), 400)):
            for value in (0x00, 0x01, 0x7F, 0x80, 0xFF):
                mutated = bytearray(frame)
                mutated[pos] = value
                _decode_request_or_protocol_error(bytes(mutated))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes(data: bytes) -> None:
    _decode_request_or_protocol_error(data)
    for api_key, version in ((0, 9), (1, 12), (3, 1), (18, 3), (18, 0)):
        _decode_response_or_protocol_error(data, api_key, version)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=st.integers(min_value=0, max_value=len(REQUESTS) - 1),
    edits=EDITS,
    cut=st.one_of(st.none(), st.integers(min_value=0)),
    extra=st.binary(max_size=8),
)
def test_mutated_requests(index: int, edits: list[tuple[int, int]], cut: int | None, extra: bytes) -> None:
    frame = bytearray(REQUESTS[index])
    for pos, value in edits:
        frame[pos % len(frame)] = value
    if cut is not None:
        frame = frame[: cut % (len(frame) + 1)]
    _decode_request_or_protocol_error(bytes(frame) + extra)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=st.integers(min_value=0, max_value=len(RESPONSES) - 1),
    edits=EDITS,
    cut=st.one_of(st.none(), st.integers(min_value=0)),
)
def test_mutated_responses(index: int, edits: list[tuple[int, int]], cut: int | None) -> None:
    api_key, version, original = RESPONSES[index]
    frame = bytearray(original)
    for pos, value in edits:
        frame[pos % len(frame)] = value
    if cut is not None:
        frame = frame[: cut % (len(frame) + 1)]
    _decode_response_or_protocol_error(bytes(frame), api_key, version)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=12))
def test_stream_of_garbage_through_frame_decoder(chunks: list[bytes]) -> None:
    dec = FrameDecoder(256)
    try:
        for chunk in chunks:
            for frame in dec.feed(chunk):
                _decode_request_or_protocol_error(bytes(frame))
    except ProtocolError:
        pass
