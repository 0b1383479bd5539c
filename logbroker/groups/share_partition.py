"""One share-partition: the records of one topic partition that one share group is working on (KIP-932).

A share group reads a partition as a queue: a record is *acquired* by one member with a time lock,
then acknowledged ACCEPT (done), RELEASE (back to the queue, redelivered) or REJECT (done, never
redelivered). Kafka's ``SharePartition`` keeps the same window; this module is its state machine,
sans-IO, every method taking ``now_ms``.

Invariants:

- ``start_offset`` (SPSO) <= every offset tracked < ``end_offset`` (SPEO). Offsets below the SPSO are
  finished; offsets at or above the SPEO have never been acquired.
- Inside the window an offset is in ``records`` with one state: AVAILABLE (to be redelivered),
  ACQUIRED (by ``member`` until ``deadline_ms``), ACKNOWLEDGED or ARCHIVED. An offset of the window
  missing from ``records`` is a gap (no such record in the log, e.g. compacted away): finished.
- ``delivery_count`` is the number of times a record was acquired; it never decreases. A record
  released (or whose lock expires) with ``delivery_count >= delivery_limit`` is ARCHIVED instead of
  AVAILABLE (``share.delivery.count.limit``).
- The SPSO advances over the finished prefix of the window, so ``records`` holds at most
  ``max_in_flight`` offsets (``group.share.partition.max.record.locks``): no new offset is acquired
  while ``end_offset - start_offset`` is at that limit.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


class RecordState(enum.IntEnum):
    """Kafka's numbering of a record's delivery state (the ``__share_group_state`` layouts use it)."""

    AVAILABLE = 0
    ACQUIRED = 1
    ACKNOWLEDGED = 2
    ARCHIVED = 4


class AckType(enum.IntEnum):
    """Kafka's acknowledge types (ShareFetch/ShareAcknowledge ``AcknowledgeTypes``)."""

    GAP = 0  # no record at this offset: finished without a delivery
    ACCEPT = 1
    RELEASE = 2
    REJECT = 3


class InvalidRecordState(Exception):
    """An acknowledgement for a record this member does not hold (never acquired, lock expired,
    acquired by another member, or already acknowledged): Kafka's INVALID_RECORD_STATE."""


@dataclass(slots=True)
class InFlight:
    state: RecordState
    delivery_count: int
    member: str | None = None  # while ACQUIRED
    deadline_ms: int = 0  # while ACQUIRED: when the lock expires


@dataclass(frozen=True, slots=True)
class AcquiredRange:
    """Consecutive offsets acquired together with the same delivery count (Kafka's AcquiredRecords)."""

    first_offset: int
    last_offset: int
    delivery_count: int


@dataclass(frozen=True, slots=True)
class StateBatch:
    """A run of offsets with one durable state and delivery count (what ``__share_group_state`` keeps)."""

    first_offset: int
    last_offset: int
    state: RecordState
    delivery_count: int


FINISHED = (RecordState.ACKNOWLEDGED, RecordState.ARCHIVED)


class SharePartition:
    """The acquisition window of one (group, topic, partition). Not thread-safe."""

    def __init__(self, start_offset: int, *, lock_ms: int = 30_000, delivery_limit: int = 5,
                 max_in_flight: int = 2000) -> None:
        self.start_offset = start_offset
        self.end_offset = start_offset
        self.records: dict[int, InFlight] = {}
        self.lock_ms = lock_ms
        self.delivery_limit = delivery_limit
        self.max_in_flight = max_in_flight
        self.next_deadline_ms: int | None = None  # earliest lock deadline, a hint for tick()

    # ------------------------------------------------------------------ reading the state
    def acquired_by(self, member: str) -> list[int]:
        return sorted(o for o, r in self.records.items() if r.state == RecordState.ACQUIRED and r.member == member)

    def count(self, state: RecordState) -> int:
        return sum(1 for r in self.records.values() if r.state == state)

    def has_available(self, log_end_offset: int) -> bool:
        """Whether ``acquire`` could hand out anything now."""
        if any(r.state == RecordState.AVAILABLE for r in self.records.values()):
            return True
        return self.end_offset < log_end_offset and self.end_offset - self.start_offset < self.max_in_flight

    def next_fetch_offset(self, now_ms: int) -> int | None:
        """The lowest offset ``acquire`` would hand out now (what to read the log from), or None
        when only new records could be acquired and the in-flight limit is reached."""
        self.expire_locks(now_ms)
        available = [o for o, r in self.records.items() if r.state == RecordState.AVAILABLE]
        if available:
            return min(available)
        return self.end_offset if self.end_offset - self.start_offset < self.max_in_flight else None

    # ------------------------------------------------------------------ acquisition
    def acquire(self, member: str, log_start_offset: int, log_end_offset: int, max_records: int,
                now_ms: int) -> list[AcquiredRange]:
        """Acquire up to ``max_records`` offsets for ``member``: records to redeliver first (lowest
        offset first), then offsets never delivered, from the SPEO up to ``log_end_offset``. Each
        acquisition increments the record's delivery count and locks it until ``now_ms + lock_ms``.
        Nothing at or above ``log_end_offset`` is acquired (a caller that read less of the log than
        there is passes the end of what it read)."""
        self.expire_locks(now_ms)
        self.advance_log_start(log_start_offset)
        deadline = now_ms + self.lock_ms
        taken: list[tuple[int, int]] = []
        for offset in sorted(o for o, r in self.records.items()
                             if r.state == RecordState.AVAILABLE and o < log_end_offset):
            if len(taken) >= max_records:
                break
            rec = self.records[offset]
            rec.state, rec.member, rec.deadline_ms = RecordState.ACQUIRED, member, deadline
            rec.delivery_count += 1
            taken.append((offset, rec.delivery_count))
        while (len(taken) < max_records and self.end_offset < log_end_offset
               and self.end_offset - self.start_offset < self.max_in_flight):
            self.records[self.end_offset] = InFlight(RecordState.ACQUIRED, 1, member, deadline)
            taken.append((self.end_offset, 1))
            self.end_offset += 1
        if taken:
            self.next_deadline_ms = deadline if self.next_deadline_ms is None else min(self.next_deadline_ms,
                                                                                        deadline)
        return _ranges(taken)

    # ------------------------------------------------------------------ acknowledgement
    def check_acknowledge(self, member: str, offsets: Iterable[int]) -> None:
        """Raise InvalidRecordState unless ``member`` holds every offset (nothing is changed)."""
        for offset in offsets:
            rec = self.records.get(offset)
            if rec is None or rec.state != RecordState.ACQUIRED or rec.member != member:
                raise InvalidRecordState(f"offset {offset} is not acquired by member {member}")

    def acknowledge(self, member: str, acks: Iterable[tuple[int, AckType]], now_ms: int) -> None:
        """Apply acknowledgements of records ``member`` holds, all or nothing: ACCEPT and GAP finish a
        record, REJECT archives it, RELEASE makes it available again (or archives it at the delivery
        limit). Raises InvalidRecordState (and changes nothing) if any offset is not held."""
        acks = list(acks)
        self.expire_locks(now_ms)
        self.check_acknowledge(member, (o for o, _ in acks))
        for offset, kind in acks:
            rec = self.records[offset]
            if kind == AckType.RELEASE:
                self._release(rec)
            else:
                rec.state = RecordState.ACKNOWLEDGED if kind in (AckType.ACCEPT, AckType.GAP) else RecordState.ARCHIVED
                rec.member, rec.deadline_ms = None, 0
        self._advance_start()

    def release_member(self, member: str) -> int:
        """Release every record ``member`` holds (it left the group, or its share session closed).
        Returns how many were released."""
        held = [r for r in self.records.values() if r.state == RecordState.ACQUIRED and r.member == member]
        for rec in held:
            self._release(rec)
        self._advance_start()
        return len(held)

    def _release(self, rec: InFlight) -> None:
        rec.state = RecordState.ARCHIVED if rec.delivery_count >= self.delivery_limit else RecordState.AVAILABLE
        rec.member, rec.deadline_ms = None, 0

    # ------------------------------------------------------------------ time and the log
    def expire_locks(self, now_ms: int) -> int:
        """Release every record whose lock deadline passed. Returns how many were released."""
        if self.next_deadline_ms is None or now_ms < self.next_deadline_ms:
            return 0
        expired = 0
        earliest: int | None = None
        for rec in self.records.values():
            if rec.state != RecordState.ACQUIRED:
                continue
            if rec.deadline_ms <= now_ms:
                self._release(rec)
                expired += 1
            elif earliest is None or rec.deadline_ms < earliest:
                earliest = rec.deadline_ms
        self.next_deadline_ms = earliest
        if expired:
            self._advance_start()
        return expired

    def advance_log_start(self, log_start_offset: int) -> None:
        """Records deleted from the log (retention, DeleteRecords) can no longer be delivered."""
        if log_start_offset > self.start_offset:
            for offset in [o for o in self.records if o < log_start_offset]:
                del self.records[offset]
            self.start_offset = log_start_offset
            self.end_offset = max(self.end_offset, log_start_offset)

    def reset(self, start_offset: int) -> None:
        """Move the SPSO (AlterShareGroupOffsets; only while the group has no members)."""
        self.records.clear()
        self.start_offset = self.end_offset = start_offset
        self.next_deadline_ms = None

    def _advance_start(self) -> None:
        while self.start_offset < self.end_offset:
            rec = self.records.get(self.start_offset)
            if rec is not None and rec.state not in FINISHED:
                break
            self.records.pop(self.start_offset, None)
            self.start_offset += 1

    # ------------------------------------------------------------------ durable form
    def state_batches(self) -> list[StateBatch]:
        """The window as runs of one state, for ``__share_group_state``. An acquired record is stored
        as AVAILABLE with its delivery count: locks do not survive a restart, the record does."""
        out: list[StateBatch] = []
        for offset in range(self.start_offset, self.end_offset):
            rec = self.records.get(offset)
            state, count = ((RecordState.ACKNOWLEDGED, 0) if rec is None
                            else (RecordState.AVAILABLE if rec.state == RecordState.ACQUIRED else rec.state,
                                  rec.delivery_count))
            last = out[-1] if out else None
            if last is not None and last.state == state and last.delivery_count == count:
                out[-1] = StateBatch(last.first_offset, offset, state, count)
            else:
                out.append(StateBatch(offset, offset, state, count))
        return out

    @classmethod
    def restore(cls, start_offset: int, batches: Iterable[StateBatch], **settings: int) -> SharePartition:
        """A share-partition as ``state_batches`` left it: every unfinished record AVAILABLE again, as if
        its lock had expired, so one whose last delivery reached the delivery limit is ARCHIVED."""
        sp = cls(start_offset, **settings)
        for batch in batches:
            for offset in range(max(batch.first_offset, start_offset), batch.last_offset + 1):
                state = RecordState.AVAILABLE if batch.state == RecordState.ACQUIRED else batch.state
                if state == RecordState.AVAILABLE and batch.delivery_count >= sp.delivery_limit:
                    state = RecordState.ARCHIVED
                sp.records[offset] = InFlight(state, batch.delivery_count)
                sp.end_offset = max(sp.end_offset, offset + 1)
        sp._advance_start()
        return sp


def _ranges(taken: list[tuple[int, int]]) -> list[AcquiredRange]:
    out: list[AcquiredRange] = []
    for offset, count in sorted(taken):
        last = out[-1] if out else None
        if last is not None and last.last_offset + 1 == offset and last.delivery_count == count:
            out[-1] = AcquiredRange(last.first_offset, offset, count)
        else:
            out.append(AcquiredRange(offset, offset, count))
    return out


def offsets_of(ranges: Iterable[AcquiredRange]) -> Iterator[int]:
    for r in ranges:
        yield from range(r.first_offset, r.last_offset + 1)
