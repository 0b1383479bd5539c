"""Produce and read records over HTTP.

Produce, ``POST /topics/{topic}/records?acks=0|1|all&timeout_ms=``::

    {"value_format": "text"|"json"|"base64", "key_format"?: same choices (default: value_format, but
     text when value_format is json),
     "records": [{"key"?, "value"?, "headers"?: [{"key": str, "value"}], "partition"?, "timestamp"?}]}

``text`` takes strings (UTF-8), ``json`` any JSON value (stored as its compact JSON text), ``base64``
base64 strings. Keys, values and header values may be null. In a msgpack body they are raw bytes
(``bin``) or strings (stored UTF-8) and the formats are ignored. A record without ``partition`` goes
where Kafka's default partitioner puts it (murmur2 of the key bytes; round-robin without a key).

The records of one request are grouped into one batch per partition (``Broker.build_batches``),
split into several consecutive batches where one would be over the topic's ``max.message.bytes``
(as a Kafka producer splits), and each batch goes through ``Broker.append``, the same checks and
durability as a Kafka produce. Every batch is built and checked (a single record over the limit:
413; on a compacted topic, records without a key) before the first is appended, so a request is
refused whole rather than half written. ``acks=all`` (default) answers once every batch
is as durable as its topic's flush policy promises, ``acks=1`` once appended; ``acks=0`` answers the
same offsets without waiting. Answer: ``{"topic", "records": [{"partition", "offset"}]}`` in request order.

Read, ``GET /topics/{topic}/partitions/{partition}/records?offset=|timestamp=&max_bytes=&limit=&wait_ms=
&value_format=&key_format=``: records from ``offset`` (default: the log start), or from the first record
with a timestamp at or after ``timestamp`` (ms) (both: the later of the two), reading at most about
``max_bytes`` of batches (at least one whole batch, as Kafka fetch does) and returning at most
``limit`` records. With nothing to return, the read waits up to ``wait_ms`` for an append (long
poll). Answer: ``{"topic",
"partition", "records": [{"offset", "timestamp", "timestamp_type", "key", "value", "headers"}],
"next_offset", "high_watermark", "log_start_offset"}``; an offset outside the log gives 416.
A key, value or header value that cannot be shown in the requested format (bytes that are not
UTF-8 as ``text``, not JSON as ``json``) is sent as base64 and its object says so with
``"key_format": "base64"`` / ``"value_format": "base64"``; the rest of the range keeps its format.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import os
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from aiohttp import web

from logbroker.broker import AppendOutcome, Broker, ReadOutcome
from logbroker.errors import LogStorageError
from logbroker.http.access import Op, require_topic
from logbroker.http.content import body_is_msgpack, read_body, respond, wants_msgpack
from logbroker.http.context import MAX_WAIT_MS, context
from logbroker.http.errors import HttpError, bad_request
from logbroker.http.params import (
    INT64_MAX,
    body_object,
    optional,
    path_partition,
    query_choice,
    query_int,
)
from logbroker.http.partitioner import partition_for_key
from logbroker.records import LOG_APPEND_TIME, CorruptBatchError, Header, Record, RecordInput, records_from

log = logging.getLogger(__name__)

FORMATS = ("text", "json", "base64")
ACKS = ("0", "1", "all", "-1")
DEFAULT_MAX_BYTES = 1024 * 1024
MAX_READ_BYTES = 64 * 1024 * 1024
DEFAULT_LIMIT = 500
MAX_LIMIT = 10_000
# Reads larger than this go to a worker thread so a cold page cache does not stall the event loop.
INLINE_READ_BYTES = 256 * 1024


routes = web.RouteTableDef()


# ----------------------------------------------------------------------------------------- produce
def _to_bytes(value: Any, fmt: str, raw_bytes: bool, where: str) -> bytes | None:
    """One key, value or header value of a produce request as bytes."""
    if value is None:
        return None
    if raw_bytes:
        if isinstance(value, bytes):
            return value
        if isinstance(value, str):
            return value.encode("utf-8")
        raise bad_request(f"{where} must be bytes, a string or null in a msgpack body")
    if fmt == "json":
        try:
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: keep it as a \uXXXX escape
            return json.dumps(value, separators=(",", ":")).encode("ascii")
    if not isinstance(value, str):
        raise bad_request(f"{where} must be a string or null with format {fmt}")
    if fmt == "text":
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError:
            raise bad_request(f"{where} is not encodable as UTF-8 (lone surrogate)") from None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request(f"{where} is not valid base64") from None


def _headers(value: Any, fmt: str, raw_bytes: bool, where: str) -> list[Header]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_request(f"{where} must be an array of {{\"key\", \"value\"}} objects")
    out: list[Header] = []
    for i, h in enumerate(value):
        if not isinstance(h, dict) or not isinstance(h.get("key"), str):
            raise bad_request(f"{where}[{i}] must be an object with a string key")
        try:
            name = h["key"]
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise bad_request(f"{where}[{i}].key is not encodable as UTF-8") from None
        out.append((name, _to_bytes(h.get("value"), fmt, raw_bytes, f"{where}[{i}].value")))
    return out


def default_key_format(value_format: str) -> str:
    """Keys follow the value format, except that JSON values usually come with plain string keys."""
    return "text" if value_format == "json" else value_format


def _format(obj: Any, name: str, default: str) -> str:
    value = optional(obj, name, default)
    if value not in FORMATS:
        raise bad_request(f"{name} must be one of {', '.join(FORMATS)}, not {value!r}")
    return str(value)


@routes.post("/topics/{topic}/records")
async def produce(request: web.Request) -> web.Response:
    ctx = context(request)
    broker = ctx.broker
    topic = request.match_info["topic"]
    acks = query_choice(request, "acks", ACKS, "all")
    timeout_ms = query_int(request, "timeout_ms", 30_000, 1, 300_000)
    assert timeout_ms is not None
    require_topic(request, Op.WRITE, topic)  # before the lookup: a refusal does not tell whether it exists
    info = broker.topic(topic)
    broker.check_client_append(topic)
    raw_bytes = body_is_msgpack(request)
    body = body_object(await read_body(request))
    value_format = _format(body, "value_format", "text")
    key_format = _format(body, "key_format", default_key_format(value_format))
    records = body.get("records")
    if not isinstance(records, list) or not records:
        raise bad_request("records must be a non-empty array")
    by_partition: dict[int, list[tuple[int, RecordInput]]] = {}
    for i, r in enumerate(records):
        where = f"records[{i}]"
        if not isinstance(r, dict):
            raise bad_request(f"{where} must be an object")
        key = _to_bytes(r.get("key"), key_format, raw_bytes, f"{where}.key")
        value = _to_bytes(r.get("value"), value_format, raw_bytes, f"{where}.value")
        headers = _headers(optional(r, "headers", where=f"{where}."), value_format, raw_bytes, f"{where}.headers")
        timestamp = optional(r, "timestamp", where=f"{where}.")
        if timestamp is not None and (isinstance(timestamp, bool) or not isinstance(timestamp, int)
                                      or not 0 <= timestamp <= INT64_MAX):
            raise bad_request(f"{where}.timestamp must be an integer number of ms since the epoch")
        partition = optional(r, "partition", where=f"{where}.")
        if partition is None:
            partition = (partition_for_key(key, info.partitions) if key is not None
                         else ctx.round_robin.next_partition(topic, info.partitions))
        elif isinstance(partition, bool) or not isinstance(partition, int):
            raise bad_request(f"{where}.partition must be an integer")
        elif not 0 <= partition < info.partitions:
            raise HttpError(404, "UNKNOWN_TOPIC_OR_PARTITION",
                            f"{where}.partition {partition} does not exist (topic {topic} has {info.partitions})")
        by_partition.setdefault(partition, []).append((i, RecordInput(key, value, headers, timestamp)))
    now = ctx.clock()
    batches: list[tuple[int, list[int], bytes]] = []
    for partition, items in sorted(by_partition.items()):
        try:
            built = broker.build_batches(topic, partition, [rec for _, rec in items], now_ms=now)
        except ValueError as exc:
            raise bad_request(f"records for partition {partition}: {exc}") from None
        start = 0
        for count, batch in built:
            batches.append((partition, [i for i, _ in items[start:start + count]], batch))
            start += count
    placed: list[dict[str, int]] = [{} for _ in records]
    durable: list[Future[int]] = []
    outcomes: list[AppendOutcome] = []
    # No await between the appends: batches of one request land together and in order.
    for partition, indexes, batch in batches:
        outcome = broker.append(topic, partition, memoryview(bytearray(batch)), wait_durable=acks in ("all", "-1"))
        outcomes.append(outcome)
        for n, i in enumerate(indexes):
            placed[i] = {"partition": partition, "offset": outcome.base_offset + n}
        if outcome.durable is not None:
            durable.append(outcome.durable)
    if acks in ("all", "-1") and durable:
        await _await_durable(durable, timeout_ms / 1000)  # resolved after the writes: covers them
    elif acks == "1":
        await _await_written(outcomes, timeout_ms / 1000)
    return respond(request, {"topic": topic, "records": placed})


async def _await_written(outcomes: Sequence[AppendOutcome], timeout_s: float) -> None:
    """acks=1: answered once the bytes are in the segment files (an append writer copies them)."""
    for exc in await Broker.wait_written(outcomes, timeout_s):
        if isinstance(exc, TimeoutError):
            raise TimeoutError("the records were not written within timeout_ms")
        if exc is not None:
            raise exc


async def _await_durable(futures: Sequence[Future[int]], timeout_s: float) -> None:
    for exc in await Broker.wait_durable(futures, timeout_s):
        if isinstance(exc, TimeoutError):
            raise TimeoutError("the records were written but not made durable within timeout_ms")
        if isinstance(exc, LogStorageError):
            raise exc  # the write itself failed (it was pending when the append returned): 507
        if exc is not None:
            raise OSError(f"the records were written but could not be made durable: {exc}") from exc


async def render_records(broker: Broker, topic: str, partition: int, out: ReadOutcome, offset: int, limit: int,
                         key_format: str, value_format: str, raw: bool) -> tuple[list[dict[str, Any]], int]:
    """Decode what a read from ``offset`` returned and render at most ``limit`` records.

    Returns the rendered records and the offset to read next (past control batches and past records
    before ``offset`` in the first batch). Counts the bytes as sent. Stored bytes that fail to decode
    are the broker's fault: a 500 with a log line, never a traceback to the client.
    """
    broker.count_bytes_out(topic, out.nbytes)
    data = await asyncio.to_thread(pread_all, out.parts) if out.nbytes > INLINE_READ_BYTES else pread_all(out.parts)
    try:
        records, next_offset = records_from(data, offset, limit)
    except CorruptBatchError as exc:
        log.error("corrupt batch reading %s-%d from offset %d: %s", topic, partition, offset, exc)
        raise HttpError(500, "CORRUPT_MESSAGE", f"stored data is corrupt: {exc}") from None
    return [record_out(record, key_format, value_format, raw) for record in records], next_offset


# -------------------------------------------------------------------------------------------- read
_UNRENDERABLE = object()


def _render(data: bytes | None, fmt: str) -> Any:
    """``data`` in ``fmt``, or ``_UNRENDERABLE`` when the bytes do not fit it (not UTF-8, not JSON)."""
    if data is None:
        return None
    if fmt == "base64":
        return base64.b64encode(data).decode("ascii")
    try:
        text = data.decode("utf-8")
        return text if fmt == "text" else json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _UNRENDERABLE


def _put(out: dict[str, Any], name: str, data: bytes | None, fmt: str) -> None:
    """Set ``out[name]`` to ``data`` in ``fmt``; bytes that do not fit it go as base64, and the object
    says so in ``<name>_format``, so one binary record does not make a whole range unreadable."""
    rendered = _render(data, fmt)
    if rendered is _UNRENDERABLE:
        out[name] = base64.b64encode(data or b"").decode("ascii")
        out[f"{name}_format"] = "base64"
    else:
        out[name] = rendered


def record_out(r: Record, key_format: str, value_format: str, raw: bool) -> dict[str, Any]:
    ts_type = "LogAppendTime" if r.timestamp_type == LOG_APPEND_TIME else "CreateTime"
    if raw:
        return {"offset": r.offset, "timestamp": r.timestamp, "timestamp_type": ts_type, "key": r.key,
                "value": r.value, "headers": [{"key": k, "value": v} for k, v in r.headers]}
    out: dict[str, Any] = {"offset": r.offset, "timestamp": r.timestamp, "timestamp_type": ts_type}
    _put(out, "key", r.key, key_format)
    _put(out, "value", r.value, value_format)
    headers: list[dict[str, Any]] = []
    for k, v in r.headers:
        header: dict[str, Any] = {"key": k}
        _put(header, "value", v, value_format)
        headers.append(header)
    out["headers"] = headers
    return out


def pread_all(parts: Sequence[Any]) -> bytes:
    return b"".join(os.pread(p.fileno, p.length, p.position) for p in parts)


@routes.get("/topics/{topic}/partitions/{partition}/records", allow_head=False)
async def read_records(request: web.Request) -> web.Response:
    ctx = context(request)
    broker = ctx.broker
    topic = request.match_info["topic"]
    require_topic(request, Op.READ, topic)
    info = broker.topic(topic)
    partition = path_partition(request, info.partitions)
    offset = query_int(request, "offset", None, 0, INT64_MAX)
    timestamp = query_int(request, "timestamp", None, 0, INT64_MAX)
    max_bytes = query_int(request, "max_bytes", DEFAULT_MAX_BYTES, 1, MAX_READ_BYTES)
    limit = query_int(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    wait_ms = query_int(request, "wait_ms", 0, 0, MAX_WAIT_MS)
    value_format = query_choice(request, "value_format", FORMATS, "text")
    key_format = query_choice(request, "key_format", FORMATS, default_key_format(value_format))
    assert max_bytes is not None and limit is not None and wait_ms is not None
    if timestamp is not None:
        found, _ = broker.offset_for_timestamp(topic, partition, timestamp)
        by_time = found if found >= 0 else broker.offsets(topic, partition)[1]
        offset = by_time if offset is None else max(offset, by_time)
    elif offset is None:
        offset = broker.offsets(topic, partition)[0]
    out = broker.read(topic, partition, offset, max_bytes)
    if out.nbytes == 0 and wait_ms > 0:
        await broker.wait_for_append([(topic, partition)], wait_ms / 1000)
        out = broker.read(topic, partition, offset, max_bytes)
    raw = wants_msgpack(request)
    rendered, next_offset = await render_records(broker, topic, partition, out, offset, limit, key_format,
                                                 value_format, raw)
    ctx.metrics.count_records_out(topic, len(rendered))
    return respond(request, {"topic": topic, "partition": partition, "records": rendered,
                             "next_offset": next_offset, "high_watermark": out.high_watermark,
                             "log_start_offset": out.log_start_offset})
