"""CreateTopics (19), DeleteTopics (20), CreatePartitions (37).

In a cluster each request's ``timeout_ms`` bounds its wait on the cluster state, as in Kafka:
CreateTopics and CreatePartitions answer once this broker knows a leader for every partition,
DeleteTopics once the topic is gone (REQUEST_TIMED_OUT past it, the change going on; <= 0: at once).
"""

from __future__ import annotations

import logging

from logbroker.errors import StorageError
from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.error_map import error_code_for
from logbroker.kafka.handlers import Body, RequestContext
from logbroker.kafka.handlers.access import Op, may_create_topic, topic_allowed
from logbroker.kafka.handlers.metadata import NULL_UUID
from logbroker.topics import manual_assignment

log = logging.getLogger(__name__)

_TOPIC_DENIED = "Topic authorization failed."


def _deny(entry: Body) -> None:
    entry["error_code"] = ErrorCode.TOPIC_AUTHORIZATION_FAILED
    entry["error_message"] = _TOPIC_DENIED


async def handle_create_topics(ctx: RequestContext, body: Body) -> Body:
    broker = ctx.broker
    validate_only = bool(body.get("validate_only", False))
    results: list[Body] = []
    for t in body["topics"]:
        name = t["name"]
        entry: Body = {"name": name, "topic_id": NULL_UUID, "error_code": 0, "error_message": None,
                       "num_partitions": -1, "replication_factor": -1, "configs": None}
        results.append(entry)
        if not may_create_topic(ctx, name):
            _deny(entry)
            continue
        configs = {c["name"]: c["value"] for c in t.get("configs") or [] if c.get("value") is not None}
        try:
            replicas = (manual_assignment([(a["partition_index"], a["broker_ids"]) for a in t["assignments"]],
                                          t["num_partitions"], t["replication_factor"])
                        if t.get("assignments") else None)
            partitions = len(replicas) if replicas is not None else t["num_partitions"]
            info = await broker.create_topic_async(name, partitions, configs,
                                                   replication_factor=t["replication_factor"],
                                                   validate_only=validate_only, assignments=replicas,
                                                   leaders_timeout_s=body["timeout_ms"] / 1000)
        except StorageError as exc:
            entry["error_code"] = error_code_for(exc)
            entry["error_message"] = str(exc)
            continue
        if not validate_only:
            log.info("created topic %s (%d partitions) for %s", name, info.partitions, ctx.client_id)
        view = broker.ownership.partition_view(name, 0) if broker.ownership is not None else None
        rf = len(view.replicas) if view is not None else 1
        entry.update(topic_id=info.topic_id, num_partitions=info.partitions, replication_factor=rf, configs=[])
    return {"throttle_time_ms": 0, "topics": results}


async def handle_delete_topics(ctx: RequestContext, body: Body) -> Body:
    broker = ctx.broker
    requested: list[tuple[str | None, object]] = []
    if ctx.api_version >= 6:
        for t in body["topics"]:
            name = t.get("name") or broker.topic_name_by_id(t.get("topic_id"))
            requested.append((name, t.get("topic_id")))
    else:
        requested = [(n, None) for n in body["topic_names"]]
    responses: list[Body] = []
    for name, topic_id in requested:
        entry: Body = {"name": name, "topic_id": topic_id or NULL_UUID, "error_code": 0, "error_message": None}
        responses.append(entry)
        if name is None:
            entry["error_code"] = ErrorCode.UNKNOWN_TOPIC_ID
            continue
        if not topic_allowed(ctx, Op.DELETE, name):
            # Before the existence check: the answer does not tell whether the topic exists.
            if topic_id not in (None, NULL_UUID) and not topic_allowed(ctx, Op.DESCRIBE, name):
                entry["name"] = None  # asked by id: the name is not told either
            _deny(entry)
            continue
        try:
            await broker.delete_topic_async(name, timeout_s=body["timeout_ms"] / 1000)
            log.info("deleted topic %s for %s", name, ctx.client_id)
        except StorageError as exc:
            entry["error_code"] = error_code_for(exc)
            entry["error_message"] = str(exc)
    return {"throttle_time_ms": 0, "responses": responses}


async def handle_create_partitions(ctx: RequestContext, body: Body) -> Body:
    broker = ctx.broker
    validate_only = bool(body.get("validate_only", False))
    results: list[Body] = []
    for t in body["topics"]:
        entry: Body = {"name": t["name"], "error_code": 0, "error_message": None}
        results.append(entry)
        if not topic_allowed(ctx, Op.ALTER, t["name"]):
            _deny(entry)
            continue
        try:
            assignments = t.get("assignments")
            await broker.create_partitions_async(t["name"], t["count"], validate_only=validate_only,
                                                 assignments=None if assignments is None
                                                 else [list(a["broker_ids"]) for a in assignments],
                                                 leaders_timeout_s=body["timeout_ms"] / 1000)
        except StorageError as exc:
            entry["error_code"] = error_code_for(exc)
            entry["error_message"] = str(exc)
    return {"throttle_time_ms": 0, "results": results}

