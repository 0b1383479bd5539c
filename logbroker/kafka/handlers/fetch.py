"""Fetch (api key 1): file ranges out with sendfile; long poll woken by appends. HOT PATH.

Semantics matched from Kafka: the first partition with data returns at least one whole batch even
if larger than ``partition_max_bytes``/``max_bytes`` (KIP-74), later ones only while the response
budget lasts; an offset inside a batch returns the whole batch (clients skip the earlier records);
an empty partition answers zero-length records; no fetch sessions are created (session id 0), so
every fetch is a full fetch, which Kafka clients accept.
"""

from __future__ import annotations

import time
from typing import Any

from logbroker.errors import OffsetOutOfRangeError, StorageError
from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.error_map import error_code_for
from logbroker.kafka.handlers import Body, RequestContext


def _records(parts: Any, nbytes: int) -> Any:
    """Zero-length bytes for an empty answer, else the file ranges (each sent with sendfile)."""
    return list(parts) if nbytes else b""


async def handle_fetch(ctx: RequestContext, body: Body) -> Body:
    broker = ctx.broker
    deadline = time.monotonic() + max(body.get("max_wait_ms", 0), 0) / 1000
    min_bytes = body.get("min_bytes", 1)
    names: list[tuple[Body, str | None]] = []
    for t in body["topics"]:
        name = t.get("topic")
        if ctx.api_version >= 13:
            name = broker.topic_name_by_id(t.get("topic_id"))
        names.append((t, name))
    while True:
        responses, total, sent_by_topic = _read_all(ctx, body, names)
        remaining = deadline - time.monotonic()
        if total >= min_bytes or remaining <= 0:
            break
        keys = [(name, p["partition"]) for t, name in names if name is not None for p in t["partitions"]]
        await broker.wait_for_append(keys, remaining)
        if time.monotonic() >= deadline:
            responses, total, sent_by_topic = _read_all(ctx, body, names)
            break
    for name, sent in sent_by_topic.items():
        broker.count_bytes_out(name, sent)
    return {"throttle_time_ms": 0, "error_code": 0, "session_id": 0, "responses": responses}


def _read_all(ctx: RequestContext, body: Body,
              names: list[tuple[Body, str | None]]) -> tuple[list[Body], int, dict[str, int]]:
    """Read every requested partition once; returns the response topics, the bytes in them, and
    those bytes per topic (counted as sent only for the read that is answered)."""
    broker = ctx.broker
    budget = body.get("max_bytes", 0x7FFFFFFF) if ctx.api_version >= 3 else 0x7FFFFFFF
    total = 0
    by_topic: dict[str, int] = {}
    responses: list[Body] = []
    for t, name in names:
        partitions: list[Body] = []
        responses.append({"topic": name, "topic_id": t.get("topic_id"), "partitions": partitions})
        for p in t["partitions"]:
            entry: Body = {"partition_index": p["partition"], "error_code": 0, "high_watermark": -1,
                           "last_stable_offset": -1, "log_start_offset": -1, "aborted_transactions": None,
                           "preferred_read_replica": -1, "records": b""}
            partitions.append(entry)
            if name is None:
                entry["error_code"] = ErrorCode.UNKNOWN_TOPIC_ID
                continue
            limit = min(p.get("partition_max_bytes", 1 << 20), budget - total)
            try:
                if limit <= 0:
                    start, end = broker.offsets(name, p["partition"])
                    entry.update(high_watermark=end, last_stable_offset=end, log_start_offset=start)
                    continue
                # A zero limit after the first data would still return one batch; the budget check
                # above keeps later partitions empty once the response is full.
                out = broker.read(name, p["partition"], p["fetch_offset"], max(limit, 1) if total == 0 else limit)
            except OffsetOutOfRangeError as exc:
                entry.update(error_code=ErrorCode.OFFSET_OUT_OF_RANGE, high_watermark=exc.log_end_offset,
                             last_stable_offset=exc.log_end_offset, log_start_offset=exc.log_start_offset)
                continue
            except StorageError as exc:
                entry["error_code"] = error_code_for(exc)
                continue
            entry.update(high_watermark=out.high_watermark, last_stable_offset=out.high_watermark,
                         log_start_offset=out.log_start_offset, records=_records(out.parts, out.nbytes))
            total += out.nbytes
            by_topic[name] = by_topic.get(name, 0) + out.nbytes
    return responses, total, by_topic


