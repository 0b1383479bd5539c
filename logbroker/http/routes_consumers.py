"""Consumer groups over HTTP, with the broker assigning partitions (consumer-protocol groups, KIP-848).

    POST   /groups/{group}/members                     join: {"topics": [name]} | {"pattern": regex},
                                                       "session_timeout_ms"?, "rebalance_timeout_ms"?,
                                                       "assignor"?: range|uniform|sticky, "instance_id"?,
                                                       "client_id"?, "auto_offset_reset"?: earliest|latest
    POST   /groups/{group}/members/{member}/poll       heartbeat, then records from the assigned partitions
                                                       (?max_records=&max_bytes=&wait_ms=&value_format=&key_format=)
    POST   /groups/{group}/members/{member}/commit     {"offsets": [{"topic", "partition", "offset"}],
                                                        "member_epoch"?}; no body: the member's positions
    POST   /groups/{group}/members/{member}/heartbeat  keep the membership alive, learn the assignment
    DELETE /groups/{group}/members/{member}            leave; the member's partitions move at once

These routes only translate: membership, assignment and each member's held partitions and positions
are the group coordinator's (``logbroker.groups.http_members``, whose docstring states the
invariants); a poll reads records through the broker core from the positions it hands out and
renders them as ``GET .../records`` does. Commits are the coordinator's committed offsets
(``__consumer_offsets``): the answer comes once the write is as durable as that topic's flush
policy promises. Refusals (``HeartbeatError``, Kafka's names) map to statuses once, in
``errors.heartbeat_error``; a commit refused because the member does not hold a partition, or holds
it at another epoch, is 409, and nothing is committed.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from logbroker.errors import OffsetOutOfRangeError, StorageError
from logbroker.groups import GroupError, OffsetCommitInput
from logbroker.groups.http_members import OFFSET_RESETS, HttpMember, HttpMembers, MemberRefused, Subscription
from logbroker.http.access import Op, require_group, require_topic
from logbroker.http.content import read_body, respond, wants_msgpack
from logbroker.http.context import MAX_WAIT_MS, HttpContext, context, members
from logbroker.http.errors import HttpError, bad_request, group_error, heartbeat_error
from logbroker.http.params import (
    INT64_MAX,
    body_object,
    field_int,
    field_str,
    optional,
    query_choice,
    query_int,
)
from logbroker.http.routes_records import (
    DEFAULT_MAX_BYTES,
    FORMATS,
    MAX_READ_BYTES,
    default_key_format,
    render_records,
)

log = logging.getLogger(__name__)

TopicPartition = tuple[str, int]

ASSIGNORS = ("range", "uniform", "sticky")
DEFAULT_MAX_RECORDS = 500
MAX_RECORDS = 10_000
MAX_PATTERN_CHARS = 1000
MAX_TOPICS = 10_000
MAX_SESSION_TIMEOUT_MS = 3_600_000
COMMIT_TIMEOUT_S = 30.0

routes = web.RouteTableDef()


def _member(request: web.Request) -> HttpMember:
    group_id = request.match_info["group"]
    require_group(request, Op.READ, group_id)  # every member request, as Kafka's heartbeats and commits
    member_id = request.match_info["member"]
    member = members(request).get(group_id, member_id)
    if member is None:
        raise HttpError(404, "UNKNOWN_MEMBER_ID", f"group {group_id!r} has no HTTP member {member_id!r}; "
                                                  f"join with POST /groups/{{group}}/members")
    return member


def _refused(exc: MemberRefused, member: HttpMember | None = None, group_id: str = "") -> HttpError:
    where = (f"group {member.group_id!r} member {member.member_id!r}" if member is not None
             else f"joining group {group_id!r}")
    return heartbeat_error(exc.error, exc.message, where)


def _beat(ctx: HttpContext, sessions: HttpMembers, member: HttpMember) -> None:
    try:
        sessions.beat(member, ctx.clock)
    except MemberRefused as exc:
        raise _refused(exc, member) from None


def _tp_list(tps: Iterable[TopicPartition]) -> list[dict[str, Any]]:
    return [{"topic": t, "partition": p} for t, p in sorted(tps)]


def _member_state(sessions: HttpMembers, member: HttpMember) -> dict[str, Any]:
    return {"group_id": member.group_id, "member_id": member.member_id, "member_epoch": member.epoch,
            "heartbeat_interval_ms": member.heartbeat_interval_ms, "assignment": _tp_list(member.positions),
            "positions": [{"topic": t, "partition": p, "offset": o} for (t, p), o in sessions.positions(member)]}


# ---------------------------------------------------------------------------------------- join
def _subscription(body: Any) -> tuple[list[str] | None, str | None]:
    obj = body_object(body)
    topics = optional(obj, "topics")
    pattern = field_str(obj, "pattern", required=False)
    if (topics is None) == (pattern is None):
        raise bad_request("give either topics (an array of topic names) or pattern (a regular expression)")
    if topics is not None:
        if (not isinstance(topics, list) or not topics or len(topics) > MAX_TOPICS
                or not all(isinstance(t, str) and t for t in topics)):
            raise bad_request(f"topics must be a non-empty array of at most {MAX_TOPICS} topic names")
        return sorted(set(topics)), None
    assert pattern is not None
    if not pattern or len(pattern) > MAX_PATTERN_CHARS:
        raise bad_request(f"pattern must be a regular expression of 1 to {MAX_PATTERN_CHARS} characters")
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise HttpError(400, "INVALID_REGULAR_EXPRESSION", f"pattern is not a valid regular expression: {exc}"
                        ) from None
    return None, pattern


def _choice(obj: Any, name: str, choices: tuple[str, ...], default: str | None) -> str | None:
    value = field_str(obj, name, required=False)
    if value is None:
        return default
    if value not in choices:
        raise bad_request(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


@routes.post("/groups/{group}/members")
async def join(request: web.Request) -> web.Response:
    ctx = context(request)
    sessions = members(request)
    group_id = request.match_info["group"]
    require_group(request, Op.READ, group_id)
    body = body_object(await read_body(request))
    topics, pattern = _subscription(body)
    for topic in topics or ():
        require_topic(request, Op.DESCRIBE, topic)  # as ConsumerGroupHeartbeat's subscription check
    session_timeout_ms = field_int(body, "session_timeout_ms", 1, MAX_SESSION_TIMEOUT_MS)
    rebalance_timeout_ms = field_int(body, "rebalance_timeout_ms", 1, MAX_SESSION_TIMEOUT_MS)
    assignor = _choice(body, "assignor", ASSIGNORS, None)
    reset = _choice(body, "auto_offset_reset", OFFSET_RESETS, "latest")
    assert reset is not None
    instance_id = field_str(body, "instance_id", required=False)
    client_id = field_str(body, "client_id", required=False) or ""
    if instance_id == "":
        raise bad_request("instance_id must not be empty")
    sub = Subscription(topics, pattern, session_timeout_ms, rebalance_timeout_ms, assignor, instance_id, client_id,
                       reset)
    try:
        member = sessions.join(group_id, sub, request.remote or "", ctx.clock())
    except MemberRefused as exc:
        raise _refused(exc, group_id=group_id) from None
    return respond(request, _member_state(sessions, member))


# ------------------------------------------------------------------------------ heartbeat, leave
@routes.post("/groups/{group}/members/{member}/heartbeat")
async def heartbeat(request: web.Request) -> web.Response:
    ctx = context(request)
    sessions = members(request)
    member = _member(request)
    async with member.lock:
        _beat(ctx, sessions, member)
        return respond(request, _member_state(sessions, member))


@routes.delete("/groups/{group}/members/{member}")
async def leave(request: web.Request) -> web.Response:
    ctx = context(request)
    sessions = members(request)
    member = _member(request)
    async with member.lock:
        sessions.leave(member, ctx.clock())
    return web.Response(status=204)


# ---------------------------------------------------------------------------------------- poll
@dataclass(slots=True)
class _Fetched:
    records: list[dict[str, Any]] = field(default_factory=list)
    nbytes: int = 0


async def _fetch(ctx: HttpContext, sessions: HttpMembers, member: HttpMember, max_records: int, max_bytes: int,
                 key_format: str, value_format: str, raw: bool) -> _Fetched:
    """Records from the member's held partitions, advancing its positions. Call with the member's lock.

    Like a Kafka fetch: at least one batch when any partition has data, then stop near ``max_bytes``
    (or at ``max_records``). In a cluster the coordinator reads its own replicas, led or followed,
    below the high watermark it knows (``Broker.read_replica``). Records are rendered before any
    position moves (bytes that do not fit the requested format come as base64, marked per record).
    """
    broker = ctx.broker
    held = sorted(member.positions)
    if not held:
        return _Fetched()
    member.rotation = (member.rotation + 1) % len(held)
    order = held[member.rotation:] + held[:member.rotation]
    out = _Fetched()
    advanced: dict[TopicPartition, int] = {}
    for tp in order:
        if len(out.records) >= max_records or (out.nbytes and out.nbytes >= max_bytes):
            break
        position = sessions.position(member, tp)
        if position is None:
            continue
        try:
            read = broker.read_replica(tp[0], tp[1], position, max(1, max_bytes - out.nbytes))
        except OffsetOutOfRangeError:
            position = sessions.reset(member, tp)
            if position is None:
                continue
            try:
                read = broker.read_replica(tp[0], tp[1], position, max(1, max_bytes - out.nbytes))
            except StorageError:
                continue
        except StorageError:
            continue  # the topic went away; the coordinator takes the partition back
        if read.nbytes == 0:
            continue
        out.nbytes += read.nbytes
        records, next_offset = await render_records(broker, tp[0], tp[1], read, position,
                                                    max_records - len(out.records), key_format, value_format, raw)
        out.records.extend({"topic": tp[0], "partition": tp[1], **r} for r in records)
        advanced[tp] = next_offset
    sessions.advance(member, advanced)
    if out.records:
        counts: dict[str, int] = {}
        for r in out.records:
            counts[r["topic"]] = counts.get(r["topic"], 0) + 1
        for topic, n in counts.items():
            ctx.metrics.count_records_out(topic, n)
    return out


@routes.post("/groups/{group}/members/{member}/poll")
async def poll(request: web.Request) -> web.Response:
    ctx = context(request)
    broker = ctx.broker
    sessions = members(request)
    member = _member(request)
    max_records = query_int(request, "max_records", DEFAULT_MAX_RECORDS, 1, MAX_RECORDS)
    max_bytes = query_int(request, "max_bytes", DEFAULT_MAX_BYTES, 1, MAX_READ_BYTES)
    wait_ms = query_int(request, "wait_ms", 0, 0, MAX_WAIT_MS)
    value_format = query_choice(request, "value_format", FORMATS, "text")
    key_format = query_choice(request, "key_format", FORMATS, default_key_format(value_format))
    assert max_records is not None and max_bytes is not None and wait_ms is not None
    raw = wants_msgpack(request)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_ms / 1000
    beat_at = 0.0
    while True:
        async with member.lock:
            if loop.time() >= beat_at:
                _beat(ctx, sessions, member)
                beat_at = loop.time() + member.heartbeat_interval_ms / 1000
            for topic in {t for t, _ in member.positions}:
                require_topic(request, Op.READ, topic)  # as Fetch: READ on every topic read
            fetched = await _fetch(ctx, sessions, member, max_records, max_bytes, key_format, value_format, raw)
            if fetched.records or loop.time() >= deadline:
                return respond(request, {**_member_state(sessions, member), "records": fetched.records})
            held = list(member.positions)
        # Wake on an append to a held partition, and in time to heartbeat (which keeps the member
        # alive through a long poll and picks up assignment changes).
        await broker.wait_for_append(held, max(0.0, min(deadline, beat_at) - loop.time()))


# -------------------------------------------------------------------------------------- commit
def _commit_offsets(body: Any) -> tuple[dict[TopicPartition, OffsetCommitInput] | None, int | None]:
    """The offsets a commit body names (None: commit the member's positions) and its member_epoch."""
    if body is None:
        return None, None
    obj = body_object(body)
    epoch = field_int(obj, "member_epoch", 0, 2**31 - 1)
    items = optional(obj, "offsets")
    if items is None:
        return None, epoch
    if not isinstance(items, list) or len(items) > MAX_TOPICS * 10:
        raise bad_request("offsets must be an array of {\"topic\", \"partition\", \"offset\"} objects")
    offsets: dict[TopicPartition, OffsetCommitInput] = {}
    for i, item in enumerate(items):
        where = f"offsets[{i}]."
        entry = body_object(item, f"offsets[{i}]")
        topic = field_str(entry, "topic", where=where)
        partition = field_int(entry, "partition", 0, 2**31 - 1, where=where)
        offset = field_int(entry, "offset", 0, INT64_MAX, where=where)
        metadata = field_str(entry, "metadata", required=False, where=where) or ""
        if partition is None or offset is None:
            raise bad_request(f"{where}partition and {where}offset are required")
        assert topic is not None
        offsets[(topic, partition)] = OffsetCommitInput(offset, metadata=metadata)
    return offsets, epoch


@routes.post("/groups/{group}/members/{member}/commit")
async def commit(request: web.Request) -> web.Response:
    ctx = context(request)
    sessions = members(request)
    member = _member(request)
    body = await read_body(request) if request.can_read_body else None
    asked, epoch = _commit_offsets(body)
    for topic in {t for t, _ in (asked if asked is not None else member.positions)}:
        require_topic(request, Op.READ, topic)  # as OffsetCommit: READ on every committed topic
    async with member.lock:
        try:
            offsets, waiting = sessions.commit(member, asked, epoch, ctx.clock)
        except MemberRefused as exc:
            raise _refused(exc, member) from None
    if waiting is not None:
        try:
            results = await asyncio.wait_for(asyncio.shield(waiting), COMMIT_TIMEOUT_S)
        except TimeoutError:
            raise HttpError(504, "REQUEST_TIMED_OUT", "the commit was written but not durable in time") from None
        for (topic, partition), error in sorted(results.items()):
            if error is GroupError.STALE_MEMBER_EPOCH:
                raise HttpError(409, error.name, f"committing {topic}-{partition} for group {member.group_id!r}: "
                                                 f"{error.value}; poll and commit again")
            if error in (GroupError.ILLEGAL_GENERATION, GroupError.REBALANCE_IN_PROGRESS):
                raise HttpError(409, "INCONSISTENT_GROUP_PROTOCOL",
                                f"group {member.group_id!r} is a classic Kafka group now; its offsets cannot be "
                                f"committed by HTTP members")
            if not error.ok:
                raise group_error(error, f"committing {topic}-{partition} for group {member.group_id!r}")
    log.debug("group %s member %s committed %d offset(s)", member.group_id, member.member_id, len(offsets))
    return respond(request, {"group_id": member.group_id, "member_id": member.member_id,
                             "member_epoch": member.epoch, "offsets": [
                                 {"topic": t, "partition": p, "offset": c.offset} for (t, p), c in
                                 sorted(offsets.items())]})
