"""Kafka's variable-length integers, the one implementation in the tree.

Layout (Kafka's `ByteUtils`): seven bits per byte, least significant group first, the high bit set
on every byte but the last.

    kind             value range       bytes  encoding                               used by
    unsigned varint  0 .. 2**32 - 1    1-5    the value itself                       flexible versions (KIP-482):
                                                                                     lengths, counts, tags
    varint           signed 32-bit     1-5    zigzag: (n << 1) ^ (n >> 63), so small record batch v2 records:
    varlong          signed 64-bit     1-10   negative numbers stay short            lengths, deltas, counts

This module lives in `segments/`, the lowest layer, so the storage engine (record batches) and the
Kafka codec (`logbroker/kafka/compiler.py`, which may import `segments`, never the reverse) share it.

Readers take a bytes-like buffer and a position and return `(value, next position)`. A buffer that
ends inside a varint raises `IndexError`; a varint longer than its kind allows, or an unsigned
varint above 32 bits, raises `VarintError`. Callers turn both into their own error for bad input
(`CorruptBatchError`, the codec's `ProtocolError`).
"""

from __future__ import annotations

UVARINT_MAX = 0xFFFFFFFF
VARINT_MAX_BYTES = 5


class VarintError(ValueError):
    """A varint is longer than its kind allows, or a value does not fit its kind."""


def _encode_unsigned(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


# Encodings of the values nearly every field holds, precomputed so writers append a cached bytes
# object instead of looping per byte.
_SMALL_UVARINTS = [bytes([i]) for i in range(128)]
_ZIGZAG_CACHE_LIMIT = 1 << 13  # signed values in [-8192, 8192) encode in at most 2 bytes
_ZIGZAGS = [_encode_unsigned((v << 1) ^ (v >> 63)) for v in range(-_ZIGZAG_CACHE_LIMIT, _ZIGZAG_CACHE_LIMIT)]


def encode_uvarint(value: int) -> bytes:
    """Unsigned varint of `value` (0 .. 2**32 - 1), as Kafka's `writeUnsignedVarint` writes it."""
    if 0 <= value < 128:
        return _SMALL_UVARINTS[value]
    if value < 0 or value > UVARINT_MAX:
        raise VarintError(f"unsigned varint out of range: {value}")
    return _encode_unsigned(value)


def encode_varint(value: int) -> bytes:
    """Zigzag varint/varlong of `value` (a signed 64-bit integer), as Kafka's `writeVarlong` writes it."""
    if -_ZIGZAG_CACHE_LIMIT <= value < _ZIGZAG_CACHE_LIMIT:
        return _ZIGZAGS[value + _ZIGZAG_CACHE_LIMIT]
    return _encode_unsigned((value << 1) ^ (value >> 63))


Bytes = bytes | bytearray | memoryview  # a memoryview must be one-dimensional, format "B"


def _read_unsigned(data: Bytes, pos: int, max_bytes: int) -> tuple[int, int]:
    value = 0
    shift = 0
    for _ in range(max_bytes):
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7
    raise VarintError(f"varint longer than {max_bytes} bytes before position {pos}")


def read_uvarint(buf: Bytes, pos: int) -> tuple[int, int]:
    """Read an unsigned varint of at most 5 bytes whose value fits 32 bits (Kafka's `readUnsignedVarint`)."""
    value, pos = _read_unsigned(buf, pos, VARINT_MAX_BYTES)
    if value > UVARINT_MAX:
        raise VarintError("unsigned varint exceeds 32 bits")
    return value, pos


def read_varint(buf: Bytes, pos: int, max_bytes: int = VARINT_MAX_BYTES) -> tuple[int, int]:
    """Read a zigzag varint (`max_bytes` 5) or varlong (`max_bytes` 10)."""
    value, pos = _read_unsigned(buf, pos, max_bytes)
    return (value >> 1) ^ -(value & 1), pos
