"""ListOffsets (2), OffsetForLeaderEpoch (23), DeleteRecords (21)."""

from __future__ import annotations

from logbroker.errors import StorageError
from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.error_map import error_code_for
from logbroker.kafka.handlers import Body, RequestContext
from logbroker.kafka.handlers.access import Op, cluster_allowed, topic_allowed
from logbroker.kafka.handlers.metadata import LEADER_EPOCH


async def handle_list_offsets(ctx: RequestContext, body: Body) -> Body:
    broker = ctx.broker
    topics: list[Body] = []
    for t in body["topics"]:
        parts: list[Body] = []
        topics.append({"name": t["name"], "partitions": parts})
        describable = topic_allowed(ctx, Op.DESCRIBE, t["name"])
        for p in t["partitions"]:
            entry: Body = {"partition_index": p["partition_index"], "error_code": 0, "timestamp": -1,
                           "offset": -1, "leader_epoch": LEADER_EPOCH, "old_style_offsets": []}
            parts.append(entry)
            if not describable:
                entry["error_code"] = ErrorCode.TOPIC_AUTHORIZATION_FAILED
                continue
            try:
                offset, ts = broker.offset_for_timestamp(t["name"], p["partition_index"], p["timestamp"])
            except StorageError as exc:
                entry["error_code"] = error_code_for(exc)
                continue
            entry["offset"], entry["timestamp"] = offset, ts
            if ctx.api_version == 0:
                entry["old_style_offsets"] = [offset] if offset >= 0 else []
    return {"throttle_time_ms": 0, "topics": topics}


async def handle_offset_for_leader_epoch(ctx: RequestContext, body: Body) -> Body:
    """The end offset of a leader epoch (KIP-101/KIP-279): followers truncate to it after a leader change.

    A single broker has only ever had epoch 0, which ends at the log end; in a cluster the answer
    comes from the partition's leader-epoch cache and only the leader answers (KIP-320 fencing).
    """
    broker = ctx.broker
    topics: list[Body] = []
    # Kafka: a follower (replica id >= 0) needs CLUSTER_ACTION, a client DESCRIBE on the topic.
    follower = body.get("replica_id", -1) >= 0
    follower_ok = follower and cluster_allowed(ctx, Op.CLUSTER_ACTION)
    for t in body["topics"]:
        parts: list[Body] = []
        topics.append({"topic": t["topic"], "partitions": parts})
        ok = follower_ok if follower else topic_allowed(ctx, Op.DESCRIBE, t["topic"])
        for p in t["partitions"]:
            entry: Body = {"error_code": 0, "partition": p["partition"], "leader_epoch": LEADER_EPOCH,
                           "end_offset": -1}
            parts.append(entry)
            if not ok:
                entry["error_code"] = ErrorCode.TOPIC_AUTHORIZATION_FAILED
                continue
            current = p.get("current_leader_epoch", -1)
            try:
                if broker.ownership is None:
                    if current > LEADER_EPOCH:
                        entry["error_code"] = ErrorCode.UNKNOWN_LEADER_EPOCH
                        continue
                    end = broker.offsets(t["topic"], p["partition"])[1]
                    if p["leader_epoch"] != LEADER_EPOCH:
                        # Kafka: an epoch this log never had, newer (or undefined), has no end it can name.
                        entry["leader_epoch"], end = -1, -1
                    entry["end_offset"] = end
                    continue
                broker.ownership.check_leader(t["topic"], p["partition"], current)
                epoch, end = broker.end_offset_for_epoch(t["topic"], p["partition"], p["leader_epoch"])
                entry["leader_epoch"], entry["end_offset"] = epoch, end
            except StorageError as exc:
                entry["error_code"] = error_code_for(exc)
    return {"throttle_time_ms": 0, "topics": topics}


async def handle_delete_records(ctx: RequestContext, body: Body) -> Body:
    broker = ctx.broker
    topics: list[Body] = []
    for t in body["topics"]:
        parts: list[Body] = []
        topics.append({"name": t["name"], "partitions": parts})
        deletable = topic_allowed(ctx, Op.DELETE, t["name"])
        for p in t["partitions"]:
            entry: Body = {"partition_index": p["partition_index"], "low_watermark": -1, "error_code": 0}
            parts.append(entry)
            if not deletable:
                entry["error_code"] = ErrorCode.TOPIC_AUTHORIZATION_FAILED
                continue
            try:
                entry["low_watermark"] = broker.delete_records(t["name"], p["partition_index"], p["offset"])
            except StorageError as exc:
                entry["error_code"] = error_code_for(exc)
    return {"throttle_time_ms": 0, "topics": topics}
