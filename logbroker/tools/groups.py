"""``logbroker groups``: list, describe, reset the offsets of and delete consumer groups, like
kafka-consumer-groups.

``describe`` joins three sources per partition: the group's committed offset (OffsetFetch), the
partition's log end offset (ListOffsets) and the member it is assigned to (DescribeGroups for a
classic group, ConsumerGroupDescribe for a group of the KIP-848 consumer protocol, as Kafka's admin
client does); lag is log end minus committed, unknown (``-``) when nothing is committed. A share
group (KIP-932, ShareGroupDescribe) has no committed offsets: its rows carry each share-partition's
start offset (DescribeShareGroupOffsets) in their place, as kafka-share-groups does. ``reset-offsets`` computes a
plan first and only commits it with ``execute``; targets are clamped to the partition's
[log start, log end] range, as kafka-consumer-groups does, and an active group is refused because
its members would overwrite the new offsets with their next commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kafka import KafkaAdminClient, TopicPartition
from kafka import errors as kafka_errors
from kafka.admin import OffsetSpec, OffsetTimestamp
from kafka.structs import OffsetAndMetadata

from logbroker.tools import clients
from logbroker.tools.consumer_group_describe import describe_consumer_group
from logbroker.tools.errors import ToolError, explain
from logbroker.tools.output import render_table
from logbroker.tools.share_group_describe import describe_share_group, share_start_offsets

DESCRIBE_HEADERS = ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID",
                    "HOST", "CLIENT-ID"]
RESET_HEADERS = ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET"]
# Every state of a group with members, classic (first three) or consumer protocol (KIP-848).
GROUP_ID_NOT_FOUND = 69  # what ConsumerGroupDescribe answers for a group of another type
ACTIVE_STATES = ("Stable", "PreparingRebalance", "CompletingRebalance", "Assigning", "Reconciling")


@dataclass(frozen=True, slots=True)
class GroupPartition:
    """One row of ``describe``: a partition the group has an offset for or a member assigned."""

    group: str
    topic: str
    partition: int
    current_offset: int | None
    log_end_offset: int | None
    member: str | None
    host: str | None
    client_id: str | None

    @property
    def lag(self) -> int | None:
        if self.current_offset is None or self.log_end_offset is None:
            return None
        return max(self.log_end_offset - self.current_offset, 0)

    def row(self) -> list[object]:
        return [self.group, self.topic, self.partition, self.current_offset, self.log_end_offset, self.lag,
                self.member, self.host, self.client_id]

    def as_json(self) -> dict[str, Any]:
        return {"group": self.group, "topic": self.topic, "partition": self.partition,
                "current_offset": self.current_offset, "log_end_offset": self.log_end_offset, "lag": self.lag,
                "consumer_id": self.member, "host": self.host, "client_id": self.client_id}


@dataclass(frozen=True, slots=True)
class GroupInfo:
    group: str
    state: str
    protocol: str
    members: int
    partitions: tuple[GroupPartition, ...]
    group_type: str = "consumer"  # "share" for a share group (KIP-932)

    def as_json(self) -> dict[str, Any]:
        return {"group": self.group, "type": self.group_type, "state": self.state, "protocol": self.protocol,
                "members": self.members, "partitions": [p.as_json() for p in self.partitions]}


@dataclass(frozen=True, slots=True)
class MemberInfo:
    member_id: str
    host: str
    client_id: str
    partitions: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Described:
    """What the coordinator says of a group, whichever protocol it runs."""

    state: str
    protocol: str  # a classic group's protocol, a consumer-protocol group's assignor
    members: tuple[MemberInfo, ...]
    group_type: str = "consumer"

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES or bool(self.members)


@dataclass(frozen=True, slots=True)
class ResetTarget:
    topic: str
    partition: int
    current_offset: int | None
    new_offset: int


def _kafka_call(what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except kafka_errors.IncompatibleBrokerVersion:
        raise ToolError(f"cannot {what}: the broker does not serve consumer-group requests") from None
    except kafka_errors.KafkaError as exc:
        raise ToolError(f"cannot {what}: {explain(exc)}") from None


def list_groups(admin: KafkaAdminClient) -> list[dict[str, Any]]:
    """``{"group", "state", "protocol_type"}`` per group, sorted by group id."""
    groups = _kafka_call("list groups", admin.list_groups)
    out = [{"group": g["group_id"], "state": g.get("group_state") or "", "protocol_type": g.get("protocol_type", "")}
           for g in groups]
    return sorted(out, key=lambda g: g["group"])


def _describe(admin: KafkaAdminClient, group: str) -> Described | None:
    """The group as DescribeGroups (classic) or ConsumerGroupDescribe (KIP-848) tells it; None when
    neither knows it."""
    described = _kafka_call(f"describe group {group!r}", admin.describe_groups, [group])
    raw: dict[str, Any] = described.get(group, {})
    if not raw.get("error"):
        members = []
        for m in raw.get("members", []):
            parts = tuple((topic, p) for topic, partitions in _assigned_partitions(m.get("member_assignment"))
                          for p in partitions)
            members.append(MemberInfo(m.get("member_id"), m.get("client_host"), m.get("client_id"), parts))
        return Described(raw.get("group_state", "Unknown"), raw.get("protocol_data") or "", tuple(members))
    if kafka_errors.GroupIdNotFoundError.__name__ not in str(raw["error"]):
        raise ToolError(f"cannot describe group {group!r}: {raw['error']}")
    consumer = _kafka_call(f"describe group {group!r}", describe_consumer_group, admin, group)
    if consumer.get("error_code") == GROUP_ID_NOT_FOUND:
        return _describe_share(admin, group)
    if consumer.get("error_code"):
        return None
    return Described(consumer.get("group_state") or "Unknown", consumer.get("assignor_name") or "", tuple(
        MemberInfo(m.get("member_id"), m.get("client_host"), m.get("client_id"), tuple(
            (t["topic_name"], p) for t in (m.get("assignment") or {}).get("topic_partitions") or []
            for p in t.get("partitions") or []))
        for m in consumer.get("members") or []))


def _describe_share(admin: KafkaAdminClient, group: str) -> Described | None:
    """The group as ShareGroupDescribe tells it (a share group), None when it is none."""
    share = _kafka_call(f"describe group {group!r}", describe_share_group, admin, group)
    if share.get("error_code"):
        return None
    return Described(share.get("group_state") or "Unknown", share.get("assignor_name") or "", tuple(
        MemberInfo(m.get("member_id"), m.get("client_host"), m.get("client_id"), tuple(
            (t["topic_name"], p) for t in (m.get("assignment") or {}).get("topic_partitions") or []
            for p in t.get("partitions") or []))
        for m in share.get("members") or []), group_type="share")


def _committed(admin: KafkaAdminClient, group: str) -> dict[TopicPartition, int]:
    offsets = _kafka_call(f"fetch offsets of group {group!r}", admin.list_group_offsets, {group: None})
    return {tp: om.offset for tp, om in offsets.get(group, {}).items() if om.offset >= 0}


def _log_offsets(admin: KafkaAdminClient, tps: Iterable[TopicPartition],
                 spec: OffsetSpec | OffsetTimestamp) -> dict[TopicPartition, int]:
    tps = list(tps)
    if not tps:
        return {}
    found = _kafka_call("list partition offsets", admin.list_partition_offsets, {tp: spec for tp in tps})
    return {tp: o.offset for tp, o in found.items()}


def _assigned_partitions(assignment: Any) -> list[tuple[str, list[int]]]:
    """(topic, partitions) pairs of a decoded ConsumerProtocolAssignment; empty when it is not one
    (a member of a non-consumer protocol, or an assignment kafka-python could not decode)."""
    if not isinstance(assignment, dict):
        return []
    out: list[tuple[str, list[int]]] = []
    for entry in assignment.get("assigned_partitions") or []:
        if isinstance(entry, dict) and "topic" in entry:
            out.append((entry["topic"], list(entry.get("partitions") or [])))
    return out


def describe_group(admin: KafkaAdminClient, group: str) -> GroupInfo:
    described = _describe(admin, group)
    if described is not None and described.group_type == "share":
        return _describe_share_group(admin, group, described)
    committed = _committed(admin, group)
    if described is None or described.state == "Dead":
        if not committed:
            raise ToolError(f"consumer group {group!r} does not exist")
        described = Described("Dead", "", ())
    assigned: dict[TopicPartition, tuple[str, str, str]] = {}
    for m in described.members:
        for topic, p in m.partitions:
            assigned[TopicPartition(topic, p)] = (m.member_id, m.host, m.client_id)
    tps = sorted(set(committed) | set(assigned), key=lambda tp: (tp.topic, tp.partition))
    ends = _log_offsets(admin, tps, OffsetSpec.LATEST)
    rows = []
    for tp in tps:
        member, host, client = assigned.get(tp, (None, None, None))
        rows.append(GroupPartition(group, tp.topic, tp.partition, committed.get(tp), ends.get(tp),
                                   member, host, client))
    return GroupInfo(group=group, state=described.state, protocol=described.protocol,
                     members=len(described.members), partitions=tuple(rows))


def _describe_share_group(admin: KafkaAdminClient, group: str, described: Described) -> GroupInfo:
    """A share group's rows: per share-partition, its start offset as the current offset (every record
    below it is finished, as kafka-share-groups shows START-OFFSET) and the lag from it to the log end;
    a share-partition is shared by all members, so the member columns name how many there are."""
    starts = {TopicPartition(t, p): o
              for (t, p), o in _kafka_call(f"describe offsets of {group!r}", share_start_offsets, admin, group).items()}
    assigned = {TopicPartition(t, p) for m in described.members for t, p in m.partitions}
    tps = sorted(set(starts) | assigned, key=lambda tp: (tp.topic, tp.partition))
    ends = _log_offsets(admin, tps, OffsetSpec.LATEST)
    rows = []
    for tp in tps:
        sharing = [m for m in described.members if (tp.topic, tp.partition) in m.partitions]
        member = f"{len(sharing)} member(s)" if sharing else None
        rows.append(GroupPartition(group, tp.topic, tp.partition, starts.get(tp), ends.get(tp), member, None, None))
    return GroupInfo(group=group, state=described.state, protocol=described.protocol,
                     members=len(described.members), partitions=tuple(rows), group_type="share")


def describe_lines(info: GroupInfo) -> list[str]:
    kind = "Share group" if info.group_type == "share" else "Consumer group"
    head = f"{kind} '{info.group}' ({info.state}, {info.members} member(s))"
    if not info.partitions:
        return [head, "  (no committed offsets and no assigned partitions)"]
    return [head, *render_table(DESCRIBE_HEADERS, (p.row() for p in info.partitions))]


def parse_datetime_ms(text: str) -> int:
    """ISO-8601 date-time to epoch ms; without a zone it is local time (kafka-consumer-groups' rule)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ToolError(f"--to-datetime expects ISO-8601 like 2024-01-31T12:00:00 or 2024-01-31T12:00:00Z, "
                        f"got {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return int(moment.timestamp() * 1000)


def _partitions_for(admin: KafkaAdminClient, group: str, topics: list[str], all_topics: bool) -> list[TopicPartition]:
    """The partitions a reset covers: ``topic`` (all its partitions) or ``topic:0,2``; every
    partition the group has committed with ``all_topics``."""
    if all_topics:
        tps = set(_committed(admin, group))
        if not tps:
            raise ToolError(f"group {group!r} has no committed offsets; name the topics with --topic")
        return sorted(tps, key=lambda tp: (tp.topic, tp.partition))
    out: list[TopicPartition] = []
    for spec in topics:
        name, _, parts = spec.partition(":")
        known = clients.topic_partitions(admin, name)
        if parts:
            try:
                wanted = [int(p) for p in parts.split(",")]
            except ValueError:
                raise ToolError(f"--topic expects TOPIC or TOPIC:P1,P2, got {spec!r}") from None
            bad = [p for p in wanted if p not in known]
            if bad:
                raise ToolError(f"topic {name!r} has no partition {bad[0]}")
        else:
            wanted = known
        out += [TopicPartition(name, p) for p in wanted]
    return out


def plan_reset(admin: KafkaAdminClient, group: str, topics: list[str], all_topics: bool, *,
               to_earliest: bool = False, to_latest: bool = False, to_datetime: str | None = None,
               to_offset: int | None = None, shift_by: int | None = None) -> list[ResetTarget]:
    """Where each partition's committed offset would move; exactly one ``to_*``/``shift_by`` is set."""
    chosen = [to_earliest, to_latest, to_datetime is not None, to_offset is not None, shift_by is not None]
    if sum(chosen) != 1:
        raise ToolError("give exactly one of --to-earliest, --to-latest, --to-datetime, --to-offset, --shift-by")
    if not topics and not all_topics:
        raise ToolError("give --topic TOPIC (repeatable) or --all-topics")
    tps = _partitions_for(admin, group, topics, all_topics)
    committed = _committed(admin, group)
    starts = _log_offsets(admin, tps, OffsetSpec.EARLIEST)
    ends = _log_offsets(admin, tps, OffsetSpec.LATEST)
    if to_datetime is not None:
        at = _log_offsets(admin, tps, OffsetTimestamp(parse_datetime_ms(to_datetime)))
    plan: list[ResetTarget] = []
    for tp in tps:
        start, end, current = starts[tp], ends[tp], committed.get(tp)
        if to_earliest:
            target = start
        elif to_latest:
            target = end
        elif to_offset is not None:
            target = to_offset
        elif shift_by is not None:
            # With nothing committed there is nothing to shift from; Kafka shifts from the reset policy's
            # position, which for a tool without one is the log start.
            target = (current if current is not None else start) + shift_by
        else:
            found = at[tp]
            target = end if found < 0 else found  # no record at or after that time: the end
        plan.append(ResetTarget(tp.topic, tp.partition, current, min(max(target, start), end)))
    return plan


def reset_lines(group: str, plan: list[ResetTarget]) -> list[str]:
    return render_table(RESET_HEADERS, ([group, t.topic, t.partition, t.current_offset, t.new_offset] for t in plan))


def execute_reset(admin: KafkaAdminClient, group: str, plan: list[ResetTarget]) -> None:
    """Commit the plan's offsets for ``group``; refuses while the group has members, whichever
    protocol they speak (as kafka-consumer-groups does)."""
    described = _describe(admin, group)
    if described is not None and described.active:
        raise ToolError(f"group {group!r} is active ({described.state}, {len(described.members)} member(s)): "
                        f"offsets can only be reset while it is inactive; stop its consumers first")
    offsets = {TopicPartition(t.topic, t.partition): OffsetAndMetadata(t.new_offset, "", None) for t in plan}
    result = _kafka_call(f"reset offsets of group {group!r}", admin.alter_group_offsets, group, offsets)
    failed = {tp: err for tp, err in result.items() if err is not kafka_errors.NoError}
    if failed:
        tp, err = next(iter(failed.items()))
        raise ToolError(f"cannot reset {tp.topic}-{tp.partition} of group {group!r}: {err.__name__}")


def delete_groups(admin: KafkaAdminClient, groups: list[str]) -> dict[str, str]:
    """group -> "OK" or the error's name."""
    result: dict[str, str] = _kafka_call("delete groups", admin.delete_groups, groups)
    return result
