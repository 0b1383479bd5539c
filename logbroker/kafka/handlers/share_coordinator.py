"""The share coordinator's APIs (KIP-932): InitializeShareGroupState (83), ReadShareGroupState (84),
WriteShareGroupState (85), DeleteShareGroupState (86), ReadShareGroupStateSummary (87).

Kafka's brokers send them to each other: a partition leader writes and reads its share-partitions'
state at the share coordinator of each one (the leader of the key's ``__share_group_state``
partition). Thin translations onto ``logbroker.groups.share_coordinator.ShareCoordinator``, which
speaks topic names; the wire speaks topic ids, translated here. Each needs CLUSTER_ACTION on the
cluster (CLUSTER_AUTHORIZATION_FAILED per partition otherwise). As Kafka 4.1.1 answers: an empty
group id gets no results at all; reading or writing a share-partition whose state was never
initialized is INVALID_REQUEST, and so is one of a topic id no topic has (it can have no state),
while deleting one is fine. Initializing one of an unknown topic id is UNKNOWN_TOPIC_OR_PARTITION
here (Kafka does not look the topic up; the state is kept by topic name here). A write's batches
are merged into the stored ones as Kafka does (``share_state.merge_batches``); this broker's
leaders send whole windows, for which that is the same as replacing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from logbroker.groups.share_coordinator import ShareCoordinator
from logbroker.groups.share_partition import RecordState, StateBatch
from logbroker.groups.share_state import SharePartitionSnapshot, merge_batches
from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.handlers import Body, RequestContext
from logbroker.kafka.handlers.access import Op, cluster_allowed

_MESSAGES: dict[int, str] = {
    ErrorCode.NOT_COORDINATOR: "this broker is not the share coordinator of this share-partition",
    ErrorCode.UNKNOWN_TOPIC_OR_PARTITION: "the topic does not exist",
    ErrorCode.FENCED_LEADER_EPOCH: "the leader epoch is older than one already seen",
    ErrorCode.FENCED_STATE_EPOCH: "the state epoch is older than the stored one",
    ErrorCode.CLUSTER_AUTHORIZATION_FAILED: "Cluster authorization failed.",
    ErrorCode.COORDINATOR_NOT_AVAILABLE: "the share coordinator is not available",
    ErrorCode.INVALID_REQUEST: "the share-partition's state is not initialized",
}

# (coordinator, topic name, request partition) -> error code, once done
PartitionWork = Callable[[ShareCoordinator, str, Body], Awaitable[int]]


def _store(ctx: RequestContext) -> ShareCoordinator | None:
    return ctx.coordinator.share_state if ctx.coordinator is not None else None


def _refusal(ctx: RequestContext, store: ShareCoordinator | None) -> int:
    """The error every partition of the request gets, or 0."""
    if not cluster_allowed(ctx, Op.CLUSTER_ACTION):
        return ErrorCode.CLUSTER_AUTHORIZATION_FAILED
    if store is None:
        return ErrorCode.COORDINATOR_NOT_AVAILABLE
    return 0


def _result(partition: int, code: int) -> Body:
    return {"partition": partition, "error_code": code, "error_message": _MESSAGES.get(code) if code else None}


async def _each(ctx: RequestContext, body: Body, work: PartitionWork, unknown_topic: int) -> Body:
    """Run ``work`` for every partition of the request (concurrently) and answer their results; a
    partition of an unknown topic id gets ``unknown_topic``."""
    store = _store(ctx)
    refused = _refusal(ctx, store)
    if not refused and not body.get("group_id"):
        return {"results": []}
    results: list[Body] = []
    waits: list[tuple[Body, asyncio.Future[int]]] = []
    for t in body.get("topics") or []:
        name = ctx.broker.topic_name_by_id(t.get("topic_id"))
        parts: list[Body] = []
        results.append({"topic_id": t.get("topic_id"), "partitions": parts})
        for p in t.get("partitions") or []:
            entry = _result(p["partition"], refused or (unknown_topic if name is None else 0))
            parts.append(entry)
            if not refused and store is not None and name is not None:
                waits.append((entry, asyncio.ensure_future(work(store, name, p))))
    for entry, fut in waits:
        entry.update(_result(entry["partition"], await fut))
    return {"results": results}


def _snapshot(p: Body, held: SharePartitionSnapshot | None) -> SharePartitionSnapshot:
    """The state after the write: its batches merged into the held ones (``merge_batches``)."""
    start = p["start_offset"]
    if start < 0:  # "the start offset is not being written": keep the stored one
        start = held.start_offset if held is not None else 0
    written = tuple(StateBatch(b["first_offset"], b["last_offset"], RecordState(b["delivery_state"]),
                               b["delivery_count"]) for b in p.get("state_batches") or [])
    return SharePartitionSnapshot(start, p["state_epoch"],
                                  merge_batches(held.batches if held is not None else (), written, start))


def _valid_batches(p: Body) -> bool:
    states = {int(s) for s in RecordState}
    return all(b["delivery_state"] in states and b["first_offset"] <= b["last_offset"]
               for b in p.get("state_batches") or [])


async def handle_write_share_group_state(ctx: RequestContext, body: Body) -> Body:
    group = body.get("group_id") or ""
    now = ctx.broker.clock()

    async def write(store: ShareCoordinator, topic: str, p: Body) -> int:
        if not _valid_batches(p):
            return ErrorCode.INVALID_REQUEST
        held = store.states.get((group, topic, p["partition"]))
        return await store.write(group, topic, p["partition"], _snapshot(p, held), now, p["leader_epoch"])

    return await _each(ctx, body, write, ErrorCode.INVALID_REQUEST)


async def handle_initialize_share_group_state(ctx: RequestContext, body: Body) -> Body:
    group = body.get("group_id") or ""
    now = ctx.broker.clock()

    async def initialize(store: ShareCoordinator, topic: str, p: Body) -> int:
        return await store.initialize(group, topic, p["partition"], p["state_epoch"], max(p["start_offset"], 0), now)

    return await _each(ctx, body, initialize, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)


async def handle_delete_share_group_state(ctx: RequestContext, body: Body) -> Body:
    group = body.get("group_id") or ""
    now = ctx.broker.clock()

    async def delete(store: ShareCoordinator, topic: str, p: Body) -> int:
        return await store.write(group, topic, p["partition"], None, now)

    return await _each(ctx, body, delete, 0)


def _read_each(ctx: RequestContext, body: Body, unknown_topic: int,
               read: Callable[[ShareCoordinator, str, str, Body], tuple[int, Body]], missing: Body) -> Body:
    """Answer a read of every partition of the request from this broker's share coordinator:
    ``read`` gives a partition's error code and fields; a refused request or a partition of an
    unknown topic id (``unknown_topic``) gets ``missing``'s fields."""
    group = body.get("group_id") or ""
    store = _store(ctx)
    refused = _refusal(ctx, store)
    if not refused and not group:
        return {"results": []}
    results: list[Body] = []
    for t in body.get("topics") or []:
        name = ctx.broker.topic_name_by_id(t.get("topic_id"))
        parts: list[Body] = []
        results.append({"topic_id": t.get("topic_id"), "partitions": parts})
        for p in t.get("partitions") or []:
            code = refused or (unknown_topic if name is None else 0)
            fields = missing
            if not code and store is not None and name is not None:
                code, fields = read(store, group, name, p)
            entry = _result(p["partition"], code)
            entry.update(fields)
            parts.append(entry)
    return {"results": results}


def _state_fields(snapshot: SharePartitionSnapshot | None) -> Body:
    if snapshot is None:
        return {"state_epoch": 0, "start_offset": -1, "state_batches": []}
    return {"state_epoch": snapshot.state_epoch, "start_offset": snapshot.start_offset,
            "state_batches": [{"first_offset": b.first_offset, "last_offset": b.last_offset,
                               "delivery_state": int(b.state), "delivery_count": min(b.delivery_count, 32767)}
                              for b in snapshot.batches]}


async def handle_read_share_group_state(ctx: RequestContext, body: Body) -> Body:
    def read(store: ShareCoordinator, group: str, topic: str, p: Body) -> tuple[int, Body]:
        code, snapshot = store.read(group, topic, p["partition"], p["leader_epoch"])
        return code, _state_fields(snapshot)

    return _read_each(ctx, body, ErrorCode.INVALID_REQUEST, read, _state_fields(None))


async def handle_read_share_group_state_summary(ctx: RequestContext, body: Body) -> Body:
    """What a group coordinator asks to describe a share group's start offsets: each
    share-partition's state epoch, leader epoch and start offset, without its batches. As Kafka
    4.1.1 answers it: the request's leader epoch is neither checked against nor recorded as the
    newest one seen (the asker is not the share-partition's leader); a share-partition never
    initialized is no error but epochs 0 and start offset -1; a topic id no topic has is
    UNKNOWN_TOPIC_OR_PARTITION."""
    missing: Body = {"state_epoch": 0, "leader_epoch": 0, "start_offset": -1}

    def read(store: ShareCoordinator, group: str, topic: str, p: Body) -> tuple[int, Body]:
        code, summary = store.read_summary(group, topic, p["partition"])
        if code == ErrorCode.INVALID_REQUEST:  # never initialized
            return 0, missing
        if summary is None:
            return code, missing
        return code, {"state_epoch": summary.state_epoch, "leader_epoch": summary.leader_epoch,
                      "start_offset": summary.start_offset}

    return _read_each(ctx, body, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, read, missing)
