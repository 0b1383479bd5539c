from __future__ import annotations

import contextlib
import struct
import types
from collections.abc import Iterator

import cramjam
import kafka.codec
import pytest
from crc32c import crc32c
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

from segments.batch import CRC_START, HEADER_SIZE, read_header, set_base_offset, validate
from segments.errors import CorruptBatchError
from segments.records import (
    CREATE_TIME,
    LOG_APPEND_TIME,
    Header,
    Record,
    RecordInput,
    build_batch,
    compression_codecs,
    decode_batch,
    decode_batches,
    decode_records,
    encode_varint,
    has_keyless_record,
    rebuild_batch,
)

CODECS = [0, 1, 2, 3, 4]
NOW = 1_700_000_000_000


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


def variety() -> list[RecordInput]:
    return [
        RecordInput(b"key", b"value", (), NOW),
        RecordInput(None, b"null key", (), NOW + 1),
        RecordInput(b"null value", None, (), NOW + 2),
        RecordInput(None, None, (), NOW + 3),
        RecordInput(b"", b"", (), NOW - 5),
        RecordInput(b"h", b"v", (("trace", b"abc"), ("null", None), ("empty", b"")), NOW + 4),
        RecordInput(b"u", b"v", (("clé-ключ-鍵-🔑", b"\x00\xff"),), NOW + 5),
        RecordInput(b"k" * 300, b"v" * 70_000, (("h" * 200, b"x" * 9000),), NOW + 100_000),
    ]


def expected(records: list[RecordInput], base_offset: int = 0) -> list[tuple[object, ...]]:
    return [(base_offset + i, r.timestamp, r.key, r.value, tuple(r.headers)) for i, r in enumerate(records)]


def observed(records: list[Record]) -> list[tuple[object, ...]]:
    return [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in records]


def recrc(buf: bytearray, pos: int = 0) -> None:
    """Recompute the CRC of the batch at ``pos`` so a mutation reaches the record decoder."""
    size = struct.unpack_from(">i", buf, pos + 8)[0] + 12
    struct.pack_into(">I", buf, pos + 17, crc32c(bytes(buf[pos + CRC_START : pos + size])))


# --- round trips -----------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", CODECS)
def test_round_trip_every_codec(codec: int) -> None:
    records = variety()
    buf = build_batch(records, base_offset=42, compression=codec, now_ms=NOW)
    header = validate(buf)
    assert header.compression == codec
    assert header.record_count == len(records)
    assert header.last_offset_delta == len(records) - 1
    assert header.first_timestamp == NOW
    assert header.max_timestamp == NOW + 100_000
    decoded = decode_batch(buf)
    assert observed(decoded) == expected(records, 42)
    assert all(r.timestamp_type == CREATE_TIME and not r.is_control for r in decoded)


@pytest.mark.parametrize("codec", CODECS)
def test_one_mib_value(codec: int) -> None:
    value = bytes(range(256)) * 4096
    buf = build_batch([RecordInput(b"big", value, (), NOW)], compression=codec)
    [record] = decode_batch(buf)
    assert record.value == value


def test_header_fields_are_written() -> None:
    buf = build_batch(
        [RecordInput(b"k", b"v", (), NOW)],
        base_offset=7,
        producer_id=1234,
        producer_epoch=5,
        base_sequence=99,
        is_transactional=True,
        partition_leader_epoch=3,
    )
    h = validate(buf)
    assert (h.base_offset, h.producer_id, h.producer_epoch, h.base_sequence) == (7, 1234, 5, 99)
    assert (h.partition_leader_epoch, h.is_transactional, h.is_control, h.magic) == (3, True, False, 2)


def test_timestamp_none_means_now_ms() -> None:
    buf = build_batch([RecordInput(b"a", b"1"), RecordInput(b"b", b"2", (), NOW + 10)], now_ms=NOW)
    assert [r.timestamp for r in decode_batch(buf)] == [NOW, NOW + 10]


def test_log_append_time_gives_every_record_the_max_timestamp() -> None:
    records = [RecordInput(b"a", b"1", (), NOW - 100), RecordInput(b"b", b"2", (), NOW - 50)]
    buf = build_batch(records, timestamp_type=LOG_APPEND_TIME, now_ms=NOW)
    header = validate(buf)
    assert header.timestamp_type == LOG_APPEND_TIME
    assert header.max_timestamp == NOW
    decoded = decode_batch(buf)
    assert [r.timestamp for r in decoded] == [NOW, NOW]
    assert all(r.timestamp_type == LOG_APPEND_TIME for r in decoded)


def test_offset_deltas_with_gaps() -> None:
    records = [RecordInput(b"a", b"1", (), NOW, 0), RecordInput(b"b", b"2", (), NOW, 5)]
    buf = build_batch(records, base_offset=100)
    header = validate(buf)
    assert (header.record_count, header.last_offset_delta) == (2, 5)
    assert [r.offset for r in decode_batch(buf)] == [100, 105]


@pytest.mark.parametrize(
    ("records", "kwargs"),
    [
        ([], {}),
        ([RecordInput(b"a", b"1", (), NOW, 3), RecordInput(b"b", b"2", (), NOW, 3)], {}),
        ([RecordInput(b"a", b"1", (), NOW, -1)], {}),
        ([RecordInput(b"a", b"1", (), NOW, 2**31)], {}),
        ([RecordInput(b"a", b"1", (), NOW)], {"compression": 5}),
        ([RecordInput(b"a", b"1", (), NOW)], {"timestamp_type": 2}),
        ([RecordInput(b"a", b"1", (), -(2**63)), RecordInput(b"a", b"1", (), 2**63 - 1)], {}),
    ],
)
def test_build_rejects_bad_input(records: list[RecordInput], kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        build_batch(records, **kwargs)  # type: ignore[arg-type]


def test_decode_at_position_with_trailing_bytes() -> None:
    buf = build_batch(variety()[:3], now_ms=NOW)
    padded = b"\xee" * 13 + buf + b"trailing garbage"
    assert observed(decode_batch(padded, 13)) == observed(decode_batch(buf))
    assert observed(decode_batch(memoryview(bytearray(padded)), 13)) == observed(decode_batch(buf))


def test_every_truncation_is_corrupt() -> None:
    buf = build_batch(variety()[:6], now_ms=NOW)
    for cut in range(len(buf)):
        with pytest.raises(CorruptBatchError):
            decode_batch(buf[:cut])


def test_bad_crc_is_corrupt() -> None:
    buf = bytearray(build_batch(variety()[:3], now_ms=NOW))
    buf[-1] ^= 1
    with pytest.raises(CorruptBatchError, match="CRC"):
        decode_batch(bytes(buf))


def test_decompression_bomb_in_a_batch_is_corrupt() -> None:
    buf = build_batch([RecordInput(None, bytes(8 * 1024 * 1024), (), NOW)], compression=4)
    assert len(buf) < 64 * 1024
    with pytest.raises(CorruptBatchError, match="more than"):
        decode_batch(buf, max_uncompressed=1024 * 1024)


def test_varint_encoding_matches_kafka() -> None:
    # Values from Kafka's ByteUtilsTest (zigzag: 0 -> 00, -1 -> 01, 1 -> 02, 63 -> 7e, -64 -> 7f).
    assert encode_varint(0) == b"\x00"
    assert encode_varint(-1) == b"\x01"
    assert encode_varint(1) == b"\x02"
    assert encode_varint(63) == b"\x7e"
    assert encode_varint(-64) == b"\x7f"
    assert encode_varint(64) == b"\x80\x01"
    assert encode_varint(2**31 - 1) == b"\xfe\xff\xff\xff\x0f"
    assert encode_varint(-(2**63)) == b"\xff" * 9 + b"\x01"
    assert encode_varint(10_000) == encode_varint(10_000) and len(encode_varint(10_000)) == 3


# --- concatenated batches and control batches ----------------------------------------------------


def test_decode_batches_skips_control_batches_unless_asked() -> None:
    data = build_batch([RecordInput(b"a", b"1", (), NOW)], base_offset=0, producer_id=9, producer_epoch=0)
    marker_key = struct.pack(">hh", 0, 1)  # version 0, COMMIT
    marker = build_batch(
        [RecordInput(marker_key, struct.pack(">hi", 0, 0), (), NOW)],
        base_offset=1,
        producer_id=9,
        producer_epoch=0,
        is_transactional=True,
        is_control=True,
    )
    more = build_batch([RecordInput(b"b", b"2", (), NOW)], base_offset=2, compression=3)
    buf = data + marker + more
    assert [r.offset for r in decode_batches(buf)] == [0, 2]
    everything = list(decode_batches(buf, include_control=True))
    assert [(r.offset, r.is_control) for r in everything] == [(0, False), (1, True), (2, False)]
    assert next(iter(DefaultRecordBatch(marker))).commit


def test_decode_batches_stops_at_a_corrupt_batch() -> None:
    good = build_batch([RecordInput(b"a", b"1", (), NOW)])
    bad = bytearray(good)
    bad[-1] ^= 0xFF
    it = decode_batches(good + bytes(bad))
    assert next(it).value == b"1"
    with pytest.raises(CorruptBatchError):
        next(it)


# --- compaction rebuild --------------------------------------------------------------------------


@pytest.mark.parametrize("codec", CODECS)
def test_rebuild_keeps_offsets_timestamps_and_producer_fields(codec: int) -> None:
    records = variety()
    buf = bytearray(
        build_batch(
            records,
            compression=codec,
            producer_id=77,
            producer_epoch=2,
            base_sequence=10,
            is_transactional=True,
            partition_leader_epoch=4,
        )
    )
    set_base_offset(buf, 0, 1000)  # as the log assigns offsets in place
    header = validate(buf)
    decoded = decode_batch(buf)
    kept = [decoded[1], decoded[5], decoded[6]]
    rebuilt = rebuild_batch(header, kept)
    h2 = validate(rebuilt)
    for field in (
        "base_offset",
        "last_offset_delta",
        "first_timestamp",
        "max_timestamp",
        "producer_id",
        "producer_epoch",
        "base_sequence",
        "partition_leader_epoch",
        "attributes",
    ):
        assert getattr(h2, field) == getattr(header, field), field
    assert h2.record_count == 3
    assert decode_batch(rebuilt) == kept
    assert [r.offset for r in kept] == [1001, 1005, 1006]


def test_rebuild_log_append_time_batch() -> None:
    buf = build_batch(variety()[:4], timestamp_type=LOG_APPEND_TIME, now_ms=NOW + 999)
    header = validate(buf)
    kept = decode_batch(buf)[2:]
    rebuilt = rebuild_batch(header, kept)
    assert decode_batch(rebuilt) == kept
    assert validate(rebuilt).max_timestamp == NOW + 999


def test_rebuild_to_empty_batch_keeps_the_offset_range() -> None:
    buf = build_batch(
        variety()[:4], compression=1, base_offset=50, producer_id=3, producer_epoch=1, base_sequence=0
    )
    header = validate(buf)
    empty = rebuild_batch(header, [])
    h2 = validate(empty)
    assert (h2.record_count, h2.last_offset, h2.compression, h2.producer_id) == (0, 53, 0, 3)
    assert len(empty) == HEADER_SIZE
    assert decode_batch(empty) == []
    assert list(decode_batches(empty + buf)) == decode_batch(buf)


def test_rebuild_with_delete_horizon_and_other_codec() -> None:
    buf = build_batch(variety()[:5], compression=0, now_ms=NOW)
    header = validate(buf)
    kept = decode_batch(buf)[::2]
    rebuilt = rebuild_batch(header, kept, compression=4, delete_horizon_ms=NOW + 86_400_000)
    h2 = validate(rebuilt)
    assert h2.attributes & 0x40
    assert h2.first_timestamp == NOW + 86_400_000
    assert h2.compression == 4
    assert decode_batch(rebuilt) == kept


def test_rebuild_rejects_records_outside_the_batch() -> None:
    buf = build_batch(variety()[:3], base_offset=10)
    header = validate(buf)
    stray = Record(13, NOW, b"k", b"v")
    with pytest.raises(ValueError):
        rebuild_batch(header, [stray])
    with pytest.raises(ValueError):
        rebuild_batch(header, [Record(9, NOW, b"k", b"v")])
    decoded = decode_batch(buf)
    with pytest.raises(ValueError):
        rebuild_batch(header, [decoded[1], decoded[0]])


# --- kafka-python interop ------------------------------------------------------------------------


def kafka_python_build(records: list[RecordInput], codec: int) -> bytes:
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=codec,
        is_transactional=False,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 30,
    )
    for i, r in enumerate(records):
        assert builder.append(i, timestamp=r.timestamp, key=r.key, value=r.value, headers=list(r.headers))
    return bytes(builder.build())


@pytest.mark.usefixtures("kafka_python_snappy")
@pytest.mark.parametrize("codec", CODECS)
def test_kafka_python_batches_decode_with_ours(codec: int) -> None:
    records = variety()
    buf = kafka_python_build(records, codec)
    assert validate(buf).compression == codec  # the data compresses, so kafka-python kept the codec
    assert observed(decode_batch(buf)) == expected(records)


@pytest.mark.usefixtures("kafka_python_snappy")
@pytest.mark.parametrize("codec", CODECS)
def test_our_batches_decode_with_kafka_python(codec: int) -> None:
    records = variety()
    buf = build_batch(records, base_offset=5, compression=codec, now_ms=NOW)
    batch = DefaultRecordBatch(buf)
    assert batch.validate_crc()
    theirs = [(r.offset, r.timestamp, r.key, r.value, tuple(r.headers)) for r in batch]
    assert theirs == expected(records, 5)


# --- properties ----------------------------------------------------------------------------------

headers_st = st.lists(st.tuples(st.text(max_size=20), st.none() | st.binary(max_size=50)), max_size=4).map(
    tuple
)
record_st = st.builds(
    RecordInput,
    key=st.none() | st.binary(max_size=200),
    value=st.none() | st.binary(max_size=2000),
    headers=headers_st,
    timestamp=st.integers(-(2**40), 2**42),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=st.lists(record_st, min_size=1, max_size=30),
    codec=st.sampled_from(CODECS),
    base_offset=st.integers(0, 2**62),
    gaps=st.lists(st.integers(0, 1000), min_size=30, max_size=30),
)
def test_arbitrary_records_round_trip(
    records: list[RecordInput], codec: int, base_offset: int, gaps: list[int]
) -> None:
    deltas, delta = [], 0
    for gap in gaps[: len(records)]:
        deltas.append(delta)
        delta += gap + 1
    with_deltas = [
        RecordInput(r.key, r.value, r.headers, r.timestamp, d) for r, d in zip(records, deltas, strict=True)
    ]
    buf = build_batch(with_deltas, base_offset=base_offset, compression=codec)
    decoded = decode_batch(buf)
    assert [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in decoded] == [
        (base_offset + d, r.timestamp, r.key, r.value, tuple(r.headers))
        for r, d in zip(records, deltas, strict=True)
    ]
    assert read_header(buf).max_timestamp == max(r.timestamp for r in records if r.timestamp is not None)


def _decode_only_corrupt(buf: bytes) -> None:
    with contextlib.suppress(CorruptBatchError):
        decode_batch(buf)


@settings(max_examples=400, deadline=None)
@given(data=st.data(), codec=st.sampled_from(CODECS))
def test_mutated_records_with_valid_crc_only_raise_corrupt(data: st.DataObject, codec: int) -> None:
    buf = bytearray(build_batch(variety()[:6], compression=codec, now_ms=NOW))
    for _ in range(data.draw(st.integers(1, 5))):
        i = data.draw(st.integers(HEADER_SIZE, len(buf) - 1))
        buf[i] = data.draw(st.integers(0, 255))
    recrc(buf)
    _decode_only_corrupt(bytes(buf))


@settings(max_examples=400, deadline=None)
@given(
    section=st.binary(max_size=400),
    count=st.integers(-5, 200),
    last_offset_delta=st.integers(0, 300),
    codec=st.sampled_from(CODECS),
)
def test_random_record_bytes_with_valid_crc_only_raise_corrupt(
    section: bytes, count: int, last_offset_delta: int, codec: int
) -> None:
    buf = bytearray(build_batch([RecordInput(b"k", b"v", (), NOW)]))
    del buf[HEADER_SIZE:]
    buf += section
    struct.pack_into(">i", buf, 8, len(buf) - 12)
    struct.pack_into(">h", buf, 21, codec)
    struct.pack_into(">i", buf, 23, last_offset_delta)
    struct.pack_into(">i", buf, 57, count)
    recrc(buf)
    _decode_only_corrupt(bytes(buf))


def _record(body: bytes) -> bytes:
    return encode_varint(len(body)) + body


def _batch_of(section: bytes, count: int = 1, last_offset_delta: int = 0) -> bytes:
    buf = bytearray(build_batch([RecordInput(b"k", b"v", (), NOW)]))
    del buf[HEADER_SIZE:]
    buf += section
    struct.pack_into(">i", buf, 8, len(buf) - 12)
    struct.pack_into(">i", buf, 23, last_offset_delta)
    struct.pack_into(">i", buf, 57, count)
    recrc(buf)
    return bytes(buf)


@pytest.mark.parametrize(
    ("section", "count", "match"),
    [
        (_record(b"\x00\x00\x00\x03\x01\x00"), 1, "negative key length"),
        (_record(b"\x00\x00\x00\x01\x03\x00"), 1, "negative value length"),
        (_record(b"\x00\x00\x02\x01\x01\x00"), 1, "offset delta"),
        (_record(b"\x00\x00\x00\x01\x01\x01"), 1, "header count|malformed"),
        (_record(b"\x00\x00\x00\x01\x01\x02\x02\xff\xfe\x01"), 1, "malformed"),  # bad utf-8 key
        (_record(b"\x00\x00\x00\x01\x01\x00\x00"), 1, "declares"),
        (_record(b"\x00\x00\x00\x01\x01\x00") + b"\x00", 1, "left after"),
        (_record(b"\x00\x00\x00\x01\x01\x00"), 2, "cannot fit|malformed"),
        (b"\x80\x80\x80\x80\x80\x80\x01" + b"\x00" * 10, 1, "varint longer"),
        (_record(b"\x00\x00\x00\x01\x01\x00"), 0, "left after"),
    ],
)
def test_specific_malformed_records(section: bytes, count: int, match: str) -> None:
    with pytest.raises(CorruptBatchError, match=match):
        decode_batch(_batch_of(section, count, max(count - 1, 0)))


def test_decode_records_uses_a_given_header() -> None:
    buf = build_batch(variety()[:3], base_offset=3, now_ms=NOW)
    header = read_header(buf)
    assert decode_records(header, buf) == decode_batch(buf)


def test_header_type_alias() -> None:
    h: Header = ("k", None)
    assert Record(0, 0, None, None, (h,)).headers == (("k", None),)


@pytest.mark.parametrize("compression", sorted(compression_codecs()))
def test_has_keyless_record_walks_every_batch_without_decoding_values(compression: int) -> None:
    keyed = build_batch([RecordInput(b"k", b"v" * 300, headers=[("h", b"x")]), RecordInput(b"", None)],
                        compression=compression, now_ms=0)
    keyless = build_batch([RecordInput(b"k", b"v"), RecordInput(None, b"v")], compression=compression, now_ms=0)
    assert not has_keyless_record(keyed)
    assert has_keyless_record(keyless)
    assert has_keyless_record(keyed + keyless)  # the second batch of a buffer counts too
    assert not has_keyless_record(keyed + keyed)
    broken = bytearray(keyed)
    broken[-1] ^= 0xFF
    with pytest.raises(CorruptBatchError):
        has_keyless_record(broken)
