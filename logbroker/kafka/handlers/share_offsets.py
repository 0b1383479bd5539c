"""The admin APIs of share-group start offsets (KIP-932): DescribeShareGroupOffsets (90),
AlterShareGroupOffsets (91) and DeleteShareGroupOffsets (92), what ``kafka-share-groups``
``--describe`` / ``--reset-offsets`` / ``--delete-offsets`` send. Translations onto
``logbroker.groups.shares.ShareGroups``; a share-partition's "offset" is its start offset (SPSO). In
a cluster the group coordinator describes and resets them at each share-partition's share
coordinator (ReadShareGroupStateSummary, InitializeShareGroupState).

DescribeShareGroupOffsets on a broker that does not coordinate the group, as Kafka 4.1.1 answers it
(``GroupCoordinatorService.describeShareGroupOffsets`` reads named partitions from the persister
without a coordinator check; ``describeShareGroupAllOffsets`` runs on the group's
``__consumer_offsets`` partition): named partitions are asked of their share coordinators all the
same; a group asked for all its partitions is NOT_COORDINATOR (the list is the coordinator's).
"""

from __future__ import annotations

import uuid

from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.handlers import Body, RequestContext
from logbroker.kafka.handlers.access import Op, group_allowed, topic_allowed

NON_EMPTY_GROUP = 68
ZERO_UUID = uuid.UUID(int=0)  # the topic id of a topic that does not exist


def _topic_id(ctx: RequestContext, name: str) -> object:
    return ctx.broker.topic_id(name) if ctx.broker.has_topic(name) else None


async def handle_describe_share_group_offsets(ctx: RequestContext, body: Body) -> Body:
    share = ctx.coordinator.share if ctx.coordinator is not None else None
    out: list[Body] = []
    for g in body.get("groups") or []:
        group_id = g["group_id"]
        entry: Body = {"group_id": group_id, "topics": [], "error_code": 0, "error_message": None}
        out.append(entry)
        if share is None:
            entry["error_code"] = ErrorCode.COORDINATOR_NOT_AVAILABLE
            continue
        if not group_allowed(ctx, Op.DESCRIBE, group_id):
            entry.update(error_code=ErrorCode.GROUP_AUTHORIZATION_FAILED, error_message="Group authorization failed.")
            continue
        coordinated = ctx.coordinator is None or ctx.coordinator.owns(group_id)
        if not coordinated and g.get("topics") is None:
            entry.update(error_code=ErrorCode.NOT_COORDINATOR,
                         error_message=f"this broker does not coordinate group {group_id}")
            continue
        if coordinated and share.group(group_id) is None:
            entry.update(error_code=ErrorCode.GROUP_ID_NOT_FOUND, error_message=f"no share group {group_id}")
            continue
        asked = None if g.get("topics") is None else [
            (t["topic_name"], p) for t in g["topics"] for p in t.get("partitions") or []
            if topic_allowed(ctx, Op.DESCRIBE, t["topic_name"])]
        starts = await share.describe_start_offsets(group_id, asked)
        wanted: dict[str, list[int]] = {}
        if g.get("topics") is None:
            for topic, partition in starts:
                wanted.setdefault(topic, []).append(partition)
        else:
            for t in g["topics"]:
                wanted.setdefault(t["topic_name"], []).extend(t.get("partitions") or [])
        for topic, partitions in wanted.items():
            if not topic_allowed(ctx, Op.DESCRIBE, topic):
                if g.get("topics") is not None:
                    entry["topics"].append({"topic_name": topic, "topic_id": ZERO_UUID, "partitions": [{
                        "partition_index": p, "start_offset": -1, "leader_epoch": -1,
                        "error_code": ErrorCode.TOPIC_AUTHORIZATION_FAILED, "error_message": None}
                        for p in partitions]})
                continue
            topic_id = _topic_id(ctx, topic)
            entry["topics"].append({"topic_name": topic, "topic_id": topic_id or ZERO_UUID,
                                    "partitions": [{
                                        "partition_index": p, "start_offset": starts.get((topic, p), (-1, 0))[0],
                                        "leader_epoch": -1,
                                        "error_code": (starts.get((topic, p), (-1, 0))[1] if topic_id is not None
                                                       else ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
                                        "error_message": None} for p in partitions]})
    return {"throttle_time_ms": 0, "groups": out}


async def handle_alter_share_group_offsets(ctx: RequestContext, body: Body) -> Body:
    share = ctx.coordinator.share if ctx.coordinator is not None else None
    response: Body = {"throttle_time_ms": 0, "error_code": 0, "error_message": None, "responses": []}
    if share is None:
        return response | {"error_code": ErrorCode.COORDINATOR_NOT_AVAILABLE}
    group_id = body.get("group_id") or ""
    if not group_id:
        return response | {"error_code": ErrorCode.INVALID_GROUP_ID}
    if not group_allowed(ctx, Op.READ, group_id):
        return response | {"error_code": ErrorCode.GROUP_AUTHORIZATION_FAILED,
                           "error_message": "Group authorization failed."}
    if any(not topic_allowed(ctx, Op.READ, t["topic_name"]) for t in body.get("topics") or []):
        return response | {"error_code": ErrorCode.TOPIC_AUTHORIZATION_FAILED,
                           "error_message": "Topic authorization failed."}
    existing = ctx.coordinator.group(group_id) if ctx.coordinator is not None else None
    if existing is not None and share.group(group_id) is None:
        return response | {"error_code": ErrorCode.GROUP_ID_NOT_FOUND,
                           "error_message": f"{group_id} is not a share group"}
    group = share.group(group_id)
    if group is not None and group.members:
        return response | {"error_code": NON_EMPTY_GROUP, "error_message": "the share group has members"}
    offsets = {(t["topic_name"], p["partition_index"]): p["start_offset"]
               for t in body.get("topics") or [] for p in t.get("partitions") or []}
    results = await share.alter_start_offsets_async(group_id, offsets, ctx.broker.clock())
    by_topic: dict[str, list[Body]] = {}
    for (topic, partition), code in sorted(results.items()):
        by_topic.setdefault(topic, []).append({"partition_index": partition, "error_code": code, "error_message": None})
    response["responses"] = [{"topic_name": t, "topic_id": _topic_id(ctx, t) or ZERO_UUID,
                              "partitions": parts} for t, parts in by_topic.items()]
    return response


async def handle_delete_share_group_offsets(ctx: RequestContext, body: Body) -> Body:
    share = ctx.coordinator.share if ctx.coordinator is not None else None
    response: Body = {"throttle_time_ms": 0, "error_code": 0, "error_message": None, "responses": []}
    if share is None:
        return response | {"error_code": ErrorCode.COORDINATOR_NOT_AVAILABLE}
    group_id = body.get("group_id") or ""
    if not group_allowed(ctx, Op.DELETE, group_id):
        return response | {"error_code": ErrorCode.GROUP_AUTHORIZATION_FAILED,
                           "error_message": "Group authorization failed."}
    if any(not topic_allowed(ctx, Op.READ, t["topic_name"]) for t in body.get("topics") or []):
        return response | {"error_code": ErrorCode.TOPIC_AUTHORIZATION_FAILED,
                           "error_message": "Topic authorization failed."}
    group = share.group(group_id)
    if group is None:
        return response | {"error_code": ErrorCode.GROUP_ID_NOT_FOUND, "error_message": f"no share group {group_id}"}
    if group.members:
        return response | {"error_code": NON_EMPTY_GROUP, "error_message": "the share group has members"}
    names = [t["topic_name"] for t in body.get("topics") or []]
    tps = share.partitions_of(group_id, names)
    results = await share.delete_start_offsets(group_id, tps, ctx.broker.clock())
    for name in names:
        codes = [c for tp, c in results.items() if tp[0] == name]
        topic_id = _topic_id(ctx, name)
        code = next((c for c in codes if c), 0) if topic_id is not None else ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        response["responses"].append({"topic_name": name, "topic_id": topic_id or ZERO_UUID,
                                      "error_code": code, "error_message": None})
    return response
