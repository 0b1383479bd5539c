"""Share groups over the Kafka protocol (KIP-932): ShareGroupHeartbeat (76), ShareGroupDescribe (77),
ShareFetch (78), ShareAcknowledge (79).

Thin translations onto ``logbroker.groups.shares.ShareGroups`` (the coordinator's ``share``), which
speaks topic names; the wire speaks topic ids, translated here.

ShareFetch, per request: the share session's epoch is checked (``groups/share_sessions.py``), the
piggybacked acknowledgements are applied and made durable, then records are acquired for the member
(``groups/share_fetch.py``) and returned as the log's record batches with the acquired offset
ranges beside them (a client keeps only the records inside those ranges). With nothing to acquire
the request waits up to ``MaxWaitMs`` for an append (checking again every ``_RECHECK_S`` for records
released or whose lock expired). Record bytes are read into memory (a share fetch answers at most
``MaxBytes`` of them), not sent with sendfile as Fetch does. A ShareFetch that carries
acknowledgements answers without waiting.

In a cluster, as in Kafka: ShareGroupHeartbeat and ShareGroupDescribe are the group coordinator's
(NOT_COORDINATOR elsewhere); ShareFetch and ShareAcknowledge are served by the leader of each
partition for any member with a share session there, and a partition this broker does not lead is
answered NOT_LEADER_OR_FOLLOWER with its leader (``CurrentLeader`` and ``NodeEndpoints``, KIP-951),
so the client moves it to that broker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

from logbroker.groups.share_fetch import acquire_durably
from logbroker.groups.share_partition import AckType, AcquiredRange
from logbroker.groups.share_sessions import INVALID_SHARE_SESSION_EPOCH, ShareSession
from logbroker.groups.shares import INVALID_RECORD_STATE, ShareGroups
from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.handlers import Body, RequestContext
from logbroker.kafka.handlers.access import Op, Res, authorized_operations, group_allowed, topic_allowed
from logbroker.kafka.handlers.consumer_groups import (
    NO_AUTHORIZED_OPERATIONS,
    _by_topic,
    _client_host,
    heartbeat_answer,
)

log = logging.getLogger(__name__)

_RECHECK_S = 0.1  # how often a waiting ShareFetch looks again for released or expired records
_DEFAULT_MAX_RECORDS = 500  # Kafka's max.poll.records default, for a request that gives none

TopicPartition = tuple[str, int]


def _share(ctx: RequestContext) -> ShareGroups | None:
    return ctx.coordinator.share if ctx.coordinator is not None else None


def _elsewhere(ctx: RequestContext, topic: str, partition: int) -> tuple[int, int] | None:
    """None when this broker leads the partition (or is alone); else the (leader id, leader epoch)
    of the broker that does (-1, -1: none now)."""
    ownership = ctx.broker.ownership
    if ownership is None:
        return None
    view = ownership.partition_view(topic, partition)
    if view is not None and view.leader == ctx.broker.node_id and ownership.leader_epoch(topic, partition) >= 0:
        return None
    return (view.leader, view.leader_epoch) if view is not None else (-1, -1)


def _node_endpoints(ctx: RequestContext, leaders: Iterable[int]) -> list[Body]:
    """Where the named leaders listen, on the client's listener (KIP-951's NodeEndpoints)."""
    ownership = ctx.broker.ownership
    wanted = set(leaders)
    if ownership is None or not wanted:
        return []
    return [{"node_id": b.broker_id, "host": b.host, "port": b.port, "rack": None}
            for b in ownership.live_brokers(ctx.listener) if b.broker_id in wanted]


# ---------------------------------------------------------------------------------------- membership

async def handle_share_group_heartbeat(ctx: RequestContext, body: Body) -> Body:
    share = _share(ctx)
    member_id = body.get("member_id") or ""
    epoch = body.get("member_epoch", 0)
    response: Body = {"throttle_time_ms": 0, "error_code": 0, "error_message": None, "member_id": member_id or None,
                      "member_epoch": epoch, "heartbeat_interval_ms": 0, "assignment": None}
    if share is None:
        response.update(error_code=ErrorCode.COORDINATOR_NOT_AVAILABLE,
                        error_message="the group coordinator is not running")
        return response
    # Kafka: READ on the group, then DESCRIBE on every subscribed topic.
    if not group_allowed(ctx, Op.READ, body.get("group_id") or ""):
        response.update(error_code=ErrorCode.GROUP_AUTHORIZATION_FAILED, error_message="Group authorization failed.")
        return response
    hidden = sorted({t for t in body.get("subscribed_topic_names") or () if not topic_allowed(ctx, Op.DESCRIBE, t)})
    if hidden:
        response.update(error_code=ErrorCode.TOPIC_AUTHORIZATION_FAILED,
                        error_message="Topic authorization failed for the subscribed topics " + ", ".join(hidden))
        return response
    invalid = None
    if not body.get("group_id"):
        invalid = "GroupId can't be empty"
    elif not member_id:
        invalid = "MemberId can't be empty"
    elif epoch == 0 and body.get("subscribed_topic_names") is None:
        invalid = "SubscribedTopicNames must be set in first request"
    elif epoch < -1:
        invalid = f"MemberEpoch {epoch} is invalid"
    if invalid is not None:
        response.update(error_code=ErrorCode.INVALID_REQUEST, error_message=invalid)
        return response
    assert ctx.coordinator is not None
    result = ctx.coordinator.share_heartbeat(body["group_id"], member_id, epoch, now_ms=ctx.broker.clock(),
                                             subscribed_topics=body.get("subscribed_topic_names"),
                                             client_id=ctx.client_id or "", client_host=_client_host(ctx.peer),
                                             rack_id=body.get("rack_id"))
    return heartbeat_answer(ctx, response, result)


async def handle_share_group_describe(ctx: RequestContext, body: Body) -> Body:
    coordinator = ctx.coordinator
    out: list[Body] = []
    for group_id in body.get("group_ids") or []:
        # A group that cannot be described keeps empty defaults, as Kafka 4.1 answers (state "", epochs 0).
        entry: Body = {"error_code": 0, "error_message": None, "group_id": group_id, "group_state": "",
                       "group_epoch": 0, "assignment_epoch": 0, "assignor_name": "", "members": [],
                       "authorized_operations": NO_AUTHORIZED_OPERATIONS}
        out.append(entry)
        described = coordinator.describe_group(group_id) if coordinator is not None else None
        if coordinator is not None and not group_allowed(ctx, Op.DESCRIBE, group_id):
            entry.update(error_code=ErrorCode.GROUP_AUTHORIZATION_FAILED, error_message="Group authorization failed.")
            continue
        entry["authorized_operations"] = authorized_operations(
            ctx, bool(body.get("include_authorized_operations", False)), Res.GROUP, group_id)
        if coordinator is None:
            entry.update(error_code=ErrorCode.COORDINATOR_NOT_AVAILABLE,
                         error_message="the group coordinator is not running")
        elif not group_id:
            entry.update(error_code=ErrorCode.INVALID_GROUP_ID, error_message="the group id is empty")
        elif not coordinator.owns(group_id):
            entry.update(error_code=ErrorCode.NOT_COORDINATOR,
                         error_message=f"this broker does not coordinate group {group_id}")
        elif described is None or described.group_type != "share":
            entry.update(error_code=ErrorCode.GROUP_ID_NOT_FOUND,
                         error_message=f"Group {group_id} not found." if described is None
                         else f"Group {group_id} is not a share group.")
        else:
            entry.update(group_state=described.state, group_epoch=described.group_epoch,
                         assignment_epoch=described.assignment_epoch, assignor_name=described.protocol_data,
                         members=[{
                             "member_id": m.member_id, "rack_id": m.rack_id, "member_epoch": m.member_epoch,
                             "client_id": m.client_id, "client_host": m.client_host,
                             "subscribed_topic_names": list(m.subscribed_topics),
                             "assignment": {"topic_partitions": _by_topic(ctx.broker, m.partitions, with_names=True)},
                         } for m in described.members])
    return {"throttle_time_ms": 0, "groups": out}


# ---------------------------------------------------------------------------------------- acknowledgements

def _acks(batches: Iterable[Body]) -> list[tuple[int, AckType]] | None:
    """Per-offset acknowledgements of a partition's AcknowledgementBatches; None when malformed (one
    type per batch applies to every offset of it, or exactly one type per offset)."""
    out: list[tuple[int, AckType]] = []
    for batch in batches:
        first, last, types = batch["first_offset"], batch["last_offset"], batch.get("acknowledge_types") or []
        count = last - first + 1
        if count <= 0 or count > 1_000_000 or len(types) not in (1, count):
            return None
        try:
            kinds = [AckType(t) for t in types]
        except ValueError:
            return None
        out.extend((first + i, kinds[0] if len(kinds) == 1 else kinds[i]) for i in range(count))
    return out


async def _acknowledge(ctx: RequestContext, share: ShareGroups, group_id: str, member_id: str,
                       topics: Iterable[Body]) -> dict[TopicPartition, tuple[int, str | None]]:
    """Apply every partition's acknowledgements; (error code, message) per partition once durable."""
    now = ctx.broker.clock()
    results: dict[TopicPartition, tuple[int, str | None]] = {}
    waiting: list[tuple[TopicPartition, asyncio.Future[int]]] = []
    for t in topics:
        name = ctx.broker.topic_name_by_id(t.get("topic_id"))
        for p in t.get("partitions") or []:
            batches = p.get("acknowledgement_batches") or []
            if not batches:
                continue
            if name is None:
                results[(str(t.get("topic_id")), p["partition_index"])] = (ErrorCode.UNKNOWN_TOPIC_ID, None)
                continue
            tp = (name, p["partition_index"])
            if not topic_allowed(ctx, Op.READ, name):
                results[tp] = (ErrorCode.TOPIC_AUTHORIZATION_FAILED, None)
                continue
            if _elsewhere(ctx, *tp) is not None:
                results[tp] = (ErrorCode.NOT_LEADER_OR_FOLLOWER, "this broker does not lead the partition")
                continue
            acks = _acks(batches)
            if acks is None:
                results[tp] = (ErrorCode.INVALID_REQUEST, "malformed acknowledgement batches")
                continue
            waiting.append((tp, share.acknowledge(group_id, member_id, name, tp[1], acks, now)))
    for tp, fut in waiting:
        code = await fut
        results[tp] = (code, "the records are not acquired by this member" if code == INVALID_RECORD_STATE else None)
    return results


# ---------------------------------------------------------------------------------------- fetch

def _partition_entry(index: int) -> Body:
    return {"partition_index": index, "error_code": 0, "error_message": None, "acknowledge_error_code": 0,
            "acknowledge_error_message": None, "current_leader": {"leader_id": -1, "leader_epoch": -1},
            "records": b"", "acquired_records": []}


def _session_partitions(ctx: RequestContext, session: ShareSession, body: Body) -> list[Body]:
    """Add the request's partitions to the session and drop its forgotten ones; the request's
    partitions naming an unknown topic id are answered UNKNOWN_TOPIC_ID (returned as entries)."""
    unknown: list[Body] = []
    for t in body.get("topics") or []:
        name = ctx.broker.topic_name_by_id(t.get("topic_id"))
        readable = name is not None and topic_allowed(ctx, Op.READ, name)
        for p in t.get("partitions") or []:
            if name is None:
                unknown.append({"topic_id": t.get("topic_id"), "partition": p["partition_index"]})
            elif not readable:
                # Kafka: READ on each topic; a refused partition never joins the session.
                unknown.append({"topic_id": t.get("topic_id"), "partition": p["partition_index"],
                                "error_code": ErrorCode.TOPIC_AUTHORIZATION_FAILED})
            elif (name, p["partition_index"]) not in session.partitions:
                session.partitions.append((name, p["partition_index"]))
    for t in body.get("forgotten_topics_data") or []:
        name = ctx.broker.topic_name_by_id(t.get("topic_id"))
        for p in t.get("partitions") or []:
            if name is not None and (name, p) in session.partitions:
                session.partitions.remove((name, p))
    return unknown


def _responses(ctx: RequestContext, acked: dict[TopicPartition, tuple[int, str | None]],
               fetched: dict[TopicPartition, tuple[bytes, list[AcquiredRange]]], unknown: list[Body]) -> list[Body]:
    by_topic: dict[Any, dict[int, Body]] = {}
    for (topic, partition) in sorted(set(acked) | set(fetched)):
        topic_id = ctx.broker.topic_id(topic) if ctx.broker.has_topic(topic) else None
        if topic_id is None:
            continue
        entry = by_topic.setdefault(topic_id, {}).setdefault(partition, _partition_entry(partition))
        if (topic, partition) in acked:
            entry["acknowledge_error_code"], entry["acknowledge_error_message"] = acked[(topic, partition)]
        if (topic, partition) in fetched:
            data, ranges = fetched[(topic, partition)]
            entry["records"] = data
            entry["acquired_records"] = [{"first_offset": r.first_offset, "last_offset": r.last_offset,
                                          "delivery_count": r.delivery_count} for r in ranges]
    for u in unknown:
        entry = by_topic.setdefault(u["topic_id"], {}).setdefault(u["partition"], _partition_entry(u["partition"]))
        entry["error_code"] = u.get("error_code", ErrorCode.UNKNOWN_TOPIC_ID)
        if "leader" in u:
            entry["current_leader"] = {"leader_id": u["leader"][0], "leader_epoch": u["leader"][1]}
    return [{"topic_id": tid, "partitions": list(parts.values())} for tid, parts in by_topic.items()]


def _top_error(code: int, message: str) -> Body:
    return {"throttle_time_ms": 0, "error_code": code, "error_message": message, "acquisition_lock_timeout_ms": 0,
            "responses": [], "node_endpoints": []}


async def handle_share_fetch(ctx: RequestContext, body: Body) -> Body:
    share = _share(ctx)
    group_id, member_id = body.get("group_id"), body.get("member_id")
    epoch = body.get("share_session_epoch", 0)
    if share is None:
        return _top_error(ErrorCode.COORDINATOR_NOT_AVAILABLE, "the group coordinator is not running")
    if not group_id or not member_id:
        return _top_error(ErrorCode.INVALID_REQUEST, "GroupId and MemberId must be set")
    if not group_allowed(ctx, Op.READ, group_id):
        return _top_error(ErrorCode.GROUP_AUTHORIZATION_FAILED, "Group authorization failed.")
    topics = body.get("topics") or []
    if epoch == 0:
        if any(p.get("acknowledgement_batches") for t in topics for p in t.get("partitions") or []):
            return _top_error(ErrorCode.INVALID_REQUEST, "a share session's first request cannot acknowledge")
        session: ShareSession | None = share.open_session(group_id, member_id)
    elif epoch == -1:
        session = share.sessions.close(group_id, member_id)
        if session is None:
            return _top_error(ErrorCode.SHARE_SESSION_NOT_FOUND, "no share session for this member")
    else:
        error, session = share.sessions.advance(group_id, member_id, epoch)
        if error:
            return _top_error(error, "share session not found" if error != INVALID_SHARE_SESSION_EPOCH
                              else f"share session epoch {epoch} is not the expected one")
    assert session is not None
    unknown = _session_partitions(ctx, session, body)
    acked = await _acknowledge(ctx, share, group_id, member_id, topics)
    fetched: dict[TopicPartition, tuple[bytes, list[AcquiredRange]]] = {}
    led = list(session.partitions)
    if ctx.broker.ownership is not None:
        led = []
        for tp in session.partitions:
            leader = _elsewhere(ctx, *tp)
            if leader is None:
                led.append(tp)
            elif ctx.broker.has_topic(tp[0]):
                unknown.append({"topic_id": ctx.broker.topic_id(tp[0]), "partition": tp[1], "leader": leader,
                                "error_code": ErrorCode.NOT_LEADER_OR_FOLLOWER})
    if epoch == -1:
        share.release(group_id, member_id, session.partitions, ctx.broker.clock())
    elif body.get("max_bytes", 1) > 0 and led:
        max_records = body.get("max_records") or _DEFAULT_MAX_RECORDS
        max_bytes = body.get("max_bytes") or 2**31 - 1
        deadline = time.monotonic() + max(body.get("max_wait_ms", 0), 0) / 1000
        while True:
            if share.may_fetch(group_id, member_id):
                fetched = {tp: (a.data, a.ranges) for tp, a in (await acquire_durably(
                    ctx.broker, share, group_id, member_id, led, max_records, max_bytes,
                    ctx.broker.clock())).items()}
            remaining = deadline - time.monotonic()
            if fetched or remaining <= 0 or acked:
                break
            await ctx.broker.wait_for_append(led, min(remaining, _RECHECK_S))
    lock_ms = share.settings.lock_ms
    group = share.group(group_id)
    if group is not None and "share.record.lock.duration.ms" in group.configs:
        lock_ms = int(group.configs["share.record.lock.duration.ms"])
    leaders = [u["leader"][0] for u in unknown if "leader" in u]
    return {"throttle_time_ms": 0, "error_code": 0, "error_message": None, "acquisition_lock_timeout_ms": lock_ms,
            "responses": _responses(ctx, acked, fetched, unknown), "node_endpoints": _node_endpoints(ctx, leaders)}


async def handle_share_acknowledge(ctx: RequestContext, body: Body) -> Body:
    share = _share(ctx)
    group_id, member_id = body.get("group_id"), body.get("member_id")
    epoch = body.get("share_session_epoch", 0)
    base: Body = {"throttle_time_ms": 0, "error_code": 0, "error_message": None, "responses": [],
                  "node_endpoints": []}
    if share is None:
        return base | {"error_code": ErrorCode.COORDINATOR_NOT_AVAILABLE}
    if not group_id or not member_id:
        return base | {"error_code": ErrorCode.INVALID_REQUEST, "error_message": "GroupId and MemberId must be set"}
    if not group_allowed(ctx, Op.READ, group_id):
        return base | {"error_code": ErrorCode.GROUP_AUTHORIZATION_FAILED,
                       "error_message": "Group authorization failed."}
    if epoch == 0:
        return base | {"error_code": ErrorCode.INVALID_SHARE_SESSION_EPOCH,
                       "error_message": "ShareAcknowledge cannot open a share session"}
    session: ShareSession | None
    if epoch == -1:
        session = share.sessions.get(group_id, member_id)
        if session is None:
            return base | {"error_code": ErrorCode.SHARE_SESSION_NOT_FOUND}
    else:
        error, session = share.sessions.advance(group_id, member_id, epoch)
        if error:
            return base | {"error_code": error}
    acked = await _acknowledge(ctx, share, group_id, member_id, body.get("topics") or [])
    if epoch == -1 and session is not None:
        share.sessions.close(group_id, member_id)
        share.release(group_id, member_id, session.partitions, ctx.broker.clock())
    by_topic: dict[Any, list[Body]] = {}
    leaders: list[int] = []
    for (topic, partition), (code, message) in sorted(acked.items()):
        topic_id = ctx.broker.topic_id(topic) if ctx.broker.has_topic(topic) else None
        if topic_id is None:
            continue
        leader = (_elsewhere(ctx, topic, partition) if code == ErrorCode.NOT_LEADER_OR_FOLLOWER else None) or (-1, -1)
        leaders.append(leader[0])
        current = {"leader_id": leader[0], "leader_epoch": leader[1]}
        by_topic.setdefault(topic_id, []).append({"partition_index": partition, "error_code": code,
                                                  "error_message": message, "current_leader": current})
    return base | {"responses": [{"topic_id": tid, "partitions": parts} for tid, parts in by_topic.items()],
                   "node_endpoints": _node_endpoints(ctx, [i for i in leaders if i >= 0])}
