"""Consumer groups over HTTP, with the broker assigning partitions (``logbroker.controller``, KIP-848 style).

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

The controller owns membership and assignment; this front keeps, per member, what a Kafka consumer
keeps on the client side: the partitions it holds and its position in each (the next offset to hand
out). Every poll, commit and heartbeat is a controller heartbeat reporting those partitions as
``owned``, which is how a revocation completes: the controller gives a partition to its new owner only
after the old owner stopped reporting it (or was expired after its session timeout).

Invariants:
- A partition is served to a member only while the member holds it. A partition the controller takes
  away is dropped from the member's positions before any further record is read, and the member
  acknowledges at once with a second heartbeat.
- A newly held partition starts at the group's committed offset, else per ``auto_offset_reset`` (also
  when the committed offset is outside the log), so nothing committed is skipped and only records
  after the last commit may be handed out twice (at-least-once).
- A commit is checked against the partitions the member held when the request arrived, before a
  revocation carried by the same heartbeat is applied: like a Kafka consumer committing in its
  revocation callback, the old owner can still commit what it processed, because the new owner cannot
  start before the old owner acknowledges. A commit for a partition the member does not hold, with a
  stale ``member_epoch``, or from a member the controller expired or fenced, is refused (409/404).
- Commits are the classic coordinator's committed offsets (``__consumer_offsets``): the answer comes
  once the write is as durable as that topic's flush policy promises.
- Position changes happen under the member's lock, so two concurrent polls never hand out the same
  records; the long-poll wait itself holds no lock.

Controller errors (``ControllerError``, Kafka's codes) map to statuses once, in ``errors.controller_error``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from logbroker.controller.controller import GroupDescription
from logbroker.controller.errors import ControllerError
from logbroker.errors import OffsetOutOfRangeError, StorageError
from logbroker.groups import GroupCoordinator, GroupError, OffsetCommitInput
from logbroker.http.app import MAX_WAIT_MS, HttpContext, context
from logbroker.http.content import read_body, respond, wants_msgpack
from logbroker.http.errors import HttpError, bad_request, controller_error, group_error
from logbroker.http.params import INT64_MAX, body_object, field_int, field_str, query_choice, query_int
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
OFFSET_RESETS = ("earliest", "latest")
DEFAULT_MAX_RECORDS = 500
MAX_RECORDS = 10_000
MAX_PATTERN_CHARS = 1000
MAX_TOPICS = 10_000
MAX_SESSION_TIMEOUT_MS = 3_600_000
COMMIT_TIMEOUT_S = 30.0
# A member the HTTP front has not heard from for this long (and twice its session timeout) is
# forgotten here; the controller expired it long before.
FORGET_AFTER_MS = 300_000

# After these the controller no longer knows the member at its epoch: it must join again.
_MEMBERSHIP_LOST = frozenset({ControllerError.UNKNOWN_MEMBER_ID, ControllerError.GROUP_ID_NOT_FOUND,
                              ControllerError.FENCED_MEMBER_EPOCH})


class HeartbeatAnswer(Protocol):
    @property
    def member_id(self) -> str: ...
    @property
    def member_epoch(self) -> int: ...
    @property
    def heartbeat_interval_ms(self) -> int: ...
    @property
    def assignment(self) -> Sequence[tuple[str, int]] | None: ...
    @property
    def error(self) -> int: ...
    @property
    def message(self) -> str | None: ...


class AssignmentController(Protocol):
    """What this front needs of ``logbroker.controller.Controller``."""

    def heartbeat(self, group_id: str, member_id: str, member_epoch: int, *, now_ms: int,
                  subscribed_topics: list[str] | None = None, subscribed_regex: str | None = None,
                  owned: list[tuple[str, int]] | None = None, assignor: str | None = None,
                  instance_id: str | None = None, rebalance_timeout_ms: int = -1,
                  session_timeout_ms: int | None = None, client_id: str = "",
                  client_host: str = "") -> HeartbeatAnswer: ...

    def leave(self, group_id: str, member_id: str, now_ms: int) -> None: ...

    def groups(self) -> list[str]: ...

    def describe(self, group_id: str) -> GroupDescription | None: ...


@dataclass(slots=True)
class HttpMember:
    """The client-side state of one HTTP group member: held partitions and positions."""

    group_id: str
    member_id: str
    epoch: int
    auto_offset_reset: str
    session_timeout_ms: int | None
    heartbeat_interval_ms: int
    last_seen_ms: int
    # Held partitions -> next offset to hand out; None until first needed (committed offset or reset).
    positions: dict[TopicPartition, int | None] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    rotation: int = 0  # which held partition is read first, so one busy partition cannot starve the rest


class HttpMembers:
    """Every HTTP group member this front serves, by (group, member id)."""

    def __init__(self) -> None:
        self._members: dict[tuple[str, str], HttpMember] = {}

    def get(self, group_id: str, member_id: str) -> HttpMember | None:
        return self._members.get((group_id, member_id))

    def add(self, member: HttpMember) -> None:
        self._members[(member.group_id, member.member_id)] = member

    def remove(self, member: HttpMember) -> None:
        if self._members.get((member.group_id, member.member_id)) is member:
            del self._members[(member.group_id, member.member_id)]

    def forget_idle(self, now_ms: int) -> None:
        for key, m in list(self._members.items()):
            if now_ms - m.last_seen_ms > max(FORGET_AFTER_MS, 2 * (m.session_timeout_ms or 0)):
                log.info("group %s: forgetting HTTP member %s, idle for %d ms", m.group_id, m.member_id,
                         now_ms - m.last_seen_ms)
                del self._members[key]

    def __len__(self) -> int:
        return len(self._members)


MEMBERS: web.AppKey[HttpMembers] = web.AppKey("logbroker_http_members", HttpMembers)


def add_routes(app: web.Application) -> None:
    app[MEMBERS] = HttpMembers()
    app.router.add_post("/groups/{group}/members", join)
    app.router.add_post("/groups/{group}/members/{member}/poll", poll)
    app.router.add_post("/groups/{group}/members/{member}/commit", commit)
    app.router.add_post("/groups/{group}/members/{member}/heartbeat", heartbeat)
    app.router.add_delete("/groups/{group}/members/{member}", leave)


# ------------------------------------------------------------------------------------ plumbing
def _controller(ctx: HttpContext) -> AssignmentController:
    controller: AssignmentController | None = ctx.controller
    if controller is None:
        raise HttpError(503, "COORDINATOR_NOT_AVAILABLE", "the group controller is not running")
    return controller


def _coordinator(ctx: HttpContext) -> GroupCoordinator:
    if ctx.coordinator is None:
        raise HttpError(503, "COORDINATOR_NOT_AVAILABLE", "the group coordinator is not running")
    return ctx.coordinator


def _member(request: web.Request) -> HttpMember:
    group_id = request.match_info["group"]
    member_id = request.match_info["member"]
    member = request.app[MEMBERS].get(group_id, member_id)
    if member is None:
        raise HttpError(404, "UNKNOWN_MEMBER_ID", f"group {group_id!r} has no HTTP member {member_id!r}; "
                                                  f"join with POST /groups/{{group}}/members")
    return member


def _tp_list(tps: Iterable[TopicPartition]) -> list[dict[str, Any]]:
    return [{"topic": t, "partition": p} for t, p in sorted(tps)]


def _apply_assignment(member: HttpMember, assignment: Sequence[tuple[str, int]]) -> bool:
    """Make ``assignment`` the member's held partitions; True if any partition was taken away."""
    new = {(str(t), int(p)) for t, p in assignment}
    revoked = [tp for tp in member.positions if tp not in new]
    for tp in revoked:
        del member.positions[tp]
    for tp in sorted(new):
        member.positions.setdefault(tp, None)
    if revoked:
        log.info("group %s member %s epoch %d: revoked %s", member.group_id, member.member_id, member.epoch,
                 ", ".join(f"{t}-{p}" for t, p in sorted(revoked)))
    return bool(revoked)


def _beat(ctx: HttpContext, request: web.Request, member: HttpMember, *,
          apply: bool = True) -> Sequence[tuple[str, int]] | None:
    """One controller heartbeat for ``member`` reporting its held partitions as owned.

    With ``apply`` the answered assignment becomes the member's (and a revocation is acknowledged at
    once with a second heartbeat); without, the assignment is returned for the caller to apply.
    Raises HttpError when the controller refuses; a member it no longer knows is forgotten here too.
    """
    controller = _controller(ctx)
    for _ in range(3):  # the heartbeat, and at most two acknowledgements of revocations
        now = ctx.clock()
        # The session timeout goes with every heartbeat: the controller takes its default otherwise.
        result = controller.heartbeat(member.group_id, member.member_id, member.epoch, now_ms=now,
                                      owned=sorted(member.positions), session_timeout_ms=member.session_timeout_ms)
        member.last_seen_ms = now
        if result.error:
            if result.error in _MEMBERSHIP_LOST:
                request.app[MEMBERS].remove(member)
                log.info("group %s: HTTP member %s lost its membership (error %d): %s", member.group_id,
                         member.member_id, result.error, result.message or "")
            raise controller_error(result.error, result.message,
                                    f"group {member.group_id!r} member {member.member_id!r}")
        member.epoch = result.member_epoch
        if result.heartbeat_interval_ms > 0:
            member.heartbeat_interval_ms = result.heartbeat_interval_ms
        if result.assignment is None:
            return None
        if not apply:
            return result.assignment
        if not _apply_assignment(member, result.assignment):
            return None
    return None


def _position(ctx: HttpContext, member: HttpMember, tp: TopicPartition) -> int | None:
    """The member's position in a held partition, starting it at the committed offset (else per
    auto_offset_reset) when the partition is new to the member. None: the partition cannot be read."""
    position = member.positions.get(tp)
    if position is not None:
        return position
    try:
        start, end = ctx.broker.offsets(*tp)
    except StorageError:
        return None
    committed = _coordinator(ctx).fetch_offsets(member.group_id, [tp]).get(tp)
    if committed is not None and start <= committed.offset <= end:
        position = committed.offset
    else:
        position = start if member.auto_offset_reset == "earliest" else end
        if committed is not None:
            log.info("group %s member %s: committed offset %d of %s-%d is outside the log [%d, %d]; "
                     "starting at the %s offset %d", member.group_id, member.member_id, committed.offset,
                     tp[0], tp[1], start, end, member.auto_offset_reset, position)
    member.positions[tp] = position
    return position


def _reset(ctx: HttpContext, member: HttpMember, tp: TopicPartition) -> int | None:
    try:
        start, end = ctx.broker.offsets(*tp)
    except StorageError:
        return None
    position = start if member.auto_offset_reset == "earliest" else end
    member.positions[tp] = position
    return position


def _positions(ctx: HttpContext, member: HttpMember) -> list[dict[str, Any]]:
    out = []
    for tp in sorted(member.positions):
        position = _position(ctx, member, tp)
        if position is not None:
            out.append({"topic": tp[0], "partition": tp[1], "offset": position})
    return out


def _member_state(ctx: HttpContext, member: HttpMember) -> dict[str, Any]:
    return {"group_id": member.group_id, "member_id": member.member_id, "member_epoch": member.epoch,
            "heartbeat_interval_ms": member.heartbeat_interval_ms, "assignment": _tp_list(member.positions),
            "positions": _positions(ctx, member)}


# ---------------------------------------------------------------------------------------- join
def _subscription(body: Any) -> tuple[list[str] | None, str | None]:
    obj = body_object(body)
    topics = obj.get("topics")
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


async def join(request: web.Request) -> web.Response:
    ctx = context(request)
    controller = _controller(ctx)
    coordinator = _coordinator(ctx)
    group_id = request.match_info["group"]
    body = body_object(await read_body(request))
    topics, pattern = _subscription(body)
    session_timeout_ms = field_int(body, "session_timeout_ms", 1, MAX_SESSION_TIMEOUT_MS)
    rebalance_timeout_ms = field_int(body, "rebalance_timeout_ms", 1, MAX_SESSION_TIMEOUT_MS)
    assignor = _choice(body, "assignor", ASSIGNORS, None)
    reset = _choice(body, "auto_offset_reset", OFFSET_RESETS, "latest")
    assert reset is not None
    instance_id = field_str(body, "instance_id", required=False)
    client_id = field_str(body, "client_id", required=False) or ""
    if instance_id == "":
        raise bad_request("instance_id must not be empty")
    classic = coordinator.group(group_id)
    if classic is not None and classic.members:
        raise HttpError(409, "INCONSISTENT_GROUP_PROTOCOL",
                        f"group {group_id!r} has members of the classic Kafka group protocol")
    members = request.app[MEMBERS]
    now = ctx.clock()
    members.forget_idle(now)
    result = controller.heartbeat(group_id, "", 0, now_ms=now, subscribed_topics=topics, subscribed_regex=pattern,
                                  owned=[], assignor=assignor, instance_id=instance_id,
                                  rebalance_timeout_ms=rebalance_timeout_ms or -1,
                                  session_timeout_ms=session_timeout_ms, client_id=client_id,
                                  client_host=request.remote or "")
    if result.error:
        raise controller_error(result.error, result.message, f"joining group {group_id!r}")
    member = HttpMember(group_id, result.member_id, result.member_epoch, reset, session_timeout_ms,
                        result.heartbeat_interval_ms, now)
    members.add(member)
    if result.assignment is not None:
        _apply_assignment(member, result.assignment)
    log.info("group %s: HTTP member %s joined (epoch %d, %s) from %s", group_id, member.member_id, member.epoch,
             f"topics {', '.join(topics)}" if topics is not None else f"pattern {pattern!r}", request.remote)
    return respond(request, _member_state(ctx, member))


# ------------------------------------------------------------------------------ heartbeat, leave
async def heartbeat(request: web.Request) -> web.Response:
    ctx = context(request)
    member = _member(request)
    async with member.lock:
        _beat(ctx, request, member)
        return respond(request, _member_state(ctx, member))


async def leave(request: web.Request) -> web.Response:
    ctx = context(request)
    member = _member(request)
    controller = _controller(ctx)
    async with member.lock:
        controller.leave(member.group_id, member.member_id, ctx.clock())
        member.positions.clear()
        request.app[MEMBERS].remove(member)
    log.info("group %s: HTTP member %s left", member.group_id, member.member_id)
    return web.Response(status=204)


# ---------------------------------------------------------------------------------------- poll
@dataclass(slots=True)
class _Fetched:
    records: list[dict[str, Any]] = field(default_factory=list)
    nbytes: int = 0


async def _fetch(ctx: HttpContext, member: HttpMember, max_records: int, max_bytes: int, key_format: str,
                 value_format: str, raw: bool) -> _Fetched:
    """Records from the member's held partitions, advancing its positions. Call with the member's lock.

    Like a Kafka fetch: at least one batch when any partition has data, then stop near ``max_bytes``
    (or at ``max_records``). Records are rendered before any position moves, so an answer that
    cannot be rendered (406) hands out nothing.
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
        position = _position(ctx, member, tp)
        if position is None:
            continue
        try:
            read = broker.read(tp[0], tp[1], position, max(1, max_bytes - out.nbytes))
        except OffsetOutOfRangeError:
            position = _reset(ctx, member, tp)
            if position is None:
                continue
            log.info("group %s member %s: position of %s-%d is outside the log; now at the %s offset %d",
                     member.group_id, member.member_id, tp[0], tp[1], member.auto_offset_reset, position)
            try:
                read = broker.read(tp[0], tp[1], position, max(1, max_bytes - out.nbytes))
            except StorageError:
                continue
        except StorageError:
            continue  # the topic went away; the controller takes the partition back
        if read.nbytes == 0:
            continue
        out.nbytes += read.nbytes
        records, next_offset = await render_records(broker, tp[0], tp[1], read, position,
                                                    max_records - len(out.records), key_format, value_format, raw)
        out.records.extend({"topic": tp[0], "partition": tp[1], **r} for r in records)
        advanced[tp] = next_offset
    for tp, offset in advanced.items():
        if tp in member.positions:
            member.positions[tp] = offset
    if out.records:
        counts: dict[str, int] = {}
        for r in out.records:
            counts[r["topic"]] = counts.get(r["topic"], 0) + 1
        for topic, n in counts.items():
            ctx.metrics.count_records_out(topic, n)
    return out


async def poll(request: web.Request) -> web.Response:
    ctx = context(request)
    broker = ctx.broker
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
                _beat(ctx, request, member)
                beat_at = loop.time() + member.heartbeat_interval_ms / 1000
            fetched = await _fetch(ctx, member, max_records, max_bytes, key_format, value_format, raw)
            if fetched.records or loop.time() >= deadline:
                return respond(request, {**_member_state(ctx, member), "records": fetched.records})
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
    items = obj.get("offsets")
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


async def commit(request: web.Request) -> web.Response:
    ctx = context(request)
    coordinator = _coordinator(ctx)
    member = _member(request)
    body = await read_body(request) if request.can_read_body else None
    offsets, epoch = _commit_offsets(body)
    async with member.lock:
        if epoch is not None and epoch != member.epoch:
            raise HttpError(409, "STALE_MEMBER_EPOCH", f"member_epoch {epoch} is not the member's current "
                                                       f"epoch {member.epoch}; poll and commit again")
        # The heartbeat proves the member is still in the group at its epoch. Its partitions are checked
        # as they were before any revocation it brings: the controller does not give them away before
        # the next heartbeat acknowledges.
        assignment = _beat(ctx, request, member, apply=False)
        if offsets is None:
            offsets = {tp: OffsetCommitInput(pos) for tp, pos in sorted(member.positions.items())
                       if pos is not None}
        foreign = sorted(tp for tp in offsets if tp not in member.positions)
        if foreign:
            if assignment is not None:
                _apply_assignment(member, assignment)
            raise HttpError(409, "FENCED_MEMBER_EPOCH",
                            f"member {member.member_id!r} of group {member.group_id!r} does not hold "
                            f"{', '.join(f'{t}-{p}' for t, p in foreign)}; nothing was committed")
        # The member epoch is the commit's generation: the coordinator has the controller check it.
        waiting = (coordinator.commit_offsets(member.group_id, member.epoch, member.member_id, offsets, ctx.clock())
                   if offsets else None)
        if assignment is not None and _apply_assignment(member, assignment):
            _beat(ctx, request, member)
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
