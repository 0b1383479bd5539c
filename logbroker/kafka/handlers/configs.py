"""DescribeConfigs (32), AlterConfigs (33), IncrementalAlterConfigs (44), ListConfigResources (74).

Topic resources (type 2) are described and changed by the core (``Broker.describe_configs`` and the
alter methods, over ``segments.config``, the one home of topic configs). The broker resource
(type 4, named by the node id) is described with Kafka's types and sources; the properties Kafka
makes dynamic (the broker-level topic defaults) can be changed for this broker or, with an empty
name, as the cluster default (``Broker.alter_broker_configs``, ``logbroker/config.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from logbroker.broker import Broker
from logbroker.errors import StorageError
from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.error_map import error_code_for
from logbroker.kafka.handlers import Body, RequestContext
from logbroker.kafka.handlers.access import Op, cluster_allowed, group_allowed, topic_allowed
from logbroker.kafka.handlers.group_configs import GROUP, alter_group_configs, describe_group_configs
from logbroker.security.acl import AclOperation
from logbroker.topics import ConfigChange, ConfigEntry, ConfigOp, ConfigSource

TOPIC = 2
BROKER = 4
BROKER_LOGGER = 8
CLIENT_METRICS = 16
# Kafka's ConfigType enum values for DescribeConfigs v3+.
_SOURCE_STATIC_BROKER = 4
_SOURCE_DEFAULT = 5


def _denied(ctx: RequestContext, resource_type: int, name: str, op: AclOperation) -> Body | None:
    """Kafka's check per config resource: the topic or group itself, the cluster for broker-wide ones."""
    if resource_type == TOPIC:
        ok, code, what = topic_allowed(ctx, op, name), ErrorCode.TOPIC_AUTHORIZATION_FAILED, "Topic"
    elif resource_type == GROUP:
        ok, code, what = group_allowed(ctx, op, name), ErrorCode.GROUP_AUTHORIZATION_FAILED, "Group"
    else:
        ok, code, what = cluster_allowed(ctx, op), ErrorCode.CLUSTER_AUTHORIZATION_FAILED, "Cluster"
    return None if ok else {"error_code": code, "error_message": f"{what} authorization failed."}


async def handle_describe_configs(ctx: RequestContext, body: Body) -> Body:
    broker = ctx.broker
    results: list[Body] = []
    for r in body["resources"]:
        entry: Body = {"error_code": 0, "error_message": None, "resource_type": r["resource_type"],
                       "resource_name": r["resource_name"], "configs": []}
        results.append(entry)
        keys = r.get("configuration_keys")
        refusal = _denied(ctx, r["resource_type"], r["resource_name"], Op.DESCRIBE_CONFIGS)
        if refusal is not None:
            entry.update(refusal)
            continue
        try:
            if r["resource_type"] == TOPIC:
                entry["configs"] = _describe_topic(ctx, r["resource_name"], keys, body)
            elif r["resource_type"] == BROKER:
                entry["configs"] = _describe_broker(ctx, r["resource_name"], keys, body)
            elif r["resource_type"] == GROUP:
                entry.update(await describe_group_configs(ctx, r["resource_name"], keys,
                                                         bool(body.get("include_synonyms", False))))
            else:
                entry["error_code"] = ErrorCode.INVALID_REQUEST
                entry["error_message"] = f"resource type {r['resource_type']} is not supported"
        except StorageError as exc:
            entry["error_code"] = error_code_for(exc)
            entry["error_message"] = str(exc)
    del broker
    return {"throttle_time_ms": 0, "results": results}


def _describe_topic(ctx: RequestContext, name: str, keys: list[str] | None, body: Body) -> list[Body]:
    return _rows(ctx.broker.describe_configs(name, keys if keys else None), body)


def _describe_broker(ctx: RequestContext, name: str, keys: list[str] | None, body: Body) -> list[Body]:
    return _rows(ctx.broker.describe_broker_configs(name, keys if keys else None), body)


def _rows(entries: list[ConfigEntry], body: Body) -> list[Body]:
    """DescribeConfigs rows; synonyms and documentation only when the request asks for them, as Kafka."""
    with_synonyms = bool(body.get("include_synonyms", False))
    with_docs = bool(body.get("include_documentation", False))
    return [{
        "name": e.name, "value": e.value, "read_only": e.read_only, "is_default": e.is_default,
        "config_source": int(e.source), "is_sensitive": e.sensitive,
        "synonyms": [{"name": s.name, "value": s.value, "source": int(s.source)} for s in e.synonyms]
        if with_synonyms else [],
        "config_type": int(e.type), "documentation": e.doc if with_docs else None,
    } for e in entries]


async def handle_alter_configs(ctx: RequestContext, body: Body) -> Body:
    """AlterConfigs replaces a topic's whole set of overrides (Kafka's legacy semantics)."""
    validate_only = bool(body.get("validate_only", False))
    responses: list[Body] = []
    for r in body["resources"]:
        entry: Body = {"error_code": 0, "error_message": None, "resource_type": r["resource_type"],
                       "resource_name": r["resource_name"]}
        responses.append(entry)
        refusal = _denied(ctx, r["resource_type"], r["resource_name"], Op.ALTER_CONFIGS)
        if refusal is not None:
            entry.update(refusal)
            continue
        new = {c["name"]: c["value"] for c in r["configs"] if c.get("value") is not None}

        async def replace(broker: Broker, name: str, new: dict[str, str] = new,
                          resource_type: int = r["resource_type"]) -> object:
            if resource_type == BROKER:
                sets = [ConfigChange(ConfigOp.SET, k, v) for k, v in new.items()]
                await broker.alter_broker_configs(name, sets, replace=True, validate_only=validate_only)
                return None
            return await broker.replace_configs_async(name, new, validate_only=validate_only)

        await _apply(ctx, entry, r, replace)
    return {"throttle_time_ms": 0, "responses": responses}


async def handle_incremental_alter_configs(ctx: RequestContext, body: Body) -> Body:
    validate_only = bool(body.get("validate_only", False))
    responses: list[Body] = []
    for r in body["resources"]:
        entry: Body = {"error_code": 0, "error_message": None, "resource_type": r["resource_type"],
                       "resource_name": r["resource_name"]}
        responses.append(entry)
        refusal = _denied(ctx, r["resource_type"], r["resource_name"], Op.ALTER_CONFIGS)
        if refusal is not None:
            entry.update(refusal)
            continue
        if r["resource_type"] == GROUP:
            entry.update(await alter_group_configs(ctx, r["resource_name"], r["configs"], validate_only))
            continue
        changes = [ConfigChange(op["config_operation"], op["name"], op.get("value")) for op in r["configs"]]

        async def incremental(broker: Broker, name: str, changes: list[ConfigChange] = changes,
                              resource_type: int = r["resource_type"]) -> object:
            if resource_type == BROKER:
                await broker.alter_broker_configs(name, changes, validate_only=validate_only)
                return None
            return await broker.incremental_alter_configs_async(name, changes, validate_only=validate_only)

        await _apply(ctx, entry, r, incremental)
    return {"throttle_time_ms": 0, "responses": responses}


async def _apply(ctx: RequestContext, entry: Body, resource: Body,
                 change: Callable[[Broker, str], Awaitable[object]]) -> None:
    if resource["resource_type"] not in (TOPIC, BROKER):
        entry["error_code"] = ErrorCode.INVALID_REQUEST
        entry["error_message"] = f"resource type {resource['resource_type']} has no configs here"
        return
    try:
        await change(ctx.broker, resource["resource_name"])
    except StorageError as exc:
        entry["error_code"] = error_code_for(exc)
        entry["error_message"] = str(exc)


async def handle_list_config_resources(ctx: RequestContext, body: Body) -> Body:
    """The resources that have configs: every topic and this broker. Version 0 (Kafka's former
    ListClientMetricsResources) lists client-metrics subscriptions only, and this broker has none;
    it has no group configs either. A resource type outside those four is refused with
    UNSUPPORTED_VERSION."""
    if not cluster_allowed(ctx, Op.DESCRIBE_CONFIGS):
        return {"throttle_time_ms": 0, "error_code": ErrorCode.CLUSTER_AUTHORIZATION_FAILED, "config_resources": []}
    if ctx.api_version == 0:
        return {"throttle_time_ms": 0, "error_code": 0, "config_resources": []}
    types = set(body.get("resource_types") or ()) or {TOPIC, BROKER, CLIENT_METRICS, GROUP}
    if not types <= {TOPIC, BROKER, CLIENT_METRICS, GROUP}:
        return {"throttle_time_ms": 0, "error_code": ErrorCode.UNSUPPORTED_VERSION, "config_resources": []}
    resources: list[Body] = []
    if TOPIC in types:
        resources += [{"resource_name": name, "resource_type": TOPIC} for name in sorted(ctx.broker.topic_names())]
    if BROKER in types:
        resources.append({"resource_name": str(ctx.broker.node_id), "resource_type": BROKER})
    return {"throttle_time_ms": 0, "error_code": 0, "config_resources": resources}


__all__ = ["ConfigSource"]
