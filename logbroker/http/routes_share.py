"""Share groups over HTTP (KIP-932): a queue for services without a Kafka client.

    POST   /share-groups/{group}/members                  join: {"topics": [name], "client_id"?,
                                                          "auto_offset_reset"?: earliest|latest|
                                                          by_duration:<ISO-8601 duration>}
    GET    /share-groups/{group}/members/{member}/records acquire up to ?max= records (long poll ?wait_ms=),
                                                          each with a delivery id and its lock expiry
    POST   /share-groups/{group}/members/{member}/acks    {"acks": [{"delivery_id", "type": accept|release|reject}]}
    DELETE /share-groups/{group}/members/{member}         leave; the member's records are released at once
    GET    /share-groups/{group}                          members and share-partitions (in flight, acquired,
                                                          delivery counts)

Every acquired record is locked to the member until ``lock_expires_ms`` (the group's
``share.record.lock.duration.ms``); an acknowledgement after that is refused (INVALID_RECORD_STATE)
and the record goes to whoever asks next. A delivery id names one delivery:
``topic/partition/offset/delivery_count``. Acknowledgements are answered once durable in
``__share_group_state``. Each records request also keeps the member's session alive
(the group's ``share.session.timeout.ms``, else ``group.share.session.timeout.ms``). A join's
``auto_offset_reset`` that changes the group's ``share.auto.offset.reset`` sets that group config
(ALTER_CONFIGS on the group, as IncrementalAlterConfigs needs), durably, and in a cluster where
every leader reads it.

These routes only translate onto ``logbroker.groups.shares.ShareGroups`` (the coordinator's
``share``); the records are read with ``groups/share_fetch.py`` like ShareFetch does, and rendered
as ``GET /topics/{topic}/partitions/{partition}/records`` renders them.

In a cluster the routes run on the group's coordinator (``forwarding.py`` sends them there); the
share-partitions of the partitions another broker leads live on that leader, so for those the
coordinator acts for the member there (``HttpContext.share_remote``, ``groups/share_remote.py``):
records are acquired with ShareFetch and acknowledged with ShareAcknowledge at the leader. A
request reaches these routes only on the coordinator: elsewhere the middleware answers it 503
NOT_COORDINATOR when it cannot send it on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from logbroker.groups.errors import HeartbeatError
from logbroker.groups.group_configs import AUTO_OFFSET_RESET, check_group_config
from logbroker.groups.share_fetch import Acquired, acquire_durably
from logbroker.groups.share_partition import AckType, offsets_of
from logbroker.groups.share_remote import RemoteShares
from logbroker.groups.shares import INVALID_RECORD_STATE, REQUEST_TIMED_OUT, ShareGroups
from logbroker.http.access import Op, require_group, require_topic
from logbroker.http.content import read_body, respond, wants_msgpack
from logbroker.http.context import MAX_WAIT_MS, context, coordinator
from logbroker.http.errors import HttpError, bad_request, heartbeat_error
from logbroker.http.forwarding import asked_for_own_part
from logbroker.http.params import body_object, field_str, query_choice, query_int
from logbroker.http.routes_records import FORMATS, default_key_format, record_out
from logbroker.http.share_partitions import held_elsewhere, share_partition_json
from logbroker.records import CorruptBatchError, records_from

log = logging.getLogger(__name__)

DEFAULT_MAX = 10
MAX_RECORDS = 10_000
MAX_TOPICS = 10_000
MAX_ACKS = 100_000
READ_BYTES = 16 * 1024 * 1024
_RECHECK_S = 0.1  # a long poll looks again this often for released or expired records
NOT_LEADER_OR_FOLLOWER = 6
TopicPartition = tuple[str, int]
ACK_TYPES = {"accept": AckType.ACCEPT, "release": AckType.RELEASE, "reject": AckType.REJECT}

routes = web.RouteTableDef()


def _share(request: web.Request) -> ShareGroups:
    return coordinator(request).share


def _member(request: web.Request) -> tuple[ShareGroups, str, str]:
    share = _share(request)
    group_id, member_id = request.match_info["group"], request.match_info["member"]
    require_group(request, Op.READ, group_id)  # as ShareFetch/ShareAcknowledge
    if not share.is_member(group_id, member_id):
        raise HttpError(404, "UNKNOWN_MEMBER_ID", f"share group {group_id!r} has no member {member_id!r}; "
                                                  f"join with POST /share-groups/{{group}}/members")
    return share, group_id, member_id


def delivery_id(topic: str, partition: int, offset: int, count: int) -> str:
    return f"{topic}/{partition}/{offset}/{count}"


def _parse_delivery_id(value: Any) -> tuple[str, int, int, int]:
    if not isinstance(value, str):
        raise bad_request("delivery_id must be a string")
    try:
        topic, partition, offset, count = value.rsplit("/", 3)
        return topic, int(partition), int(offset), int(count)
    except ValueError:
        raise bad_request(f"{value!r} is not a delivery id (topic/partition/offset/delivery_count)") from None


@routes.post("/share-groups/{group}/members")
async def join(request: web.Request) -> web.Response:
    ctx = context(request)
    share = _share(request)
    group_id = request.match_info["group"]
    obj = body_object(await read_body(request))
    topics = obj.get("topics")
    if (not isinstance(topics, list) or not topics or len(topics) > MAX_TOPICS
            or not all(isinstance(t, str) and t for t in topics)):
        raise bad_request(f"topics must be a non-empty array of at most {MAX_TOPICS} topic names")
    require_group(request, Op.READ, group_id)  # as ShareGroupHeartbeat: READ on the group, DESCRIBE on topics
    for topic in topics:
        require_topic(request, Op.DESCRIBE, topic)
    client_id = field_str(obj, "client_id", required=False) or "http"
    reset = field_str(obj, "auto_offset_reset", required=False)
    if reset is not None and check_group_config(AUTO_OFFSET_RESET, reset, {}) is not None:
        raise bad_request("auto_offset_reset must be earliest, latest or by_duration:<ISO-8601 duration>, "
                          "such as by_duration:PT1H")
    if share.held_by_another_type(group_id):  # refused before a join's auto_offset_reset changes its configs
        raise heartbeat_error(HeartbeatError.GROUP_ID_NOT_FOUND, f"group {group_id} is not a share group",
                              f"joining share group {group_id!r}")
    if reset is not None and share.configs(group_id).get(AUTO_OFFSET_RESET, "latest") != reset:  # Kafka's default
        await _set_auto_offset_reset(request, share, group_id, reset, ctx.clock())
    # The coordinator's entry, as ShareGroupHeartbeat's: the group's records are written at once.
    result = coordinator(request).share_heartbeat(group_id, "", 0, now_ms=ctx.clock(),
                                                  subscribed_topics=sorted(set(topics)), client_id=client_id,
                                                  client_host=request.remote or "")
    if result.error:
        raise heartbeat_error(HeartbeatError(result.error), result.message or "", f"joining share group {group_id!r}")
    return respond(request, {"group_id": group_id, "member_id": result.member_id, "member_epoch": result.member_epoch,
                             "assignment": [{"topic": t, "partition": p} for t, p in result.assignment or []],
                             "session_timeout_ms": _session_timeout_ms(share, group_id)})


def _session_timeout_ms(share: ShareGroups, group_id: str) -> int:
    group = share.group(group_id)
    return share.session_timeout_ms(group) if group is not None else share.settings.session_timeout_ms


async def _set_auto_offset_reset(request: web.Request, share: ShareGroups, group_id: str, reset: str,
                                 now_ms: int) -> None:
    """A join's ``auto_offset_reset`` that changes the group's ``share.auto.offset.reset``: set as
    the group config (IncrementalAlterConfigs would, needing ALTER_CONFIGS on the group), durably,
    and in a cluster where every partition leader reads it (ZooKeeper), before the member joins."""
    require_group(request, Op.ALTER_CONFIGS, group_id)
    code, message = await share.alter_configs_async(group_id, {AUTO_OFFSET_RESET: reset}, now_ms)
    context_text = f"setting auto_offset_reset of share group {group_id!r}"
    if code in tuple(HeartbeatError) and code:
        raise heartbeat_error(HeartbeatError(code), message or "the group config was not set", context_text)
    if code:  # REQUEST_TIMED_OUT: ZooKeeper out of reach (a cluster); the client tries again
        status = 503 if code == REQUEST_TIMED_OUT else 400
        raise HttpError(status, "REQUEST_TIMED_OUT" if code == REQUEST_TIMED_OUT else "INVALID_CONFIG",
                        f"{context_text}: {message}")
    log.info("share group %s: share.auto.offset.reset set to %s by an HTTP join", group_id, reset)


@routes.delete("/share-groups/{group}/members/{member}")
async def leave(request: web.Request) -> web.Response:
    ctx = context(request)
    share, group_id, member_id = _member(request)
    share.leave(group_id, member_id, ctx.clock())
    if ctx.share_remote is not None:
        await ctx.share_remote.leave(group_id, member_id)  # its records at other leaders go back too
    return web.Response(status=204)


def _split(remote: RemoteShares | None, partitions: list[TopicPartition]
           ) -> tuple[list[TopicPartition], dict[int, list[TopicPartition]]]:
    """The partitions this broker leads (all of them alone), and the others by leader (those
    without a leader now are left out: nothing can be acquired there)."""
    if remote is None:
        return partitions, {}
    here: list[TopicPartition] = []
    away: dict[int, list[TopicPartition]] = {}
    for tp in partitions:
        leader = remote.leader_of(*tp)
        if leader is None:
            here.append(tp)
        elif leader >= 0:
            away.setdefault(leader, []).append(tp)
    return here, away


@routes.get("/share-groups/{group}/members/{member}/records", allow_head=False)
async def receive(request: web.Request) -> web.Response:
    ctx = context(request)
    share, group_id, member_id = _member(request)
    limit = query_int(request, "max", DEFAULT_MAX, 1, MAX_RECORDS)
    wait_ms = query_int(request, "wait_ms", 0, 0, MAX_WAIT_MS)
    value_format = query_choice(request, "value_format", FORMATS, "text")
    key_format = query_choice(request, "key_format", FORMATS, default_key_format(value_format))
    assert limit is not None and wait_ms is not None
    raw = wants_msgpack(request)
    deadline = time.monotonic() + wait_ms / 1000
    out: list[dict[str, Any]] = []
    while True:
        now = ctx.clock()
        share.touch(group_id, member_id, now)
        assignment = list(share.assignment(group_id, member_id))
        for topic in {t for t, _ in assignment}:
            require_topic(request, Op.READ, topic)  # as ShareFetch: READ on every topic read
        here, away = _split(ctx.share_remote, assignment)
        got = await acquire_durably(ctx.broker, share, group_id, member_id, here, limit, READ_BYTES, now)
        out = await _render(request, share, group_id, member_id, got, key_format, value_format, raw, now)
        for leader, tps in away.items():
            if len(out) >= limit:
                break
            out += await _receive_remote(request, group_id, member_id, leader, tps, limit - len(out),
                                         key_format, value_format, raw)
        remaining = deadline - time.monotonic()
        if out or remaining <= 0 or not share.is_member(group_id, member_id):
            break
        # Only the partitions held here: waiting on one held elsewhere would create its directory here.
        await ctx.broker.wait_for_append(here, min(remaining, _RECHECK_S))
    return respond(request, {"records": out})


async def _render(request: web.Request, share: ShareGroups, group_id: str, member_id: str,
                  got: dict[TopicPartition, Acquired], key_format: str, value_format: str, raw: bool,
                  now: int) -> list[dict[str, Any]]:
    """The records acquired here as JSON objects; acquired offsets without a record (compacted away,
    control batches) are acknowledged as gaps at once."""
    group = share.group(group_id)
    out: list[dict[str, Any]] = []
    for (topic, partition), acquired in got.items():
        sp = group.partitions.get((topic, partition)) if group is not None else None

        def deadline(offset: int, sp: Any = sp) -> int:
            return int(sp.records[offset].deadline_ms) if sp is not None and offset in sp.records else now

        gaps = _records_json(out, group_id, topic, partition, acquired, deadline, key_format, value_format, raw)
        if gaps:
            await share.acknowledge(group_id, member_id, topic, partition, gaps, now)
    return out


async def _receive_remote(request: web.Request, group_id: str, member_id: str, leader: int,
                          partitions: list[TopicPartition], limit: int, key_format: str, value_format: str,
                          raw: bool) -> list[dict[str, Any]]:
    """Records of partitions another broker leads, acquired there for the member (ShareFetch in its
    share session there) and rendered here; their gaps are acknowledged there."""
    ctx = context(request)
    remote = ctx.share_remote
    assert remote is not None
    fetched = await remote.fetch(group_id, member_id, leader, partitions, limit, READ_BYTES, ctx.clock())
    for (topic, partition), why in fetched.errors.items():
        log.info("share group %s member %s: %s-%d not received from its leader: %s", group_id, member_id, topic,
                 partition, why)
    out: list[dict[str, Any]] = []
    for (topic, partition), acquired in fetched.got.items():
        gaps = _records_json(out, group_id, topic, partition, acquired, lambda _o: fetched.lock_expires_ms,
                             key_format, value_format, raw)
        if gaps:
            await remote.acknowledge(group_id, member_id, leader, topic, partition, gaps)
    return out


def _records_json(out: list[dict[str, Any]], group_id: str, topic: str, partition: int, acquired: Acquired,
                  deadline: Callable[[int], int], key_format: str, value_format: str,
                  raw: bool) -> list[tuple[int, AckType]]:
    """Append the acquired records of one partition to ``out``; return the acquired offsets that hold
    no record (to acknowledge as gaps)."""
    wanted = {o: r.delivery_count for r in acquired.ranges for o in range(r.first_offset, r.last_offset + 1)}
    try:
        records, _ = records_from(acquired.data, min(wanted), len(acquired.data))
    except CorruptBatchError as exc:
        log.error("corrupt batch reading %s-%d for share group %s: %s", topic, partition, group_id, exc)
        raise HttpError(500, "CORRUPT_MESSAGE", f"stored data is corrupt: {exc}") from None
    present = set()
    for r in records:
        if r.offset not in wanted:
            continue
        present.add(r.offset)
        out.append({"delivery_id": delivery_id(topic, partition, r.offset, wanted[r.offset]), "topic": topic,
                    "partition": partition, "delivery_count": wanted[r.offset], "lock_expires_ms": deadline(r.offset),
                    **record_out(r, key_format, value_format, raw)})
    return [(o, AckType.GAP) for o in offsets_of(acquired.ranges) if o not in present]


@routes.post("/share-groups/{group}/members/{member}/acks")
async def acknowledge(request: web.Request) -> web.Response:
    ctx = context(request)
    share, group_id, member_id = _member(request)
    obj = body_object(await read_body(request))
    acks = obj.get("acks")
    if not isinstance(acks, list) or not acks or len(acks) > MAX_ACKS:
        raise bad_request(f"acks must be a non-empty array of at most {MAX_ACKS} acknowledgements")
    now = ctx.clock()
    remote = ctx.share_remote
    by_partition: dict[tuple[str, int], list[tuple[int, AckType, str]]] = {}
    leaders: dict[tuple[str, int], int] = {}
    results: list[dict[str, Any]] = []
    for i, ack in enumerate(acks):
        a = body_object(ack, f"acks[{i}]")
        kind = a.get("type", "accept")
        if kind not in ACK_TYPES:
            raise bad_request(f"acks[{i}].type must be one of {', '.join(ACK_TYPES)}")
        topic, partition, offset, count = _parse_delivery_id(a.get("delivery_id"))
        items = by_partition.setdefault((topic, partition), [])
        if (topic, partition) not in leaders:
            leader = remote.leader_of(topic, partition) if remote is not None else None
            leaders[(topic, partition)] = -1 if leader is None else leader
        # Each delivery on its own: one no longer held (lock expired, redelivered, acknowledged) is
        # refused without failing the others. Held at another leader: that leader decides.
        here = leaders[(topic, partition)] < 0
        if ((here and not share.holds(group_id, member_id, topic, partition, offset, count, now))
                or any(o == offset for o, _, _ in items)):
            results.append({"delivery_id": a["delivery_id"], "error_code": "INVALID_RECORD_STATE"})
            continue
        items.append((offset, ACK_TYPES[kind], a["delivery_id"]))
    waiting = [(items, share.acknowledge(group_id, member_id, topic, partition,
                                         [(o, k) for o, k, _ in items], now))
               for (topic, partition), items in by_partition.items() if items and leaders[(topic, partition)] < 0]
    for items, fut in waiting:
        code = await asyncio.wait_for(fut, 30)
        results.extend({"delivery_id": d, "error_code": _ack_error(code)} for _, _, d in items)
    for (topic, partition), items in by_partition.items():
        if items and leaders[(topic, partition)] >= 0:
            assert remote is not None
            results += await _acknowledge_remote(remote, group_id, member_id, leaders[(topic, partition)], topic,
                                                 partition, items)
    return respond(request, {"results": results})


def _ack_error(code: int) -> str | None:
    if code == 0:
        return None
    return {INVALID_RECORD_STATE: "INVALID_RECORD_STATE", NOT_LEADER_OR_FOLLOWER: "NOT_LEADER_OR_FOLLOWER"}.get(
        code, "COORDINATOR_NOT_AVAILABLE")


async def _acknowledge_remote(remote: RemoteShares, group_id: str, member_id: str, leader: int, topic: str,
                              partition: int, items: list[tuple[int, AckType, str]]) -> list[dict[str, Any]]:
    """Acknowledge at the partition's leader. Its answer covers the partition's acknowledgements all
    or nothing; when refused for a record not held, each is sent again alone, so one delivery no
    longer held does not fail the others (as on this broker)."""
    code = await remote.acknowledge(group_id, member_id, leader, topic, partition, [(o, k) for o, k, _ in items])
    if code == INVALID_RECORD_STATE and len(items) > 1:
        out = []
        for offset, kind, d in items:
            one = await remote.acknowledge(group_id, member_id, leader, topic, partition, [(offset, kind)])
            out.append({"delivery_id": d, "error_code": _ack_error(one)})
        return out
    return [{"delivery_id": d, "error_code": _ack_error(code)} for _, _, d in items]


@routes.get("/share-groups/{group}", allow_head=False)
async def describe(request: web.Request) -> web.Response:
    share = _share(request)
    group_id = request.match_info["group"]
    require_group(request, Op.DESCRIBE, group_id)
    group = share.group(group_id)
    partitions = [share_partition_json(s) | {"delivery_counts": [
                      {"offset": o, "delivery_count": c} for o, c in s.delivery_counts.items()]}
                  for s in share.describe_partitions(group_id)]
    if group is None:
        if asked_for_own_part(request) and partitions:
            # Asked by the group's coordinator: the share-partitions this broker leads for the group.
            return respond(request, {"group_id": group_id, "partitions": partitions})
        raise HttpError(404, "GROUP_ID_NOT_FOUND", f"no share group {group_id!r}")
    subscribed = {t for m in group.members.values() for t in m.subscribed_topics} | {t for t, _ in group.partitions}
    more, errors = await held_elsewhere(request, group_id, {(p["topic"], p["partition"]) for p in partitions},
                                        subscribed)
    partitions = sorted(partitions + more, key=lambda p: (p["topic"], p["partition"]))
    return respond(request, {
        "group_id": group_id, "state": group.state(), "group_epoch": group.group_epoch, "configs": group.configs,
        "members": [{"member_id": m.member_id, "member_epoch": m.member_epoch, "client_id": m.client_id,
                     "client_host": m.client_host, "subscribed_topics": list(m.subscribed_topics),
                     "assignment": [{"topic": t, "partition": p} for t, p in m.assignment]}
                    for m in group.members.values()],
        "partitions": partitions, **({"errors": errors} if errors else {})})
