"""DescribeConfigs (32), AlterConfigs (33), IncrementalAlterConfigs (44).

Topic resources (type 2) are described and changed by the core (``Broker.describe_configs`` and the
alter methods, over ``segments.config``, the one home of topic configs). The broker resource
(type 4) is described read-only; changing broker properties needs a restart.
"""

from __future__ import annotations

from collections.abc import Callable

from logbroker.broker import Broker
from logbroker.config import BROKER_PROPERTIES
from logbroker.errors import StorageError
from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.error_map import error_code_for
from logbroker.kafka.handlers import Body, RequestContext
from logbroker.kafka.handlers.group_configs import GROUP, alter_group_configs, describe_group_configs
from logbroker.topics import ConfigChange, ConfigSource, TopicInfo

TOPIC = 2
BROKER = 4
# Kafka's ConfigType enum values for DescribeConfigs v3+.
_SOURCE_STATIC_BROKER = 4
_SOURCE_DEFAULT = 5


async def handle_describe_configs(ctx: RequestContext, body: Body) -> Body:
    broker = ctx.broker
    results: list[Body] = []
    for r in body["resources"]:
        entry: Body = {"error_code": 0, "error_message": None, "resource_type": r["resource_type"],
                       "resource_name": r["resource_name"], "configs": []}
        results.append(entry)
        keys = r.get("configuration_keys")
        try:
            if r["resource_type"] == TOPIC:
                entry["configs"] = _describe_topic(ctx, r["resource_name"], keys, body)
            elif r["resource_type"] == BROKER:
                entry["configs"] = _describe_broker(ctx, keys)
            elif r["resource_type"] == GROUP:
                entry.update(describe_group_configs(ctx, r["resource_name"], keys))
            else:
                entry["error_code"] = ErrorCode.INVALID_REQUEST
                entry["error_message"] = f"resource type {r['resource_type']} is not supported"
        except StorageError as exc:
            entry["error_code"] = error_code_for(exc)
            entry["error_message"] = str(exc)
    del broker
    return {"throttle_time_ms": 0, "results": results}


def _describe_topic(ctx: RequestContext, name: str, keys: list[str] | None, body: Body) -> list[Body]:
    entries = ctx.broker.describe_configs(name, keys if keys else None)
    with_synonyms = bool(body.get("include_synonyms", False))
    with_docs = bool(body.get("include_documentation", False))
    out: list[Body] = []
    for e in entries:
        out.append({
            "name": e.name, "value": e.value, "read_only": e.read_only, "is_default": e.is_default,
            "config_source": int(e.source), "is_sensitive": e.sensitive,
            "synonyms": [{"name": s.name, "value": s.value, "source": int(s.source)} for s in e.synonyms]
            if with_synonyms else [],
            "config_type": int(e.type), "documentation": e.doc if with_docs else None,
        })
    return out


def _describe_broker(ctx: RequestContext, keys: list[str] | None) -> list[Body]:
    props = ctx.broker.config.props
    out: list[Body] = []
    for name, spec in BROKER_PROPERTIES.items():
        if keys and name not in keys:
            continue
        explicit = name in props
        out.append({"name": name, "value": props.get(name, spec.default), "read_only": True,
                    "is_default": not explicit,
                    "config_source": _SOURCE_STATIC_BROKER if explicit else _SOURCE_DEFAULT,
                    "is_sensitive": False, "synonyms": [], "config_type": 0, "documentation": spec.doc})
    return out


async def handle_alter_configs(ctx: RequestContext, body: Body) -> Body:
    """AlterConfigs replaces a topic's whole set of overrides (Kafka's legacy semantics)."""
    validate_only = bool(body.get("validate_only", False))
    responses: list[Body] = []
    for r in body["resources"]:
        entry: Body = {"error_code": 0, "error_message": None, "resource_type": r["resource_type"],
                       "resource_name": r["resource_name"]}
        responses.append(entry)
        new = {c["name"]: c["value"] for c in r["configs"] if c.get("value") is not None}

        def replace(broker: Broker, name: str, new: dict[str, str] = new) -> TopicInfo:
            return broker.replace_configs(name, new, validate_only=validate_only)

        _apply(ctx, entry, r, replace)
    return {"throttle_time_ms": 0, "responses": responses}


async def handle_incremental_alter_configs(ctx: RequestContext, body: Body) -> Body:
    validate_only = bool(body.get("validate_only", False))
    responses: list[Body] = []
    for r in body["resources"]:
        entry: Body = {"error_code": 0, "error_message": None, "resource_type": r["resource_type"],
                       "resource_name": r["resource_name"]}
        responses.append(entry)
        if r["resource_type"] == GROUP:
            entry.update(await alter_group_configs(ctx, r["resource_name"], r["configs"], validate_only))
            continue
        changes = [ConfigChange(op["config_operation"], op["name"], op.get("value")) for op in r["configs"]]

        def incremental(broker: Broker, name: str, changes: list[ConfigChange] = changes) -> TopicInfo:
            return broker.incremental_alter_configs(name, changes, validate_only=validate_only)

        _apply(ctx, entry, r, incremental)
    return {"throttle_time_ms": 0, "responses": responses}


def _apply(ctx: RequestContext, entry: Body, resource: Body, change: Callable[[Broker, str], TopicInfo]) -> None:
    if resource["resource_type"] != TOPIC:
        entry["error_code"] = ErrorCode.INVALID_REQUEST
        entry["error_message"] = "only topic configs can be changed at run time"
        return
    try:
        change(ctx.broker, resource["resource_name"])
    except StorageError as exc:
        entry["error_code"] = error_code_for(exc)
        entry["error_message"] = str(exc)


__all__ = ["ConfigSource"]
