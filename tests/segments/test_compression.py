from __future__ import annotations

import contextlib
import gzip
import os
import struct
import tracemalloc
import types
import zlib
from collections.abc import Iterator

import cramjam
import kafka.codec
import lz4.frame
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from segments import compression
from segments.compression import GZIP, LZ4, NONE, SNAPPY, XERIAL_MAGIC, ZSTD, compress, decompress
from segments.errors import CorruptBatchError

CODECS = [NONE, GZIP, SNAPPY, LZ4, ZSTD]
COMPRESSED = [GZIP, SNAPPY, LZ4, ZSTD]
TEXT = b"".join(b"record %06d: the quick brown fox jumps over the lazy dog\n" % i for i in range(4000))


@pytest.fixture
def kafka_python_snappy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """kafka-python's snappy codec backed by cramjam (python-snappy is not a dependency)."""
    if kafka.codec.snappy is None:
        monkeypatch.setattr(
            kafka.codec,
            "snappy",
            types.SimpleNamespace(
                compress=lambda data: bytes(cramjam.snappy.compress_raw(data)),
                decompress=lambda data: bytes(cramjam.snappy.decompress_raw(data)),
            ),
        )
    yield


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize(
    "data", [b"", b"x", TEXT, os.urandom(200_000)], ids=["empty", "one", "text", "random"]
)
def test_round_trip(codec: int, data: bytes) -> None:
    assert decompress(codec, compress(codec, data), len(data)) == data


@pytest.mark.parametrize("codec", CODECS)
def test_accepts_memoryview_and_bytearray(codec: int) -> None:
    packed = compress(codec, memoryview(TEXT))
    assert decompress(codec, bytearray(packed), len(TEXT)) == TEXT
    assert decompress(codec, memoryview(packed), len(TEXT)) == TEXT


@pytest.mark.parametrize("codec", CODECS)
def test_output_one_byte_over_the_limit_is_refused(codec: int) -> None:
    packed = compress(codec, TEXT)
    assert decompress(codec, packed, len(TEXT)) == TEXT
    with pytest.raises(CorruptBatchError, match="more than"):
        decompress(codec, packed, len(TEXT) - 1)


@pytest.mark.parametrize("codec", COMPRESSED)
def test_bomb_is_refused_without_allocating_its_size(codec: int) -> None:
    # 256 MiB of zeros compresses to a few hundred KiB at most; decoding must stop near the limit.
    size = 256 * 1024 * 1024
    if codec == GZIP:
        packed = zlib.compressobj(1, zlib.DEFLATED, 31)
        zeros = bytes(1024 * 1024)
        bomb = b"".join(packed.compress(zeros) for _ in range(size // len(zeros))) + packed.flush()
    else:
        bomb = compress(codec, bytes(size))
    limit = 4 * 1024 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(CorruptBatchError, match="more than"):
            decompress(codec, bomb, limit)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * limit + len(bomb) * 3


def test_zstd_bomb_without_content_size_is_refused() -> None:
    bomb = zstandard.ZstdCompressor(write_content_size=False).compress(bytes(64 * 1024 * 1024))
    with pytest.raises(CorruptBatchError, match="more than"):
        decompress(ZSTD, bomb, 1024 * 1024)


def _xerial_block_boundaries(packed: bytes) -> set[int]:
    pos, out = 16, {16}
    while pos < len(packed):
        pos += 4 + struct.unpack_from(">i", packed, pos)[0]
        out.add(pos)
    return out


@pytest.mark.parametrize("codec", COMPRESSED)
def test_every_truncation_is_corrupt(codec: int) -> None:
    packed = compress(codec, TEXT[:3000] + os.urandom(300))
    # Xerial framing has no end marker: a cut between blocks is a shorter valid stream (the batch
    # CRC and the record count catch that), so only cuts inside the header or a block must fail.
    boundaries = _xerial_block_boundaries(packed) if codec == SNAPPY else set()
    for cut in range(1, len(packed)):
        if cut in boundaries:
            continue
        with pytest.raises(CorruptBatchError):
            decompress(codec, packed[:cut], 10_000)


@pytest.mark.parametrize("codec", COMPRESSED)
@settings(max_examples=200, deadline=None)
@given(garbage=st.binary(max_size=300))
def test_garbage_only_raises_corrupt_batch(codec: int, garbage: bytes) -> None:
    with contextlib.suppress(CorruptBatchError):
        decompress(codec, garbage, 100_000)


@pytest.mark.parametrize("codec", COMPRESSED)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_mutated_streams_only_raise_corrupt_batch(codec: int, data: st.DataObject) -> None:
    packed = bytearray(compress(codec, TEXT[:2000]))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(packed) - 1))
        packed[i] = data.draw(st.integers(0, 255))
    with contextlib.suppress(CorruptBatchError):
        decompress(codec, bytes(packed), 100_000)


def test_unknown_codec() -> None:
    with pytest.raises(ValueError):
        compress(5, b"x")
    with pytest.raises(CorruptBatchError, match="unknown compression codec"):
        decompress(7, b"x", 10)


# --- snappy ----------------------------------------------------------------------------------------


def test_snappy_writes_xerial_framing_like_the_java_client() -> None:
    packed = compress(SNAPPY, TEXT)
    assert packed[:16] == XERIAL_MAGIC + struct.pack(">ii", 1, 1)
    # Blocks of 32 KiB of input each, as snappy-java's SnappyOutputStream writes.
    pos, blocks = 16, []
    while pos < len(packed):
        (size,) = struct.unpack_from(">i", packed, pos)
        blocks.append(bytes(cramjam.snappy.decompress_raw(packed[pos + 4 : pos + 4 + size])))
        pos += 4 + size
    assert [len(b) for b in blocks[:-1]] == [32 * 1024] * (len(blocks) - 1)
    assert b"".join(blocks) == TEXT


def test_snappy_decodes_raw_blocks_as_librdkafka_sends() -> None:
    raw = bytes(cramjam.snappy.compress_raw(TEXT))
    assert not raw.startswith(XERIAL_MAGIC)
    assert decompress(SNAPPY, raw, len(TEXT)) == TEXT


def test_snappy_raw_block_declaring_too_much_is_refused_before_decoding() -> None:
    raw = bytes(cramjam.snappy.compress_raw(bytes(10_000_000)))
    with pytest.raises(CorruptBatchError, match="more than"):
        decompress(SNAPPY, raw, 1_000_000)


def test_snappy_xerial_with_little_endian_version_fields() -> None:
    # Some producers (Redpanda) write version/compat little-endian; kafka-python ignores them too.
    packed = compress(SNAPPY, TEXT)
    odd = XERIAL_MAGIC + struct.pack("<ii", 1, 1) + packed[16:]
    assert decompress(SNAPPY, odd, len(TEXT)) == TEXT


def test_snappy_xerial_header_only_is_empty() -> None:
    assert compress(SNAPPY, b"") == XERIAL_MAGIC + struct.pack(">ii", 1, 1)
    assert decompress(SNAPPY, compress(SNAPPY, b""), 0) == b""


def test_snappy_xerial_block_overrun_is_corrupt() -> None:
    packed = bytearray(compress(SNAPPY, TEXT))
    struct.pack_into(">i", packed, 16, len(packed))
    with pytest.raises(CorruptBatchError, match="overruns"):
        decompress(SNAPPY, bytes(packed), len(TEXT))


@pytest.mark.usefixtures("kafka_python_snappy")
def test_snappy_interop_with_kafka_python() -> None:
    assert decompress(SNAPPY, kafka.codec.snappy_encode(TEXT), len(TEXT)) == TEXT
    assert decompress(SNAPPY, kafka.codec.snappy_encode(TEXT, xerial_compatible=False), len(TEXT)) == TEXT
    assert kafka.codec.snappy_decode(compress(SNAPPY, TEXT)) == TEXT


# --- gzip, lz4, zstd variants other producers write -----------------------------------------------


def test_gzip_variants() -> None:
    assert decompress(GZIP, gzip.compress(TEXT, 9), len(TEXT)) == TEXT
    assert decompress(GZIP, zlib.compress(TEXT), len(TEXT)) == TEXT
    two = gzip.compress(TEXT[:1000]) + gzip.compress(TEXT[1000:])
    assert decompress(GZIP, two, len(TEXT)) == TEXT
    assert decompress(GZIP, kafka.codec.gzip_encode(TEXT), len(TEXT)) == TEXT
    assert kafka.codec.gzip_decode(compress(GZIP, TEXT)) == TEXT
    with pytest.raises(CorruptBatchError):
        decompress(GZIP, gzip.compress(TEXT) + b"trailing", len(TEXT))


def test_lz4_variants() -> None:
    with_size = lz4.frame.compress(TEXT, store_size=True, content_checksum=True, block_linked=True)
    assert decompress(LZ4, with_size, len(TEXT)) == TEXT
    two = lz4.frame.compress(TEXT[:1000]) + lz4.frame.compress(TEXT[1000:])
    assert decompress(LZ4, two, len(TEXT)) == TEXT
    assert decompress(LZ4, kafka.codec.lz4_encode(TEXT), len(TEXT)) == TEXT
    assert kafka.codec.lz4_decode(compress(LZ4, TEXT)) == TEXT


def test_lz4_frame_matches_java_client_flags() -> None:
    packed = compress(LZ4, TEXT)
    assert packed[:4] == b"\x04\x22\x4d\x18"
    flg, bd = packed[4], packed[5]
    assert flg & 0x20  # blocks independent
    assert not flg & 0x08  # no content size
    assert bd == 0x40  # 64 KiB max block size


def test_zstd_variants() -> None:
    no_size = zstandard.ZstdCompressor(write_content_size=False, write_checksum=True).compress(TEXT)
    assert zstandard.frame_content_size(no_size) == -1
    assert decompress(ZSTD, no_size, len(TEXT)) == TEXT
    two = zstandard.ZstdCompressor().compress(TEXT[:1000]) + zstandard.ZstdCompressor().compress(TEXT[1000:])
    assert decompress(ZSTD, two, len(TEXT)) == TEXT
    skippable = struct.pack("<II", 0x184D2A50, 3) + b"abc"
    assert decompress(ZSTD, skippable + two, len(TEXT)) == TEXT
    streamed = zstandard.ZstdCompressor().compressobj()
    as_stream = streamed.compress(TEXT) + streamed.flush()
    assert decompress(ZSTD, as_stream, len(TEXT)) == TEXT
    assert decompress(ZSTD, kafka.codec.zstd_encode(TEXT), len(TEXT)) == TEXT
    assert kafka.codec.zstd_decode(compress(ZSTD, TEXT)) == TEXT


def test_zstd_reserved_block_type_is_corrupt() -> None:
    frame = bytearray(zstandard.ZstdCompressor().compress(TEXT))
    header = zstandard.frame_header_size(bytes(frame))
    frame[header] |= 0x06
    with pytest.raises(CorruptBatchError):
        decompress(ZSTD, bytes(frame), len(TEXT))


def test_codec_names_cover_every_codec() -> None:
    assert sorted(compression.CODEC_NAMES) == CODECS
