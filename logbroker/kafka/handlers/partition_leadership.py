"""ElectLeaders (43), AlterPartitionReassignments (45), ListPartitionReassignments (46), as a
single-node Kafka answers them.

One broker holds the one replica of every partition and has always led it: a preferred or unclean
election is never needed (ELECTION_NOT_NEEDED per partition, Kafka's answer for a partition whose
preferred replica already leads), no reassignment is ever in progress (an empty list; cancelling
one gets NO_REASSIGNMENT_IN_PROGRESS), and the only replica set a partition can be given is this
broker alone (accepted, and already complete); any other names a broker that does not exist
(INVALID_REPLICA_ASSIGNMENT).
"""

from __future__ import annotations

from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.handlers import Body, RequestContext
from logbroker.kafka.handlers.access import Op, cluster_allowed


def _partition_error(ctx: RequestContext, topic: str, partition: int) -> int:
    return 0 if ctx.broker.has_partition(topic, partition) else ErrorCode.UNKNOWN_TOPIC_OR_PARTITION


async def handle_elect_leaders(ctx: RequestContext, body: Body) -> Body:
    requested = body.get("topic_partitions")
    if not cluster_allowed(ctx, Op.ALTER):
        return {"throttle_time_ms": 0, "error_code": ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
                "replica_election_results": []}
    if requested is None:  # every partition; Kafka lists none of those already led by their preferred replica
        return {"throttle_time_ms": 0, "error_code": 0, "replica_election_results": []}
    results: list[Body] = []
    for t in requested:
        parts: list[Body] = []
        for p in t["partitions"]:
            error = _partition_error(ctx, t["topic"], p) or ErrorCode.ELECTION_NOT_NEEDED
            message = ("Leader election not needed for topic partition." if error == ErrorCode.ELECTION_NOT_NEEDED
                       else None)
            parts.append({"partition_id": p, "error_code": error, "error_message": message})
        results.append({"topic": t["topic"], "partition_result": parts})
    return {"throttle_time_ms": 0, "error_code": 0, "replica_election_results": results}


async def handle_alter_partition_reassignments(ctx: RequestContext, body: Body) -> Body:
    node = ctx.broker.node_id
    responses: list[Body] = []
    if not cluster_allowed(ctx, Op.ALTER):
        return {"throttle_time_ms": 0, "allow_replication_factor_change": True, "responses": [],
                "error_code": ErrorCode.CLUSTER_AUTHORIZATION_FAILED, "error_message": "Cluster authorization failed."}
    for t in body["topics"]:
        parts: list[Body] = []
        for p in t["partitions"]:
            entry: Body = {"partition_index": p["partition_index"], "error_code": 0, "error_message": None}
            parts.append(entry)
            replicas = p.get("replicas")
            error = _partition_error(ctx, t["name"], p["partition_index"])
            if error:
                entry["error_code"] = error
            elif replicas is None:
                entry["error_code"] = ErrorCode.NO_REASSIGNMENT_IN_PROGRESS
                entry["error_message"] = "There is no ongoing reassignment for this partition to cancel."
            elif replicas != [node]:
                entry["error_code"] = ErrorCode.INVALID_REPLICA_ASSIGNMENT
                entry["error_message"] = f"The only broker is {node}; replicas {replicas} cannot be assigned."
        responses.append({"name": t["name"], "partitions": parts})
    return {"throttle_time_ms": 0, "allow_replication_factor_change": body.get("allow_replication_factor_change", True),
            "error_code": 0, "error_message": None, "responses": responses}


async def handle_list_partition_reassignments(ctx: RequestContext, body: Body) -> Body:
    if not cluster_allowed(ctx, Op.DESCRIBE):
        return {"throttle_time_ms": 0, "error_code": ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
                "error_message": "Cluster authorization failed.", "topics": []}
    return {"throttle_time_ms": 0, "error_code": 0, "error_message": None, "topics": []}
