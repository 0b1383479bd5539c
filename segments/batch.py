"""Kafka record batch v2 (magic 2): header view, validation and in-place offset assignment.

The record batch is both the wire format and the on-disk format, so a produced batch is written as
the bytes that arrived and a fetch sends file bytes unchanged. This module reads and checks the
fixed 61-byte header without touching the records; decoding records lives in ``records.py`` and is
never done on the append or read path.

Layout (Kafka ``DefaultRecordBatch``, KIP-98; all integers big-endian)::

    offset  size  field                 meaning
    0       8     baseOffset            offset of the first record; assigned by the broker
    8       4     batchLength           bytes after this field (total size = batchLength + 12)
    12      4     partitionLeaderEpoch  leader epoch when appended (-1 from clients)
    16      1     magic                 2 for this format
    17      4     crc                   CRC32C (Castagnoli) of bytes 21..end, unsigned
    21      2     attributes            bits 0-2 compression (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd),
                                        bit 3 timestamp type (1 = LogAppendTime), bit 4 transactional,
                                        bit 5 control, bit 6 delete horizon set
    23      4     lastOffsetDelta       offset of the last record minus baseOffset
    27      8     baseTimestamp         first timestamp in the batch (ms)
    35      8     maxTimestamp          largest timestamp in the batch (ms)
    43      8     producerId            -1 when not idempotent
    51      2     producerEpoch
    53      4     baseSequence          -1 when not idempotent
    57      4     recordsCount
    61      ...   records               possibly compressed

The CRC does not cover baseOffset, batchLength or partitionLeaderEpoch, which is why the broker can
assign offsets by rewriting baseOffset in place without recomputing it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from crc32c import crc32c

from segments.errors import CorruptBatchError

HEADER_SIZE = 61
LOG_OVERHEAD = 12  # baseOffset (8) + batchLength (4): the bytes not counted by batchLength
CRC_START = 21  # the CRC covers attributes .. end of batch
MAGIC = 2
# The smallest legal batchLength: the header after the first 12 bytes, with zero records.
MIN_BATCH_LENGTH = HEADER_SIZE - LOG_OVERHEAD

COMPRESSION_MASK = 0x07
TIMESTAMP_TYPE_MASK = 0x08
TRANSACTIONAL_MASK = 0x10
CONTROL_MASK = 0x20
DELETE_HORIZON_MASK = 0x40

_HEADER = struct.Struct(">qiibIhiqqqhii")
_PREFIX = struct.Struct(">qi")  # baseOffset, batchLength
_BASE_OFFSET = struct.Struct(">q")
_LEADER_EPOCH = struct.Struct(">i")
_MAX_TIMESTAMP_AT = 35


@dataclass(frozen=True, slots=True)
class BatchHeader:
    """The decoded fixed header of one record batch (records are not read)."""

    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    first_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    record_count: int

    @property
    def size(self) -> int:
        """Total bytes of the batch including baseOffset and batchLength."""
        return self.batch_length + LOG_OVERHEAD

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self) -> int:
        return self.base_offset + self.last_offset_delta + 1

    @property
    def compression(self) -> int:
        return self.attributes & COMPRESSION_MASK

    @property
    def timestamp_type(self) -> int:
        """0 = CreateTime, 1 = LogAppendTime."""
        return (self.attributes & TIMESTAMP_TYPE_MASK) >> 3

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & TRANSACTIONAL_MASK)

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & CONTROL_MASK)

    @property
    def last_sequence(self) -> int:
        """Sequence of the last record (wraps at 2**31 like Kafka's DefaultRecordBatch)."""
        if self.base_sequence < 0:
            return -1
        return (self.base_sequence + self.last_offset_delta) % (2**31)


def read_header(buf: bytes | bytearray | memoryview, pos: int = 0) -> BatchHeader:
    """Decode the header at ``pos`` without checking the CRC or copying record bytes.

    Raises CorruptBatchError when fewer than 61 bytes remain or batchLength is out of bounds.
    """
    remaining = len(buf) - pos
    if remaining < HEADER_SIZE:
        raise CorruptBatchError(f"truncated batch header: {remaining} bytes at position {pos}, need {HEADER_SIZE}")
    fields = _HEADER.unpack_from(buf, pos)
    header = BatchHeader(*fields)
    if header.batch_length < MIN_BATCH_LENGTH:
        raise CorruptBatchError(f"batch length {header.batch_length} at position {pos} is below the minimum")
    return header


def peek_size(buf: bytes | bytearray | memoryview, pos: int = 0) -> int:
    """Total size of the batch at ``pos`` from its first 12 bytes, or -1 if fewer than 12 remain."""
    if len(buf) - pos < LOG_OVERHEAD:
        return -1
    return int(_PREFIX.unpack_from(buf, pos)[1]) + LOG_OVERHEAD


def validate(buf: bytes | bytearray | memoryview, pos: int = 0) -> BatchHeader:
    """Check the batch at ``pos`` fully and return its header.

    Checks: header present, batchLength within bounds and within ``buf``, magic 2, CRC32C over
    attributes..end, and recordsCount consistent with lastOffsetDelta. An empty batch (zero records)
    is legal only as the result of compaction, so it must keep lastOffsetDelta >= 0.
    """
    header = read_header(buf, pos)
    if header.magic != MAGIC:
        raise CorruptBatchError(f"unsupported magic {header.magic} at position {pos}; only record batch v2")
    end = pos + header.size
    if end > len(buf):
        raise CorruptBatchError(
            f"batch at position {pos} declares {header.size} bytes but only {len(buf) - pos} remain"
        )
    view = memoryview(buf)[pos + CRC_START : end]
    actual = crc32c(view)
    if actual != header.crc:
        raise CorruptBatchError(
            f"CRC mismatch at position {pos}: stored {header.crc:#010x}, computed {actual:#010x}"
        )
    if header.last_offset_delta < 0:
        raise CorruptBatchError(f"negative lastOffsetDelta {header.last_offset_delta} at position {pos}")
    if header.record_count < 0 or header.record_count > header.last_offset_delta + 1:
        raise CorruptBatchError(
            f"record count {header.record_count} does not fit lastOffsetDelta {header.last_offset_delta}"
        )
    return header


def validate_produced(buf: bytes | bytearray | memoryview, pos: int = 0) -> BatchHeader:
    """Validate a batch arriving from a producer: as ``validate`` and, additionally, dense offsets.

    A producer's batch must carry exactly lastOffsetDelta + 1 records (compaction is the only source
    of gaps) and at least one record.
    """
    header = validate(buf, pos)
    if header.record_count != header.last_offset_delta + 1 or header.record_count == 0:
        raise CorruptBatchError(
            f"record count {header.record_count} does not match lastOffsetDelta {header.last_offset_delta}"
        )
    return header


def iter_batches(buf: bytes | bytearray | memoryview, check_crc: bool = True) -> Iterator[tuple[int, BatchHeader]]:
    """Yield (position, header) for each batch in a buffer of concatenated batches.

    Raises CorruptBatchError at the first batch that is invalid or truncated.
    """
    pos = 0
    total = len(buf)
    while pos < total:
        header = validate(buf, pos) if check_crc else read_header(buf, pos)
        if pos + header.size > total:
            raise CorruptBatchError(f"batch at position {pos} is truncated")
        yield pos, header
        pos += header.size


def valid_prefix(buf: bytes | bytearray | memoryview) -> tuple[int, list[tuple[int, BatchHeader]], str | None]:
    """Scan batches until the first invalid one.

    Returns the length of the valid prefix, the (position, header) of each batch in it, and the reason
    the scan stopped (None when the whole buffer is valid). Recovery cuts the file at that length.
    """
    batches: list[tuple[int, BatchHeader]] = []
    pos = 0
    total = len(buf)
    while pos < total:
        try:
            header = validate(buf, pos)
        except CorruptBatchError as exc:
            return pos, batches, str(exc)
        batches.append((pos, header))
        pos += header.size
    return pos, batches, None


def set_base_offset(buf: bytearray | memoryview, pos: int, base_offset: int) -> None:
    """Assign offsets to the batch at ``pos`` by rewriting baseOffset in place (HOT PATH).

    The CRC does not cover baseOffset, so the batch stays valid.
    """
    _BASE_OFFSET.pack_into(buf, pos, base_offset)


def set_partition_leader_epoch(buf: bytearray | memoryview, pos: int, epoch: int) -> None:
    """Stamp the leader epoch a batch is appended under (the leader does this, as Kafka's validator).

    The CRC starts at ``attributes``, after this field, so the batch stays valid.
    """
    _LEADER_EPOCH.pack_into(buf, pos + 12, epoch)


def max_timestamp_of(buf: bytes | bytearray | memoryview, pos: int = 0) -> int:
    """The maxTimestamp field of the batch at ``pos`` (no validation)."""
    return int(struct.unpack_from(">q", buf, pos + _MAX_TIMESTAMP_AT)[0])


def set_log_append_time(buf: bytearray | memoryview, pos: int, now_ms: int) -> None:
    """Stamp a batch with LogAppendTime (topic config ``message.timestamp.type=LogAppendTime``).

    Sets the timestamp-type attribute bit and maxTimestamp to ``now_ms`` and recomputes the CRC, as
    Kafka does for v2 batches: per batch, no record is rewritten (consumers take every record's
    timestamp from maxTimestamp when the bit is set).
    """
    (attributes,) = struct.unpack_from(">h", buf, pos + CRC_START)
    struct.pack_into(">h", buf, pos + CRC_START, attributes | TIMESTAMP_TYPE_MASK)
    struct.pack_into(">q", buf, pos + _MAX_TIMESTAMP_AT, now_ms)
    end = pos + peek_size(buf, pos)
    struct.pack_into(">I", buf, pos + 17, crc32c(memoryview(buf)[pos + CRC_START : end]))
