"""Topic administration: list, create, describe, change configs, delete.

    GET    /topics                    {"topics": [{"name", "topic_id", "partitions", "internal"}]}
    POST   /topics                    {"name", "partitions"?, "configs"?: {name: value}} -> 201, the description
    GET    /topics/{topic}            partitions (log start/end offsets, size) and configs with their source;
                                      in a cluster a partition held elsewhere is asked of its leader
    PATCH  /topics/{topic}/configs    {"set"?: {name: value}, "delete"?: [name], "validate_only"?} -> configs
    DELETE /topics/{topic}            204

Config values travel as strings, as in Kafka's admin APIs; numbers and booleans are accepted and
converted. Sources are Kafka's ``ConfigSource`` names (TOPIC_CONFIG, STATIC_BROKER_CONFIG, DEFAULT_CONFIG).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from logbroker.http.access import Op, may_create_topic, require_topic, visible_topics
from logbroker.http.content import read_body, respond
from logbroker.http.context import context
from logbroker.http.errors import bad_request
from logbroker.http.params import (
    body_object,
    config_changes,
    config_strings,
    field_int,
    field_str,
    leaders_timeout_ms,
    optional,
)
from logbroker.topics import MAX_PARTITIONS, ConfigEntry, PartitionState, TopicDescription

log = logging.getLogger(__name__)


routes = web.RouteTableDef()


def configs_of(entries: list[ConfigEntry] | tuple[ConfigEntry, ...]) -> list[dict[str, Any]]:
    return [{"name": e.name, "value": e.value, "default": e.default, "source": e.source.name,
             "read_only": e.read_only, "sensitive": e.sensitive, "doc": e.doc} for e in entries]


def partition_offsets(p: PartitionState) -> dict[str, Any]:
    """A partition's offsets and size; ``error`` only when its leader could not be asked."""
    out: dict[str, Any] = {"partition": p.partition, "log_start_offset": p.log_start_offset,
                           "log_end_offset": p.log_end_offset, "size_bytes": p.size_bytes}
    if p.error is not None:
        out["error"] = p.error
    return out


def description(d: TopicDescription) -> dict[str, Any]:
    partitions = [partition_offsets(p) for p in d.partitions]
    return {"name": d.info.name, "topic_id": str(d.info.topic_id), "internal": d.internal,
            "partitions": partitions, "configs": configs_of(d.configs)}


@routes.get("/topics", allow_head=False)
async def list_topics(request: web.Request) -> web.Response:
    broker = context(request).broker
    all_topics = broker.topics()
    visible = visible_topics(request, (t.name for t in all_topics))
    topics = [{"name": t.name, "topic_id": str(t.topic_id), "partitions": t.partitions,
               "internal": broker.is_internal(t.name)} for t in all_topics if t.name in visible]
    return respond(request, {"topics": topics})


@routes.post("/topics")
async def create_topic(request: web.Request) -> web.Response:
    broker = context(request).broker
    body = body_object(await read_body(request))
    name = field_str(body, "name")
    assert name is not None
    if not may_create_topic(request, name):
        require_topic(request, Op.CREATE, name)  # raises the 403
    partitions = field_int(body, "partitions", 1, MAX_PARTITIONS)
    replication = field_int(body, "replication_factor", -1, 32767)
    configs = config_strings(optional(body, "configs"), "configs")
    validate_only = optional(body, "validate_only", False)
    if not isinstance(validate_only, bool):
        raise bad_request("validate_only must be a boolean")
    timeout_ms = leaders_timeout_ms(body)
    info = await broker.create_topic_async(name, partitions, configs, replication_factor=replication,
                                           validate_only=validate_only, leaders_timeout_s=timeout_ms / 1000)
    if validate_only:
        return respond(request, {"name": info.name, "partitions": info.partitions, "validate_only": True})
    log.info("created topic %s (%d partitions) over HTTP from %s", name, info.partitions, request.remote)
    # A new topic's partitions are empty: describe them without opening every log on the event loop
    # (5,000 logs opened here stalled produce for seconds).
    empty = [{"partition": p, "log_start_offset": 0, "log_end_offset": 0, "size_bytes": 0}
             for p in range(info.partitions)]
    return respond(request, {"name": info.name, "topic_id": str(info.topic_id), "internal": broker.is_internal(name),
                             "partitions": empty, "configs": configs_of(broker.configs_of(info))}, status=201)


@routes.get("/topics/{topic}", allow_head=False)
async def describe_topic(request: web.Request) -> web.Response:
    broker = context(request).broker
    require_topic(request, Op.DESCRIBE, request.match_info["topic"])
    return respond(request, description(await broker.describe_topic_async(request.match_info["topic"])))


@routes.patch("/topics/{topic}/configs")
async def alter_configs(request: web.Request) -> web.Response:
    broker = context(request).broker
    name = request.match_info["topic"]
    require_topic(request, Op.ALTER_CONFIGS, name)
    broker.topic(name)  # 404 before 400s about the body
    to_set, to_delete, validate_only = config_changes(body_object(await read_body(request)))
    info = await broker.alter_configs_async(name, set=to_set, delete=to_delete, validate_only=validate_only)
    if not validate_only:
        log.info("topic %s configs changed over HTTP from %s: set %s, delete %s", name, request.remote,
                 to_set, to_delete)
    return respond(request, {"name": name, "validate_only": validate_only,
                             "configs": configs_of(broker.configs_of(info))})


@routes.delete("/topics/{topic}")
async def delete_topic(request: web.Request) -> web.Response:
    ctx = context(request)
    broker = ctx.broker
    name = request.match_info["topic"]
    require_topic(request, Op.DELETE, name)
    await broker.delete_topic_async(name)
    ctx.round_robin.forget(name)
    log.info("deleted topic %s over HTTP from %s", name, request.remote)
    return web.Response(status=204)

