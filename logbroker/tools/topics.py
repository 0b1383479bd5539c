"""``logbroker topics``: list, create, describe, alter and delete topics, like kafka-topics.

``describe`` reports each partition's leader, replicas and its log's start and end offsets (the
first offset still stored and the next offset to be written), and the topic's configs: those set
on the topic by default, every config with ``all_configs``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaAdminClient, TopicPartition
from kafka import errors as kafka_errors
from kafka.admin import AlterConfigOp, ConfigResource, ConfigResourceType, OffsetSpec

from logbroker.tools.errors import ToolError, explain
from logbroker.tools.output import render_table


@dataclass(frozen=True, slots=True)
class PartitionInfo:
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    log_start_offset: int
    log_end_offset: int


@dataclass(slots=True)
class TopicInfo:
    name: str
    topic_id: str | None
    partitions: list[PartitionInfo] = field(default_factory=list)
    configs: dict[str, str | None] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"topic": self.name, "topic_id": self.topic_id, "partition_count": len(self.partitions),
                "partitions": [{"partition": p.partition, "leader": p.leader, "replicas": list(p.replicas),
                                "isr": list(p.isr), "log_start_offset": p.log_start_offset,
                                "log_end_offset": p.log_end_offset} for p in self.partitions],
                "configs": self.configs}

    def as_text(self) -> list[str]:
        configs = ",".join(f"{k}={v}" for k, v in sorted(self.configs.items()))
        head = (f"Topic: {self.name}\tTopicId: {self.topic_id}\tPartitionCount: {len(self.partitions)}\t"
                f"Configs: {configs}")
        rows = [(p.partition, p.leader, ",".join(map(str, p.replicas)), ",".join(map(str, p.isr)),
                 p.log_start_offset, p.log_end_offset, p.log_end_offset - p.log_start_offset)
                for p in self.partitions]
        table = render_table(["PARTITION", "LEADER", "REPLICAS", "ISR", "LOG-START-OFFSET", "LOG-END-OFFSET",
                              "RECORDS"], rows)
        return [head, *("  " + line for line in table)]


def parse_assignments(values: Iterable[str], option: str) -> dict[str, str]:
    """``k=v`` strings to a dict; ``ToolError`` naming ``option`` on a malformed one."""
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ToolError(f"{option} expects KEY=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


def list_topics(admin: KafkaAdminClient, exclude_internal: bool = False,
                patterns: list[str] | None = None) -> list[str]:
    """Topic names, sorted; with ``patterns``, only those one of them matches as a whole."""
    try:
        regexes = [re.compile(p) for p in patterns or []]
    except re.error as exc:
        raise ToolError(f"invalid --topic pattern: {exc}") from None
    described = admin.describe_topics()
    return sorted(t["name"] for t in described if not (exclude_internal and t.get("is_internal"))
                  and (not regexes or any(r.fullmatch(t["name"]) for r in regexes)))


def create_topic(admin: KafkaAdminClient, name: str, partitions: int | None, replication_factor: int | None,
                 configs: dict[str, str], if_not_exists: bool = False) -> bool:
    """Create ``name``; False when it existed and ``if_not_exists`` is set."""
    spec: dict[str, Any] = {"num_partitions": partitions if partitions is not None else -1,
                            "replication_factor": replication_factor if replication_factor is not None else -1,
                            "configs": configs}
    try:
        result = admin.create_topics({name: spec}, raise_errors=False)
    except kafka_errors.KafkaError as exc:
        raise ToolError(f"cannot create topic {name!r}: {explain(exc)}") from None
    error = broker_error(result.get("topics", []), name)
    if error is not None:
        if error[0] is kafka_errors.TopicAlreadyExistsError and if_not_exists:
            return False
        raise ToolError(f"cannot create topic {name!r}: {error[1]}")
    return True


_OUTCOME = re.compile(r"\[Error (\d+)\] \w+: (.*)", re.DOTALL)


def broker_outcome(outcome: str) -> str:
    """kafka-python's ``"[Error 40] InvalidConfigurationError: <broker's message>"`` per-resource outcome
    as ``"<broker's message> (INVALID_CONFIG)"``, like ``broker_error``; other text unchanged."""
    found = _OUTCOME.fullmatch(outcome)
    if found is None:
        return outcome
    error = kafka_errors.for_code(int(found.group(1)))
    return f"{found.group(2)} ({getattr(error, 'message', error.__name__)})"


def broker_error(results: list[dict[str, Any]], name: str,
                 name_key: str = "name") -> tuple[type[kafka_errors.KafkaError], str] | None:
    """The broker's error for ``name`` in a per-topic admin response (CreateTopics, DeleteTopics,
    CreatePartitions): its class and ``"<broker's message> (ERROR_NAME)"``, or None when it succeeded."""
    for entry in results:
        if entry.get(name_key) != name or not entry.get("error_code"):
            continue
        error = kafka_errors.for_code(entry["error_code"])
        name_of_code = getattr(error, "message", error.__name__)
        message = entry.get("error_message") or getattr(error, "description", "") or name_of_code
        return error, f"{message} ({name_of_code})"
    return None


def describe_topics(admin: KafkaAdminClient, names: list[str] | None, all_configs: bool = False,
                    exclude_internal: bool = False) -> list[TopicInfo]:
    """Partitions with log start/end offsets and configs of ``names`` (every topic when None)."""
    described = admin.describe_topics(names or None)
    infos: list[TopicInfo] = []
    for t in sorted(described, key=lambda t: t["name"]):
        if t["error_code"] != 0:
            error = kafka_errors.for_code(t["error_code"])
            if error is kafka_errors.UnknownTopicOrPartitionError:
                raise ToolError(f"unknown topic {t['name']!r}")
            raise ToolError(f"cannot describe topic {t['name']!r}: {error.__name__}")
        if exclude_internal and t.get("is_internal"):
            continue
        infos.append(TopicInfo(name=t["name"], topic_id=str(t["topic_id"]) if t.get("topic_id") else None))
        parts = sorted(t["partitions"], key=lambda p: p["partition_index"])
        tps = [TopicPartition(t["name"], p["partition_index"]) for p in parts]
        starts = _offsets(admin, tps, OffsetSpec.EARLIEST)
        ends = _offsets(admin, tps, OffsetSpec.LATEST)
        for p, tp in zip(parts, tps, strict=True):
            infos[-1].partitions.append(PartitionInfo(
                partition=p["partition_index"], leader=p["leader_id"], replicas=tuple(p["replica_nodes"]),
                isr=tuple(p["isr_nodes"]), log_start_offset=starts.get(tp, -1), log_end_offset=ends.get(tp, -1)))
    if infos:
        resources = [ConfigResource(ConfigResourceType.TOPIC, info.name) for info in infos]
        try:
            configs = admin.describe_configs(resources, config_filter="all" if all_configs else "modified")
        except kafka_errors.KafkaError as exc:
            raise ToolError(f"cannot describe topic configs: {explain(exc)}") from None
        by_topic = configs.get("topic", {})
        for info in infos:
            info.configs = {k: v.get("value") for k, v in sorted(by_topic.get(info.name, {}).items())}
    return infos


def _offsets(admin: KafkaAdminClient, tps: list[TopicPartition], spec: OffsetSpec) -> dict[TopicPartition, int]:
    if not tps:
        return {}
    try:
        found = admin.list_partition_offsets({tp: spec for tp in tps})
    except kafka_errors.KafkaError as exc:
        raise ToolError(f"cannot list offsets of {tps[0].topic!r}: {explain(exc)}") from None
    return {tp: o.offset for tp, o in found.items()}


def alter_topic(admin: KafkaAdminClient, name: str, set_configs: dict[str, str], delete_configs: list[str],
                partitions: int | None) -> list[str]:
    """Apply config changes (incrementally: untouched keys keep their values) and a partition
    increase; returns one line per change made."""
    done: list[str] = []
    if not set_configs and not delete_configs and partitions is None:
        raise ToolError("nothing to alter: give --set KEY=VALUE, --delete KEY or --partitions N")
    existing = describe_topics(admin, [name])[0]
    if set_configs or delete_configs:
        changes: dict[str, Any] = {k: (AlterConfigOp.SET, v) for k, v in set_configs.items()}
        changes.update({k: (AlterConfigOp.DELETE, None) for k in delete_configs})
        try:
            result = admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name, configs=changes)])
        except ValueError as exc:
            raise ToolError(f"cannot alter topic {name!r}: {exc}") from None
        except kafka_errors.KafkaError as exc:
            raise ToolError(f"cannot alter topic {name!r}: {explain(exc)}") from None
        outcome = result.get("topic", {}).get(name, "OK")
        if outcome != "OK":
            raise ToolError(f"cannot alter topic {name!r}: {broker_outcome(outcome)}")
        done += [f"set {k}={v}" for k, v in set_configs.items()] + [f"deleted {k}" for k in delete_configs]
    if partitions is not None:
        current = len(existing.partitions)
        if partitions <= current:
            raise ToolError(f"topic {name!r} has {current} partitions; the count can only grow")
        try:
            response = admin.create_partitions({name: partitions}, raise_errors=False)
        except kafka_errors.KafkaError as exc:
            raise ToolError(f"cannot add partitions to {name!r}: {explain(exc)}") from None
        error = broker_error(response.to_dict().get("results", []), name)
        if error is not None:
            raise ToolError(f"cannot add partitions to {name!r}: {error[1]}")
        done.append(f"partitions {current} -> {partitions}")
    return done


def delete_topics(admin: KafkaAdminClient, names: list[str], if_exists: bool = False) -> list[str]:
    """Delete ``names``; returns those deleted (unknown ones are skipped with ``if_exists``)."""
    known = set(list_topics(admin))
    missing = [n for n in names if n not in known]
    if missing and not if_exists:
        raise ToolError(f"unknown topic {missing[0]!r}")
    targets = [n for n in names if n in known]
    if targets:
        try:
            result = admin.delete_topics(targets, raise_errors=False)
        except kafka_errors.KafkaError as exc:
            raise ToolError(f"cannot delete {', '.join(targets)}: {explain(exc)}") from None
        for name in targets:
            error = broker_error(result.get("topics", []), name)
            if error is not None:
                raise ToolError(f"cannot delete topic {name!r}: {error[1]}")
    return targets
