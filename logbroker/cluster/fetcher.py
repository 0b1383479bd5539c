"""A follower's replication from one leader over the Kafka protocol (Kafka's ``ReplicaFetcherThread``).

One task per leader broker, for every partition this broker follows there. Before a partition's
first fetch under a leader epoch the follower asks OffsetForLeaderEpoch (v3, with its replica id)
for the end of its own latest epoch on the leader and truncates its log there (KIP-101; when the
leader answers an older epoch, to the smaller of both ends of that epoch, KIP-279; when it answers
undefined, the follower's epoch being unknown there, to the follower's own high watermark, as Kafka's
fetcher does), so its log never keeps records the new leader does not have. Then it fetches (Fetch
v12 with ``ReplicaId`` = its broker id and ``CurrentLeaderEpoch``, KIP-320) from its log end,
appends the batches as they are and keeps the leader's high watermark. A partition the leader
refuses (not leader, fenced or unknown epoch) is dropped until the cluster state says otherwise.

A leader that cannot be reached, or that refuses this broker (its inter-broker credentials), is
tried again after Kafka's reconnect backoff (``reconnect.backoff.ms`` doubling up to
``reconnect.backoff.max.ms``, with jitter; ``backoff.py``); the failure is logged when it starts or
changes, and the recovery once, not every attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from logbroker.broker import Broker
from logbroker.cluster.backoff import ReconnectBackoff
from logbroker.cluster.broker_connection import (
    BrokerConnection,
    InterBrokerAuthenticationFailed,
    InterBrokerSecurity,
    connect,
)
from logbroker.errors import StorageError
from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.errors import ProtocolError

log = logging.getLogger(__name__)

FETCH_VERSION = 12
EPOCH_VERSION = 3
RETRY_S = 0.2  # after a local storage error
_DROP = {ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.FENCED_LEADER_EPOCH, ErrorCode.UNKNOWN_LEADER_EPOCH,
         ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.OFFSET_OUT_OF_RANGE}

TopicPartition = tuple[str, int]


@dataclass(slots=True)
class Followed:
    leader_epoch: int
    truncated: bool = False


class ReplicaFetcher:
    def __init__(self, broker: Broker, broker_id: int, leader_id: int,
                 address: Callable[[], tuple[str, int] | None], *,
                 on_high_watermark: Callable[[TopicPartition, int], None],
                 high_watermark: Callable[[TopicPartition], int],
                 on_dropped: Callable[[TopicPartition], None], wait_ms: int, max_bytes: int,
                 security: InterBrokerSecurity | None = None,
                 backoff: ReconnectBackoff | None = None) -> None:
        self.broker = broker
        self.security = security  # TLS and/or SASL of the inter-broker listener
        self.broker_id = broker_id
        self.leader_id = leader_id
        self._address = address
        self._on_hw = on_high_watermark
        self._hw = high_watermark
        self._on_dropped = on_dropped
        self.wait_ms = wait_ms
        self.max_bytes = max_bytes
        self.partitions: dict[TopicPartition, Followed] = {}
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._conn: BrokerConnection | None = None
        self.backoff = backoff if backoff is not None else ReconnectBackoff(50, 1000)
        self.failure: str | None = None  # what keeps failing now, as last logged (None: fetching)

    def follow(self, tp: TopicPartition, leader_epoch: int) -> None:
        held = self.partitions.get(tp)
        if held is None or held.leader_epoch != leader_epoch:
            self.partitions[tp] = Followed(leader_epoch)
            self._changed.set()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"replica-fetcher-{self.leader_id}")

    def unfollow(self, tp: TopicPartition) -> None:
        if self.partitions.pop(tp, None) is not None:
            self._changed.set()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._disconnect()

    async def _run(self) -> None:
        while True:
            if not self.partitions:
                self._changed.clear()
                await self._changed.wait()
                continue
            try:
                await self._truncate_new()
                await self._fetch_once()
                self._recovered()
            except (OSError, ProtocolError, asyncio.IncompleteReadError, ConnectionError) as exc:
                await self._back_off(logging.INFO, "cannot fetch", exc)
            except InterBrokerAuthenticationFailed as exc:
                await self._back_off(logging.ERROR, "cannot replicate", exc)
            except (StorageError, KeyError) as exc:  # e.g. a topic deleted while its fetch was in flight
                log.warning("fetch from leader %d: %s; retrying", self.leader_id, exc)
                self._disconnect()
                await asyncio.sleep(RETRY_S)

    async def _back_off(self, level: int, what: str, exc: BaseException) -> None:
        """Close the connection and wait the reconnect backoff; log only when the failure is new."""
        self._disconnect()
        wait_s = self.backoff.next_wait_s()
        failure = f"{type(exc).__name__}: {exc}"
        if failure != self.failure:
            self.failure = failure
            log.log(level, "%s from leader %d: %s; retrying with backoff (%d ms doubling to %d ms)", what,
                    self.leader_id, exc, self.backoff.initial_ms, self.backoff.maximum_ms)
        else:
            log.debug("%s from leader %d (attempt %d): %s", what, self.leader_id, self.backoff.failures, exc)
        await asyncio.sleep(wait_s)

    def _recovered(self) -> None:
        if self.failure is not None:
            log.info("fetching from leader %d again after %d failed attempt(s)", self.leader_id,
                     self.backoff.failures)
            self.failure = None
        self.backoff.succeeded()

    async def _request(self, api_key: int, version: int, body: dict[str, Any]) -> dict[str, Any]:
        if self._conn is not None and self._conn.reauth_due:
            # The leader's SASL session ends soon: renew it on this connection (KIP-368), no reconnect.
            await self._conn.reauthenticate()
        if self._conn is None:
            address = self._address()
            if address is None:
                raise ConnectionError(f"leader {self.leader_id} is not registered")
            self._conn = await connect(address, self.security, f"replica-{self.broker_id}")
        return await self._conn.request(api_key, version, f"replica-{self.broker_id}", body,
                                        self.wait_ms / 1000 + 10)

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def _truncate_new(self) -> None:
        pending = {tp: f for tp, f in self.partitions.items() if not f.truncated}
        if not pending:
            return
        topics: dict[str, list[dict[str, Any]]] = {}
        for (topic, partition), f in pending.items():
            latest = self.broker.epoch_cache(topic, partition).latest_epoch
            topics.setdefault(topic, []).append({"partition": partition, "current_leader_epoch": f.leader_epoch,
                                                 "leader_epoch": latest})
        body = {"replica_id": self.broker_id,
                "topics": [{"topic": t, "partitions": ps} for t, ps in topics.items()]}
        answer = await self._request(ApiKey.OFFSET_FOR_LEADER_EPOCH, EPOCH_VERSION, body)
        for t in answer["topics"]:
            for p in t["partitions"]:
                tp = (t["topic"], p["partition"])
                followed = self.partitions.get(tp)
                if followed is None or followed is not pending.get(tp):
                    continue
                if p["error_code"] != 0:
                    log.info("%s-%d: leader %d answered OffsetForLeaderEpoch with error %d", *tp, self.leader_id,
                             p["error_code"])
                    self._drop(tp)
                    continue
                self._truncate(tp, p["leader_epoch"], p["end_offset"])
                followed.truncated = True

    def _truncate(self, tp: TopicPartition, leader_epoch: int, end_offset: int) -> None:
        topic, partition = tp
        own_end = self.broker.log_end_offset(topic, partition)
        if end_offset < 0:
            # Undefined: the leader cannot place our latest epoch (we have none, or one it never had).
            # Kafka's fetcher keeps what is committed, its high watermark, and fetches the rest again.
            target = self._hw(tp)
            if target < own_end:
                log.info("%s-%d: truncating from %d to the high watermark %d (leader %d cannot place epoch %d)",
                         topic, partition, own_end, target, self.leader_id,
                         self.broker.epoch_cache(topic, partition).latest_epoch)
                self.broker.truncate_replica(topic, partition, target)
            return
        target = end_offset
        mine = self.broker.epoch_cache(topic, partition).latest_epoch
        if leader_epoch != mine:
            # KIP-279: the leader does not have our latest epoch; cut where that older epoch ends here too.
            _, own_epoch_end = self.broker.end_offset_for_epoch(topic, partition, leader_epoch)
            if own_epoch_end >= 0:
                target = min(target, own_epoch_end)
        if target < own_end:
            log.info("%s-%d: truncating from %d to %d (leader %d ends epoch %d there)", topic, partition, own_end,
                     target, self.leader_id, leader_epoch)
            self.broker.truncate_replica(topic, partition, target)

    async def _fetch_once(self) -> None:
        ready = {tp: f for tp, f in self.partitions.items() if f.truncated}
        if not ready:
            return
        topics: dict[str, list[dict[str, Any]]] = {}
        for (topic, partition), f in ready.items():
            topics.setdefault(topic, []).append({
                "partition": partition, "current_leader_epoch": f.leader_epoch,
                "fetch_offset": self.broker.log_end_offset(topic, partition), "last_fetched_epoch": -1,
                "log_start_offset": -1, "partition_max_bytes": self.max_bytes})
        body = {"cluster_id": None, "replica_id": self.broker_id, "max_wait_ms": self.wait_ms, "min_bytes": 1,
                "max_bytes": self.max_bytes * max(len(ready), 1), "isolation_level": 0, "session_id": 0,
                "session_epoch": -1, "topics": [{"topic": t, "partitions": ps} for t, ps in topics.items()],
                "forgotten_topics_data": [], "rack_id": ""}
        answer = await self._request(ApiKey.FETCH, FETCH_VERSION, body)
        if answer.get("error_code", 0):
            raise ConnectionError(f"leader {self.leader_id} refused the fetch with error {answer['error_code']}")
        for t in answer["responses"]:
            for p in t["partitions"]:
                tp = (t["topic"], p["partition_index"])
                if self.partitions.get(tp) is not ready.get(tp):
                    continue  # followed anew meanwhile: this answer is for the old epoch
                code = p["error_code"]
                if code in _DROP:
                    log.info("%s-%d: leader %d answered fetch with error %d", *tp, self.leader_id, code)
                    self._drop(tp)
                    continue
                if code != 0:
                    continue
                records = p.get("records")
                end = self.broker.log_end_offset(*tp)
                if records is not None and len(records):
                    try:
                        end = self.broker.append_replica(tp[0], tp[1], memoryview(records))
                    except StorageError as exc:
                        log.error("%s-%d: could not append replicated batches: %s", *tp, exc)
                        self._drop(tp)
                        continue
                self._on_hw(tp, min(int(p["high_watermark"]), end))

    def _drop(self, tp: TopicPartition) -> None:
        self.partitions.pop(tp, None)
        self._on_dropped(tp)
