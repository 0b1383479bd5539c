"""A queue checker in the style of Jepsen's: from what producers sent and were told, what consumers
saw and committed, and what the partitions finally hold, list every safety violation.

The history is built by the workload (``tests/cluster/fault/workload.py``) and checked once at the
end of a run; the checker is pure (no clients, no clock) so it is unit-tested on synthetic histories.

Inputs
    sends      every produce attempt: value, partition, the producer's own sequence number
    acks       every acknowledgement: value, partition, offset (an ``acks=all`` delivery report
               without error); offset -1 when the report carried none (librdkafka's implicit
               acknowledgement: a later batch of the partition succeeded while this one's request
               had failed with an uncertain outcome, so it was written, at an offset never told)
    consumed   every record a group consumer returned: partition, offset, value
    commits    every committed offset observed for the group, per partition, in time order (offsets
               the consumer committed successfully and offsets read back with OffsetFetch)
    final      the whole final log of every partition, read back after the faults healed, as
               (offset, value) in offset order

Violations (each a count plus examples)
    lost             an acknowledged value absent from its partition's final log
    moved            an acknowledged value present, but not at the offset it was acknowledged at
                     (not checkable for an acknowledgement without an offset; lost still is)
    duplicated       a value present more than once in the final logs (all partitions together)
    reordered        within one partition, one producer's values not in its send order
    phantom          a value in a final log that no producer ever sent
    unstable_reads   a consumed (offset, value) that the final log does not hold at that offset: a
                     consumer saw a record that was later truncated (read above the high watermark)
    offsets_backward a committed offset observed lower than one observed before it, same partition
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

EXAMPLES = 5


@dataclass(frozen=True, slots=True)
class Send:
    value: bytes
    partition: int
    producer: str
    seq: int  # the producer's own counter: its values are sent in this order


NO_OFFSET = -1  # an acknowledgement that named no offset


@dataclass(frozen=True, slots=True)
class Ack:
    value: bytes
    partition: int
    offset: int  # NO_OFFSET: acknowledged without one


@dataclass(frozen=True, slots=True)
class Consumed:
    partition: int
    offset: int
    value: bytes


@dataclass(slots=True)
class History:
    sends: list[Send] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    consumed: list[Consumed] = field(default_factory=list)
    commits: dict[int, list[int]] = field(default_factory=dict)  # partition -> committed offsets in time order
    final: dict[int, list[tuple[int, bytes]]] = field(default_factory=dict)  # partition -> (offset, value)


@dataclass(slots=True)
class Report:
    sent: int = 0
    acknowledged: int = 0
    acknowledged_without_offset: int = 0
    final_records: int = 0
    consumed: int = 0
    violations: dict[str, list[str]] = field(default_factory=dict)

    def count(self, kind: str) -> int:
        return len(self.violations.get(kind, []))

    @property
    def ok(self) -> bool:
        return not any(self.violations.values())

    def summary(self) -> str:
        found = {k: v for k, v in self.violations.items() if v}
        if not found:
            return f"ok: {self.acknowledged} acknowledged of {self.sent} sent, {self.final_records} in the logs"
        return "; ".join(f"{k}: {len(v)} (e.g. {', '.join(v[:EXAMPLES])})" for k, v in sorted(found.items()))


KINDS = ("lost", "moved", "duplicated", "reordered", "phantom", "unstable_reads", "offsets_backward")


def check(history: History) -> Report:
    report = Report(sent=len(history.sends), acknowledged=len(history.acks), consumed=len(history.consumed),
                    acknowledged_without_offset=sum(a.offset == NO_OFFSET for a in history.acks))
    found: dict[str, list[str]] = {k: [] for k in KINDS}
    # Where each value finally sits (every occurrence), and each partition's log as offset -> value.
    where: dict[bytes, list[tuple[int, int]]] = defaultdict(list)
    at: dict[int, dict[int, bytes]] = {}
    for partition, log in history.final.items():
        at[partition] = dict(log)
        for offset, value in log:
            where[value].append((partition, offset))
        report.final_records += len(log)
    sends = {s.value: s for s in history.sends}

    for ack in history.acks:
        places = where.get(ack.value, [])
        if not any(p == ack.partition for p, _ in places):
            found["lost"].append(f"{ack.value!r}@{ack.partition}:{ack.offset}")
        elif ack.offset != NO_OFFSET and (ack.partition, ack.offset) not in places:
            found["moved"].append(f"{ack.value!r} acked at {ack.partition}:{ack.offset}, found at {places}")

    for value, n in Counter(v for log in history.final.values() for _, v in log).items():
        if n > 1:
            found["duplicated"].append(f"{value!r} x{n} at {where[value]}")
        if value not in sends:
            found["phantom"].append(f"{value!r} at {where[value]}")

    for partition, log in sorted(history.final.items()):
        last_seq: dict[str, tuple[int, int]] = {}  # producer -> (seq, offset) of its latest value so far
        for offset, value in log:
            s = sends.get(value)
            if s is None:
                continue
            prev = last_seq.get(s.producer)
            if prev is not None and s.seq < prev[0]:
                found["reordered"].append(f"{s.producer} seq {s.seq} at {partition}:{offset} after seq {prev[0]} "
                                          f"at {partition}:{prev[1]}")
            if prev is None or s.seq > prev[0]:
                last_seq[s.producer] = (s.seq, offset)

    for c in history.consumed:
        if at.get(c.partition, {}).get(c.offset) != c.value:
            found["unstable_reads"].append(f"{c.value!r} read at {c.partition}:{c.offset}, final log holds "
                                           f"{at.get(c.partition, {}).get(c.offset)!r}")

    for partition, offsets in sorted(history.commits.items()):
        high = -1
        for offset in offsets:
            if offset < high:
                found["offsets_backward"].append(f"partition {partition}: {offset} after {high}")
            high = max(high, offset)

    report.violations = found
    return report


def dump(history: History, path: Path) -> None:
    """Write the whole history as JSON (values as latin-1 text), for reading a failed run afterwards."""

    def plain(item: object) -> dict[str, object]:
        fields = asdict(item)  # type: ignore[call-overload]
        return {k: v.decode("latin-1") if isinstance(v, bytes) else v for k, v in fields.items()}

    path.write_text(json.dumps({
        "sends": [plain(s) for s in history.sends],
        "acks": [plain(a) for a in history.acks],
        "consumed": [plain(c) for c in history.consumed],
        "commits": history.commits,
        "final": {p: [(o, v.decode("latin-1")) for o, v in records] for p, records in history.final.items()},
    }))
