"""Metadata (api key 3), DescribeCluster (60).

A single broker leads every partition (epoch 0); in a cluster the brokers, leaders, replicas and
ISRs come from the core's ``PartitionOwnership`` (the cluster state), a partition without a live
leader answering LEADER_NOT_AVAILABLE as Kafka does.
"""

from __future__ import annotations

import uuid

from logbroker.errors import StorageError
from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.error_map import error_code_for
from logbroker.kafka.handlers import Body, RequestContext

NULL_UUID = uuid.UUID(int=0)
LEADER_EPOCH = 0  # one node that has always led every partition


def broker_entry(ctx: RequestContext) -> Body:
    return {"node_id": ctx.broker.node_id, "broker_id": ctx.broker.node_id, "host": ctx.advertised_host,
            "port": ctx.advertised_port, "rack": None, "is_fenced": False}


def broker_entries(ctx: RequestContext) -> list[Body]:
    ownership = ctx.broker.ownership
    if ownership is None:
        return [broker_entry(ctx)]
    return [{"node_id": b.broker_id, "broker_id": b.broker_id, "host": b.host, "port": b.port, "rack": None,
             "is_fenced": False} for b in ownership.live_brokers()]


def controller_id(ctx: RequestContext) -> int:
    ownership = ctx.broker.ownership
    return ctx.broker.node_id if ownership is None else ownership.controller_id()


def _partition_entry(ctx: RequestContext, name: str, p: int) -> Body:
    node = ctx.broker.node_id
    ownership = ctx.broker.ownership
    view = ownership.partition_view(name, p) if ownership is not None and not ctx.broker.is_internal(name) else None
    if view is None:
        return {"error_code": 0, "partition_index": p, "leader_id": node, "leader_epoch": LEADER_EPOCH,
                "replica_nodes": [node], "isr_nodes": [node], "offline_replicas": []}
    assert ownership is not None
    live = {b.broker_id for b in ownership.live_brokers()}
    return {"error_code": 0 if view.leader >= 0 else ErrorCode.LEADER_NOT_AVAILABLE, "partition_index": p,
            "leader_id": view.leader, "leader_epoch": view.leader_epoch, "replica_nodes": list(view.replicas),
            "isr_nodes": list(view.isr), "offline_replicas": [r for r in view.replicas if r not in live]}


def topic_entry(ctx: RequestContext, name: str) -> Body:
    broker = ctx.broker
    info = broker.topic(name)
    partitions = [_partition_entry(ctx, name, p) for p in range(info.partitions)]
    return {"error_code": 0, "name": name, "topic_id": info.topic_id, "is_internal": broker.is_internal(name),
            "partitions": partitions, "topic_authorized_operations": -2147483648}


async def handle_metadata(ctx: RequestContext, body: Body) -> Body:
    broker = ctx.broker
    requested = body.get("topics")
    if ctx.api_version == 0 and requested == []:
        requested = None  # v0: an empty list means all topics
    allow_create = body.get("allow_auto_topic_creation", True) if ctx.api_version >= 4 else True
    topics: list[Body] = []
    if requested is None:
        names = broker.topic_names()
        topics = [topic_entry(ctx, n) for n in sorted(names)]
    else:
        for t in requested:
            name = t.get("name")
            if name is None and t.get("topic_id") not in (None, NULL_UUID):
                name = broker.topic_name_by_id(t["topic_id"])
                if name is None:
                    topics.append({"error_code": ErrorCode.UNKNOWN_TOPIC_ID, "name": None,
                                   "topic_id": t["topic_id"], "is_internal": False, "partitions": []})
                    continue
            try:
                exists = broker.has_topic(name) or (allow_create and broker.ensure_topic(name))
            except StorageError as exc:
                topics.append({"error_code": error_code_for(exc), "name": name, "topic_id": NULL_UUID,
                               "is_internal": False, "partitions": []})
                continue
            if exists:
                topics.append(topic_entry(ctx, name))
            else:
                topics.append({"error_code": ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "name": name,
                               "topic_id": NULL_UUID, "is_internal": False, "partitions": []})
    return {"throttle_time_ms": 0, "brokers": broker_entries(ctx), "cluster_id": broker.cluster_id,
            "controller_id": controller_id(ctx), "topics": topics, "cluster_authorized_operations": -2147483648,
            "error_code": 0}


async def handle_describe_cluster(ctx: RequestContext, body: Body) -> Body:
    return {"throttle_time_ms": 0, "error_code": 0, "error_message": None,
            "endpoint_type": body.get("endpoint_type", 1), "cluster_id": ctx.broker.cluster_id,
            "controller_id": controller_id(ctx), "brokers": broker_entries(ctx),
            "cluster_authorized_operations": -2147483648}
