"""Group administration over HTTP, the same for every group type (the coordinator answers for all).

    GET    /groups                      {"groups": [{"group_id", "protocol_type", "state", "group_type"}]}
    GET    /groups/{group}              state, members with their assignment, committed offsets and lag;
                                        for a share group, each share-partition's start offset as its
                                        committed offset, and ``share_partitions`` (in flight,
                                        acquired, acknowledged, archived, delivery-count histogram)
    POST   /groups/{group}/reset-offsets  {"strategy": "earliest"|"latest"|"timestamp"|"shift"|"offset",
                                         "timestamp"?: ms, "shift"?: n, "offset"?: n, "topics"?: [name],
                                         "dry_run"?: bool}
    DELETE /groups/{group}              204; only a group without members
    GET    /groups/{group}/configs      the group's configs (``routes_group_configs.py``, also PATCH)

Resetting offsets is allowed only while the group has no members (classic or consumer protocol),
as ``kafka-consumer-groups.sh --reset-offsets`` requires. It commits new offsets for every
partition of ``topics`` (default: the topics the group has committed offsets for): ``earliest``
the log start offset, ``latest`` the log end offset, ``timestamp`` the first offset with a
timestamp at or after it (the log end when none), ``shift`` the committed offset plus ``shift``
(from the log end when nothing is committed), ``offset`` that offset; every target is kept within
the log. ``dry_run`` answers the offsets it would commit and commits nothing (``--dry-run``); it is
refused on an active group like the real reset, as the CLI does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from aiohttp import web

from logbroker.broker import EARLIEST, LATEST, Broker
from logbroker.groups import GroupDescription, GroupError, OffsetCommitInput, PartitionLag
from logbroker.groups.share_group import SHARE
from logbroker.groups.state import CONSUMER
from logbroker.http.access import Op, require_group, require_topic, visible_groups, visible_topics
from logbroker.http.content import read_body, respond
from logbroker.http.context import context, coordinator
from logbroker.http.errors import bad_request, group_error
from logbroker.http.forwarding import gather
from logbroker.http.params import INT64_MAX, body_object, field_int, optional
from logbroker.http.share_partitions import held_elsewhere, share_partition_json

log = logging.getLogger(__name__)

STRATEGIES = ("earliest", "latest", "timestamp", "shift", "offset")

routes = web.RouteTableDef()


def _partitions(tps: Sequence[tuple[str, int]]) -> list[dict[str, Any]]:
    return [{"topic": t, "partition": p} for t, p in tps]


def _committed_offset(found: Any) -> int | None:
    return None if found is None else int(found.offset)


@routes.get("/groups", allow_head=False)
async def list_groups(request: web.Request) -> web.Response:
    """Every group: classic (Kafka clients' JoinGroup) and consumer-protocol (HTTP and KIP-848 members).
    In a cluster each broker coordinates some groups: the others' are gathered from them."""
    every = coordinator(request).list_groups()
    visible = visible_groups(request, (g.group_id for g in every))
    groups = [{"group_id": g.group_id, "protocol_type": g.protocol_type, "state": g.state, "group_type": g.group_type}
              for g in every if g.group_id in visible]
    gathered = await gather(request)
    if gathered:
        seen = {str(g["group_id"]) for g in groups}
        for answer in gathered:
            for g in answer.get("groups", []) if isinstance(answer, dict) else []:
                if isinstance(g, dict) and str(g.get("group_id")) not in seen:  # a group moving shows once
                    seen.add(str(g.get("group_id")))
                    groups.append(g)
        groups.sort(key=lambda g: str(g.get("group_id")))
    return respond(request, {"groups": groups})


def _description(desc: GroupDescription) -> dict[str, Any]:
    consumer = desc.group_type == CONSUMER
    members = []
    for m in desc.members:
        member: dict[str, Any] = {"member_id": m.member_id, "group_instance_id": m.instance_id,
                                  "client_id": m.client_id, "client_host": m.client_host,
                                  "assignment": _partitions(m.partitions)}
        if consumer:
            member["member_epoch"] = m.member_epoch
            member["target_assignment"] = _partitions(m.target_partitions)
        members.append(member)
    return {"group_id": desc.group_id, "group_type": desc.group_type, "state": desc.state,
            "protocol_type": desc.protocol_type, "protocol": desc.protocol_data, "group_epoch": desc.group_epoch,
            "members": members}


async def leader_ends(broker: Broker, lags: Iterable[PartitionLag]
                      ) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], str]]:
    """The log ends of the partitions a coordinator could not read (in a cluster it holds only some),
    asked of their leaders at once; and why, for those whose leader could not be asked."""
    unread = [(lag.topic, lag.partition) for lag in lags
              if lag.log_end_offset < 0 and broker.has_partition(lag.topic, lag.partition)]
    if not unread:
        return {}, {}
    answers = await broker.list_offsets_async(unread, (LATEST,))
    return ({tp: a[0] for tp, a in answers.items() if isinstance(a, tuple)},
            {tp: str(a) for tp, a in answers.items() if not isinstance(a, tuple)})


@routes.get("/groups/{group}", allow_head=False)
async def describe_group(request: web.Request) -> web.Response:
    """State, members with their assignment, committed offsets and lag, the same for every group type."""
    group_id = request.match_info["group"]
    require_group(request, Op.DESCRIBE, group_id)
    groups = coordinator(request)
    desc = groups.describe_group(group_id)
    if desc is None:
        raise group_error(GroupError.GROUP_ID_NOT_FOUND, f"group {group_id!r}")
    if desc.group_type == SHARE:
        # A share group has no committed offsets: each partition's start offset plays their part.
        held = [share_partition_json(s) for s in groups.share.describe_partitions(group_id)]
        # In a cluster the share-partitions of partitions other brokers lead live on those leaders.
        share_group = groups.share.group(group_id)
        subscribed = ({t for m in share_group.members.values() for t in m.subscribed_topics}
                      | {t for t, _ in share_group.partitions}) if share_group is not None else set()
        more, unasked = await held_elsewhere(request, group_id, {(s["topic"], s["partition"]) for s in held},
                                             subscribed)
        every = sorted(held + [{k: v for k, v in s.items() if k != "delivery_counts"} for s in more],
                       key=lambda s: (s["topic"], s["partition"]))
        allowed = visible_topics(request, {s["topic"] for s in every})
        shares = [s for s in every if s["topic"] in allowed]
        offsets = [{"topic": s["topic"], "partition": s["partition"], "committed_offset": s["start_offset"],
                    "log_end_offset": s["log_end_offset"], "lag": s["lag"], "member_id": None, "metadata": ""}
                   for s in shares]
        return respond(request, {**_description(desc), "offsets": offsets, "share_partitions": shares,
                                 **({"errors": unasked} if unasked else {})})
    lags = groups.lag(group_id)
    # As Kafka's OffsetFetch for a whole group: the topics the principal may not describe are left out.
    shown = visible_topics(request, {lag.topic for lag in lags})
    ends, errors = await leader_ends(context(request).broker, [lag for lag in lags if lag.topic in shown])
    if ends:
        lags = groups.lag(group_id, ends)
    offsets = []
    for lag in lags:
        if lag.topic not in shown:
            continue
        row: dict[str, Any] = {"topic": lag.topic, "partition": lag.partition,
                               "committed_offset": lag.committed_offset, "log_end_offset": lag.log_end_offset,
                               "lag": lag.lag, "member_id": lag.member_id, "metadata": lag.metadata}
        error = errors.get((lag.topic, lag.partition))
        if error is not None:
            row["error"] = error
        offsets.append(row)
    return respond(request, {**_description(desc), "offsets": offsets})


@routes.post("/groups/{group}/reset-offsets")
async def reset_offsets(request: web.Request) -> web.Response:
    ctx = context(request)
    broker = ctx.broker
    group_id = request.match_info["group"]
    require_group(request, Op.READ, group_id)  # an offset commit, as Kafka's OffsetCommit
    groups = coordinator(request)
    desc = groups.describe_group(group_id)
    if desc is None:
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
    to_offset = field_int(body, "offset", 0, INT64_MAX)
    if strategy == "offset" and to_offset is None:
        raise bad_request("strategy offset needs an offset")
    dry_run = optional(body, "dry_run") or False
    if not isinstance(dry_run, bool):
        raise bad_request("dry_run must be a boolean")
    topics = optional(body, "topics")
    committed = groups.fetch_offsets(group_id, None)
    if topics is None:
        topics = sorted({t for t, _ in committed})
    elif not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise bad_request("topics must be an array of topic names")
    if desc.active:
        # As kafka-consumer-groups: the members would overwrite the new offsets with their next commit.
        raise group_error(GroupError.NON_EMPTY_GROUP,
                          f"offsets of group {group_id!r} can only be reset while it is inactive, but it is "
                          f"{desc.state} with {len(desc.members)} member(s)")
    new: dict[tuple[str, int], OffsetCommitInput] = {}
    for topic in topics:
        require_topic(request, Op.READ, topic)
    wanted = [(topic, p) for topic in topics for p in range(broker.topic(topic).partitions)]
    # Asked of each partition's leader (this broker for what it leads), all leaders at once.
    asked = (EARLIEST, LATEST) if strategy != "timestamp" or timestamp is None else (EARLIEST, LATEST, timestamp)
    answers = await broker.list_offsets_async(wanted, asked)
    for topic, p in wanted:
        answer = answers[(topic, p)]
        if not isinstance(answer, tuple):
            raise answer
        start, end = answer[0], answer[1]
        if strategy == "earliest":
            target = start
        elif strategy == "latest":
            target = end
        elif strategy == "timestamp":
            found = answer[2]
            target = found if found >= 0 else end
        elif strategy == "offset":
            assert to_offset is not None
            target = min(max(to_offset, start), end)
        else:
            assert shift is not None
            current = committed.get((topic, p))
            target = min(max((current.offset if current is not None else end) + shift, start), end)
        new[(topic, p)] = OffsetCommitInput(target)
    if dry_run:
        return respond(request, {"group_id": group_id, "dry_run": True, "offsets": [
            {"topic": t, "partition": p, "offset": c.offset,
             "committed_offset": _committed_offset(committed.get((t, p)))}
            for (t, p), c in sorted(new.items())]})
    if new:
        results = await groups.commit_offsets(group_id, -1, "", new, ctx.clock())
        failed = [(tp, e) for tp, e in results.items() if not e.ok]
        if failed:
            (topic, p), error = failed[0]
            raise group_error(error, f"committing offset of {topic}-{p} for group {group_id!r}")
    log.info("group %s: offsets reset (%s) for %d partition(s) over HTTP from %s", group_id, strategy, len(new),
             request.remote)
    return respond(request, {"group_id": group_id, "offsets": [
        {"topic": t, "partition": p, "offset": c.offset} for (t, p), c in sorted(new.items())]})


@routes.delete("/groups/{group}")
async def delete_group(request: web.Request) -> web.Response:
    ctx = context(request)
    group_id = request.match_info["group"]
    require_group(request, Op.DELETE, group_id)
    results = await coordinator(request).delete_groups([group_id], ctx.clock())
    error = results.get(group_id, GroupError.NONE)
    if not error.ok:
        raise group_error(error, f"group {group_id!r}")
    log.info("deleted group %s over HTTP from %s", group_id, request.remote)
    return web.Response(status=204)
