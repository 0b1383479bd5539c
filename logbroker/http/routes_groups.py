"""Consumer group administration over HTTP (the groups themselves are run by the coordinator).

    GET    /groups                      {"groups": [{"group_id", "protocol_type", "state"}]}
    GET    /groups/{group}              state, members with their assignment, committed offsets and lag
    POST   /groups/{group}/reset-offsets  {"strategy": "earliest"|"latest"|"timestamp"|"shift",
                                         "timestamp"?: ms, "shift"?: n, "topics"?: [name]}
    DELETE /groups/{group}              204; only a group without members

Resetting offsets is allowed only while the group is Empty, as ``kafka-consumer-groups.sh
--reset-offsets`` requires. It commits new offsets for every partition of ``topics`` (default: the
topics the group has committed offsets for): ``earliest`` the log start offset, ``latest`` the log
end offset, ``timestamp`` the first offset with a timestamp at or after it (the log end when none),
``shift`` the committed offset plus ``shift`` (from the log end when nothing is committed), kept
within the log.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from logbroker.controller.controller import GroupDescription
from logbroker.groups import GroupCoordinator, GroupError, GroupState, OffsetCommitInput
from logbroker.groups.assignment import parse_assignment
from logbroker.groups.schema import RecordFormatError
from logbroker.http.app import context
from logbroker.http.content import read_body, respond
from logbroker.http.errors import HttpError, bad_request, group_error
from logbroker.http.params import INT64_MAX, body_object, field_int

log = logging.getLogger(__name__)

STRATEGIES = ("earliest", "latest", "timestamp", "shift")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/groups", list_groups, allow_head=False)
    app.router.add_get("/groups/{group}", describe_group, allow_head=False)
    app.router.add_post("/groups/{group}/reset-offsets", reset_offsets)
    app.router.add_delete("/groups/{group}", delete_group)


def _coordinator(request: web.Request) -> GroupCoordinator:
    coordinator = context(request).coordinator
    if coordinator is None:
        raise HttpError(503, "COORDINATOR_NOT_AVAILABLE", "the group coordinator is not running")
    return coordinator


def _assignment(data: bytes) -> list[dict[str, Any]]:
    try:
        return [{"topic": t, "partition": p} for t, p in parse_assignment(data)] if data else []
    except RecordFormatError:
        return []


async def list_groups(request: web.Request) -> web.Response:
    """Classic groups (Kafka clients' JoinGroup) and broker-assigned groups (HTTP and KIP-848 members)."""
    groups = [{"group_id": g.group_id, "protocol_type": g.protocol_type, "state": g.state, "group_type": "classic"}
              for g in _coordinator(request).list_groups()]
    controller = context(request).controller
    if controller is not None:
        for group_id in controller.groups():
            described = controller.describe(group_id)
            if described is not None:
                groups.append({"group_id": group_id, "protocol_type": "consumer", "state": described.state,
                               "group_type": "consumer"})
    return respond(request, {"groups": sorted(groups, key=lambda g: str(g["group_id"]))})


async def describe_group(request: web.Request) -> web.Response:
    coordinator = _coordinator(request)
    group_id = request.match_info["group"]
    controller = context(request).controller
    assigned = controller.describe(group_id) if controller is not None else None
    if assigned is not None:
        return respond(request, _describe_assigned(group_id, assigned, coordinator))
    desc = coordinator.describe_group(group_id)
    if desc is None:
        raise group_error(GroupError.GROUP_ID_NOT_FOUND, f"group {group_id!r}")
    consumer = desc.protocol_type == "consumer"
    members = [{"member_id": m.member_id, "group_instance_id": m.group_instance_id, "client_id": m.client_id,
                "client_host": m.client_host, "assignment": _assignment(m.assignment) if consumer else []}
               for m in desc.members]
    offsets = [{"topic": lag.topic, "partition": lag.partition, "committed_offset": lag.committed_offset,
                "log_end_offset": lag.log_end_offset, "lag": lag.lag, "member_id": lag.member_id,
                "metadata": lag.metadata} for lag in coordinator.lag(group_id)]
    return respond(request, {"group_id": desc.group_id, "state": desc.state, "protocol_type": desc.protocol_type,
                             "protocol": desc.protocol_data, "members": members, "offsets": offsets})


def _describe_assigned(group_id: str, desc: GroupDescription, coordinator: GroupCoordinator) -> dict[str, Any]:
    """A group whose partitions the broker assigns: members with current and target assignments."""
    owners = {tp: m.member_id for m in desc.members for tp in m.assignment}
    members = [{"member_id": m.member_id, "group_instance_id": m.instance_id, "client_id": m.client_id,
                "client_host": m.client_host, "member_epoch": m.member_epoch,
                "assignment": [{"topic": t, "partition": p} for t, p in m.assignment],
                "target_assignment": [{"topic": t, "partition": p} for t, p in m.target_assignment]}
               for m in desc.members]
    offsets = [{"topic": lag.topic, "partition": lag.partition, "committed_offset": lag.committed_offset,
                "log_end_offset": lag.log_end_offset, "lag": lag.lag,
                "member_id": owners.get((lag.topic, lag.partition)), "metadata": lag.metadata}
               for lag in coordinator.lag(group_id)]
    return {"group_id": group_id, "state": desc.state, "protocol_type": "consumer", "protocol": desc.assignor,
            "group_epoch": desc.group_epoch, "members": members, "offsets": offsets}


async def reset_offsets(request: web.Request) -> web.Response:
    ctx = context(request)
    coordinator = _coordinator(request)
    broker = ctx.broker
    group_id = request.match_info["group"]
    group = coordinator.group(group_id)
    if group is None:
        raise group_error(GroupError.GROUP_ID_NOT_FOUND, f"group {group_id!r}")
    body = body_object(await read_body(request))
    strategy = body.get("strategy")
    if strategy not in STRATEGIES:
        raise bad_request(f"strategy must be one of {', '.join(STRATEGIES)}")
    timestamp = field_int(body, "timestamp", 0, INT64_MAX)
    shift = field_int(body, "shift", -INT64_MAX, INT64_MAX)
    if strategy == "timestamp" and timestamp is None:
        raise bad_request("strategy timestamp needs a timestamp (ms)")
    if strategy == "shift" and shift is None:
        raise bad_request("strategy shift needs a shift (records, may be negative)")
    topics = body.get("topics")
    if topics is None:
        topics = sorted({t for t, _ in group.offsets})
    elif not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise bad_request("topics must be an array of topic names")
    if not group.is_(GroupState.EMPTY) or group.members:
        raise group_error(GroupError.NON_EMPTY_GROUP, f"group {group_id!r} must be empty to reset its offsets")
    committed = coordinator.fetch_offsets(group_id, None)
    new: dict[tuple[str, int], OffsetCommitInput] = {}
    for topic in topics:
        partitions = broker.topic(topic).partitions
        for p in range(partitions):
            start, end = broker.offsets(topic, p)
            if strategy == "earliest":
                target = start
            elif strategy == "latest":
                target = end
            elif strategy == "timestamp":
                assert timestamp is not None
                found, _ = broker.offset_for_timestamp(topic, p, timestamp)
                target = found if found >= 0 else end
            else:
                assert shift is not None
                current = committed.get((topic, p))
                target = min(max((current.offset if current is not None else end) + shift, start), end)
            new[(topic, p)] = OffsetCommitInput(target)
    if new:
        results = await coordinator.commit_offsets(group_id, -1, "", new, ctx.clock())
        failed = [(tp, e) for tp, e in results.items() if not e.ok]
        if failed:
            (topic, p), error = failed[0]
            raise group_error(error, f"committing offset of {topic}-{p} for group {group_id!r}")
    log.info("group %s: offsets reset (%s) for %d partition(s) over HTTP from %s", group_id, strategy, len(new),
             request.remote)
    return respond(request, {"group_id": group_id, "offsets": [
        {"topic": t, "partition": p, "offset": c.offset} for (t, p), c in sorted(new.items())]})


async def delete_group(request: web.Request) -> web.Response:
    ctx = context(request)
    coordinator = _coordinator(request)
    group_id = request.match_info["group"]
    results = await coordinator.delete_groups([group_id], ctx.clock())
    error = results.get(group_id, GroupError.NONE)
    if not error.ok:
        raise group_error(error, f"group {group_id!r}")
    log.info("deleted group %s over HTTP from %s", group_id, request.remote)
    return web.Response(status=204)
