"""Tests for logbroker/kafka/frame_reader.py (FrameReader) and logbroker/kafka/recv_buffers.py."""

from __future__ import annotations

import struct

import pytest
from feeding import feed_garbage, frame, frames_split_at
from hypothesis import given
from hypothesis import strategies as st

from logbroker.kafka.errors import FrameTooLarge
from logbroker.kafka.frame_reader import CHUNK, FrameReader
from logbroker.kafka.recv_buffers import GRAIN, BufferCache, is_free, rounded


def _read(reader: FrameReader, data: bytes, step: int | None = None) -> list[bytes]:
    """Deliver ``data`` as a transport would: into ``read_buffer()``, ``step`` bytes a read at most."""
    got: list[bytes] = []
    pos = 0
    while pos < len(data):
        target = reader.read_buffer()
        assert len(target) > 0
        n = min(len(target), len(data) - pos, step or len(data))
        target[:n] = data[pos : pos + n]
        del target
        pos += n
        got += [bytes(f) for f in reader.commit(n)]
    return got


BODIES = [b"abc", b"", b"x" * 300, bytes(range(256)), b"z"]
WIRE = b"".join(frame(b) for b in BODIES)


def test_frames_read_whole_one_byte_at_a_time_and_with_the_next_frame_behind() -> None:
    assert _read(FrameReader(1 << 20), WIRE) == BODIES
    one = FrameReader(1 << 20)
    assert _read(one, WIRE, step=1) == BODIES
    assert one.buffered == 0
    trailing = FrameReader(1 << 20)
    assert _read(trailing, WIRE + struct.pack(">i", 100) + b"\x00\x12") == BODIES
    assert trailing.buffered == 6 and trailing.pending_frame_size == 100


def test_a_split_at_every_byte_yields_the_same_frames() -> None:
    for cut in range(1, len(WIRE)):
        reader = FrameReader(1 << 20)
        assert _read(reader, WIRE[:cut]) + _read(reader, WIRE[cut:]) == BODIES, cut
        assert reader.buffered == 0


@given(
    bodies=st.lists(st.binary(max_size=40), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=10),
)
def test_any_split_yields_the_same_frames(bodies: list[bytes], cuts: list[int]) -> None:
    reader = FrameReader(64)
    assert frames_split_at(lambda data: _read(reader, data), bodies, cuts) == bodies
    assert reader.buffered == 0


@given(st.lists(st.binary(max_size=30), max_size=10))
def test_random_bytes_raise_only_protocol_error(chunks: list[bytes]) -> None:
    feed_garbage(FrameReader(16).feed, chunks, 16)


def test_frames_are_writable_views_of_the_receive_buffer() -> None:
    reader = FrameReader(1 << 20)
    frames = reader.feed(frame(b"abc") + frame(b"defg") + b"\x00")
    assert [bytes(f) for f in frames] == [b"abc", b"defg"]
    assert all(not f.readonly and isinstance(f.obj, bytearray) for f in frames)
    assert frames[0].obj is frames[1].obj  # one buffer, no copy per frame
    frames[1][0:1] = b"D"  # Log.append patches batches in place
    assert bytes(frames[1]) == b"Defg"


@pytest.mark.parametrize("size", [-1, 65, 1 << 30])
def test_bad_size_refused_from_the_prefix(size: int) -> None:
    reader = FrameReader(64)
    assert reader.feed(frame(b"ok")) != []
    with pytest.raises(FrameTooLarge):
        reader.feed(struct.pack(">i", size))
    with pytest.raises(FrameTooLarge):  # stays failed: the stream cannot be resynchronised
        reader.read_buffer()


def test_bad_size_after_a_split_prefix() -> None:
    reader = FrameReader(64)
    assert reader.feed(b"\x00\x00") == []
    with pytest.raises(FrameTooLarge):
        reader.feed(b"\x01\x00")


def test_max_size_frame_accepted() -> None:
    reader = FrameReader(200_000)
    body = bytes(200_000)
    assert [bytes(f) for f in reader.feed(frame(body))] == [body]


def test_a_declared_size_costs_a_chunk_until_its_bytes_arrive() -> None:
    reader = FrameReader(1 << 30, BufferCache())
    assert reader.feed(struct.pack(">i", 100 << 20) + b"12345") == []
    assert reader.buffered == 9 and reader.pending_frame_size == 100 << 20
    assert reader.capacity == CHUNK  # not 100 MiB


def test_a_large_frame_buffer_grows_with_what_arrived() -> None:
    body = bytes(range(256)) * 4096  # 1 MiB
    reader = FrameReader(1 << 30, BufferCache())
    wire = frame(body)
    pos = 0
    while pos < len(body) // 2:
        target = reader.read_buffer()
        n = min(len(target), GRAIN)
        target[:n] = wire[pos : pos + n]
        del target
        pos += n
        assert reader.commit(n) == []
        assert reader.capacity <= max(CHUNK, 2 * reader.buffered), (pos, reader.capacity)
    assert _read(reader, wire[pos:]) == [body]


def test_a_free_cached_buffer_takes_a_large_frame_at_once_and_a_busy_one_is_left_alone() -> None:
    cache = BufferCache()
    reader = FrameReader(1 << 30, cache)
    first = bytes([1]) * 500_000
    second = bytes([2]) * 500_000
    third = bytes([3]) * 500_000
    held = reader.feed(frame(first))  # a request still being handled keeps its view
    assert [bytes(f) for f in held] == [first]
    taken = cache.allocated
    assert [bytes(f) for f in reader.feed(frame(second))] == [second]
    assert cache.allocated > taken  # the first frame's buffer was busy: not reused
    assert bytes(held[0]) == first  # and not written over
    del held
    reused = cache.reused
    assert reader.feed(struct.pack(">i", len(third)) + third[:10]) == []
    reader.read_buffer()  # where the rest of the frame goes
    assert cache.reused == reused + 1  # the first buffer is free again: taken right after the prefix
    assert reader.capacity >= len(third) + 4
    assert [bytes(f) for f in reader.feed(third[10:])] == [third]


def test_an_idle_reader_holds_no_buffer() -> None:
    cache = BufferCache()
    reader = FrameReader(1 << 20, cache)
    reader.feed(frame(b"abc"))
    reader.release()
    assert reader.capacity == 0 and cache.cached_bytes > 0
    reader.feed(b"\x00\x00")
    reader.release()  # an incomplete prefix keeps its buffer
    assert reader.capacity == CHUNK and reader.buffered == 2


def test_the_cache_is_bounded_and_checks_for_live_views() -> None:
    cache = BufferCache(max_bytes=3 * GRAIN, max_count=8)
    bufs = [cache.take(GRAIN) for _ in range(5)]
    assert all(b is not None and len(b) == GRAIN for b in bufs)
    for b in bufs:
        assert b is not None
        cache.give(b)
    assert cache.cached_bytes == 3 * GRAIN
    buf = cache.take(10)
    assert buf is not None and cache.reused == 1
    view = memoryview(buf)[3:5]
    assert not is_free(buf)
    del view
    assert is_free(buf) and len(buf) == GRAIN
    assert rounded(1) == GRAIN and rounded(GRAIN + 1) == 2 * GRAIN
    assert cache.take(4 * GRAIN, allocate=False) is None
    cache.give(bytearray(4 * GRAIN))  # larger than the whole cache: not kept, nothing pushed out
    assert cache.cached_bytes == 2 * GRAIN


def test_produced_records_reach_the_append_as_a_writable_view_of_the_receive_buffer() -> None:
    from logbroker.kafka import codec
    from logbroker.kafka.api_keys import ApiKey
    from segments.records import RecordInput, build_batch

    batch = build_batch([RecordInput(key=None, value=b"v" * 100, timestamp=1)])
    wire = codec.encode_request(ApiKey.PRODUCE, 9, 1, "c", {"acks": 1, "timeout_ms": 1000, "topic_data": [
        {"name": "t", "partition_data": [{"index": 0, "records": batch}]}]})
    [frame] = FrameReader(1 << 20).feed(wire)
    records = codec.decode_request(frame).body["topic_data"][0]["partition_data"][0]["records"]
    assert isinstance(records, memoryview) and not records.readonly  # Log.append patches it, no copy
    assert records.obj is frame.obj and bytes(records) == batch


def test_the_cache_hands_out_the_buffer_it_chose_not_an_equal_one() -> None:
    cache = BufferCache()
    busy, free = bytearray(GRAIN), bytearray(GRAIN)  # equal contents, different buffers
    view = memoryview(busy)
    cache.give(busy)
    cache.give(free)
    assert cache.take(GRAIN, allocate=False) is free
    assert cache.take(GRAIN, allocate=False) is None  # the busy one stays cached, not handed out
    del view
    assert cache.take(GRAIN, allocate=False) is busy
