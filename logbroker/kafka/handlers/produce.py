"""Produce (api key 0): raw record batches in, offsets out. HOT PATH.

Every partition's batch is appended before the first ``await`` (so appends keep request order);
with acks=all the response waits until each batch is as durable as its topic's flush policy
promises (by default fsynced by the group committer), bounded by the request's ``timeout_ms``; in a
cluster it also waits until every in-sync replica has it (the high watermark passed it), and answers
NOT_ENOUGH_REPLICAS(_AFTER_APPEND) against the topic's ``min.insync.replicas``.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future

from logbroker.broker import AppendOutcome, Broker
from logbroker.errors import StorageError
from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.error_map import error_code_for
from logbroker.kafka.handlers import Body, RequestContext
from logbroker.kafka.handlers.access import Op, Res, allowed, topic_allowed

log = logging.getLogger(__name__)


async def handle_produce(ctx: RequestContext, body: Body) -> Body | None:
    broker = ctx.broker
    acks = body["acks"]
    transactional_id = body.get("transactional_id")
    # Kafka: a transactional produce needs WRITE on its transactional id, else every partition fails.
    txn_refused = transactional_id is not None and not allowed(ctx, Op.WRITE, Res.TRANSACTIONAL_ID,
                                                               transactional_id)
    if transactional_id is not None:
        log.warning("client %s sent a transactional produce; transactions are not supported", ctx.client_id)
    responses: list[Body] = []
    waits: list[tuple[Body, Future[int]]] = []
    writes: list[tuple[Body, AppendOutcome]] = []
    replications: list[tuple[Body, asyncio.Future[None]]] = []
    for topic in body["topic_data"]:
        name = topic.get("name")
        topic_id = topic.get("topic_id")
        if ctx.api_version >= 13:
            name = broker.topic_name_by_id(topic_id)
        parts: list[Body] = []
        responses.append({"name": name, "topic_id": topic_id, "partition_responses": parts})
        writable = name is not None and topic_allowed(ctx, Op.WRITE, name)
        for p in topic["partition_data"]:
            entry: Body = {"index": p["index"], "error_code": 0, "base_offset": -1, "log_append_time_ms": -1,
                           "log_start_offset": -1, "record_errors": [], "error_message": None}
            parts.append(entry)
            if acks not in (0, 1, -1):
                entry["error_code"] = ErrorCode.INVALID_REQUIRED_ACKS
                continue
            if txn_refused:
                entry["error_code"] = ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
                continue
            if name is None:
                entry["error_code"] = ErrorCode.UNKNOWN_TOPIC_ID
                continue
            if not writable:
                # Refused whether the topic exists or not: the answer does not tell which.
                entry["error_code"] = ErrorCode.TOPIC_AUTHORIZATION_FAILED
                continue
            records = p.get("records")
            if records is None:
                entry["error_code"] = ErrorCode.INVALID_RECORD
                entry["error_message"] = "records are null"
                continue
            try:
                broker.check_client_append(name)
                # Kafka 4.1 creates topics from Metadata only: a Produce never does (clients send
                # Metadata first, which creates the topic when auto.create.topics.enable allows).
                if not broker.has_topic(name):
                    entry["error_code"] = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
                    continue
                if acks == -1:
                    broker.check_min_isr(name, p["index"])
                outcome = broker.append(name, p["index"], records, wait_durable=acks == -1)
                replicated = broker.replicated(name, p["index"], outcome.next_offset) if acks == -1 else None
            except StorageError as exc:
                entry["error_code"] = error_code_for(exc)
                # Kafka 4.1 answers a write to an internal topic with the code alone (its message
                # is the broker log's); the other refusals carry their reason.
                if entry["error_code"] != ErrorCode.INVALID_TOPIC_EXCEPTION:
                    entry["error_message"] = str(exc)
                log.info("produce to %s-%d from %s refused: %s", name, p["index"], ctx.client_id, exc)
                continue
            entry["base_offset"] = outcome.base_offset
            entry["log_append_time_ms"] = outcome.log_append_time
            entry["log_start_offset"] = outcome.log_start_offset
            if acks == -1 and outcome.durable is not None:
                waits.append((entry, outcome.durable))  # resolved after the write, so it covers it
            elif acks == 1 and outcome.written is not None:
                writes.append((entry, outcome))
            if replicated is not None:
                replications.append((entry, replicated))
    if acks == 0:
        return None
    timeout_s = body.get("timeout_ms", 30000) / 1000
    if replications:
        await _await_replicated(replications, timeout_s)
    if waits:
        await _await_durable(waits, timeout_s)
    if writes:
        await _await_written(writes, timeout_s)
    return {"responses": responses, "throttle_time_ms": 0}


async def _await_written(writes: list[tuple[Body, AppendOutcome]], timeout_s: float) -> None:
    """acks=1: the bytes are in the segment file (an append writer may still have been copying them)."""
    results = await Broker.wait_written([o for _, o in writes], timeout_s)
    for (entry, _), exc in zip(writes, results, strict=True):
        if isinstance(exc, TimeoutError):
            entry["error_code"] = ErrorCode.REQUEST_TIMED_OUT
            entry["error_message"] = "the write did not complete within timeout_ms"
        elif exc is not None:
            entry["error_code"] = error_code_for(exc)
            entry["error_message"] = str(exc)


async def _await_replicated(waits: list[tuple[Body, asyncio.Future[None]]], timeout_s: float) -> None:
    """acks=all in a cluster: every ISR member has the batch (the high watermark passed it)."""
    await asyncio.wait([f for _, f in waits], timeout=max(timeout_s, 0.001))
    for entry, fut in waits:
        if not fut.done():
            fut.cancel()
            entry["error_code"] = ErrorCode.REQUEST_TIMED_OUT
            entry["error_message"] = "the ISR did not replicate the batch within timeout_ms"
        elif fut.exception() is not None:
            exc = fut.exception()
            assert exc is not None
            entry["error_code"] = error_code_for(exc)
            entry["error_message"] = str(exc)


async def _await_durable(waits: list[tuple[Body, Future[int]]], timeout_s: float) -> None:
    results = await Broker.wait_durable([f for _, f in waits], timeout_s)
    for (entry, _), exc in zip(waits, results, strict=True):
        if isinstance(exc, TimeoutError):
            entry["error_code"] = ErrorCode.REQUEST_TIMED_OUT
            entry["error_message"] = "the write was not durable within timeout_ms"
        elif isinstance(exc, StorageError):
            # The write itself failed (it was pending when the append returned); logged where it failed.
            entry["error_code"] = error_code_for(exc)
            entry["error_message"] = str(exc)
        elif exc is not None:
            log.error("durability failure: %s", exc)
            entry["error_code"] = ErrorCode.KAFKA_STORAGE_ERROR
            entry["error_message"] = f"fsync failed: {exc}"
