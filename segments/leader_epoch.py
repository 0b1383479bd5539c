"""A partition's leader-epoch cache and its ``leader-epoch-checkpoint`` file (Kafka's ``LeaderEpochFileCache``).

Invariants: entries are sorted by epoch and by start offset, both strictly increasing; the entry for
epoch E says "the first offset written under leader epoch E". The end offset of epoch E is the start
offset of the next larger epoch, or the log end for the latest epoch (KIP-101). Truncating the log
removes entries at or after the new end (``truncate_from_end``); deleting records from the front
moves the first entry's start up (``truncate_from_start``).

File format (Kafka's ``LeaderEpochCheckpointFile``), UTF-8 text in the partition directory, replaced
atomically (``segments.checkpoint.atomic_write``) by the cache's ``write`` function: by default at
once, in the caller; a broker passes one that queues the write for a worker thread, in order, so its
event loop never waits on the fsync:

    line        content                    meaning
    1           ``0``                      format version
    2           ``<count>``                number of entries that follow
    3..count+2  ``<epoch> <start offset>`` one per epoch, single spaces, ascending
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from segments.checkpoint import CheckpointError, atomic_write

FILE_NAME = "leader-epoch-checkpoint"
VERSION = 0
UNDEFINED_EPOCH = -1
UNDEFINED_OFFSET = -1


class LeaderEpochCache:
    """Epoch -> start offset entries of one partition log, persisted on every change."""

    def __init__(self, path: Path, entries: list[tuple[int, int]],
                 write: Callable[[Path, bytes], None] = atomic_write) -> None:
        self.path = path
        self._entries = entries
        self._write = write

    @classmethod
    def load(cls, log_dir: Path, write: Callable[[Path, bytes], None] = atomic_write) -> LeaderEpochCache:
        path = log_dir / FILE_NAME
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path, [], write)
        lines = text.splitlines()
        if len(lines) < 2 or lines[0].strip() != str(VERSION):
            raise CheckpointError(f"{path}: not a version {VERSION} leader-epoch checkpoint")
        try:
            count = int(lines[1])
            entries = [(int(a), int(b)) for a, b in (line.split(" ") for line in lines[2:])]
        except ValueError:
            raise CheckpointError(f"{path}: malformed entry") from None
        if len(entries) != count:
            raise CheckpointError(f"{path}: expected {count} entries, found {len(entries)}")
        return cls(path, entries, write)

    @property
    def entries(self) -> tuple[tuple[int, int], ...]:
        return tuple(self._entries)

    @property
    def latest_epoch(self) -> int:
        return self._entries[-1][0] if self._entries else UNDEFINED_EPOCH

    def assign(self, epoch: int, start_offset: int) -> None:
        """Record that ``epoch`` starts at ``start_offset`` (a new leader, or a replicated batch of a
        newer epoch); an epoch not newer than the latest is ignored, as Kafka does."""
        if epoch < 0 or (self._entries and epoch <= self._entries[-1][0]):
            return
        # A newer epoch starting at or below an older entry's start replaces it (that older epoch
        # wrote nothing that survived).
        while self._entries and self._entries[-1][1] >= start_offset:
            self._entries.pop()
        self._entries.append((epoch, start_offset))
        self._flush()

    def end_offset_for(self, epoch: int, log_end_offset: int) -> tuple[int, int]:
        """(largest epoch <= ``epoch``, its end offset), Kafka's ``endOffsetFor``: the answer to
        OffsetForLeaderEpoch. (-1, -1) (undefined) when ``epoch`` is undefined, when there are no
        entries, or when ``epoch`` is newer than the latest entry: this log cannot say where an epoch
        it never had ends. An ``epoch`` older than every entry: (``epoch``, the start of the first
        entry), as Kafka answers, so a follower whose log holds only epochs this log never had cuts
        it back to where this log's history begins."""
        if epoch == UNDEFINED_EPOCH or not self._entries:
            return UNDEFINED_EPOCH, UNDEFINED_OFFSET
        if epoch == self._entries[-1][0]:
            return epoch, log_end_offset
        if epoch > self._entries[-1][0]:
            return UNDEFINED_EPOCH, UNDEFINED_OFFSET
        # Older than the latest: the first entry of a larger epoch ends the one asked for.
        higher = next(i for i, (e, _) in enumerate(self._entries) if e > epoch)
        if higher == 0:
            return epoch, self._entries[0][1]
        return self._entries[higher - 1][0], self._entries[higher][1]

    def truncate_from_end(self, end_offset: int) -> None:
        """Drop the entries of epochs that start at or after ``end_offset`` (the log was truncated there)."""
        kept = [(e, s) for e, s in self._entries if s < end_offset]
        if len(kept) != len(self._entries):
            self._entries = kept
            self._flush()

    def _flush(self) -> None:
        lines = [str(VERSION), str(len(self._entries))]
        lines.extend(f"{e} {s}" for e, s in self._entries)
        self._write(self.path, ("\n".join(lines) + "\n").encode())
