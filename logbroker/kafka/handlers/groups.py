"""Consumer group APIs: FindCoordinator (10), JoinGroup (11), Heartbeat (12), LeaveGroup (13),
SyncGroup (14), DescribeGroups (15), ListGroups (16), OffsetCommit (8), OffsetFetch (9),
DeleteGroups (42), OffsetDelete (47).

Thin translations onto ``logbroker.groups.GroupCoordinator``: the coordinator answers in its own
error vocabulary (``GroupError``), mapped to Kafka codes by name in ``_code``, once. Alone, this
broker coordinates every group, so FindCoordinator names it; in a cluster FindCoordinator names the
leader of the group's ``__consumer_offsets`` partition (``GroupCoordinator.locate``), and the other
brokers answer NOT_COORDINATOR for that group.

JoinGroup and SyncGroup wait (for the join phase, for the leader's assignment) on coordinator
futures; they are shielded so a client that disconnects does not cancel the coordinator's state.
OffsetCommit answers once its records in ``__consumer_offsets`` are durable, within Kafka's
``offsets.commit.timeout.ms`` (5 s) or REQUEST_TIMED_OUT.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from logbroker.broker import Broker
from logbroker.errors import StorageError
from logbroker.groups import GroupCoordinator, JoinRequest, OffsetCommitInput
from logbroker.groups.errors import GroupError
from logbroker.groups.share_state import key_partition, parse_coordinator_key
from logbroker.groups.state import CLASSIC
from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.handlers import Body, RequestContext
from logbroker.kafka.handlers.access import (
    Op,
    Res,
    allowed,
    authorized_operations,
    cluster_allowed,
    group_allowed,
    listable_groups,
    topic_allowed,
)

log = logging.getLogger(__name__)

OFFSETS_COMMIT_TIMEOUT_S = 5.0  # Kafka's offsets.commit.timeout.ms
KEY_TYPE_GROUP, KEY_TYPE_TRANSACTION, KEY_TYPE_SHARE = 0, 1, 2
SHARE_KEY_MALFORMED = "the key of a share coordinator must be groupId:topicId:partition"
NO_AUTHORIZED_OPERATIONS = -2147483648
NULL_UUID = uuid.UUID(int=0)

def _coordinator(ctx: RequestContext) -> GroupCoordinator | None:
    return ctx.coordinator


def _code(error: GroupError) -> int:
    return int(ErrorCode[error.name])


_NOT_AVAILABLE = int(ErrorCode.COORDINATOR_NOT_AVAILABLE)
_GROUP_DENIED = int(ErrorCode.GROUP_AUTHORIZATION_FAILED)
_TOPIC_DENIED = int(ErrorCode.TOPIC_AUTHORIZATION_FAILED)


def _client_host(peer: str) -> str:
    """Kafka reports a member's host as ``/<address>``."""
    host = peer.rsplit(":", 1)[0] if ":" in peer else peer
    return "/" + host.strip("[]")


def _now(ctx: RequestContext) -> int:
    return ctx.broker.clock()


async def _wait(fut: asyncio.Future[Any]) -> Any:
    return await asyncio.shield(fut)


# ---------------------------------------------------------------------------------- FindCoordinator


async def handle_find_coordinator(ctx: RequestContext, body: Body) -> Body:
    v = ctx.api_version
    keys: list[str] = list(body.get("coordinator_keys") or []) if v >= 4 else [body.get("key") or ""]
    key_type = body.get("key_type", KEY_TYPE_GROUP)
    error, message = 0, None
    coordinator = _coordinator(ctx)
    if key_type not in (KEY_TYPE_GROUP, KEY_TYPE_TRANSACTION, KEY_TYPE_SHARE):
        error, message = int(ErrorCode.INVALID_REQUEST), f"unsupported key type {key_type}"
    elif coordinator is None:
        error, message = _NOT_AVAILABLE, "the group coordinator is not running"
    elif key_type == KEY_TYPE_GROUP:
        try:
            await coordinator.ensure_offsets_topic()
        except (StorageError, OSError) as exc:
            log.error("cannot create __consumer_offsets: %s", exc)
            error, message = _NOT_AVAILABLE, "__consumer_offsets is not available"
    elif key_type == KEY_TYPE_SHARE and coordinator.share_state is not None:
        try:
            await coordinator.share_state.ensure_topic()
        except (StorageError, OSError) as exc:
            log.error("cannot create __share_group_state: %s", exc)
            error, message = _NOT_AVAILABLE, "__share_group_state is not available"
    entries: list[Body] = []
    for k in keys:
        code, text = error, message
        # Kafka: finding a group's coordinator needs DESCRIBE on the group, a transaction's on its id,
        # a share-partition's (a broker's question) CLUSTER_ACTION on the cluster.
        if code == 0 and key_type == KEY_TYPE_GROUP and not group_allowed(ctx, Op.DESCRIBE, k):
            code, text = _GROUP_DENIED, "Group authorization failed."
        elif code == 0 and key_type == KEY_TYPE_TRANSACTION and not allowed(ctx, Op.DESCRIBE,
                                                                             Res.TRANSACTIONAL_ID, k):
            code, text = int(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED), "Transactional Id authorization failed."
        elif code == 0 and key_type == KEY_TYPE_SHARE:
            if not cluster_allowed(ctx, Op.CLUSTER_ACTION):
                code, text = int(ErrorCode.CLUSTER_AUTHORIZATION_FAILED), "Cluster authorization failed."
            elif v < 6:  # key type SHARE came with version 6 (KIP-932)
                code, text = int(ErrorCode.INVALID_REQUEST), "share coordinators are found with version 6 or later"
            elif parse_coordinator_key(k) is None:
                code, text = int(ErrorCode.INVALID_REQUEST), SHARE_KEY_MALFORMED
        entries.append(_coordinator_entry(ctx, coordinator, k, code, text, key_type))
        log.debug("FindCoordinator v%d from %s (%s): key %s type %d -> node %s error %s", v, ctx.client_id,
                  ctx.peer, k, key_type, entries[-1]["node_id"], entries[-1]["error_code"])
    if v >= 4:
        return {"throttle_time_ms": 0, "coordinators": entries}
    first = entries[0]
    return {"throttle_time_ms": 0, "error_code": first["error_code"], "error_message": first["error_message"],
            "node_id": first["node_id"], "host": first["host"], "port": first["port"]}


def _coordinator_entry(ctx: RequestContext, coordinator: GroupCoordinator | None, key: str, error: int,
                       message: str | None, key_type: int) -> Body:
    """One key's answer: this broker alone, or in a cluster the leader of the group's partition."""
    node, host, port = ctx.broker.node_id, ctx.advertised_host, ctx.advertised_port
    ownership = ctx.broker.ownership
    located = key_type in (KEY_TYPE_GROUP, KEY_TYPE_SHARE)
    if error == 0 and coordinator is not None and ownership is not None and located:
        share = coordinator.share_state
        if key_type == KEY_TYPE_GROUP:
            node = coordinator.locate(key)
        else:  # the leader of the key's __share_group_state partition
            node = share.locate(key_partition(key, share.partition_count())) if share is not None else -1
        endpoint = next((b for b in ownership.live_brokers(ctx.listener) if b.broker_id == node), None)
        if node != ctx.broker.node_id:
            if endpoint is None:
                error, message = _NOT_AVAILABLE, "the group's coordinator is not available yet"
            else:
                host, port = endpoint.host, endpoint.port
    if error != 0:
        node, host, port = -1, "", -1
    return {"key": key, "node_id": node, "host": host, "port": port, "error_code": error,
            "error_message": message}


# ---------------------------------------------------------------------------------- membership


async def handle_join_group(ctx: RequestContext, body: Body) -> Body:
    v = ctx.api_version
    member_id = body.get("member_id") or ""
    coordinator = _coordinator(ctx)
    if coordinator is None:
        return _join_response(_NOT_AVAILABLE, member_id)
    if not group_allowed(ctx, Op.READ, body.get("group_id") or ""):
        return _join_response(_GROUP_DENIED, member_id)
    req = JoinRequest(
        group_id=body.get("group_id") or "",
        member_id=member_id,
        protocol_type=body.get("protocol_type") or "",
        protocols=[(p["name"], bytes(p["metadata"] or b"")) for p in body.get("protocols") or []],
        session_timeout_ms=body["session_timeout_ms"],
        rebalance_timeout_ms=body.get("rebalance_timeout_ms", -1) if v >= 1 else -1,
        group_instance_id=body.get("group_instance_id") if v >= 5 else None,
        client_id=ctx.client_id or "",
        client_host=_client_host(ctx.peer),
        require_known_member_id=v >= 4,
        supports_skip_assignment=v >= 9,
    )
    result = await _wait(coordinator.join_group(req, _now(ctx)))
    log.debug("group %s: JoinGroup v%d from member %r (client %s, %s) -> %s, member %s, generation %d, "
              "leader %s, %d member(s)", req.group_id, v, member_id, ctx.client_id, ctx.peer, result.error.name,
              result.member_id, result.generation_id, result.leader_id, len(result.members))
    response = _join_response(_code(result.error), result.member_id)
    if result.error.ok:
        response.update({
            "generation_id": result.generation_id,
            "protocol_type": result.protocol_type,
            "protocol_name": result.protocol_name if result.protocol_name is not None or v >= 7 else "",
            "leader": result.leader_id,
            "skip_assignment": result.skip_assignment,
            "members": [{"member_id": m.member_id, "group_instance_id": m.group_instance_id, "metadata": m.metadata}
                        for m in result.members],
        })
    return response


def _join_response(error: int, member_id: str) -> Body:
    return {"throttle_time_ms": 0, "error_code": error, "generation_id": -1, "protocol_type": None,
            "protocol_name": "", "leader": "", "skip_assignment": False, "member_id": member_id, "members": []}


async def handle_sync_group(ctx: RequestContext, body: Body) -> Body:
    v = ctx.api_version
    coordinator = _coordinator(ctx)
    if coordinator is None:
        return {"throttle_time_ms": 0, "error_code": _NOT_AVAILABLE, "protocol_type": None, "protocol_name": None,
                "assignment": b""}
    if not group_allowed(ctx, Op.READ, body.get("group_id") or ""):
        return {"throttle_time_ms": 0, "error_code": _GROUP_DENIED, "protocol_type": None, "protocol_name": None,
                "assignment": b""}
    assignments = {a["member_id"]: bytes(a["assignment"] or b"") for a in body.get("assignments") or []}
    fut = coordinator.sync_group(
        body.get("group_id") or "", body["generation_id"], body.get("member_id") or "", assignments, _now(ctx),
        group_instance_id=body.get("group_instance_id") if v >= 3 else None,
        protocol_type=body.get("protocol_type") if v >= 5 else None,
        protocol_name=body.get("protocol_name") if v >= 5 else None,
    )
    result = await _wait(fut)
    log.debug("group %s: SyncGroup v%d from member %s generation %s (client %s, %s, %d assignment(s)) -> %s, "
              "%d assignment byte(s)", body.get("group_id"), v, body.get("member_id"), body["generation_id"],
              ctx.client_id, ctx.peer, len(assignments), result.error.name, len(result.assignment))
    return {"throttle_time_ms": 0, "error_code": _code(result.error), "protocol_type": result.protocol_type,
            "protocol_name": result.protocol_name, "assignment": result.assignment}


async def handle_heartbeat(ctx: RequestContext, body: Body) -> Body:
    coordinator = _coordinator(ctx)
    if coordinator is None:
        return {"throttle_time_ms": 0, "error_code": _NOT_AVAILABLE}
    if not group_allowed(ctx, Op.READ, body.get("group_id") or ""):
        return {"throttle_time_ms": 0, "error_code": _GROUP_DENIED}
    error = coordinator.heartbeat(body.get("group_id") or "", body["generation_id"], body.get("member_id") or "",
                                  _now(ctx), group_instance_id=body.get("group_instance_id")
                                  if ctx.api_version >= 3 else None)
    log.debug("group %s: Heartbeat from member %s generation %s (client %s, %s) -> %s", body.get("group_id"),
              body.get("member_id"), body["generation_id"], ctx.client_id, ctx.peer, error.name)
    return {"throttle_time_ms": 0, "error_code": _code(error)}


async def handle_leave_group(ctx: RequestContext, body: Body) -> Body:
    v = ctx.api_version
    if v >= 3:
        leaving = [(m.get("member_id") or "", m.get("group_instance_id")) for m in body.get("members") or []]
    else:
        leaving = [(body.get("member_id") or "", None)]
    coordinator = _coordinator(ctx)
    if coordinator is None:
        return {"throttle_time_ms": 0, "error_code": _NOT_AVAILABLE, "members": []}
    if not group_allowed(ctx, Op.READ, body.get("group_id") or ""):
        return {"throttle_time_ms": 0, "error_code": _GROUP_DENIED, "members": []}
    group_error, errors = coordinator.leave_group(body.get("group_id") or "", leaving, _now(ctx))
    log.debug("group %s: LeaveGroup v%d of %s (client %s, %s) -> %s, %s", body.get("group_id"), v, leaving,
              ctx.client_id, ctx.peer, group_error.name, [e.name for e in errors])
    top = _code(group_error)
    if v < 3 and top == 0:
        top = next((_code(e) for e in errors if not e.ok), 0)
    return {"throttle_time_ms": 0, "error_code": top,
            "members": [{"member_id": mid, "group_instance_id": iid, "error_code": _code(e)}
                        for (mid, iid), e in zip(leaving, errors, strict=True)]}


# ---------------------------------------------------------------------------------- offsets


async def handle_offset_commit(ctx: RequestContext, body: Body) -> Body:
    v = ctx.api_version
    broker = ctx.broker
    coordinator = _coordinator(ctx)
    # (response entry, topic name or None when the id is unknown)
    topics_out: list[Body] = []
    entries: list[tuple[Body, tuple[str, int] | None]] = []
    commits: dict[tuple[str, int], OffsetCommitInput] = {}
    # Kafka: READ on the group (else every partition GROUP_AUTHORIZATION_FAILED), then READ on each topic.
    group_ok = group_allowed(ctx, Op.READ, body.get("group_id") or "")
    for topic in body.get("topics") or []:
        name = broker.topic_name_by_id(topic.get("topic_id")) if v >= 10 else topic.get("name")
        parts: list[Body] = []
        topics_out.append({"name": name or "", "topic_id": topic.get("topic_id") or NULL_UUID, "partitions": parts})
        topic_ok = name is not None and group_ok and topic_allowed(ctx, Op.READ, name)
        for p in topic.get("partitions") or []:
            entry: Body = {"partition_index": p["partition_index"], "error_code": 0}
            parts.append(entry)
            if not group_ok:
                entry["error_code"] = _GROUP_DENIED
                entries.append((entry, None))
                continue
            if name is None:
                entry["error_code"] = int(ErrorCode.UNKNOWN_TOPIC_ID)
                entries.append((entry, None))
                continue
            if not topic_ok:
                entry["error_code"] = _TOPIC_DENIED
                entries.append((entry, None))
                continue
            tp = (name, p["partition_index"])
            commits[tp] = OffsetCommitInput(p["committed_offset"], p.get("committed_leader_epoch", -1),
                                            p.get("committed_metadata"))
            entries.append((entry, tp))
    if coordinator is None:
        for entry, _ in entries:
            entry["error_code"] = _NOT_AVAILABLE
        return {"throttle_time_ms": 0, "topics": topics_out}
    if not group_ok:
        return {"throttle_time_ms": 0, "topics": topics_out}
    fut = coordinator.commit_offsets(
        body.get("group_id") or "", body.get("generation_id_or_member_epoch", -1) if v >= 1 else -1,
        (body.get("member_id") or "") if v >= 1 else "", commits, _now(ctx),
        group_instance_id=body.get("group_instance_id") if v >= 7 else None)
    try:
        results = await asyncio.wait_for(asyncio.shield(fut), OFFSETS_COMMIT_TIMEOUT_S)
    except TimeoutError:
        log.warning("group %s: offset commit from %s not durable within %.0f s", body.get("group_id"),
                    ctx.client_id, OFFSETS_COMMIT_TIMEOUT_S)
        results = dict.fromkeys(commits, GroupError.REQUEST_TIMED_OUT)
    for entry, key in entries:
        if key is not None:
            entry["error_code"] = _code(results.get(key, GroupError.NONE))
    log.debug("group %s: OffsetCommit v%d from member %s generation %s (client %s, %s), %d partition(s) -> %s",
              body.get("group_id"), v, body.get("member_id"), body.get("generation_id_or_member_epoch"),
              ctx.client_id, ctx.peer, len(commits), sorted({e.name for e in results.values()}))
    return {"throttle_time_ms": 0, "topics": topics_out}


def _offset_partitions(coordinator: GroupCoordinator, group_id: str,
                       wanted: list[tuple[str, int]] | None) -> dict[str, list[Body]]:
    by_topic: dict[str, list[Body]] = {}
    for (topic, partition), committed in coordinator.fetch_offsets(group_id, wanted).items():
        by_topic.setdefault(topic, []).append({
            "partition_index": partition,
            "committed_offset": committed.offset if committed else -1,
            "committed_leader_epoch": committed.leader_epoch if committed else -1,
            "metadata": committed.metadata if committed else "",
            "error_code": 0,
        })
    return by_topic


def _topic_id(broker: Broker, name: str) -> uuid.UUID | None:
    try:
        return broker.topic(name).topic_id
    except StorageError:
        return None


def _fetch_group(ctx: RequestContext, coordinator: GroupCoordinator | None, group_id: str,
                 topics: list[Body] | None, by_id: bool) -> tuple[int, list[Body]]:
    """(error code, topics) of one group's OffsetFetch answer."""
    broker = ctx.broker
    wanted: list[tuple[str, int]] | None = None
    unknown_ids: list[Body] = []
    if coordinator is not None and not group_allowed(ctx, Op.DESCRIBE, group_id):
        return _GROUP_DENIED, []
    if topics is not None:
        wanted = []
        for t in topics:
            name = broker.topic_name_by_id(t.get("topic_id")) if by_id else t.get("name")
            denied = name is not None and not topic_allowed(ctx, Op.DESCRIBE, name)
            if name is None or denied:
                code = _TOPIC_DENIED if denied else int(ErrorCode.UNKNOWN_TOPIC_ID)
                unknown_ids.append({"name": name or "", "topic_id": t.get("topic_id"), "partitions": [
                    {"partition_index": p, "committed_offset": -1, "committed_leader_epoch": -1, "metadata": "",
                     "error_code": code} for p in t.get("partition_indexes") or []]})
                continue
            wanted.extend((name, p) for p in t.get("partition_indexes") or [])
    if coordinator is None:
        return _NOT_AVAILABLE, []
    if not group_id:
        return int(ErrorCode.INVALID_GROUP_ID), []
    owner_error = coordinator.check_coordinator(group_id)
    if not owner_error.ok:
        return _code(owner_error), []
    out: list[Body] = []
    for name, parts in _offset_partitions(coordinator, group_id, wanted).items():
        if wanted is None and not topic_allowed(ctx, Op.DESCRIBE, name):
            continue  # all of a group's offsets: only the topics the principal may describe
        topic_id = _topic_id(broker, name) if by_id else NULL_UUID
        if topic_id is None:
            continue  # v10 names topics by id; a deleted topic has none
        out.append({"name": name, "topic_id": topic_id, "partitions": parts})
    return 0, out + unknown_ids


async def handle_offset_fetch(ctx: RequestContext, body: Body) -> Body:
    v = ctx.api_version
    coordinator = _coordinator(ctx)
    if v >= 8:
        groups = []
        for g in body.get("groups") or []:
            error, topics = _fetch_group(ctx, coordinator, g.get("group_id") or "", g.get("topics"), v >= 10)
            groups.append({"group_id": g.get("group_id") or "", "topics": topics, "error_code": error})
        return {"throttle_time_ms": 0, "groups": groups}
    error, topics = _fetch_group(ctx, coordinator, body.get("group_id") or "", body.get("topics"), False)
    if v < 2 and error:
        # v1 has no top-level error: report it on every partition.
        for t in topics:
            for p in t["partitions"]:
                p["error_code"] = error
    return {"throttle_time_ms": 0, "topics": topics, "error_code": error}


async def handle_offset_delete(ctx: RequestContext, body: Body) -> Body:
    coordinator = _coordinator(ctx)
    broker = ctx.broker
    requested = [(t["name"], p["partition_index"]) for t in body.get("topics") or []
                 for p in t.get("partitions") or []]
    results: dict[tuple[str, int], int] = {}
    error = 0
    if coordinator is None:
        error = _NOT_AVAILABLE
    elif not group_allowed(ctx, Op.DELETE, body.get("group_id") or ""):
        error = _GROUP_DENIED
    else:
        readable = {t for t, _ in requested if topic_allowed(ctx, Op.READ, t)}
        known = [tp for tp in requested if tp[0] in readable and broker.has_partition(*tp)]
        for tp in requested:
            if tp[0] not in readable:
                results[tp] = _TOPIC_DENIED
            elif tp not in known:
                results[tp] = int(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
        group_error, per_partition = await _wait(coordinator.delete_offsets(body.get("group_id") or "", known,
                                                                            _now(ctx)))
        error = _code(group_error)
        for tp, e in per_partition.items():
            results[tp] = _code(e)
    topics: dict[str, list[Body]] = {}
    if error == 0:
        for tp in requested:
            topics.setdefault(tp[0], []).append({"partition_index": tp[1], "error_code": results.get(tp, 0)})
    return {"error_code": error, "throttle_time_ms": 0,
            "topics": [{"name": name, "partitions": parts} for name, parts in topics.items()]}


# ---------------------------------------------------------------------------------- admin


async def handle_describe_groups(ctx: RequestContext, body: Body) -> Body:
    v = ctx.api_version
    coordinator = _coordinator(ctx)
    out: list[Body] = []
    for group_id in body.get("groups") or []:
        entry: Body = {"error_code": 0, "error_message": None, "group_id": group_id, "group_state": "Dead",
                       "protocol_type": "", "protocol_data": "", "members": [],
                       "authorized_operations": NO_AUTHORIZED_OPERATIONS}
        out.append(entry)
        if coordinator is None:
            entry["error_code"] = _NOT_AVAILABLE
            continue
        if not group_allowed(ctx, Op.DESCRIBE, group_id):
            entry["error_code"] = _GROUP_DENIED
            continue
        if not group_id:
            entry["error_code"] = int(ErrorCode.INVALID_GROUP_ID)
            continue
        entry["authorized_operations"] = authorized_operations(
            ctx, bool(body.get("include_authorized_operations", False)), Res.GROUP, group_id)
        owner_error = coordinator.check_coordinator(group_id)
        if not owner_error.ok:
            entry["error_code"] = _code(owner_error)
            continue
        described = coordinator.describe_group(group_id)
        if described is None or described.group_type != CLASSIC:
            # A consumer-protocol group is described by ConsumerGroupDescribe (Kafka answers the same).
            if v >= 6:
                entry["error_code"] = int(ErrorCode.GROUP_ID_NOT_FOUND)
                entry["error_message"] = f"group {group_id} not found"
            continue
        entry.update({
            "group_state": described.state, "protocol_type": described.protocol_type,
            "protocol_data": described.protocol_data,
            "members": [{"member_id": m.member_id, "group_instance_id": m.instance_id,
                         "client_id": m.client_id, "client_host": m.client_host, "member_metadata": m.metadata,
                         "member_assignment": m.assignment} for m in described.members],
        })
    return {"throttle_time_ms": 0, "groups": out}


async def handle_list_groups(ctx: RequestContext, body: Body) -> Body:
    coordinator = _coordinator(ctx)
    if coordinator is None:
        return {"throttle_time_ms": 0, "error_code": _NOT_AVAILABLE, "groups": []}
    types = body.get("types_filter") or [] if ctx.api_version >= 5 else []
    states = body.get("states_filter") or [] if ctx.api_version >= 4 else []
    groups = coordinator.list_groups(states, types)
    shown = listable_groups(ctx, (g.group_id for g in groups))
    listed = [{"group_id": g.group_id, "protocol_type": g.protocol_type, "group_state": g.state,
               "group_type": g.group_type} for g in groups if g.group_id in shown]
    return {"throttle_time_ms": 0, "error_code": 0, "groups": listed}


async def handle_delete_groups(ctx: RequestContext, body: Body) -> Body:
    coordinator = _coordinator(ctx)
    names: list[str] = list(body.get("groups_names") or [])
    if coordinator is None:
        return {"throttle_time_ms": 0, "results": [{"group_id": g, "error_code": _NOT_AVAILABLE} for g in names]}
    deletable = [g for g in dict.fromkeys(names) if group_allowed(ctx, Op.DELETE, g)]
    results = await _wait(coordinator.delete_groups(deletable, _now(ctx))) if deletable else {}
    return {"throttle_time_ms": 0,
            "results": [{"group_id": g, "error_code": _code(results[g]) if g in results else _GROUP_DENIED}
                        for g in dict.fromkeys(names)]}
