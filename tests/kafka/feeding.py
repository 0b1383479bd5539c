"""Feeds wire bytes through FrameDecoder three ways (test support only).

Convention: every codec test feeds frames whole, one byte at a time, and followed by the start of
another frame (trailing bytes), and must see the same frames each way.
"""

from __future__ import annotations

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
