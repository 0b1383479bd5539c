"""Partition sizes asked of their leaders, for views of partitions this broker holds no replica of
(or, for a cluster-wide figure, does not lead).

Kafka's DescribeLogDirs (API 35) is how an admin client learns a partition's size on a broker: it
lists, per log directory, the size in bytes of each replica the broker hosts. Here each leader is
asked for exactly the partitions it leads of those wanted (v4: the request names topics and
partitions; the answer has one result per log directory, its topics, their partitions with
``PartitionSize``), on this broker's pooled connection to it (``peer_connections.py``), all leaders
at once within ``timeout_s``. A partition the leader did not list (it no longer hosts it) or whose
leader could not be asked carries the error, never a made-up 0. DescribeLogDirs carries no segment
count, so none is asked.

Request v4: topics [topic string, partitions [int32]] (null: every replica); response v4:
throttle_time_ms, error_code, results [error_code, log_dir, topics [name, partitions
[partition_index, partition_size int64, offset_lag, is_future_key]], total_bytes, usable_bytes]
(Kafka's ``DescribeLogDirsRequest.json`` / ``DescribeLogDirsResponse.json``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from logbroker.cluster.leader_offsets import ask_each_leader
from logbroker.cluster.peer_connections import PeerConnections
from logbroker.errors import LeaderNotAvailableError, NotLeaderOrFollowerError, StorageError
from logbroker.kafka.api_keys import ApiKey
from logbroker.ownership import PartitionView

DESCRIBE_LOG_DIRS_VERSION = 4

TopicPartition = tuple[str, int]
Size = int | StorageError


async def _ask_one(broker_id: int, peers: PeerConnections, partitions: Sequence[TopicPartition],
                   timeout_s: float) -> dict[TopicPartition, Size]:
    by_topic: dict[str, list[int]] = {}
    for topic, partition in partitions:
        by_topic.setdefault(topic, []).append(partition)
    body = {"topics": [{"topic": t, "partitions": ps} for t, ps in by_topic.items()]}
    answer = await peers.request(broker_id, ApiKey.DESCRIBE_LOG_DIRS, DESCRIBE_LOG_DIRS_VERSION, body, timeout_s)
    if answer.get("error_code"):
        failed = LeaderNotAvailableError(f"leader broker {broker_id} refused DescribeLogDirs with error code "
                                         f"{answer['error_code']}")
        return dict.fromkeys(partitions, failed)
    wanted = set(partitions)
    out: dict[TopicPartition, Size] = {}
    for result in answer["results"]:
        if result["error_code"]:
            continue  # an offline log directory: its partitions stay unanswered below
        for t in result["topics"]:
            for p in t["partitions"]:
                tp = (str(t["name"]), int(p["partition_index"]))
                if tp in wanted and not p["is_future_key"]:
                    out[tp] = int(p["partition_size"])
    for tp in partitions:
        if tp not in out:
            out[tp] = NotLeaderOrFollowerError(f"leader broker {broker_id} does not host {tp[0]}-{tp[1]} "
                                               "(leadership moved; retry)")
    return out


async def ask_sizes(partitions: Sequence[TopicPartition], timeout_s: float, *,
                    view: Callable[[str, int], PartitionView | None],
                    peers: PeerConnections) -> dict[TopicPartition, Size]:
    """Per partition, its size in bytes on its leader, or why it could not be asked."""
    return await ask_each_leader(partitions, timeout_s, "the sizes", view=view,
                                 ask=lambda broker_id, tps: _ask_one(broker_id, peers, tps, timeout_s))
