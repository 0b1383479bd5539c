"""CreateTopics (19), DeleteTopics (20), CreatePartitions (37).

In a cluster, CreateTopics and CreatePartitions answer once this broker knows a leader for every
partition of the topic, or when the request's ``timeout_ms`` has passed (REQUEST_TIMED_OUT; the
topic stays created and its leaders come), as Kafka does; ``timeout_ms`` <= 0 answers at once. A
client that asks for Metadata right after the answer then finds the partitions led.
"""

from __future__ import annotations

import asyncio
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
_LEADER_POLL_S = 0.01  # how often a waiting CreateTopics / CreatePartitions looks at the cluster's view


async def _leaders_known(ctx: RequestContext, name: str, timeout_ms: int) -> bool:
    """Wait up to ``timeout_ms`` until this broker knows a leader for every partition of ``name``;
    False when the time ran out first. At once True outside a cluster, for a topic the cluster does
    not replicate, for ``timeout_ms`` <= 0, and for a topic deleted meanwhile."""
    broker = ctx.broker
    ownership = broker.ownership
    if ownership is None or timeout_ms <= 0 or not broker.is_replicated(name):
        return True
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_ms / 1000
    while True:
        try:
            count = broker.topic(name).partitions
        except StorageError:
            return True
        views = (ownership.partition_view(name, p) for p in range(count))
        if all(v is not None and v.known and v.leader >= 0 for v in views):
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(_LEADER_POLL_S)


def _timed_out(entry: Body, what: str, timeout_ms: int) -> None:
    entry["error_code"] = ErrorCode.REQUEST_TIMED_OUT
    entry["error_message"] = f"{what}, but not every partition had a leader within {timeout_ms} ms"


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
                                                   validate_only=validate_only, assignments=replicas)
        except StorageError as exc:
            entry["error_code"] = error_code_for(exc)
            entry["error_message"] = str(exc)
            continue
        if not validate_only:
            log.info("created topic %s (%d partitions) for %s", name, info.partitions, ctx.client_id)
            if not await _leaders_known(ctx, name, body["timeout_ms"]):
                _timed_out(entry, f"topic {name} was created", body["timeout_ms"])
                continue
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
                                                 else [list(a["broker_ids"]) for a in assignments])
        except StorageError as exc:
            entry["error_code"] = error_code_for(exc)
            entry["error_message"] = str(exc)
            continue
        if not validate_only and not await _leaders_known(ctx, t["name"], body["timeout_ms"]):
            _timed_out(entry, f"partitions of {t['name']} were added", body["timeout_ms"])
    return {"throttle_time_ms": 0, "results": results}

