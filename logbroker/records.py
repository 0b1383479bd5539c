"""Records for the fronts that speak in records rather than batches (HTTP, tools).

The Kafka front moves record batches as opaque bytes; the HTTP front builds batches from JSON
records and renders fetched batches as records. Both conversions are the storage format's, so this
module re-exports the record value types and wraps the codec: a front imports records from the core,
never from ``segments``. Nothing here is on the Kafka produce or fetch path.
"""

from __future__ import annotations

from segments.batch import iter_batches
from segments.errors import CorruptBatchError
from segments.records import LOG_APPEND_TIME, Header, Record, RecordInput, build_batch, decode_records


def records_from(data: bytes, offset: int, limit: int) -> tuple[list[Record], int]:
    """At most ``limit`` records at or after ``offset`` from fetched batch bytes, and the offset to
    read next (past control batches and past records before ``offset`` in the first batch).

    Raises CorruptBatchError when the bytes do not decode.
    """
    out: list[Record] = []
    next_offset = offset
    for pos, header in iter_batches(data):
        if header.is_control:
            next_offset = max(next_offset, header.next_offset)
            continue
        for record in decode_records(header, data, pos):
            if record.offset < offset:
                continue
            if len(out) >= limit:
                return out, next_offset
            out.append(record)
            next_offset = record.offset + 1
        next_offset = max(next_offset, header.next_offset)
    return out, next_offset


__all__ = [
    "LOG_APPEND_TIME",
    "CorruptBatchError",
    "Header",
    "Record",
    "RecordInput",
    "build_batch",
    "records_from",
]
