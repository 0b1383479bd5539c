"""Idempotent-producer state of one partition: sequence checks and duplicate detection.

Follows Kafka's ``ProducerStateManager``/``ProducerAppendInfo`` (KIP-98, KIP-360):

- Each producer id has an epoch and the metadata of its last ``MAX_BATCHES`` (5) batches, which is
  exactly the number of in-flight requests an idempotent producer may have, so any retry of an
  acknowledged batch is recognised as a duplicate and answered with the offsets it got first.
- A batch from an older epoch is fenced (INVALID_PRODUCER_EPOCH). A batch from a newer epoch must
  start at sequence 0, unless the producer is unknown here (its state expired or never existed),
  in which case any sequence is accepted, as since KIP-360.
- Otherwise the batch's first sequence must follow the last one (wrapping at 2**31), else
  OUT_OF_ORDER_SEQUENCE_NUMBER.

The state is derived data: it is rebuilt from batch headers (``rebuild``) and persisted as a
snapshot file (``<offset, 20 digits>.snapshot``, JSON, written crash-safely) so start-up only has to
scan the batches after the snapshot. Entries at or beyond the log end after a crash are dropped
(``truncate_to``) so the snapshot never claims a batch the log lost.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from segments.batch import BatchHeader
from segments.errors import StorageError

if TYPE_CHECKING:
    from segments.log import Log

MAX_BATCHES = 5
SEQ_WRAP = 2**31
SNAPSHOT_SUFFIX = ".snapshot"


class OutOfOrderSequenceError(StorageError):
    """The batch's first sequence does not follow the producer's last sequence."""


class InvalidProducerEpochError(StorageError):
    """The batch comes from an epoch older than the producer's current one (a fenced producer)."""


@dataclass(frozen=True, slots=True)
class BatchRecord:
    first_seq: int
    last_seq: int
    first_offset: int
    last_offset: int
    max_timestamp: int


@dataclass(slots=True)
class ProducerEntry:
    producer_id: int
    epoch: int
    batches: deque[BatchRecord] = field(default_factory=lambda: deque(maxlen=MAX_BATCHES))
    last_timestamp: int = -1

    @property
    def last_seq(self) -> int:
        return self.batches[-1].last_seq if self.batches else -1


def _in_sequence(last_seq: int, next_seq: int) -> bool:
    return next_seq == (last_seq + 1) % SEQ_WRAP


class ProducerState:
    """Per-partition producer-id state. Not thread-safe: used from the broker's event loop."""

    def __init__(self) -> None:
        self.entries: dict[int, ProducerEntry] = {}

    def check(self, header: BatchHeader) -> BatchRecord | None:
        """Check a producer's batch before it is appended.

        Returns the original BatchRecord when the batch is a duplicate of one already appended (the
        caller answers with its offsets and appends nothing), None when it may be appended.
        Raises OutOfOrderSequenceError or InvalidProducerEpochError otherwise.
        """
        if header.producer_id < 0 or header.base_sequence < 0:
            return None
        entry = self.entries.get(header.producer_id)
        if entry is None:
            return None
        if header.producer_epoch < entry.epoch:
            raise InvalidProducerEpochError(
                f"producer {header.producer_id} epoch {header.producer_epoch} is older than {entry.epoch}"
            )
        first, last = header.base_sequence, header.last_sequence
        if header.producer_epoch == entry.epoch:
            for b in entry.batches:
                if b.first_seq == first and b.last_seq == last:
                    return b
            if entry.batches and not _in_sequence(entry.last_seq, first):
                raise OutOfOrderSequenceError(
                    f"producer {header.producer_id} sent sequence {first}, expected {(entry.last_seq + 1) % SEQ_WRAP}"
                )
        elif first != 0:
            raise OutOfOrderSequenceError(
                f"producer {header.producer_id} started epoch {header.producer_epoch} at sequence {first}, not 0"
            )
        return None

    def update(self, header: BatchHeader, base_offset: int) -> None:
        """Record a batch that was appended at ``base_offset``."""
        if header.producer_id < 0:
            return
        entry = self.entries.get(header.producer_id)
        if entry is None or header.producer_epoch != entry.epoch:
            entry = ProducerEntry(header.producer_id, header.producer_epoch)
            self.entries[header.producer_id] = entry
        if header.base_sequence >= 0:
            entry.batches.append(BatchRecord(header.base_sequence, header.last_sequence, base_offset,
                                             base_offset + header.last_offset_delta, header.max_timestamp))
        entry.last_timestamp = max(entry.last_timestamp, header.max_timestamp)

    def bump_epoch(self, producer_id: int, epoch: int) -> None:
        """InitProducerId gave this producer a new epoch: older epochs are fenced from now on."""
        entry = self.entries.get(producer_id)
        if entry is not None and entry.epoch < epoch:
            self.entries[producer_id] = ProducerEntry(producer_id, epoch)

    def rebuild(self, headers: Iterable[BatchHeader]) -> None:
        """Replay batch headers (with their final base offsets) in log order."""
        for h in headers:
            self.update(h, h.base_offset)

    def truncate_to(self, log_end_offset: int) -> None:
        """Forget batches at or beyond ``log_end_offset`` (the log lost them in a crash or truncation)."""
        for pid in list(self.entries):
            entry = self.entries[pid]
            kept = [b for b in entry.batches if b.last_offset < log_end_offset]
            if len(kept) != len(entry.batches):
                if not kept:
                    del self.entries[pid]
                    continue
                entry.batches = deque(kept, maxlen=MAX_BATCHES)

    def expire(self, now_ms: int, max_idle_ms: int) -> None:
        """Forget producers whose last batch is at least ``max_idle_ms`` old (Kafka's isProducerExpired)."""
        for pid in [p for p, e in self.entries.items() if 0 <= e.last_timestamp <= now_ms - max_idle_ms]:
            del self.entries[pid]

    # -- snapshots -------------------------------------------------------------------------------------
    def write_snapshot(self, directory: Path, offset: int) -> Path:
        """Write the state as of ``offset`` (the log end it covers) crash-safely; remove older ones."""
        return write_snapshot(directory, offset, self.snapshot(offset))

    def snapshot(self, offset: int) -> dict[str, object]:
        """The state as a JSON document, from memory only: take it on the thread that appends, then
        ``write_snapshot`` it from any thread (the fsync and rename stay off the event loop)."""
        return {
            "version": 1,
            "offset": offset,
            "producers": [
                {"pid": e.producer_id, "epoch": e.epoch, "ts": e.last_timestamp,
                 "batches": [[b.first_seq, b.last_seq, b.first_offset, b.last_offset, b.max_timestamp]
                             for b in e.batches]}
                for e in self.entries.values()
            ],
        }

    @classmethod
    def load_snapshot(cls, directory: Path, log_end_offset: int) -> tuple[ProducerState, int]:
        """The newest readable snapshot at or below ``log_end_offset`` and the offset it covers.

        A missing or unreadable snapshot yields empty state covering offset 0 (rebuild from the log).
        """
        state = cls()
        candidates = sorted(directory.glob(f"*{SNAPSHOT_SUFFIX}"), reverse=True)
        for path in candidates:
            try:
                offset = int(path.name[: -len(SNAPSHOT_SUFFIX)])
            except ValueError:
                continue
            if offset > log_end_offset:
                continue
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
                for p in doc["producers"]:
                    entry = ProducerEntry(int(p["pid"]), int(p["epoch"]), last_timestamp=int(p["ts"]))
                    for b in p["batches"]:
                        entry.batches.append(BatchRecord(*(int(x) for x in b)))
                    state.entries[entry.producer_id] = entry
            except (OSError, ValueError, KeyError, TypeError):
                state = cls()
                continue
            return state, offset
        return state, 0

    @classmethod
    def recover(cls, log: Log) -> ProducerState:
        """The partition's state: its newest snapshot, cut to the log end, then the batch headers the
        snapshot does not cover (61 bytes read per batch, no records decoded)."""
        end = log.log_end_offset
        state, covered = cls.load_snapshot(log.path, end)
        state.truncate_to(end)
        state.rebuild(log.batch_headers_from(max(covered, log.log_start_offset)))
        return state


def delete_snapshots_above(directory: Path, offset: int) -> list[Path]:
    """Remove the snapshots that cover more than ``offset``, the log's new end after a truncation or
    a crash recovery: they describe batches the log no longer holds, and once the log grows past
    their offset again they would be loaded as if they described the new batches (a retried batch
    answered with the old batch's offsets). Kafka's producer state manager does the same when its
    log is truncated. Returns the paths removed."""
    removed = []
    for path in directory.glob(f"*{SNAPSHOT_SUFFIX}"):
        try:
            covered = int(path.name[: -len(SNAPSHOT_SUFFIX)])
        except ValueError:
            continue
        if covered > offset:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def write_snapshot(directory: Path, offset: int, doc: dict[str, object]) -> Path:
    """Write a ``ProducerState.snapshot`` document as ``<offset>.snapshot`` crash-safely (tmp, fsync,
    rename, directory fsync) and remove older snapshots. Safe from a worker thread."""
    path = directory / f"{offset:020d}{SNAPSHOT_SUFFIX}"
    tmp = path.with_suffix(".snapshot.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    for old in directory.glob(f"*{SNAPSHOT_SUFFIX}"):
        if old != path:
            old.unlink(missing_ok=True)
    return path

