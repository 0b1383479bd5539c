"""Partition offsets asked of their leaders, for views of partitions this broker holds no replica of.

A broker of a cluster keeps directories only for the partitions it replicates, so the HTTP API's
partition views and a group coordinator's lag and offset resets need another broker's figures.
They ask as a consumer would: ListOffsets v1 (replica id -1, so ``latest`` is the high watermark)
to each leader on the inter-broker listener, secured as that listener is, on this broker's one
pooled connection to that leader (``peer_connections.py``). The partitions of one leader travel in
one request per timestamp, pipelined; the leaders are asked at the same time and the whole question
is bounded by ``timeout_s``. A partition whose leader could not be asked (none elected, no address, no answer in
time, an error code) gets the error instead of offsets, never a made-up 0.

ListOffsets v1 request: replica_id int32, topics [name string, partitions [partition_index int32,
timestamp int64]]; response: topics [name, partitions [partition_index, error_code int16,
timestamp int64, offset int64]] (Kafka's ``ListOffsetsRequest.json`` / ``ListOffsetsResponse.json``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

from logbroker.cluster.peer_connections import CONNECTION_ERRORS, PeerConnections
from logbroker.errors import LeaderNotAvailableError, NotLeaderOrFollowerError, StorageError, UnknownTopicError
from logbroker.kafka.api_keys import ApiKey
from logbroker.ownership import PartitionView

log = logging.getLogger(__name__)

LIST_OFFSETS_VERSION = 1
UNKNOWN_TOPIC_OR_PARTITION = 3
NOT_LEADER_OR_FOLLOWER = 6

TopicPartition = tuple[str, int]
Answer = tuple[int, ...] | StorageError
T = TypeVar("T")


def _refusal(broker_id: int, tp: TopicPartition, code: int) -> StorageError:
    what = f"leader broker {broker_id} answered error code {code} for {tp[0]}-{tp[1]}"
    if code == UNKNOWN_TOPIC_OR_PARTITION:
        return UnknownTopicError(what)
    if code == NOT_LEADER_OR_FOLLOWER:
        return NotLeaderOrFollowerError(what + " (leadership moved; retry)")
    return LeaderNotAvailableError(what)


async def _ask_one(broker_id: int, peers: PeerConnections, partitions: Sequence[TopicPartition],
                   timestamps: Sequence[int], timeout_s: float) -> dict[TopicPartition, Answer]:
    by_topic: dict[str, list[int]] = {}
    for topic, partition in partitions:
        by_topic.setdefault(topic, []).append(partition)
    found: dict[TopicPartition, list[int]] = {tp: [] for tp in partitions}
    out: dict[TopicPartition, Answer] = {}
    bodies = [{"replica_id": -1, "topics": [
        {"name": t, "partitions": [{"partition_index": p, "timestamp": timestamp} for p in ps]}
        for t, ps in by_topic.items()]} for timestamp in timestamps]
    # One request per timestamp, pipelined on the one connection to that broker.
    answers = await asyncio.gather(*(peers.request(broker_id, ApiKey.LIST_OFFSETS, LIST_OFFSETS_VERSION, body,
                                                   timeout_s) for body in bodies))
    for answer in answers:
        for t in answer["topics"]:
            for p in t["partitions"]:
                tp = (str(t["name"]), int(p["partition_index"]))
                if tp not in found or tp in out:
                    continue
                if p["error_code"]:
                    out[tp] = _refusal(broker_id, tp, int(p["error_code"]))
                else:
                    found[tp].append(int(p["offset"]))
    for tp, offsets in found.items():
        if tp not in out:
            out[tp] = (tuple(offsets) if len(offsets) == len(timestamps)
                       else LeaderNotAvailableError(f"leader broker {broker_id} did not answer for {tp[0]}-{tp[1]}"))
    return out


def by_leader(partitions: Sequence[TopicPartition], view: Callable[[str, int], PartitionView | None]
              ) -> tuple[dict[int, list[TopicPartition]], dict[TopicPartition, StorageError]]:
    """The partitions grouped by their leader, and the error of those without a known leader."""
    out: dict[TopicPartition, StorageError] = {}
    grouped: dict[int, list[TopicPartition]] = {}
    for tp in dict.fromkeys(partitions):
        v = view(*tp)
        if v is None:
            out[tp] = UnknownTopicError(f"unknown topic or partition {tp[0]}-{tp[1]}")
        elif v.leader < 0:
            held_by = ", ".join(f"broker {b}" for b in v.replicas) or "no broker"
            out[tp] = LeaderNotAvailableError(f"{tp[0]}-{tp[1]} has no leader at the moment (replicas: {held_by})")
        else:
            grouped.setdefault(v.leader, []).append(tp)
    return grouped, out


def unreachable(broker_id: int, what: str, exc: BaseException) -> StorageError:
    """The error of a question ``broker_id`` could not be asked (logged once per question)."""
    reason = str(exc) or type(exc).__name__
    log.info("asking leader broker %d for %s failed: %s", broker_id, what, reason)
    return LeaderNotAvailableError(f"leader broker {broker_id} could not be asked: {reason}")


async def ask_each_leader(partitions: Sequence[TopicPartition], timeout_s: float, what: str, *,
                          view: Callable[[str, int], PartitionView | None],
                          ask: Callable[[int, list[TopicPartition]], Awaitable[Mapping[TopicPartition, T]]]
                          ) -> dict[TopicPartition, T | StorageError]:
    """Group ``partitions`` by leader and ``ask`` every leader for its own, in parallel, within
    ``timeout_s`` in all; a partition without a known leader, or whose leader could not be asked
    (``what`` names the question in the error), gets the error instead of an answer."""
    grouped, errors = by_leader(partitions, view)
    out: dict[TopicPartition, T | StorageError] = dict(errors)

    async def one(broker_id: int, tps: list[TopicPartition]) -> Mapping[TopicPartition, T | StorageError]:
        try:
            return await asyncio.wait_for(ask(broker_id, tps), timeout_s)
        except CONNECTION_ERRORS as exc:
            return dict.fromkeys(tps, unreachable(broker_id, f"{what} of {len(tps)} partition(s)", exc))

    for answers in await asyncio.gather(*(one(b, tps) for b, tps in grouped.items())):
        out.update(answers)
    return out


async def ask_leaders(partitions: Sequence[TopicPartition], timestamps: Sequence[int], timeout_s: float, *,
                      view: Callable[[str, int], PartitionView | None],
                      peers: PeerConnections) -> dict[TopicPartition, Answer]:
    """Per partition, the offsets its leader answers for each of ``timestamps`` (Kafka ListOffsets:
    -2 log start, -1 high watermark, else the first offset at or after that time, -1 when none), or
    why it could not be asked. Leaders are asked in parallel, within ``timeout_s`` in all."""
    return await ask_each_leader(
        partitions, timeout_s, "the offsets", view=view,
        ask=lambda broker_id, tps: _ask_one(broker_id, peers, tps, timestamps, timeout_s))
