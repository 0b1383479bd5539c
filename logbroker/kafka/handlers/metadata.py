"""Metadata (api key 3), DescribeCluster (60), DescribeTopicPartitions (75).

A single broker leads every partition (epoch 0); in a cluster the brokers, leaders, replicas and
ISRs come from the core's ``PartitionOwnership`` (the cluster state), a partition without a live
leader answering LEADER_NOT_AVAILABLE as Kafka does.

In a cluster each broker reads each partition's first state (leader, epoch, ISR) on its own, a
moment after the topic's assignment. A Kafka broker learns a topic's partitions together, with their
leaders, in one update from its controller, so no client ever sees a topic with a partition missing
or without a leader. Metadata and DescribeTopicPartitions list a topic's partitions in one piece
likewise (``listed_count``): all of them once this broker has seen every one's first state, until
then as many as when it last had (none for a topic created a moment ago, which is answered as not
known here: LEADER_NOT_AVAILABLE when the request may auto-create it, else
UNKNOWN_TOPIC_OR_PARTITION; partitions being added are listed once all of them are seen). A client
told of part of a new topic goes wrong: librdkafka fails at once, with "Unknown partition", the
records a producer sent to a partition the first answer left out, and it keeps a leaderless
partition in its metadata cache as a permanent error (``metadata.max.age.ms``, 15 minutes), while it
asks again about an unknown topic within a fraction of a second.
"""

from __future__ import annotations

import uuid

from logbroker.errors import StorageError
from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.error_map import error_code_for
from logbroker.kafka.handlers import Body, RequestContext
from logbroker.kafka.handlers.access import (
    NOT_REQUESTED,
    Op,
    Res,
    authorized_operations,
    cluster_allowed,
    may_create_topic,
    topic_allowed,
)

NULL_UUID = uuid.UUID(int=0)
LEADER_EPOCH = 0  # one node that has always led every partition
# Kafka's max.request.partition.size.limit: the most partitions one DescribeTopicPartitions answer holds.
MAX_PARTITIONS_PER_RESPONSE = 2000


def broker_entry(ctx: RequestContext) -> Body:
    return {"node_id": ctx.broker.node_id, "broker_id": ctx.broker.node_id, "host": ctx.advertised_host,
            "port": ctx.advertised_port, "rack": None, "is_fenced": False}


def broker_entries(ctx: RequestContext) -> list[Body]:
    ownership = ctx.broker.ownership
    if ownership is None:
        return [broker_entry(ctx)]
    return [{"node_id": b.broker_id, "broker_id": b.broker_id, "host": b.host, "port": b.port, "rack": None,
             "is_fenced": False} for b in ownership.live_brokers(ctx.listener)]


def controller_id(ctx: RequestContext) -> int:
    ownership = ctx.broker.ownership
    return ctx.broker.node_id if ownership is None else ownership.controller_id()


def _partition_entry(ctx: RequestContext, name: str, p: int) -> Body:
    node = ctx.broker.node_id
    ownership = ctx.broker.ownership
    view = ownership.partition_view(name, p) if ownership is not None and ctx.broker.is_replicated(name) else None
    if view is None:
        return {"error_code": 0, "partition_index": p, "leader_id": node, "leader_epoch": LEADER_EPOCH,
                "replica_nodes": [node], "isr_nodes": [node], "offline_replicas": [],
                "eligible_leader_replicas": [], "last_known_elr": []}
    assert ownership is not None
    live = {b.broker_id for b in ownership.live_brokers()}
    return {"error_code": 0 if view.leader >= 0 else ErrorCode.LEADER_NOT_AVAILABLE, "partition_index": p,
            "leader_id": view.leader, "leader_epoch": view.leader_epoch, "replica_nodes": list(view.replicas),
            "isr_nodes": list(view.isr), "offline_replicas": [r for r in view.replicas if r not in live],
            "eligible_leader_replicas": [], "last_known_elr": []}


def listed_count(ctx: RequestContext, name: str) -> int:
    """How many of a topic's partitions clients are told of: all of them, but in a cluster only
    those this broker can name with their leaders, in one piece (``PartitionOwnership.listed_partitions``)."""
    ownership = ctx.broker.ownership
    count = ctx.broker.partitions_of(name)
    if ownership is None or not ctx.broker.is_replicated(name):
        return count
    return min(count, ownership.listed_partitions(name))


def topic_entry(ctx: RequestContext, name: str, *, with_operations: bool = False, first_partition: int = 0,
                limit: int | None = None) -> Body:
    """A topic with its listed partitions (``listed_count``) ``first_partition`` onwards, at most
    ``limit`` of them."""
    broker = ctx.broker
    info = broker.topic(name)
    listed = listed_count(ctx, name)
    end = listed if limit is None else min(listed, first_partition + limit)
    partitions = [_partition_entry(ctx, name, p) for p in range(first_partition, end)]
    return {"error_code": 0, "name": name, "topic_id": info.topic_id, "is_internal": broker.is_internal(name),
            "partitions": partitions,
            "topic_authorized_operations": authorized_operations(ctx, with_operations, Res.TOPIC, name)}


def _refused(name: str | None, topic_id: uuid.UUID = NULL_UUID) -> Body:
    """A topic the principal may not describe: the same answer whether it exists or not."""
    return {"error_code": ErrorCode.TOPIC_AUTHORIZATION_FAILED, "name": name, "topic_id": topic_id,
            "is_internal": False, "partitions": [], "topic_authorized_operations": NOT_REQUESTED}


def cluster_operations(ctx: RequestContext, requested: bool) -> int:
    """Kafka reports the cluster's authorized operations only to a principal that may DESCRIBE it (else 0)."""
    if not requested:
        return NOT_REQUESTED
    return authorized_operations(ctx, True, Res.CLUSTER, "kafka-cluster") if cluster_allowed(ctx, Op.DESCRIBE) else 0


async def handle_metadata(ctx: RequestContext, body: Body) -> Body:
    broker = ctx.broker
    requested = body.get("topics")
    if ctx.api_version == 0 and requested == []:
        requested = None  # v0: an empty list means all topics
    allow_create = body.get("allow_auto_topic_creation", True) if ctx.api_version >= 4 else True
    with_ops = bool(body.get("include_topic_authorized_operations", False))
    topics: list[Body] = []
    if requested is None:
        # Every topic: only those the principal may describe, the others left out without a word.
        names = [n for n in broker.topic_names() if topic_allowed(ctx, Op.DESCRIBE, n)]
        entries = [topic_entry(ctx, n, with_operations=with_ops) for n in sorted(names)]
        topics = [e for e in entries if e["partitions"]]  # a topic has at least one partition
    else:
        for t in requested:
            name = t.get("name")
            if name is None and t.get("topic_id") not in (None, NULL_UUID):
                name = broker.topic_name_by_id(t["topic_id"])
                if name is None:
                    topics.append({"error_code": ErrorCode.UNKNOWN_TOPIC_ID, "name": None,
                                   "topic_id": t["topic_id"], "is_internal": False, "partitions": []})
                    continue
                if not topic_allowed(ctx, Op.DESCRIBE, name):
                    topics.append(_refused(None, t["topic_id"]))
                    continue
            if name is not None and not topic_allowed(ctx, Op.DESCRIBE, name):
                topics.append(_refused(name))
                continue
            # Auto-creation needs CREATE on the cluster or on the topic (Kafka's rule).
            if (name is not None and allow_create and not broker.has_topic(name) and not may_create_topic(ctx, name)
                    and broker.config.get_bool("auto.create.topics.enable")):
                topics.append(_refused(name))
                continue
            try:
                exists = broker.has_topic(name) or (allow_create and await broker.ensure_topic_async(name))
            except StorageError as exc:
                topics.append({"error_code": error_code_for(exc), "name": name, "topic_id": NULL_UUID,
                               "is_internal": False, "partitions": []})
                continue
            entry = topic_entry(ctx, name, with_operations=with_ops) if exists else None
            if entry is not None and entry["partitions"]:
                topics.append(entry)
            elif entry is not None and allow_create and broker.config.get_bool("auto.create.topics.enable"):
                # Kafka's answer to a topic it is creating (or another broker just created).
                topics.append({"error_code": ErrorCode.LEADER_NOT_AVAILABLE, "name": name, "topic_id": NULL_UUID,
                               "is_internal": False, "partitions": []})
            else:
                topics.append({"error_code": ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "name": name,
                               "topic_id": NULL_UUID, "is_internal": False, "partitions": []})
    return {"throttle_time_ms": 0, "brokers": broker_entries(ctx), "cluster_id": broker.cluster_id,
            "controller_id": controller_id(ctx), "topics": topics,
            "cluster_authorized_operations": cluster_operations(
                ctx, bool(body.get("include_cluster_authorized_operations", False))),
            "error_code": 0}


async def handle_describe_cluster(ctx: RequestContext, body: Body) -> Body:
    return {"throttle_time_ms": 0, "error_code": 0, "error_message": None,
            "endpoint_type": body.get("endpoint_type", 1), "cluster_id": ctx.broker.cluster_id,
            "controller_id": controller_id(ctx), "brokers": broker_entries(ctx),
            "cluster_authorized_operations": cluster_operations(
                ctx, bool(body.get("include_cluster_authorized_operations", False)))}


async def handle_describe_topic_partitions(ctx: RequestContext, body: Body) -> Body:
    """Topics by name with their partitions, paged: at most ``ResponsePartitionLimit`` partitions (capped
    at Kafka's 2000) per answer, from ``Cursor`` on; ``NextCursor`` says where the next page starts.

    As Kafka does: an empty topic list means every topic; topics are answered in name order; a
    requested topic that does not exist is answered with UNKNOWN_TOPIC_OR_PARTITION and no partitions.
    """
    broker = ctx.broker
    requested = sorted({t["name"] for t in body["topics"]})
    names = requested if requested else sorted(broker.topic_names())
    if not requested:  # every topic: only those the principal may describe
        names = [n for n in names if topic_allowed(ctx, Op.DESCRIBE, n)]
    cursor = body.get("cursor")
    first_partition = 0
    if cursor is not None:
        names = [n for n in names if n >= cursor["topic_name"]]
        if names and names[0] == cursor["topic_name"]:
            first_partition = max(cursor["partition_index"], 0)
    limit = body.get("response_partition_limit", MAX_PARTITIONS_PER_RESPONSE)
    remaining = min(limit, MAX_PARTITIONS_PER_RESPONSE) if limit > 0 else MAX_PARTITIONS_PER_RESPONSE
    topics: list[Body] = []
    next_cursor: Body | None = None
    for i, name in enumerate(names):
        start = first_partition if i == 0 else 0
        if not topic_allowed(ctx, Op.DESCRIBE, name):
            topics.append(_refused(name))
            continue
        count = listed_count(ctx, name) if broker.has_topic(name) else 0
        if count == 0:  # not a topic, or one whose partitions this broker cannot name yet
            topics.append({"error_code": ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "name": name, "topic_id": NULL_UUID,
                           "is_internal": False, "partitions": [],
                           "topic_authorized_operations": authorized_operations(ctx, True, Res.TOPIC, name)})
            continue
        if remaining == 0:
            next_cursor = {"topic_name": name, "partition_index": start}
            break
        entry = topic_entry(ctx, name, with_operations=True, first_partition=start, limit=remaining)
        topics.append(entry)
        remaining -= len(entry["partitions"])
        if start + len(entry["partitions"]) < count:
            next_cursor = {"topic_name": name, "partition_index": start + len(entry["partitions"])}
            break
    return {"throttle_time_ms": 0, "topics": topics, "next_cursor": next_cursor}
