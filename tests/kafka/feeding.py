"""Feeds wire bytes through FrameDecoder three ways (test support only), and the checks every frame
cutter (``FrameDecoder``, ``FrameReader``) must pass whatever way its bytes arrive.

Convention: every codec test feeds frames whole, one byte at a time, and followed by the start of
another frame (trailing bytes), and must see the same frames each way.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable

from logbroker.kafka.errors import ProtocolError
from logbroker.kafka.framing import FrameDecoder

# A second frame's first bytes: size prefix 100 and a few body bytes, never completed.
TRAILING = (100).to_bytes(4, "big") + b"\x00\x12\x00"


def frames_three_ways(wire: bytes, max_frame_bytes: int = 1 << 24) -> list[list[bytes]]:
    """Frames found in `wire` fed whole, byte by byte, and with trailing bytes; as bytes lists."""
    results: list[list[bytes]] = []

    dec = FrameDecoder(max_frame_bytes)
    results.append([bytes(f) for f in dec.feed(wire)])
    assert dec.buffered == 0

    dec = FrameDecoder(max_frame_bytes)
    one: list[bytes] = []
    for i in range(len(wire)):
        one.extend(bytes(f) for f in dec.feed(wire[i : i + 1]))
    assert dec.buffered == 0
    results.append(one)

    dec = FrameDecoder(max_frame_bytes)
    results.append([bytes(f) for f in dec.feed(wire + TRAILING)])
    assert dec.buffered == len(TRAILING)
    assert dec.pending_frame_size == 100
    return results


def frame(body: bytes) -> bytes:
    """``body`` behind its 4-byte size prefix."""
    return len(body).to_bytes(4, "big") + body


def frames_split_at(deliver: Callable[[bytes], list[bytes]], bodies: list[bytes], cuts: list[int]) -> list[bytes]:
    """The frames of ``bodies`` delivered in pieces cut at ``cuts`` (clamped to the data), through one
    cutter's ``deliver``; a cutter must find ``bodies`` again whatever the cuts."""
    data = b"".join(frame(b) for b in bodies)
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    got: list[bytes] = []
    for a, b in itertools.pairwise(points):
        got += deliver(data[a:b])
    return got


def feed_garbage(feed: Callable[[bytes], Iterable[memoryview]], chunks: list[bytes], max_frame_bytes: int) -> None:
    """Random bytes may only raise ``ProtocolError`` and never yield a frame over ``max_frame_bytes``."""
    try:
        for chunk in chunks:
            for f in feed(chunk):
                assert len(f) <= max_frame_bytes
    except ProtocolError:
        pass
