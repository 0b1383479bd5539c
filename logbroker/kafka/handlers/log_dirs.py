"""DescribeLogDirs (35), AlterReplicaLogDirs (34): the broker's one log directory and each
partition's size in it.

Sizes come from the core (``Broker.log_dir_usage``). A single node has no replica moving between
directories, so no partition is a "future" replica and none lags (``OffsetLag`` 0).
"""

from __future__ import annotations

from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.handlers import Body, RequestContext
from logbroker.kafka.handlers.access import Op, cluster_allowed


async def handle_describe_log_dirs(ctx: RequestContext, body: Body) -> Body:
    if not cluster_allowed(ctx, Op.DESCRIBE):
        return {"throttle_time_ms": 0, "error_code": ErrorCode.CLUSTER_AUTHORIZATION_FAILED, "results": []}
    requested = body.get("topics")
    wanted = None if requested is None else {t["topic"]: t["partitions"] for t in requested}
    usage = ctx.broker.log_dir_usage(wanted)
    by_topic: dict[str, list[Body]] = {}
    for p in usage.partitions:
        by_topic.setdefault(p.topic, []).append({"partition_index": p.partition, "partition_size": p.size_bytes,
                                                 "offset_lag": 0, "is_future_key": False})
    topics = [{"name": name, "partitions": parts} for name, parts in by_topic.items()]
    result = {"error_code": 0, "log_dir": usage.path, "topics": topics, "total_bytes": usage.total_bytes,
              "usable_bytes": usage.usable_bytes}
    return {"throttle_time_ms": 0, "error_code": 0, "results": [result]}


async def handle_alter_replica_log_dirs(ctx: RequestContext, body: Body) -> Body:
    """Moving a replica to the directory it is in is a no-op that succeeds, as in Kafka; this broker
    has one log directory, so any other path is LOG_DIR_NOT_FOUND."""
    here = ctx.broker.log_dir_usage({}).path
    results: dict[str, list[Body]] = {}
    may_alter = cluster_allowed(ctx, Op.ALTER)
    for d in body["dirs"]:
        for t in d["topics"]:
            for p in t["partitions"]:
                if not may_alter:
                    error = ErrorCode.CLUSTER_AUTHORIZATION_FAILED
                elif not ctx.broker.has_partition(t["name"], p):
                    error = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
                elif d["path"].rstrip("/") != here.rstrip("/"):
                    error = ErrorCode.LOG_DIR_NOT_FOUND
                else:
                    error = ErrorCode.NONE
                results.setdefault(t["name"], []).append({"partition_index": p, "error_code": error})
    return {"throttle_time_ms": 0,
            "results": [{"topic_name": name, "partitions": parts} for name, parts in results.items()]}
