"""Tests for logbroker/kafka/framing.py (FrameDecoder)."""

from __future__ import annotations

import pytest
from feeding import feed_garbage, frame, frames_split_at
from hypothesis import given
from hypothesis import strategies as st

from logbroker.kafka.errors import FrameTooLarge, ProtocolError
from logbroker.kafka.framing import FrameDecoder


def test_whole_frames_are_zero_copy_views() -> None:
    data = frame(b"abc") + frame(b"") + frame(b"defg")
    frames = FrameDecoder(100).feed(data)
    assert [bytes(f) for f in frames] == [b"abc", b"", b"defg"]
    assert all(f.obj is data for f in frames)


def test_split_frame_is_assembled_once() -> None:
    dec = FrameDecoder(100)
    assert dec.feed(b"\x00\x00") == []
    assert dec.buffered == 2 and dec.pending_frame_size is None
    assert dec.feed(b"\x00\x05ab") == []
    assert dec.buffered == 6 and dec.pending_frame_size == 5
    frames = dec.feed(b"cde" + frame(b"xy") + b"\x00")
    assert [bytes(f) for f in frames] == [b"abcde", b"xy"]
    assert isinstance(frames[0].obj, bytearray)  # assembled, one copy
    assert dec.buffered == 1


def test_mutable_input_is_copied() -> None:
    buf = bytearray(frame(b"hello"))
    frames = FrameDecoder(100).feed(buf)
    buf[4:9] = b"XXXXX"
    assert bytes(frames[0]) == b"hello"


@pytest.mark.parametrize("size", [-1, -(2**31), 101, 2**31 - 1])
def test_bad_size_refused_before_body(size: int) -> None:
    dec = FrameDecoder(100)
    with pytest.raises(FrameTooLarge) as info:
        dec.feed(size.to_bytes(4, "big", signed=True))  # no body bytes sent at all
    assert info.value.size == size
    assert isinstance(info.value, ProtocolError)
    assert dec.buffered == 0
    with pytest.raises(FrameTooLarge):  # the stream cannot be resynchronised
        dec.feed(frame(b"ok"))


def test_bad_size_after_split_prefix() -> None:
    dec = FrameDecoder(10)
    dec.feed(b"\x00\x00")
    with pytest.raises(FrameTooLarge):
        dec.feed(b"\x01\x00")


def test_max_size_frame_accepted() -> None:
    assert [bytes(f) for f in FrameDecoder(3).feed(frame(b"abc"))] == [b"abc"]


@given(
    bodies=st.lists(st.binary(max_size=40), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=10),
)
def test_any_split_yields_the_same_frames(bodies: list[bytes], cuts: list[int]) -> None:
    dec = FrameDecoder(64)
    assert frames_split_at(lambda data: [bytes(f) for f in dec.feed(data)], bodies, cuts) == bodies
    assert dec.buffered == 0


@given(st.lists(st.binary(max_size=30), max_size=10))
def test_random_bytes_raise_only_protocol_error(chunks: list[bytes]) -> None:
    feed_garbage(FrameDecoder(16).feed, chunks, 16)


def test_a_declared_size_is_not_allocated_before_half_of_it_arrived() -> None:
    import struct

    body = bytes(range(256)) * 40  # 10,240 bytes
    dec = FrameDecoder(1 << 20)
    assert dec.feed(struct.pack(">i", len(body)) + body[:10]) == []
    assert dec._body is None and dec.buffered == 14  # a few bytes held, not 10 KiB
    assert dec.feed(body[10:6000]) == []
    assert dec._body is not None and len(dec._body) == len(body)  # half is here: one buffer of its size
    frames = dec.feed(body[6000:] + struct.pack(">i", 2) + b"ok")
    assert [bytes(f) for f in frames] == [body, b"ok"]
    assert dec.buffered == 0 and dec.pending_frame_size is None
