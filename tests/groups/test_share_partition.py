"""The share-partition state machine (``logbroker/groups/share_partition.py``): unit cases, and a
hypothesis stateful test against a plain model (a list of every record's fate)."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from logbroker.groups.share_partition import (
    AckType,
    InvalidRecordState,
    RecordState,
    SharePartition,
    offsets_of,
)


def test_acquire_ack_advances_start() -> None:
    sp = SharePartition(0, lock_ms=1000)
    got = sp.acquire("a", 0, 10, 3, now_ms=0)
    assert list(offsets_of(got)) == [0, 1, 2]
    sp.acknowledge("a", [(1, AckType.ACCEPT)], now_ms=1)
    assert sp.start_offset == 0
    sp.acknowledge("a", [(0, AckType.ACCEPT), (2, AckType.REJECT)], now_ms=1)
    assert sp.start_offset == 3 and not sp.records


def test_other_member_cannot_ack_and_nothing_changes() -> None:
    sp = SharePartition(0)
    sp.acquire("a", 0, 2, 2, now_ms=0)
    with pytest.raises(InvalidRecordState):
        sp.acknowledge("b", [(0, AckType.ACCEPT)], now_ms=1)
    with pytest.raises(InvalidRecordState):
        sp.acknowledge("a", [(0, AckType.ACCEPT), (5, AckType.ACCEPT)], now_ms=1)
    assert sp.records[0].state == RecordState.ACQUIRED


def test_lock_expiry_redelivers_then_archives_at_limit() -> None:
    sp = SharePartition(0, lock_ms=100, delivery_limit=2)
    assert sp.acquire("a", 0, 1, 1, now_ms=0)[0].delivery_count == 1
    assert sp.acquire("b", 0, 1, 1, now_ms=50) == []  # still locked
    again = sp.acquire("b", 0, 1, 1, now_ms=100)
    assert again[0].delivery_count == 2
    with pytest.raises(InvalidRecordState):
        sp.acknowledge("a", [(0, AckType.ACCEPT)], now_ms=101)
    sp.acknowledge("b", [(0, AckType.RELEASE)], now_ms=101)  # second delivery was the last
    assert sp.start_offset == 1 and sp.acquire("c", 0, 1, 1, now_ms=200) == []


def test_in_flight_limit() -> None:
    sp = SharePartition(0, max_in_flight=3)
    assert list(offsets_of(sp.acquire("a", 0, 10, 10, now_ms=0))) == [0, 1, 2]
    assert sp.acquire("b", 0, 10, 10, now_ms=0) == []
    sp.acknowledge("a", [(0, AckType.ACCEPT)], now_ms=0)
    assert list(offsets_of(sp.acquire("b", 0, 10, 10, now_ms=0))) == [3]


def test_release_member_and_state_batches_round_trip() -> None:
    sp = SharePartition(5, delivery_limit=3)
    sp.acquire("a", 0, 12, 7, now_ms=0)
    sp.acknowledge("a", [(6, AckType.ACCEPT), (7, AckType.REJECT)], now_ms=0)
    assert sp.release_member("a") == 5
    batches = sp.state_batches()
    restored = SharePartition.restore(sp.start_offset, batches, delivery_limit=3)
    assert restored.start_offset == 5 and restored.end_offset == 12
    assert {o: (r.state, r.delivery_count) for o, r in restored.records.items()} == {
        o: (r.state, r.delivery_count) for o, r in sp.records.items()}


def test_log_start_moves_past_window() -> None:
    sp = SharePartition(0)
    sp.acquire("a", 0, 5, 5, now_ms=0)
    assert sp.acquire("a", 3, 8, 10, now_ms=0)[0].first_offset == 5
    assert sp.start_offset == 3 and min(sp.records) == 3


MEMBERS = st.sampled_from(["m1", "m2", "m3"])
LIMIT = 3
LOCK = 100


class SharePartitionMachine(RuleBasedStateMachine):
    """The model: per offset, (state, member, deadline, delivery count), changed by plain rules."""

    def __init__(self) -> None:
        super().__init__()
        self.sp = SharePartition(0, lock_ms=LOCK, delivery_limit=LIMIT, max_in_flight=8)
        self.now = 0
        self.log_end = 0
        self.model: dict[int, list[object]] = {}  # offset -> [state, member, deadline, count]
        self.acked: list[int] = []  # every ACCEPT answered, in order
        self.counts_seen: dict[int, int] = {}

    def _expire_model(self) -> None:
        for rec in self.model.values():
            if rec[0] == "acquired" and rec[2] <= self.now:  # type: ignore[operator]
                rec[0] = "archived" if rec[3] >= LIMIT else "available"  # type: ignore[operator]
                rec[1] = None

    @rule(n=st.integers(1, 5))
    def produce(self, n: int) -> None:
        self.log_end += n

    @rule(ms=st.integers(0, 150))
    def advance(self, ms: int) -> None:
        self.now += ms
        self.sp.expire_locks(self.now)
        self._expire_model()

    @rule(member=MEMBERS, max_records=st.integers(1, 6))
    def acquire(self, member: str, max_records: int) -> None:
        got = list(offsets_of(self.sp.acquire(member, 0, self.log_end, max_records, self.now)))
        self._expire_model()
        assert len(got) <= max_records
        for o in got:
            rec = self.model.setdefault(o, ["available", None, 0, 0])
            assert rec[0] == "available", f"offset {o} acquired while {rec[0]}"
            rec[0], rec[1], rec[2] = "acquired", member, self.now + LOCK
            rec[3] += 1  # type: ignore[operator]
            assert self.counts_seen.get(o, 0) < rec[3]  # type: ignore[operator]
            self.counts_seen[o] = rec[3]  # type: ignore[assignment]
        # Never-delivered offsets are handed out only after every record waiting for redelivery.
        waiting = [o for o, r in self.model.items() if r[0] == "available"]
        assert not waiting or len(got) == max_records or all(o in got for o in waiting)

    @precondition(lambda self: bool(self.model))
    @rule(member=MEMBERS, data=st.data(), kind=st.sampled_from([AckType.ACCEPT, AckType.RELEASE, AckType.REJECT]))
    def acknowledge(self, member: str, data: st.DataObject, kind: AckType) -> None:
        offset = data.draw(st.sampled_from(sorted(self.model)))
        self._expire_model()
        rec = self.model[offset]
        holds = rec[0] == "acquired" and rec[1] == member
        try:
            self.sp.acknowledge(member, [(offset, kind)], self.now)
        except InvalidRecordState:
            assert not holds
            return
        assert holds
        if kind == AckType.ACCEPT:
            rec[0] = "acked"
            self.acked.append(offset)
        elif kind == AckType.REJECT:
            rec[0] = "archived"
        else:
            rec[0] = "archived" if rec[3] >= LIMIT else "available"  # type: ignore[operator]
        rec[1] = None

    @rule(member=MEMBERS)
    def leave(self, member: str) -> None:
        self.sp.release_member(member)
        for rec in self.model.values():
            if rec[0] == "acquired" and rec[1] == member:
                rec[0] = "archived" if rec[3] >= LIMIT else "available"  # type: ignore[operator]
                rec[1] = None

    @rule()
    def restart(self) -> None:
        """Replace the partition with its durable form: locks are lost as if they expired (a record whose
        last delivery reached the limit is archived), nothing else is."""
        self.sp = SharePartition.restore(self.sp.start_offset, self.sp.state_batches(), lock_ms=LOCK,
                                         delivery_limit=LIMIT, max_in_flight=8)
        for rec in self.model.values():
            if rec[0] == "acquired":
                rec[0] = "archived" if rec[3] >= LIMIT else "available"  # type: ignore[operator]
                rec[1] = None

    @invariant()
    def no_record_acked_twice(self) -> None:
        assert len(self.acked) == len(set(self.acked))

    @invariant()
    def matches_model(self) -> None:
        sp = self.sp
        finished = ("acked", "archived")
        first_open = min((o for o, r in self.model.items() if r[0] not in finished), default=None)
        expected_start = first_open if first_open is not None else (max(self.model) + 1 if self.model else 0)
        assert sp.start_offset == expected_start
        for o, rec in self.model.items():
            if o < sp.start_offset:
                assert rec[0] in finished  # none lost: only finished records leave the window
                continue
            live = sp.records[o]
            assert live.delivery_count == rec[3]
            name = {RecordState.AVAILABLE: "available", RecordState.ACQUIRED: "acquired",
                    RecordState.ACKNOWLEDGED: "acked", RecordState.ARCHIVED: "archived"}[live.state]
            assert name == rec[0], f"offset {o}: {name} != {rec[0]}"
            if rec[0] == "acquired":
                assert live.member == rec[1] and live.deadline_ms == rec[2]
        assert sp.end_offset - sp.start_offset <= 8


TestSharePartitionMachine = SharePartitionMachine.TestCase
TestSharePartitionMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
