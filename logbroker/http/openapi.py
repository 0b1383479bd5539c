"""The OpenAPI 3 document of the HTTP API, served at ``GET /openapi.json``.

``tests/http/test_http_ops.py`` checks that every aiohttp route is documented here and every
documented operation is routed, and fuzzes the API from this document (schemathesis).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from logbroker.config import TOPIC_CONFIG_NAMES
from logbroker.groups.group_configs import (
    AUTO_OFFSET_RESET,
    DEFAULT_BOUNDS,
    GROUP_CONFIG_MINIMA,
    GROUP_CONFIG_TYPES,
    INT_MAX,
    ISOLATION_LEVEL,
    ISOLATION_LEVELS,
    RESET_PATTERN,
)
from logbroker.http import openapi_share
from logbroker.topics import INTERNAL_TOPICS

VERSION = "0.1.0"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}, "application/msgpack": {"schema": schema}}


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": _json(schema)}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"$ref": "#/components/responses/Error"} for s in statuses}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": _json(schema)}


_TOPIC_PATH_NAME: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 249, "pattern": "^[a-zA-Z0-9._-]+$"}
_TOPIC = {"name": "topic", "in": "path", "required": True, "schema": _TOPIC_PATH_NAME}
# Producing into an internal topic is refused (400 INVALID_TOPIC_EXCEPTION, as Kafka), so the produce
# route's topic excludes their names.
_WRITABLE_TOPIC = {**_TOPIC, "schema": {**_TOPIC_PATH_NAME, "not": {"enum": sorted(INTERNAL_TOPICS)}}}
_GROUP = {"name": "group", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
_MEMBER = {"name": "member", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
_PARTITION = {"name": "partition", "in": "path", "required": True,
              "schema": {"type": "integer", "minimum": 0, "maximum": 2147483647}}
_INT64 = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
_FORMAT = {"type": "string", "enum": ["text", "json", "base64"]}
_NULLABLE_STRING = {"type": "string", "nullable": True}
# In a cluster a partition this broker holds no replica of is asked of its leader.
_LEADER_NOT_ASKED = {"type": "string", "description": "present only when the partition's leader (another "
                     "broker) could not be asked: why, naming it; the figures not answered are then -1"}
_SIZE_HERE = {"type": "integer", "description": "bytes of the partition's log: this broker's copy, or in a cluster "
              "its leader's (DescribeLogDirs) when this broker holds no replica; -1: its leader could not be asked"}
_LEADERS_TIMEOUT = {"type": "integer", "minimum": 0, "maximum": 300000,
                    "description": "in a cluster, how long the answer waits until this broker knows every new "
                    "partition's leader (default 30000; 0 answers at once; past it 503 REQUEST_TIMED_OUT, "
                    "the change made)"}


def _group_config_schema(name: str) -> dict[str, Any]:
    """A group config's values: share.auto.offset.reset's, share.isolation.level's two, an integer
    within the default bounds."""
    if name == AUTO_OFFSET_RESET:
        return {"type": "string", "pattern": RESET_PATTERN,
                "description": "earliest, latest, or by_duration:<ISO-8601 duration> (the first record at most "
                               "that old, e.g. by_duration:PT1H)"}
    if name == ISOLATION_LEVEL:
        return {"type": "string", "enum": list(ISOLATION_LEVELS)}
    low, high = DEFAULT_BOUNDS.get(name, (GROUP_CONFIG_MINIMA.get(name, 1), INT_MAX))
    return {"type": "integer", "minimum": low, "maximum": high}


def _alter_configs(values: str, names: Iterable[str]) -> dict[str, Any]:
    """A config PATCH body (``params.config_changes``): values to set, names to delete, validate_only."""
    return {"type": "object",
            "properties": {"set": _ref(values),
                           "delete": {"type": "array", "items": {"type": "string", "enum": list(names)}},
                           "validate_only": {"type": "boolean"}}}


_CONFIG_VALUE = {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}
# Kafka's topic names: 1 to 249 of [a-zA-Z0-9._-], but not "." or "..".
_TOPIC_NAME = {"type": "string", "minLength": 1, "maxLength": 249, "pattern": "^[a-zA-Z0-9._-]+$",
               "not": {"enum": [".", ".."]}}
_FALLBACK = {"type": "string", "enum": ["base64"],
             "description": "present when these bytes did not fit the requested format and are sent as base64"}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error_code", "message"],
        "properties": {"error_code": {"type": "string", "description": "Kafka error name or short code"},
                       "message": {"type": "string"}},
    },
    "TopicSummary": {
        "type": "object", "required": ["name", "topic_id", "partitions", "internal"],
        "properties": {"name": {"type": "string"}, "topic_id": {"type": "string", "format": "uuid"},
                       "partitions": {"type": "integer"}, "internal": {"type": "boolean"}},
    },
    "ConfigEntry": {
        "type": "object", "required": ["name", "value", "default", "source"],
        "properties": {"name": {"type": "string"}, "value": {"type": "string"}, "default": {"type": "string"},
                       "source": {"type": "string",
                                  "enum": ["TOPIC_CONFIG", "DYNAMIC_BROKER_CONFIG", "DYNAMIC_DEFAULT_BROKER_CONFIG",
                                           "STATIC_BROKER_CONFIG", "DEFAULT_CONFIG", "UNKNOWN"]},
                       "read_only": {"type": "boolean"}, "sensitive": {"type": "boolean"},
                       "doc": {"type": "string"}},
    },
    "TopicDescription": {
        "type": "object", "required": ["name", "topic_id", "partitions", "configs"],
        "properties": {
            "name": {"type": "string"}, "topic_id": {"type": "string"}, "internal": {"type": "boolean"},
            "partitions": {"type": "array", "items": {
                "type": "object", "required": ["partition", "log_start_offset", "log_end_offset"],
                "properties": {"partition": {"type": "integer"}, "log_start_offset": {"type": "integer"},
                               "log_end_offset": {"type": "integer"}, "size_bytes": _SIZE_HERE,
                               "error": _LEADER_NOT_ASKED}}},
            "configs": {"type": "array", "items": _ref("ConfigEntry")},
        },
    },
    "ConfigValues": {
        "type": "object", "description": "topic config overrides by Kafka name (e.g. retention.ms); a value "
                                         "the config does not take answers 400 INVALID_CONFIG",
        "properties": {name: _CONFIG_VALUE for name in TOPIC_CONFIG_NAMES},
        "additionalProperties": False,
    },
    "CreateTopic": {
        "type": "object", "required": ["name"],
        "properties": {"name": _TOPIC_NAME,
                       "partitions": {"type": "integer", "minimum": 1, "maximum": 100000,
                                      "description": "default: the broker's num.partitions"},
                       "replication_factor": {"type": "integer", "enum": [-1, 1]},
                       "configs": _ref("ConfigValues"),
                       "validate_only": {"type": "boolean"},
                       "timeout_ms": _LEADERS_TIMEOUT},
    },
    "AlterConfigs": _alter_configs("ConfigValues", TOPIC_CONFIG_NAMES),
    "Header": {
        "type": "object", "required": ["key"],
        "properties": {"key": {"type": "string"}, "value": {"nullable": True}},
    },
    "ProduceRecord": {
        "type": "object",
        "properties": {
            "key": {"nullable": True, "description": "per key_format; raw bytes in msgpack"},
            "value": {"nullable": True, "description": "per value_format; raw bytes in msgpack"},
            "headers": {"type": "array", "items": _ref("Header")},
            "partition": {"type": "integer", "minimum": 0,
                          "description": "default: murmur2(key) % partitions, round-robin without a key"},
            "timestamp": {**_INT64, "description": "ms since the epoch; default: now"},
        },
    },
    "ProduceRequest": {
        "type": "object", "required": ["records"],
        "properties": {"value_format": _FORMAT, "key_format": _FORMAT,
                       "records": {"type": "array", "minItems": 1, "items": _ref("ProduceRecord")}},
    },
    "ProduceResponse": {
        "type": "object", "required": ["topic", "records"],
        "properties": {"topic": {"type": "string"}, "records": {"type": "array", "items": {
            "type": "object", "required": ["partition", "offset"],
            "properties": {"partition": {"type": "integer"}, "offset": {"type": "integer"}}}}},
    },
    "Record": {
        "type": "object", "required": ["offset", "timestamp", "key", "value", "headers"],
        "properties": {"offset": {"type": "integer"}, "timestamp": {"type": "integer"},
                       "timestamp_type": {"type": "string", "enum": ["CreateTime", "LogAppendTime"]},
                       "key": {"nullable": True}, "value": {"nullable": True},
                       "key_format": _FALLBACK, "value_format": _FALLBACK,
                       "headers": {"type": "array", "items": _ref("ReadHeader")}},
    },
    "ReadHeader": {
        "type": "object", "required": ["key"],
        "properties": {"key": {"type": "string"}, "value": {"nullable": True}, "value_format": _FALLBACK},
    },
    "ReadResponse": {
        "type": "object", "required": ["topic", "partition", "records", "next_offset", "high_watermark"],
        "properties": {"topic": {"type": "string"}, "partition": {"type": "integer"},
                       "records": {"type": "array", "items": _ref("Record")},
                       "next_offset": {"type": "integer"}, "high_watermark": {"type": "integer"},
                       "log_start_offset": {"type": "integer"}},
    },
    "GroupSummary": {
        "type": "object", "required": ["group_id", "protocol_type", "state"],
        "properties": {"group_id": {"type": "string"}, "protocol_type": {"type": "string"},
                       "state": {"type": "string"},
                       "group_type": {"type": "string", "enum": ["classic", "consumer", "share"],
                                      "description": "classic: members assign (JoinGroup); consumer: the broker "
                                                     "assigns (HTTP members and KIP-848 clients); share: "
                                                     "a share group (KIP-932)"}},
    },
    "GroupDescription": {
        "type": "object", "required": ["group_id", "state", "members", "offsets"],
        "properties": {
            "group_id": {"type": "string"}, "state": {"type": "string"}, "protocol_type": {"type": "string"},
            "group_type": {"type": "string", "enum": ["classic", "consumer", "share"]},
            "protocol": {"type": "string", "description": "classic: the selected protocol; consumer: the assignor"},
            "group_epoch": {"type": "integer", "description": "classic: the generation; consumer: the group epoch"},
            "members": {"type": "array", "items": {"type": "object", "properties": {
                "member_id": {"type": "string"}, "group_instance_id": _NULLABLE_STRING,
                "client_id": {"type": "string"}, "client_host": {"type": "string"},
                "member_epoch": {"type": "integer", "description": "consumer groups only"},
                "assignment": {"type": "array", "items": {"type": "object", "properties": {
                    "topic": {"type": "string"}, "partition": {"type": "integer"}}}},
                "target_assignment": {"type": "array", "description": "consumer groups only", "items": {
                    "type": "object",
                    "properties": {"topic": {"type": "string"}, "partition": {"type": "integer"}}}}}}},
            "offsets": {"type": "array", "items": {"type": "object", "properties": {
                "topic": {"type": "string"}, "partition": {"type": "integer"},
                "committed_offset": {"type": "integer"}, "log_end_offset": {"type": "integer"},
                "lag": {"type": "integer", "nullable": True}, "member_id": _NULLABLE_STRING,
                "metadata": {"type": "string"}, "error": _LEADER_NOT_ASKED}}},
            "share_partitions": {"type": "array", "description": "share groups only",
                                 "items": _ref("SharePartitionState")},
            "errors": {"type": "array", "items": {"type": "string"}, "description": "share groups in a "
                       "cluster, present only when some partition leaders could not be asked for their "
                       "share-partitions (naming them): those are missing"},
        },
    },
    "ResetOffsets": {
        "type": "object", "required": ["strategy"],
        "description": "strategy timestamp needs timestamp; strategy shift needs shift; strategy offset needs offset",
        "oneOf": [{"properties": {"strategy": {"enum": ["earliest", "latest"]}}},
                  {"required": ["timestamp"], "properties": {"strategy": {"enum": ["timestamp"]}}},
                  {"required": ["shift"], "properties": {"strategy": {"enum": ["shift"]}}},
                  {"required": ["offset"], "properties": {"strategy": {"enum": ["offset"]}}}],
        "properties": {"strategy": {"type": "string", "enum": ["earliest", "latest", "timestamp", "shift",
                                                              "offset"]},
                       "timestamp": _INT64,
                       "shift": {"type": "integer", "minimum": -(2**63 - 1), "maximum": 2**63 - 1},
                       "offset": _INT64,
                       "dry_run": {"type": "boolean", "description": "answer the offsets, commit nothing"},
                       "topics": {"type": "array", "items": {"type": "string"}}},
    },
    "ResetOffsetsResponse": {
        "type": "object", "required": ["group_id", "offsets"],
        "properties": {"group_id": {"type": "string"}, "dry_run": {"type": "boolean"},
                       "offsets": {"type": "array", "items": {
            "type": "object", "properties": {"topic": {"type": "string"}, "partition": {"type": "integer"},
                                             "offset": {"type": "integer"},
                                             "committed_offset": {"type": "integer", "nullable": True}}}}},
    },
    "JoinGroup": {
        "type": "object",
        "description": "Give topics or pattern (not both).",
        "oneOf": [{"required": ["topics"]}, {"required": ["pattern"]}],
        "properties": {
            "topics": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
            "pattern": {"type": "string", "format": "regex", "minLength": 1, "maxLength": 1000,
                        "description": "regular expression matched against topic names"},
            "session_timeout_ms": {"type": "integer", "minimum": 1, "maximum": 3600000,
                                   "description": "expire the member after this long without a poll or "
                                                  "heartbeat (default: the broker's)"},
            "rebalance_timeout_ms": {"type": "integer", "minimum": 1, "maximum": 3600000},
            "assignor": {"type": "string", "enum": ["range", "uniform", "sticky"]},
            "auto_offset_reset": {"type": "string", "enum": ["earliest", "latest"],
                                  "description": "where a partition without a committed offset starts "
                                                 "(default latest)"},
            "instance_id": {"type": "string", "minLength": 1, "description": "static membership"},
            "client_id": {"type": "string"},
        },
    },
    "TopicPartition": {
        "type": "object", "required": ["topic", "partition"],
        "properties": {"topic": {"type": "string"}, "partition": {"type": "integer"}},
    },
    "TopicPartitionOffset": {
        "type": "object", "required": ["topic", "partition", "offset"],
        "properties": {"topic": {"type": "string"}, "partition": {"type": "integer", "minimum": 0},
                       "offset": _INT64, "metadata": {"type": "string"}},
    },
    "MemberState": {
        "type": "object",
        "required": ["group_id", "member_id", "member_epoch", "heartbeat_interval_ms", "assignment", "positions"],
        "properties": {
            "group_id": {"type": "string"}, "member_id": {"type": "string"}, "member_epoch": {"type": "integer"},
            "heartbeat_interval_ms": {"type": "integer"},
            "assignment": {"type": "array", "items": _ref("TopicPartition"),
                           "description": "the partitions the member holds now"},
            "positions": {"type": "array", "items": _ref("TopicPartitionOffset"),
                          "description": "the next offset the member is served from, per held partition"},
        },
    },
    "PollResponse": {
        "allOf": [_ref("MemberState"), {
            "type": "object", "required": ["records"],
            "properties": {"records": {"type": "array", "items": {
                "allOf": [_ref("Record"), {"type": "object", "required": ["topic", "partition"],
                                           "properties": {"topic": {"type": "string"},
                                                          "partition": {"type": "integer"}}}]}}}}],
    },
    "CommitRequest": {
        "type": "object",
        "properties": {"offsets": {"type": "array", "items": _ref("TopicPartitionOffset"),
                                   "description": "default: the member's positions"},
                       "member_epoch": {"type": "integer", "minimum": 0,
                                        "description": "refuse the commit (409) unless this is the current epoch"}},
    },
    "CommitResponse": {
        "type": "object", "required": ["group_id", "member_id", "member_epoch", "offsets"],
        "properties": {"group_id": {"type": "string"}, "member_id": {"type": "string"},
                       "member_epoch": {"type": "integer"},
                       "offsets": {"type": "array", "items": _ref("TopicPartitionOffset")}},
    },
    "Health": {
        "type": "object", "required": ["status"],
        "properties": {"status": {"type": "string"}, "node_id": {"type": "integer"},
                       "cluster_id": {"type": "string"}, "topics": {"type": "integer"}},
    },
}

_PATHS: dict[str, Any] = {
    "/topics": {
        "get": {"operationId": "listTopics", "summary": "List topics", "tags": ["topics"],
                "responses": {"200": _ok("The topics", {"type": "object", "properties": {
                    "topics": {"type": "array", "items": _ref("TopicSummary")}}})}},
        "post": {"operationId": "createTopic", "summary": "Create a topic", "tags": ["topics"],
                 "requestBody": _body(_ref("CreateTopic")),
                 "responses": {"201": _ok("Created", _ref("TopicDescription")),
                               "200": _ok("Validated only (validate_only)", {"type": "object"}),
                               **_errors(400, 409, 413, 415, 503)}},
    },
    "/topics/{topic}": {
        "parameters": [_TOPIC],
        "get": {"operationId": "describeTopic", "summary": "Partitions with offsets, configs with source",
                "tags": ["topics"],
                "responses": {"200": _ok("The topic", _ref("TopicDescription")), **_errors(404)}},
        "delete": {"operationId": "deleteTopic", "summary": "Delete a topic and its data", "tags": ["topics"],
                   "responses": {"204": {"description": "Deleted"}, **_errors(400, 403, 404)}},
    },
    "/topics/{topic}/configs": {
        "parameters": [_TOPIC],
        "patch": {"operationId": "alterTopicConfigs", "summary": "Set and delete topic config overrides",
                  "tags": ["topics"], "requestBody": _body(_ref("AlterConfigs")),
                  "responses": {"200": _ok("The topic's configs now", {"type": "object", "properties": {
                      "configs": {"type": "array", "items": _ref("ConfigEntry")}}}),
                      **_errors(400, 404, 413, 415)}},
    },
    "/topics/{topic}/records": {
        "parameters": [_TOPIC],
        "post": {"operationId": "produce", "summary": "Append records (one batch per partition)",
                 "tags": ["records"],
                 "parameters": [
                     _WRITABLE_TOPIC,
                     _query("acks", {"type": "string", "enum": ["0", "1", "all", "-1"]},
                            "all (default): answer once durable per the topic's flush policy; 1: once written"),
                     _query("timeout_ms", {"type": "integer", "minimum": 1, "maximum": 300000},
                            "how long acks=all waits for durability (default 30000)")],
                 "requestBody": _body(_ref("ProduceRequest")),
                 "responses": {"200": _ok("Partition and offset of each record, in request order",
                                          _ref("ProduceResponse")),
                               **_errors(400, 404, 413, 415, 504)}},
    },
    "/topics/{topic}/partitions/{partition}/records": {
        "parameters": [_TOPIC, _PARTITION],
        "get": {"operationId": "readRecords", "summary": "Read records from an offset or a timestamp",
                "tags": ["records"],
                "parameters": [
                    _query("offset", _INT64, "first offset to return (default: the log start offset; with "
                                              "timestamp: the later of the two)"),
                    _query("timestamp", _INT64, "start at the first record with a timestamp >= this (ms)"),
                    _query("max_bytes", {"type": "integer", "minimum": 1, "maximum": 64 * 1024 * 1024},
                           "about how many bytes of batches to read (at least one batch); default 1 MiB"),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 10000},
                           "most records to return (default 500)"),
                    _query("wait_ms", {"type": "integer", "minimum": 0, "maximum": 30000},
                           "long poll: wait this long for records when there are none (default 0)"),
                    _query("value_format", _FORMAT, "how values and header values are shown (default text)"),
                    _query("key_format", _FORMAT,
                           "how keys are shown (default: value_format; text when that is json)")],
                "responses": {"200": _ok("Records", _ref("ReadResponse")), **_errors(400, 404, 406, 416)}},
    },
    "/groups": {
        "get": {"operationId": "listGroups", "summary": "List consumer groups", "tags": ["groups"],
                "responses": {"200": _ok("The groups", {"type": "object", "properties": {
                    "groups": {"type": "array", "items": _ref("GroupSummary")}}}), **_errors(503)}},
    },
    "/groups/{group}": {
        "parameters": [_GROUP],
        "get": {"operationId": "describeGroup", "summary": "Members, assignment, committed offsets and lag",
                "tags": ["groups"],
                "responses": {"200": _ok("The group", _ref("GroupDescription")), **_errors(404, 503)}},
        "delete": {"operationId": "deleteGroup", "summary": "Delete a group without members and its offsets",
                   "tags": ["groups"],
                   "responses": {"204": {"description": "Deleted"}, **_errors(400, 404, 409, 503)}},
    },
    "/groups/{group}/reset-offsets": {
        "parameters": [_GROUP],
        "post": {"operationId": "resetGroupOffsets", "summary": "Reset committed offsets of an empty group",
                 "tags": ["groups"], "requestBody": _body(_ref("ResetOffsets")),
                 "responses": {"200": _ok("The new offsets", _ref("ResetOffsetsResponse")),
                               **_errors(400, 404, 409, 413, 415, 503)}},
    },
    "/groups/{group}/configs": {
        "parameters": [_GROUP],
        "get": {"operationId": "describeGroupConfigs", "summary": "The group's configs with defaults and sources",
                "tags": ["groups"],
                "responses": {"200": _ok("Configs", _ref("GroupConfigs")), **_errors(503)}},
        "patch": {"operationId": "alterGroupConfigs", "summary": "Set and delete the group's own configs",
                  "tags": ["groups"], "requestBody": _body(_ref("AlterGroupConfigs")),
                  "responses": {"200": _ok("The group's configs now", _ref("GroupConfigs")),
                                **_errors(400, 413, 415, 503)}},
    },
    "/groups/{group}/members": {
        "parameters": [_GROUP],
        "post": {"operationId": "joinGroup", "summary": "Join a group; the broker assigns partitions",
                 "tags": ["consumers"], "requestBody": _body(_ref("JoinGroup")),
                 "responses": {"200": _ok("The new member and its first assignment", _ref("MemberState")),
                               **_errors(400, 404, 409, 413, 415, 503)}},
    },
    "/groups/{group}/members/{member}": {
        "parameters": [_GROUP, _MEMBER],
        "delete": {"operationId": "leaveGroup", "summary": "Leave; the member's partitions move at once",
                   "tags": ["consumers"],
                   "responses": {"204": {"description": "Left"}, **_errors(404, 503)}},
    },
    "/groups/{group}/members/{member}/poll": {
        "parameters": [_GROUP, _MEMBER],
        "post": {"operationId": "pollRecords",
                 "summary": "Heartbeat, then records from the member's partitions from its positions",
                 "tags": ["consumers"],
                 "parameters": [
                     _query("max_records", {"type": "integer", "minimum": 1, "maximum": 10000},
                            "most records to return (default 500)"),
                     _query("max_bytes", {"type": "integer", "minimum": 1, "maximum": 64 * 1024 * 1024},
                            "about how many bytes of batches to read (at least one batch); default 1 MiB"),
                     _query("wait_ms", {"type": "integer", "minimum": 0, "maximum": 30000},
                            "long poll: wait this long for records when there are none (default 0)"),
                     _query("value_format", _FORMAT, "how values and header values are shown (default text)"),
                     _query("key_format", _FORMAT,
                            "how keys are shown (default: value_format; text when that is json)")],
                 "responses": {"200": _ok("Records, assignment and positions", _ref("PollResponse")),
                               **_errors(400, 404, 406, 409, 503)}},
    },
    "/groups/{group}/members/{member}/commit": {
        "parameters": [_GROUP, _MEMBER],
        "post": {"operationId": "commitOffsets",
                 "summary": "Commit offsets of held partitions (no body: the member's positions)",
                 "tags": ["consumers"],
                 "requestBody": {"required": False, "content": _json(_ref("CommitRequest"))},
                 "responses": {"200": _ok("Committed, durable per the flush policy of __consumer_offsets",
                                          _ref("CommitResponse")),
                               **_errors(400, 404, 409, 413, 415, 503, 504)}},
    },
    "/groups/{group}/members/{member}/heartbeat": {
        "parameters": [_GROUP, _MEMBER],
        "post": {"operationId": "heartbeat", "summary": "Keep the membership alive; learn the assignment",
                 "tags": ["consumers"],
                 "responses": {"200": _ok("The member's assignment and positions", _ref("MemberState")),
                               **_errors(404, 409, 503)}},
    },
    "/health": {
        "get": {"operationId": "health", "summary": "Liveness", "tags": ["operations"],
                "responses": {"200": _ok("Up", _ref("Health"))}},
    },
    "/metrics": {
        "get": {"operationId": "metrics", "summary": "Prometheus text exposition", "tags": ["operations"],
                "responses": {"200": {"description": "Metrics",
                                      "content": {"text/plain": {"schema": {"type": "string"}}}}}},
    },
    "/openapi.json": {
        "get": {"operationId": "openapi", "summary": "This document", "tags": ["operations"],
                "responses": {"200": {"description": "OpenAPI 3 document",
                                      "content": {"application/json": {"schema": {"type": "object"}}}}}},
    },
}

_PAGE = [_query("offset", {"type": "integer", "minimum": 0, "maximum": 2147483647}, "first item (default 0)"),
         _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "most items (default 100)")]
_NUM = {"type": "number"}
_SCHEMAS.update({
    "Stats": {
        "type": "object",
        "required": ["node_id", "cluster_id", "topics", "partitions", "groups", "disk", "rates", "latency"],
        "properties": {
            "node_id": {"type": "integer"}, "cluster_id": {"type": "string"}, "status": {"type": "string"},
            "now_ms": {"type": "integer"}, "brokers": {"type": "array", "items": {"type": "object"}},
            "topics": {"type": "integer"}, "partitions": {"type": "integer"}, "groups": {"type": "integer"},
            "disk": {"type": "object", "properties": {"log_bytes": {"type": "integer"},
                                                      "free_bytes": {"type": "integer"},
                                                      "total_bytes": {"type": "integer"}}},
            "totals": {"type": "object", "additionalProperties": {"type": "integer"}},
            "rates": {"type": "object", "description": "per-second rates, one sample per interval_ms",
                      "properties": {"interval_ms": {"type": "integer"}, "window": {"type": "integer"},
                                     "samples": {"type": "array", "items": {"type": "object", "properties": {
                                         "time_ms": {"type": "integer"}, "bytes_in": _NUM, "records_in": _NUM,
                                         "bytes_out": _NUM, "records_out": _NUM}}}}},
            "latency": {"type": "array", "description": "percentiles from the latency histograms of /metrics",
                        "items": {"type": "object", "properties": {
                            "front": {"type": "string", "enum": ["kafka", "http"]}, "name": {"type": "string"},
                            "count": {"type": "integer"}, "mean_ms": _NUM,
                            "p50_ms": {**_NUM, "nullable": True}, "p90_ms": {**_NUM, "nullable": True},
                            "p99_ms": {**_NUM, "nullable": True}, "p999_ms": {**_NUM, "nullable": True}}}},
        },
    },
    "TopicStats": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "partitions": {"type": "integer"}, "internal": {"type": "boolean"},
                       "records": {"type": "integer"}, "size_bytes": {"type": "integer"},
                       "retention_ms": {"type": "integer"}, "cleanup_policy": {"type": "string"},
                       "bytes_in_per_s": _NUM, "records_in_per_s": _NUM, "bytes_out_per_s": _NUM,
                       "error": {"type": "string", "description": "in a cluster, present only when some "
                                 "partition's leader could not be asked (naming it): left out of records and "
                                 "size_bytes"}},
    },
    "GroupStats": {
        "type": "object",
        "properties": {"group_id": {"type": "string"}, "state": {"type": "string"},
                       "group_type": {"type": "string"}, "protocol_type": {"type": "string"},
                       "members": {"type": "integer"}, "topics": {"type": "array", "items": {"type": "string"}},
                       "total_lag": {"type": "integer"},
                       "lag_unknown_partitions": {"type": "integer", "description": "present only when some "
                                                  "partitions' leaders could not be asked: left out of total_lag"}},
    },
    "LagHistory": {
        "type": "object",
        "properties": {"group_id": {"type": "string"}, "interval_ms": {"type": "integer"},
                       "partitions": {"type": "array", "items": {"type": "object", "properties": {
                           "topic": {"type": "string"}, "partition": {"type": "integer"}}}},
                       "samples": {"type": "array", "items": {"type": "object", "properties": {
                           "time_ms": {"type": "integer"}, "total": {"type": "integer"},
                           "lags": {"type": "array", "items": {"type": "integer", "nullable": True}},
                           "error": {"type": "string", "description": "in a cluster, present only when some "
                                     "partition's leader could not be asked (naming it): its lag is null"}}}}},
    },
    "PartitionPage": {
        "type": "object",
        "properties": {"topic": {"type": "string"}, "total": {"type": "integer"}, "offset": {"type": "integer"},
                       "limit": {"type": "integer"}, "partitions": {"type": "array", "items": {
                           "type": "object", "properties": {
                               "partition": {"type": "integer"}, "log_start_offset": {"type": "integer"},
                               "log_end_offset": {"type": "integer"}, "size_bytes": _SIZE_HERE,
                               "segments": {"type": "integer", "description": "-1: held by another broker (Kafka's "
                                            "APIs carry no segment count)"},
                               "error": _LEADER_NOT_ASKED, "leader": {"type": "integer"},
                               "replicas": {"type": "array", "items": {"type": "integer"}},
                               "isr": {"type": "array", "items": {"type": "integer"}}}}}},
    },
    "GroupConfigValues": {
        "type": "object", "description": "group configs by Kafka name; an integer out of the broker's bounds "
                                         "(group.consumer.min/max.*, group.share.min/max.*) answers 400 INVALID_CONFIG",
        "properties": {name: _group_config_schema(name) for name in GROUP_CONFIG_TYPES},
        "additionalProperties": False,
    },
    "AlterGroupConfigs": _alter_configs("GroupConfigValues", GROUP_CONFIG_TYPES),
    "GroupConfigs": {
        "type": "object",
        "properties": {"group_id": {"type": "string"}, "validate_only": {"type": "boolean"},
                       "configs": {"type": "array", "items": {"type": "object", "properties": {
                           "name": {"type": "string"}, "value": {"type": "string"}, "default": {"type": "string"},
                           "source": {"type": "string", "enum": ["GROUP_CONFIG", "DEFAULT_CONFIG"]}}}}},
    },
    "AddPartitions": {
        "type": "object", "required": ["count"],
        "properties": {"count": {"type": "integer", "minimum": 1, "maximum": 100000,
                                 "description": "the new total number of partitions"},
                       "validate_only": {"type": "boolean"},
                       "timeout_ms": _LEADERS_TIMEOUT},
    },
})
_HTML = {"text/html": {"schema": {"type": "string"}}}
_PATHS.update({
    "/stats": {
        "get": {"operationId": "stats", "summary": "Identity, counts, disk, rates over the last minutes, "
                                                   "latency percentiles per API", "tags": ["operations"],
                "responses": {"200": _ok("Broker statistics", _ref("Stats"))}},
    },
    "/stats/topics": {
        "get": {"operationId": "topicStats", "summary": "A page of topics with records, size, retention, rates",
                "tags": ["topics"],
                "parameters": [*_PAGE, _query("filter", {"type": "string"}, "substring of the name"),
                               _query("sort", {"type": "string", "enum": ["name", "partitions", "records",
                                                                         "size_bytes", "bytes_in_per_s",
                                                                         "bytes_out_per_s"]}, "sort key"),
                               _query("order", {"type": "string", "enum": ["asc", "desc"]}, "sort order"),
                               _query("internal", {"type": "string", "enum": ["true", "false"]},
                                      "include internal topics (default true)")],
                "responses": {"200": _ok("Topics", {"type": "object", "properties": {
                    "total": {"type": "integer"}, "offset": {"type": "integer"}, "limit": {"type": "integer"},
                    "topics": {"type": "array", "items": _ref("TopicStats")}}}), **_errors(400)}},
    },
    "/stats/groups": {
        "get": {"operationId": "groupStats", "summary": "A page of groups with state, members and total lag",
                "tags": ["groups"],
                "parameters": [*_PAGE, _query("filter", {"type": "string"}, "substring of the group id")],
                "responses": {"200": _ok("Groups", {"type": "object", "properties": {
                    "total": {"type": "integer"}, "offset": {"type": "integer"}, "limit": {"type": "integer"},
                    "groups": {"type": "array", "items": _ref("GroupStats")}}}), **_errors(400, 503)}},
    },
    "/groups/{group}/lag-history": {
        "parameters": [_GROUP],
        "get": {"operationId": "groupLagHistory", "summary": "Total lag and lag per partition over the last minutes",
                "tags": ["groups"],
                "responses": {"200": _ok("Lag samples", _ref("LagHistory")), **_errors(404, 503)}},
    },
    "/topics/{topic}/partitions": {
        "parameters": [_TOPIC],
        "get": {"operationId": "listPartitions", "summary": "A page of partitions: offsets, size, segments, replicas",
                "tags": ["topics"], "parameters": _PAGE,
                "responses": {"200": _ok("Partitions", _ref("PartitionPage")), **_errors(400, 404)}},
        "post": {"operationId": "addPartitions", "summary": "Grow the topic to count partitions",
                 "tags": ["topics"], "requestBody": _body(_ref("AddPartitions")),
                 "responses": {"200": _ok("The new count", {"type": "object", "properties": {
                     "name": {"type": "string"}, "partitions": {"type": "integer"},
                     "validate_only": {"type": "boolean"}}}), **_errors(400, 404, 413, 415, 503)}},
    },
    "/": {
        "get": {"operationId": "console", "summary": "The management console (HTML page over this API)",
                "tags": ["console"], "responses": {"200": {"description": "The page", "content": _HTML}}},
    },
    "/login": {
        "get": {"operationId": "consoleLogin", "summary": "The console's login page",
                "tags": ["console"], "responses": {"200": {"description": "The page", "content": _HTML}}},
    },
    "/auth/token": {
        "post": {"operationId": "issueToken", "summary": "A bearer token for a user name and password "
                                                        "(JSON body or HTTP Basic)", "tags": ["auth"],
                 "requestBody": {"required": False, "content": _json(_ref("Credentials"))},
                 "responses": {"200": _ok("The token", _ref("Token")), **_errors(400, 401, 415, 429)}},
    },
    "/auth/login": {
        "post": {"operationId": "login", "summary": "The console's session: an HttpOnly cookie and a CSRF token",
                 "tags": ["auth"], "requestBody": {"required": False, "content": _json(_ref("Credentials"))},
                 "responses": {"200": _ok("Logged in", {"type": "object", "properties": {
                     "principal": {"type": "string"}, "csrf_token": {"type": "string"}}}),
                     **_errors(400, 401, 415, 429)}},
    },
    "/auth/logout": {
        "post": {"operationId": "logout", "summary": "End the session: revoke its token (the console's "
                                                     "cookie or the bearer token sent) and clear the cookies",
                 "tags": ["auth"], "responses": {"204": {"description": "Logged out"}}},
    },
    "/auth/revoke": {
        "post": {"operationId": "revokeUserTokens", "summary": "Revoke every token issued to a user so far "
                                                               "(needs ALTER on the cluster)", "tags": ["auth"],
                 "requestBody": _body({"type": "object", "required": ["user"],
                                       "properties": {"user": {"type": "string", "minLength": 1}}}),
                 "responses": {"200": _ok("Revoked", {"type": "object", "properties": {
                     "user": {"type": "string"}, "revoked": {"type": "boolean"}}}),
                     **_errors(400, 401, 403, 415)}},
    },
    "/auth/whoami": {
        "get": {"operationId": "whoami", "summary": "The principal this request authenticated as", "tags": ["auth"],
                "responses": {"200": _ok("The principal", {"type": "object", "properties": {
                    "principal": {"type": "string"}, "authentication": {"type": "boolean"}}}),
                    **_errors(401)}},
    },
    "/console/{file}": {
        "parameters": [{"name": "file", "in": "path", "required": True, "schema": {"type": "string"}}],
        "get": {"operationId": "consoleAsset", "summary": "The console's scripts and styles",
                "tags": ["console"],
                "responses": {"200": {"description": "The file", "content": {"*/*": {"schema": {"type": "string"}}}},
                              "404": {"description": "No such file"}}},
    },
})
_PATHS["/topics/{topic}/configs"]["get"] = {
    "operationId": "describeTopicConfigs", "summary": "The topic's configs with defaults and sources",
    "tags": ["topics"],
    "responses": {"200": _ok("Configs", {"type": "object", "properties": {
        "name": {"type": "string"}, "configs": {"type": "array", "items": {"type": "object"}}}}), **_errors(404)}}
_SCHEMAS.update({
    "Credentials": {"type": "object", "required": ["username", "password"],
                    "properties": {"username": {"type": "string"}, "password": {"type": "string"}}},
    "Token": {"type": "object", "required": ["access_token", "token_type", "expires_in"],
              "properties": {"access_token": {"type": "string"}, "token_type": {"type": "string"},
                             "expires_in": {"type": "integer"}}},
})
_SCHEMAS.update(openapi_share.SCHEMAS)
_PATHS.update(openapi_share.PATHS)

# With an authorizer (docs/SECURITY.md) every route but these may answer 403 (TOPIC_, GROUP_ or
# CLUSTER_AUTHORIZATION_FAILED).
_OPEN_PATHS = frozenset({"/health", "/openapi.json", "/metrics", "/", "/login", "/console/{file}"})
for _path, _operations in _PATHS.items():
    if _path not in _OPEN_PATHS and not _path.startswith("/auth/"):
        for _operation in _operations.values():
            if isinstance(_operation, dict) and "responses" in _operation:
                _operation["responses"].setdefault("403", {"$ref": "#/components/responses/Error"})

_DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "logbroker HTTP API", "version": VERSION,
             "description": "Topics, records, consumer groups and operations of a logbroker broker. "
                            "JSON by default; msgpack with Content-Type/Accept: application/msgpack. "
                            "Errors: {\"error_code\", \"message\"}."},
    "paths": _PATHS,
    "components": {
        "schemas": _SCHEMAS,
        "responses": {"Error": {"description": "Error", "content": _json(_ref("Error"))}},
    },
}


def document() -> dict[str, Any]:
    """A copy of the document (callers may change it)."""
    return copy.deepcopy(_DOCUMENT)
