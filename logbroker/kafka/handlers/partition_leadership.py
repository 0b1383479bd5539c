"""ElectLeaders (43), AlterPartitionReassignments (45), ListPartitionReassignments (46).

In a cluster they are the controller's (``logbroker/cluster/controller.py``); another broker answers
NOT_CONTROLLER (top-level), as Kafka's ZooKeeper-era brokers did, and the client retries on the
controller named in Metadata. Each partition's outcome is mapped with the one error map.

Alone, one broker holds the one replica of every partition and has always led it: a preferred or unclean
election is never needed (ELECTION_NOT_NEEDED per partition, Kafka's answer for a partition whose
preferred replica already leads), no reassignment is ever in progress (an empty list; cancelling
one gets NO_REASSIGNMENT_IN_PROGRESS), and the only replica set a partition can be given is this
broker alone (accepted, and already complete); any other names a broker that does not exist
(INVALID_REPLICA_ASSIGNMENT).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from logbroker.errors import NotControllerError, StorageError
from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.error_map import error_code_for
from logbroker.kafka.handlers import Body, RequestContext
from logbroker.kafka.handlers.access import Op, cluster_allowed
from logbroker.ownership import PartitionOwnership

ELECTION_PREFERRED = 0  # ElectionType; 1 is unclean


Outcome = StorageError | None


def _by_topic(results: Mapping[tuple[str, int], Outcome]) -> dict[str, list[tuple[int, Outcome]]]:
    grouped: dict[str, list[tuple[int, Outcome]]] = {}
    for (topic, partition), error in results.items():
        grouped.setdefault(topic, []).append((partition, error))
    return grouped


def _code(error: StorageError | None) -> tuple[int, str | None]:
    return (0, None) if error is None else (int(error_code_for(error)), str(error))


async def _elect_in_cluster(ownership: PartitionOwnership, body: Body) -> Body:
    preferred = body.get("election_type", ELECTION_PREFERRED) == ELECTION_PREFERRED
    try:
        requested = _requested(body.get("topic_partitions"), "partitions", "topic")
        results = await ownership.elect_leaders(preferred, requested)
    except NotControllerError:
        return {"throttle_time_ms": 0, "error_code": ErrorCode.NOT_CONTROLLER, "replica_election_results": []}
    out: list[Body] = []
    for topic, parts in _by_topic(results).items():
        entries = []
        for p, error in parts:
            code, message = _code(error)
            entries.append({"partition_id": p, "error_code": code, "error_message": message})
        out.append({"topic": topic, "partition_result": entries})
    return {"throttle_time_ms": 0, "error_code": 0, "replica_election_results": out}


async def _reassign_in_cluster(ownership: PartitionOwnership, body: Body) -> Body:
    changes = {(t["name"], p["partition_index"]): p.get("replicas") for t in body["topics"] for p in t["partitions"]}
    out: Body = {"throttle_time_ms": 0,
                 "allow_replication_factor_change": body.get("allow_replication_factor_change", True),
                 "error_code": 0, "error_message": None, "responses": []}
    try:
        results = await ownership.alter_reassignments(changes)
    except NotControllerError as exc:
        return {**out, "error_code": ErrorCode.NOT_CONTROLLER, "error_message": str(exc)}
    for topic, parts in _by_topic(results).items():
        entries = []
        for p, error in parts:
            code, message = _code(error)
            entries.append({"partition_index": p, "error_code": code, "error_message": message})
        out["responses"].append({"name": topic, "partitions": entries})
    return out


def _requested(topics: Sequence[Body] | None, partitions_key: str, name_key: str) -> list[tuple[str, int]] | None:
    if topics is None:
        return None
    return [(t[name_key], p) for t in topics for p in t[partitions_key]]


def _partition_error(ctx: RequestContext, topic: str, partition: int) -> int:
    return 0 if ctx.broker.has_partition(topic, partition) else ErrorCode.UNKNOWN_TOPIC_OR_PARTITION


async def handle_elect_leaders(ctx: RequestContext, body: Body) -> Body:
    if not cluster_allowed(ctx, Op.ALTER):
        return {"throttle_time_ms": 0, "error_code": ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
                "replica_election_results": []}
    ownership = ctx.broker.ownership
    if ownership is not None:
        return await _elect_in_cluster(ownership, body)
    requested = body.get("topic_partitions")
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
    if not cluster_allowed(ctx, Op.ALTER):
        return {"throttle_time_ms": 0, "allow_replication_factor_change": True, "responses": [],
                "error_code": ErrorCode.CLUSTER_AUTHORIZATION_FAILED, "error_message": "Cluster authorization failed."}
    ownership = ctx.broker.ownership
    if ownership is not None:
        return await _reassign_in_cluster(ownership, body)
    node = ctx.broker.node_id
    responses: list[Body] = []
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
    ownership = ctx.broker.ownership
    if ownership is None:
        return {"throttle_time_ms": 0, "error_code": 0, "error_message": None, "topics": []}
    topics: dict[str, list[Body]] = {}
    for r in ownership.list_reassignments(_requested(body.get("topics"), "partition_indexes", "name")):
        topics.setdefault(r.topic, []).append({"partition_index": r.partition, "replicas": list(r.replicas),
                                               "adding_replicas": list(r.adding),
                                               "removing_replicas": list(r.removing)})
    return {"throttle_time_ms": 0, "error_code": 0, "error_message": None,
            "topics": [{"name": name, "partitions": parts} for name, parts in topics.items()]}
