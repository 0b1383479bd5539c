"""DescribeConfigs (32), AlterConfigs (33), IncrementalAlterConfigs (44).

Topic resources (type 2) are served from ``segments.config``, the one home of topic configs. The
broker resource (type 4) is described read-only; changing broker properties needs a restart.
"""

from __future__ import annotations

from logbroker.config import BROKER_PROPERTIES
from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.error_map import error_code_for
from logbroker.kafka.handlers import Body, RequestContext
from segments.config import ConfigSource, LogConfig, describe, format_value
from segments.errors import InvalidConfigError, StorageError

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
            else:
                entry["error_code"] = ErrorCode.INVALID_REQUEST
                entry["error_message"] = f"resource type {r['resource_type']} is not supported"
        except StorageError as exc:
            entry["error_code"] = error_code_for(exc)
            entry["error_message"] = str(exc)
    del broker
    return {"throttle_time_ms": 0, "results": results}


def _describe_topic(ctx: RequestContext, name: str, keys: list[str] | None, body: Body) -> list[Body]:
    broker = ctx.broker
    info = broker.store.topic(name)
    entries = describe(info.overrides, broker.config.log_defaults, broker_props=broker.config.props,
                       names=keys if keys else None)
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
        _apply(ctx, entry, r, lambda _old, _effective, new=new: new, validate_only)
    return {"throttle_time_ms": 0, "responses": responses}


async def handle_incremental_alter_configs(ctx: RequestContext, body: Body) -> Body:
    validate_only = bool(body.get("validate_only", False))
    responses: list[Body] = []
    for r in body["resources"]:
        entry: Body = {"error_code": 0, "error_message": None, "resource_type": r["resource_type"],
                       "resource_name": r["resource_name"]}
        responses.append(entry)

        def change(old: dict[str, str], effective: LogConfig, ops: list[Body] = r["configs"]) -> dict[str, str]:
            new = dict(old)
            for op in ops:
                kind, key, value = op["config_operation"], op["name"], op.get("value")
                if kind == 0:  # SET
                    if value is None:
                        raise InvalidConfigError(f"SET of {key} needs a value")
                    new[key] = value
                elif kind == 1:  # DELETE
                    new.pop(key, None)
                elif kind in (2, 3):  # APPEND / SUBTRACT on list configs, from the effective value as Kafka
                    base = new[key] if key in new else format_value(effective.get(key))
                    current = [v for v in base.split(",") if v]
                    items = [v for v in (value or "").split(",") if v]
                    if kind == 2:
                        current += [v for v in items if v not in current]
                    else:
                        current = [v for v in current if v not in items]
                    new[key] = ",".join(current)
                else:
                    raise InvalidConfigError(f"unknown config operation {kind}")
            return new

        _apply(ctx, entry, r, change, validate_only)
    return {"throttle_time_ms": 0, "responses": responses}


def _apply(ctx: RequestContext, entry: Body, resource: Body, change: object, validate_only: bool) -> None:
    if resource["resource_type"] != TOPIC:
        entry["error_code"] = ErrorCode.INVALID_REQUEST
        entry["error_message"] = "only topic configs can be changed at run time"
        return
    store = ctx.broker.store
    name = resource["resource_name"]
    try:
        info = store.topic(name)
        assert callable(change)
        new = change(dict(info.overrides), info.config)
        store.alter_config(name, set=new, delete=[k for k in info.overrides if k not in new],
                           validate_only=validate_only)
    except StorageError as exc:
        entry["error_code"] = error_code_for(exc)
        entry["error_message"] = str(exc)


__all__ = ["ConfigSource"]
