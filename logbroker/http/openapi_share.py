"""The share-group part of the OpenAPI document (``routes_share.py``); ``openapi.py`` merges it in."""

from __future__ import annotations

from typing import Any

from logbroker.groups.group_configs import RESET_PATTERN


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}, "application/msgpack": {"schema": schema}}


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": _json(schema)}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"$ref": "#/components/responses/Error"} for s in statuses}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_GROUP = {"name": "group", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
_MEMBER = {"name": "member", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
_FORMAT = {"type": "string", "enum": ["text", "json", "base64"]}
_TP = {"type": "object", "required": ["topic", "partition"],
       "properties": {"topic": {"type": "string"}, "partition": {"type": "integer"}}}

SCHEMAS: dict[str, Any] = {
    "ShareJoin": {
        "type": "object", "required": ["topics"],
        "properties": {"topics": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
                       "client_id": {"type": "string"},
                       "auto_offset_reset": {"type": "string",
                                             "pattern": RESET_PATTERN,
                                             "description": "sets the group's share.auto.offset.reset: earliest, "
                                                            "latest or by_duration:<ISO-8601 duration>"}},
    },
    "ShareMember": {
        "type": "object", "required": ["group_id", "member_id", "member_epoch", "assignment"],
        "properties": {"group_id": {"type": "string"}, "member_id": {"type": "string"},
                       "member_epoch": {"type": "integer"}, "assignment": {"type": "array", "items": _TP},
                       "session_timeout_ms": {"type": "integer"}},
    },
    "ShareRecord": {
        "type": "object",
        "required": ["delivery_id", "topic", "partition", "offset", "delivery_count", "lock_expires_ms", "value"],
        "properties": {"delivery_id": {"type": "string", "description": "topic/partition/offset/delivery_count"},
                       "topic": {"type": "string"}, "partition": {"type": "integer"}, "offset": {"type": "integer"},
                       "delivery_count": {"type": "integer"},
                       "lock_expires_ms": {"type": "integer", "description": "broker time (ms) the lock ends"},
                       "timestamp": {"type": "integer"}, "timestamp_type": {"type": "string"},
                       "key": {"nullable": True}, "value": {"nullable": True},
                       "headers": {"type": "array", "items": _ref("Header")}},
    },
    "ShareRecords": {
        "type": "object", "required": ["records"],
        "properties": {"records": {"type": "array", "items": _ref("ShareRecord")}},
    },
    "ShareAcks": {
        "type": "object", "required": ["acks"],
        "properties": {"acks": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["delivery_id"],
            "properties": {"delivery_id": {"type": "string"},
                           "type": {"type": "string", "enum": ["accept", "release", "reject"]}}}}},
    },
    "ShareAckResults": {
        "type": "object", "required": ["results"],
        "properties": {"results": {"type": "array", "items": {
            "type": "object", "required": ["delivery_id", "error_code"],
            "properties": {"delivery_id": {"type": "string"},
                           "error_code": {"type": "string", "nullable": True,
                                          "description": "null, INVALID_RECORD_STATE (not held: lock expired, "
                                                         "acknowledged already) or COORDINATOR_NOT_AVAILABLE"}}}}},
    },
    "ShareGroup": {
        "type": "object", "required": ["group_id", "state", "members", "partitions"],
        "properties": {
            "group_id": {"type": "string"}, "state": {"type": "string"}, "group_epoch": {"type": "integer"},
            "configs": {"type": "object", "additionalProperties": {"type": "string"}},
            "members": {"type": "array", "items": {"type": "object", "properties": {
                "member_id": {"type": "string"}, "member_epoch": {"type": "integer"},
                "client_id": {"type": "string"}, "client_host": {"type": "string"},
                "subscribed_topics": {"type": "array", "items": {"type": "string"}},
                "assignment": {"type": "array", "items": _TP}}}},
            "partitions": {"type": "array", "items": {"allOf": [
                {"$ref": "#/components/schemas/SharePartitionState"},
                {"type": "object", "properties": {
                    "delivery_counts": {"type": "array", "items": {"type": "object", "properties": {
                        "offset": {"type": "integer"}, "delivery_count": {"type": "integer"}}}}}}]}},
            "errors": {"type": "array", "items": {"type": "string"}, "description": "in a cluster, present "
                       "only when some partition leaders could not be asked for their share-partitions (naming "
                       "them): those are missing"},
        },
    },
    "SharePartitionState": {
        "type": "object",
        "required": ["topic", "partition", "start_offset", "end_offset", "log_end_offset", "lag", "in_flight",
                     "acquired", "available", "acknowledged", "archived", "delivery_histogram"],
        "properties": {
            "topic": {"type": "string"}, "partition": {"type": "integer"},
            "start_offset": {"type": "integer", "description": "every record below it is finished"},
            "end_offset": {"type": "integer", "description": "the end of the in-flight window"},
            "log_end_offset": {"type": "integer", "description": "-1 when the partition is gone"},
            "lag": {"type": "integer", "description": "records not finished: in flight plus never acquired"},
            "in_flight": {"type": "integer", "description": "acquired plus available for redelivery"},
            "acquired": {"type": "integer"}, "available": {"type": "integer"},
            "acknowledged": {"type": "integer", "description": "accepted, in the window"},
            "archived": {"type": "integer", "description": "rejected or past the delivery limit, in the window"},
            "delivery_histogram": {"type": "array", "items": {"type": "object", "properties": {
                "delivery_count": {"type": "integer"}, "records": {"type": "integer"}}}},
        },
    },
}

PATHS: dict[str, Any] = {
    "/share-groups/{group}": {
        "parameters": [_GROUP],
        "get": {"operationId": "describeShareGroup",
                "summary": "A share group: members and share-partitions (in flight, acquired, delivery counts)",
                "tags": ["share groups"],
                "responses": {"200": _ok("The share group", _ref("ShareGroup")), **_errors(404, 503)}},
    },
    "/share-groups/{group}/members": {
        "parameters": [_GROUP],
        "post": {"operationId": "joinShareGroup", "summary": "Join a share group (a queue over topics)",
                 "tags": ["share groups"], "requestBody": {"required": True, "content": _json(_ref("ShareJoin"))},
                 "responses": {"200": _ok("The new member", _ref("ShareMember")),
                               **_errors(400, 404, 409, 413, 415, 503)}},
    },
    "/share-groups/{group}/members/{member}": {
        "parameters": [_GROUP, _MEMBER],
        "delete": {"operationId": "leaveShareGroup", "summary": "Leave; the member's records are released",
                   "tags": ["share groups"], "responses": {"204": {"description": "Left"}, **_errors(404, 503)}},
    },
    "/share-groups/{group}/members/{member}/records": {
        "parameters": [_GROUP, _MEMBER],
        "get": {"operationId": "receiveShareRecords",
                "summary": "Acquire records, each locked to this member until its lock expires",
                "tags": ["share groups"],
                "parameters": [
                    _query("max", {"type": "integer", "minimum": 1, "maximum": 10000},
                           "most records to acquire (default 10)"),
                    _query("wait_ms", {"type": "integer", "minimum": 0, "maximum": 30000},
                           "long poll: wait this long for records when there are none (default 0)"),
                    _query("value_format", _FORMAT, "how values and header values are shown (default text)"),
                    _query("key_format", _FORMAT, "how keys are shown (default: value_format; text when json)")],
                "responses": {"200": _ok("Acquired records", _ref("ShareRecords")), **_errors(400, 404, 406, 503)}},
    },
    "/share-groups/{group}/members/{member}/acks": {
        "parameters": [_GROUP, _MEMBER],
        "post": {"operationId": "acknowledgeShareRecords",
                 "summary": "Accept, release or reject acquired records by delivery id",
                 "tags": ["share groups"], "requestBody": {"required": True, "content": _json(_ref("ShareAcks"))},
                 "responses": {"200": _ok("Per delivery: acknowledged (durable) or why not",
                                          _ref("ShareAckResults")),
                               **_errors(400, 404, 413, 415, 503)}},
    },
}
