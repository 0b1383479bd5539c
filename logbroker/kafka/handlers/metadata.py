"""Metadata (api key 3), DescribeCluster (60): this single broker leads every partition."""

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


def topic_entry(ctx: RequestContext, name: str) -> Body:
    broker = ctx.broker
    info = broker.topic(name)
    node = broker.node_id
    partitions = [
        {"error_code": 0, "partition_index": p, "leader_id": node, "leader_epoch": LEADER_EPOCH,
         "replica_nodes": [node], "isr_nodes": [node], "offline_replicas": []}
        for p in range(info.partitions)
    ]
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
    return {"throttle_time_ms": 0, "brokers": [broker_entry(ctx)], "cluster_id": broker.cluster_id,
            "controller_id": broker.node_id, "topics": topics, "cluster_authorized_operations": -2147483648,
            "error_code": 0}


async def handle_describe_cluster(ctx: RequestContext, body: Body) -> Body:
    return {"throttle_time_ms": 0, "error_code": 0, "error_message": None,
            "endpoint_type": body.get("endpoint_type", 1), "cluster_id": ctx.broker.cluster_id,
            "controller_id": ctx.broker.node_id, "brokers": [broker_entry(ctx)],
            "cluster_authorized_operations": -2147483648}
