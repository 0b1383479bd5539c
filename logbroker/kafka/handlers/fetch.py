"""Fetch (api key 1): file ranges out with sendfile; long poll woken by appends. HOT PATH.

Semantics matched from Kafka:

- Size limits (KIP-74, Kafka's ``ReplicaManager.readFromLog``): partitions are read in request
  order, each up to ``min(partition_max_bytes, bytes left of max_bytes)``, as a byte slice of one
  segment from the batch holding the fetch offset; the slice may end inside a batch, which
  clients drop and fetch again, and is empty when that first batch is over the limit. While the
  response is still empty a partition returns at least its first batch whole, even above both
  limits, so a consumer always makes progress. Partitions without records still answer their
  offsets.
- An offset inside a batch returns the whole batch (clients skip the earlier records); an empty
  partition answers zero-length records.
- Fetch sessions (KIP-227, v7+): epoch 0 opens a session, positive epochs fetch incrementally, -1
  is a sessionless full fetch; see ``logbroker.kafka.fetch_sessions`` for the rules. The cache
  holds ``max.incremental.fetch.session.cache.slots`` sessions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable, Sequence

from logbroker.errors import OffsetOutOfRangeError, StorageError
from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.error_map import error_code_for
from logbroker.kafka.fetch_sessions import (
    FINAL_EPOCH,
    INITIAL_EPOCH,
    FetchSession,
    PartitionKey,
    SessionPartition,
    next_epoch,
)
from logbroker.kafka.handlers import Body, RequestContext
from logbroker.kafka.handlers.access import Op, cluster_allowed, topic_allowed

log = logging.getLogger(__name__)

_NO_LIMIT = 0x7FFFFFFF


def _records(parts: Sequence[object], nbytes: int) -> object:
    """Zero-length bytes for an empty answer, else the file ranges (each sent with sendfile)."""
    return list(parts) if nbytes else b""


def _requested(ctx: RequestContext, body: Body) -> dict[PartitionKey, SessionPartition]:
    """The partitions a request lists, keyed as a session keys them (topic id from v13, else name)."""
    by_id = ctx.api_version >= 13
    out: dict[PartitionKey, SessionPartition] = {}
    for t in body["topics"]:
        topic_id = t.get("topic_id")
        name = ctx.broker.topic_name_by_id(topic_id) if by_id else t.get("topic")
        topic_key: Hashable = topic_id if by_id else name
        for p in t["partitions"]:
            out[(topic_key, p["partition"])] = SessionPartition(
                name, topic_id, p["partition"], p["fetch_offset"], p.get("partition_max_bytes", 1 << 20),
                leader_epoch=p.get("current_leader_epoch", -1))
    return out


def _forgotten(ctx: RequestContext, body: Body) -> list[PartitionKey]:
    by_id = ctx.api_version >= 13
    return [(t.get("topic_id") if by_id else t.get("topic"), p)
            for t in body.get("forgotten_topics_data") or () for p in t["partitions"]]


def _session_error(code: int) -> Body:
    return {"throttle_time_ms": 0, "error_code": code, "session_id": 0, "responses": []}


async def handle_fetch(ctx: RequestContext, body: Body) -> Body:
    broker = ctx.broker
    sessions = ctx.fetch_sessions
    now_ms = time.monotonic_ns() // 1_000_000
    session_id = body.get("session_id", 0) if ctx.api_version >= 7 else 0
    epoch = body.get("session_epoch", FINAL_EPOCH) if ctx.api_version >= 7 else FINAL_EPOCH
    session: FetchSession | None = None
    incremental = False
    if epoch > INITIAL_EPOCH:
        session = sessions.get(session_id, now_ms) if sessions is not None else None
        if sessions is None or session is None:
            log.debug("fetch session %d of client %s not found", session_id, ctx.client_id)
            return _session_error(ErrorCode.FETCH_SESSION_ID_NOT_FOUND)
        if session.epoch != epoch:
            log.debug("fetch session %d of client %s: epoch %d, expected %d", session_id, ctx.client_id,
                      epoch, session.epoch)
            return _session_error(ErrorCode.INVALID_FETCH_SESSION_EPOCH)
        session.update(_requested(ctx, body).items(), _forgotten(ctx, body))
        session.epoch = next_epoch(session.epoch)
        log.debug("incremental fetch in session %d (epoch %d, %d partitions) of client %s", session_id, epoch,
                  len(session.partitions), ctx.client_id)
        incremental = True
        sessions.incremental_fetches += 1
        targets = list(session.partitions.values())
    else:
        if session_id and sessions is not None:
            sessions.remove(session_id)
        requested = _requested(ctx, body)
        if epoch == INITIAL_EPOCH and sessions is not None:
            session = sessions.create(requested, ctx.client_id, now_ms, privileged=_replica_id(ctx, body) >= 0)
        targets = list(requested.values())

    deadline = time.monotonic() + max(body.get("max_wait_ms", 0), 0) / 1000
    min_bytes = body.get("min_bytes", 1)
    budget = body.get("max_bytes", _NO_LIMIT) if ctx.api_version >= 3 else _NO_LIMIT
    while True:
        entries, total = _read_all(ctx, body, targets, budget)
        remaining = deadline - time.monotonic()
        if total >= min_bytes or remaining <= 0:
            break
        keys = [(t.topic, t.partition) for t in targets if t.topic is not None]
        await broker.wait_for_append(keys, remaining)
        if time.monotonic() >= deadline:
            entries, total = _read_all(ctx, body, targets, budget)
            break

    responses: dict[Hashable, Body] = {}
    for target, entry, nbytes in entries:
        if session is not None:
            changed = target.must_respond(entry["error_code"], entry["high_watermark"],
                                          entry["log_start_offset"], nbytes)
            if incremental and not changed:
                continue
        if nbytes and target.topic is not None:
            broker.count_bytes_out(target.topic, nbytes)
        topic_key = target.topic_id if ctx.api_version >= 13 else target.topic
        topic = responses.get(topic_key)
        if topic is None:
            topic = responses[topic_key] = {"topic": target.topic, "topic_id": target.topic_id, "partitions": []}
        topic["partitions"].append(entry)
    return {"throttle_time_ms": 0, "error_code": 0, "session_id": session.id if session is not None else 0,
            "responses": list(responses.values())}


def _replica_id(ctx: RequestContext, body: Body) -> int:
    """The fetching follower's broker id (Fetch ``ReplicaId``, v15+ ``ReplicaState``), -1 for a consumer."""
    if ctx.api_version >= 15:
        state = body.get("replica_state") or {}
        return int(state.get("replica_id", -1))
    return int(body.get("replica_id", -1))


def _read_all(ctx: RequestContext, body: Body, targets: Sequence[SessionPartition],
              budget: int) -> tuple[list[tuple[SessionPartition, Body, int]], int]:
    """Read every target partition once, in order; returns (target, response entry, record bytes)
    triples and the record bytes in all of them."""
    broker = ctx.broker
    replica_id = _replica_id(ctx, body)
    # Kafka: a follower needs CLUSTER_ACTION on the cluster, a consumer READ on each topic; refused
    # partitions answer TOPIC_AUTHORIZATION_FAILED whether their topic exists or not.
    follower_ok = replica_id < 0 or cluster_allowed(ctx, Op.CLUSTER_ACTION)
    readable: dict[str, bool] = {}
    total = 0
    out: list[tuple[SessionPartition, Body, int]] = []
    for target in targets:
        entry: Body = {"partition_index": target.partition, "error_code": 0, "high_watermark": -1,
                       "last_stable_offset": -1, "log_start_offset": -1, "aborted_transactions": None,
                       "preferred_read_replica": -1, "records": b""}
        out.append((target, entry, 0))
        name = target.topic
        if name is None:
            entry["error_code"] = ErrorCode.UNKNOWN_TOPIC_ID
            continue
        ok = readable.get(name)
        if ok is None:
            ok = readable[name] = follower_ok and (replica_id >= 0 or topic_allowed(ctx, Op.READ, name))
        if not ok:
            entry["error_code"] = ErrorCode.TOPIC_AUTHORIZATION_FAILED
            continue
        limit = max(0, min(target.max_bytes, budget - total))
        first = total == 0
        try:
            if limit == 0 and not first:
                start, end = broker.offsets(name, target.partition)
                entry.update(high_watermark=end, last_stable_offset=end, log_start_offset=start)
                continue
            # Kafka's rule (ReplicaManager.readFromLog): while the response is empty, a partition
            # returns at least its first batch whole, whatever its size (KIP-74); every partition
            # returns min(partition_max_bytes, what is left of max_bytes) bytes, cut where that
            # ends, even inside a batch (clients drop a partial batch at the end), or none when
            # its first batch is over that. Followers of
            # logbroker's own replication get whole batches, since they append what they fetch.
            result = broker.read(name, target.partition, target.fetch_offset, limit,
                                 replica_id=replica_id, leader_epoch=target.leader_epoch,
                                 min_one_batch=first, whole_batches=replica_id >= 0)
        except OffsetOutOfRangeError:
            # Kafka's answer to an out-of-range fetch carries no offsets: high watermark, last stable
            # offset and log start offset are all -1 (the consumer asks ListOffsets to reset).
            entry.update(error_code=ErrorCode.OFFSET_OUT_OF_RANGE, high_watermark=-1,
                         last_stable_offset=-1, log_start_offset=-1)
            continue
        except StorageError as exc:
            entry["error_code"] = error_code_for(exc)
            continue
        nbytes = result.nbytes
        entry.update(high_watermark=result.high_watermark, last_stable_offset=result.high_watermark,
                     log_start_offset=result.log_start_offset, records=_records(result.parts, nbytes))
        out[-1] = (target, entry, nbytes)
        total += nbytes
    return out, total
