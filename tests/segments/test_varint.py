"""Kafka's varints (segments/varint.py): known encodings, round trips, and refusal of overlong input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from segments.varint import VarintError, encode_uvarint, encode_varint, read_uvarint, read_varint


@pytest.mark.parametrize(
    ("value", "wire"),
    [(0, b"\x00"), (1, b"\x01"), (127, b"\x7f"), (128, b"\x80\x01"), (300, b"\xac\x02"),
     (0xFFFFFFFF, b"\xff\xff\xff\xff\x0f")],
)
def test_unsigned_known_encodings(value: int, wire: bytes) -> None:
    assert encode_uvarint(value) == wire
    assert read_uvarint(wire + b"\xaa", 0) == (value, len(wire))
    assert read_uvarint(memoryview(b"\x00" + wire), 1) == (value, len(wire) + 1)


@pytest.mark.parametrize("value", [-1, 0x1_0000_0000])
def test_unsigned_out_of_range_is_refused(value: int) -> None:
    with pytest.raises(VarintError):
        encode_uvarint(value)


def test_unsigned_overlong_and_over_32_bits_are_refused() -> None:
    with pytest.raises(VarintError):
        read_uvarint(b"\x80\x80\x80\x80\x80\x01", 0)
    with pytest.raises(VarintError):
        read_uvarint(b"\xff\xff\xff\xff\x1f", 0)
    with pytest.raises(IndexError):
        read_uvarint(b"\x80\x80", 0)


@pytest.mark.parametrize(
    ("value", "wire"),
    [(0, b"\x00"), (-1, b"\x01"), (1, b"\x02"), (63, b"\x7e"), (-64, b"\x7f"), (64, b"\x80\x01"),
     (2**31 - 1, b"\xfe\xff\xff\xff\x0f"), (-(2**63), b"\xff" * 9 + b"\x01")],
)
def test_zigzag_known_encodings(value: int, wire: bytes) -> None:
    assert encode_varint(value) == wire
    assert read_varint(wire, 0, 10) == (value, len(wire))


def test_varint_longer_than_its_kind_is_refused() -> None:
    wire = encode_varint(2**40)
    assert read_varint(wire, 0, 10) == (2**40, len(wire))
    with pytest.raises(VarintError):
        read_varint(wire, 0, 5)


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_zigzag_round_trip(value: int) -> None:
    assert read_varint(encode_varint(value), 0, 10) == (value, len(encode_varint(value)))


@given(st.integers(min_value=0, max_value=0xFFFFFFFF))
def test_unsigned_round_trip(value: int) -> None:
    assert read_uvarint(encode_uvarint(value), 0) == (value, len(encode_uvarint(value)))
