"""Typed access to query parameters and JSON body fields; bad input becomes a 400, never a 500."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from logbroker.http.errors import HttpError, bad_request

INT64_MAX = 2**63 - 1


def query_int(request: web.Request, name: str, default: int | None, low: int, high: int) -> int | None:
    """An integer query parameter within [low, high]; ``default`` when absent."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"query parameter {name} must be an integer, not {raw!r}") from None
    if not low <= value <= high:
        raise bad_request(f"query parameter {name} must be between {low} and {high}, not {value}")
    return value


def query_choice(request: web.Request, name: str, choices: tuple[str, ...], default: str) -> str:
    raw = request.query.get(name, default)
    if raw not in choices:
        raise bad_request(f"query parameter {name} must be one of {', '.join(choices)}, not {raw!r}")
    return raw


def path_partition(request: web.Request, partitions: int) -> int:
    """The ``{partition}`` path segment: 400 if not an integer, 404 if the topic has no such partition."""
    raw = request.match_info["partition"]
    try:
        partition = int(raw)
    except ValueError:
        raise bad_request(f"partition must be an integer, not {raw!r}") from None
    if not 0 <= partition < partitions:
        raise HttpError(404, "UNKNOWN_TOPIC_OR_PARTITION",
                        f"partition {partition} does not exist (the topic has {partitions})")
    return partition


def body_object(body: Any, what: str = "request body") -> Mapping[str, Any]:
    if not isinstance(body, dict):
        raise bad_request(f"{what} must be an object, not {_kind(body)}")
    return body


def optional(obj: Mapping[str, Any], name: str, default: Any = None, *, where: str = "") -> Any:
    """``obj[name]``, or ``default`` when it is left out; an explicit null is refused (400), as the
    OpenAPI document has no nullable optional fields but those it marks ``nullable``."""
    if name not in obj:
        return default
    value = obj[name]
    if value is None:
        raise bad_request(f"{where}{name} must not be null (leave it out for the default)")
    return value


def field_str(obj: Mapping[str, Any], name: str, *, required: bool = True, where: str = "") -> str | None:
    value = optional(obj, name, where=where)
    if value is None:
        if required:
            raise bad_request(f"{where}{name} is required")
        return None
    if not isinstance(value, str):
        raise bad_request(f"{where}{name} must be a string, not {_kind(value)}")
    return value


def field_int(obj: Mapping[str, Any], name: str, low: int, high: int, *, where: str = "") -> int | None:
    value = optional(obj, name, where=where)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"{where}{name} must be an integer, not {_kind(value)}")
    if not low <= value <= high:
        raise bad_request(f"{where}{name} must be between {low} and {high}, not {value}")
    return value


def _kind(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "an integer",
             float: "a number", bytes: "bytes", type(None): "null"}
    return names.get(type(value), type(value).__name__)


LEADERS_TIMEOUT_MS = 30_000  # Kafka's admin clients send CreateTopics with their request.timeout.ms, 30 s
MAX_LEADERS_TIMEOUT_MS = 300_000


def leaders_timeout_ms(body: Mapping[str, Any]) -> int:
    """A topic change's ``timeout_ms``: how long its answer waits, in a cluster, until this broker
    knows a leader for every new partition (CreateTopics' and CreatePartitions' ``timeout_ms``);
    0 answers at once."""
    value = field_int(body, "timeout_ms", 0, MAX_LEADERS_TIMEOUT_MS)
    return LEADERS_TIMEOUT_MS if value is None else value


def config_strings(value: Any, what: str) -> dict[str, str]:
    """A body's ``{name: value}`` of configs as Kafka's strings (a boolean as true/false, a number
    as written); absent: none."""
    if value is None:
        return {}
    obj = body_object(value, what)
    out: dict[str, str] = {}
    for name, raw in obj.items():
        if isinstance(raw, bool):
            out[name] = "true" if raw else "false"
        elif isinstance(raw, str | int | float):
            out[name] = str(raw)
        else:
            raise bad_request(f"{what}.{name} must be a string, number or boolean")
    return out


def config_changes(body: Mapping[str, Any]) -> tuple[dict[str, str], list[str], bool]:
    """A config PATCH body (a topic's or a group's): ``set`` (name to value), ``delete`` (names) and
    ``validate_only``, each checked for its shape."""
    to_set = config_strings(optional(body, "set"), "set")
    to_delete = optional(body, "delete", [])
    if not isinstance(to_delete, list) or not all(isinstance(k, str) for k in to_delete):
        raise bad_request("delete must be an array of config names")
    validate_only = optional(body, "validate_only", False)
    if not isinstance(validate_only, bool):
        raise bad_request("validate_only must be a boolean")
    return to_set, to_delete, validate_only
