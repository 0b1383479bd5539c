"""A partition leader's way to the share coordinators of its share-partitions (Kafka's
``DefaultStatePersister`` with its ``PersisterStateManager``), over the inter-broker listener.

The share coordinator of a share-partition is the leader of the ``__share_group_state`` partition
of its key (``groups/share_state.py``), as this broker's cluster view says. When that is this broker,
its own ``ShareCoordinator`` answers; otherwise WriteShareGroupState / ReadShareGroupState v0 go to
that broker (and, from the group coordinator's offsets admin, ReadShareGroupStateSummary and
InitializeShareGroupState) (a state never initialized reads as none; a write refused for that reason is preceded by
InitializeShareGroupState at the write's start offset and state epoch, and sent again), all of them
on one connection per peer (secured as the inter-broker listener is,
``broker_connection.py``), one request at a time per peer, so a share-partition's writes reach its
coordinator in the order they were made; a write still retrying when a newer one of the same
share-partition is made gives way to it (each write holds the whole state, so the newer one holds
the older one's changes too) and answers its outcome, so an older state never lands after a newer
one. Every request carries the share-partition's leader epoch, so a deposed leader's late write is
fenced there.

While the coordinator moves (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS,
no leader, a connection that fails) a request is tried again every ``RETRY_S`` for up to
``RETRY_FOR_S``, about a ZooKeeper session timeout and an election; then its error is answered
(acquisitions are withheld, acknowledgements answered with the error).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from logbroker.broker import Broker
from logbroker.cluster.broker_connection import BrokerConnection, InterBrokerAuthenticationFailed, connect
from logbroker.cluster.node import ClusterNode
from logbroker.groups.share_coordinator import (
    COORDINATOR_NOT_AVAILABLE,
    NONE,
    RETRIABLE,
    UNINITIALIZED,
    ShareCoordinator,
    StateSummary,
)
from logbroker.groups.share_partition import RecordState, StateBatch
from logbroker.groups.share_persister import ReadResult, SummaryResult
from logbroker.groups.share_state import SHARE_STATE_TOPIC, SharePartitionSnapshot
from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.errors import ProtocolError

log = logging.getLogger(__name__)

RETRY_S = 0.2
RETRY_FOR_S = 15.0
REQUEST_TIMEOUT_S = 30.0
UNKNOWN_TOPIC_OR_PARTITION = 3


class ClusterSharePersister:
    def __init__(self, node: ClusterNode, broker: Broker, coordinator: ShareCoordinator) -> None:
        self.node = node
        self.broker = broker
        self.coordinator = coordinator
        self._connections: dict[int, BrokerConnection] = {}
        self._locks: dict[int, asyncio.Lock] = {}  # one request at a time per peer
        self._latest: dict[tuple[str, str, int], asyncio.Future[int]] = {}  # the newest write per share-partition
        self._client_id = f"broker-{node.broker_id}-share-persister"

    # ------------------------------------------------------------------ SharePersister
    def write(self, group: str, topic: str, partition: int, snapshot: SharePartitionSnapshot | None,
              now_ms: int, *, create: bool = True) -> asyncio.Future[int]:
        key = (group, topic, partition)
        mine: list[asyncio.Future[int]] = []

        async def once() -> int | asyncio.Future[int]:
            newer = self._latest.get(key)
            if newer is not None and newer is not mine[0]:
                return newer  # a newer state of this share-partition is on its way: it decides
            return await self._write_once(group, topic, partition, snapshot, create)

        fut = asyncio.ensure_future(self._retrying(once))
        mine.append(fut)
        self._latest[key] = fut
        fut.add_done_callback(lambda f: self._latest.pop(key) if self._latest.get(key) is f else None)
        return fut

    def read(self, group: str, topic: str, partition: int) -> asyncio.Future[ReadResult]:
        async def read() -> ReadResult:
            result: list[SharePartitionSnapshot | None] = [None]

            async def once() -> int:
                code, result[0] = await self._read_once(group, topic, partition)
                return code

            code = await self._retrying(once)
            return code, result[0] if code == NONE else None

        return asyncio.ensure_future(read())

    def read_summary(self, group: str, topic: str, partition: int) -> asyncio.Future[SummaryResult]:
        async def read() -> SummaryResult:
            result: list[StateSummary | None] = [None]

            async def once() -> int:
                code, result[0] = await self._summary_once(group, topic, partition)
                return code

            code = await self._retrying(once)
            return code, result[0] if code == NONE else None

        return asyncio.ensure_future(read())

    def initialize(self, group: str, topic: str, partition: int, state_epoch: int, start_offset: int,
                   now_ms: int) -> asyncio.Future[int]:
        async def once() -> int:
            leader = await self._coordinator_of(group, topic, partition)
            if leader is None:
                return COORDINATOR_NOT_AVAILABLE
            if leader < 0:
                return UNKNOWN_TOPIC_OR_PARTITION
            if leader == self.node.broker_id:
                return await self.coordinator.initialize(group, topic, partition, state_epoch, start_offset, now_ms)
            answer = await self._call(leader, ApiKey.INITIALIZE_SHARE_GROUP_STATE, {"group_id": group, "topics": [
                {"topic_id": self.broker.topic_id(topic), "partitions": [
                    {"partition": partition, "state_epoch": state_epoch, "start_offset": start_offset}]}]})
            return COORDINATOR_NOT_AVAILABLE if answer is None else _code(answer)

        return asyncio.ensure_future(self._retrying(once))

    async def _summary_once(self, group: str, topic: str, partition: int) -> tuple[int, StateSummary | None]:
        leader = await self._coordinator_of(group, topic, partition)
        if leader is None:
            return COORDINATOR_NOT_AVAILABLE, None
        if leader < 0:
            return UNKNOWN_TOPIC_OR_PARTITION, None
        if leader == self.node.broker_id:
            code, summary = self.coordinator.read_summary(group, topic, partition)
            return (NONE, None) if code == UNINITIALIZED else (code, summary)
        answer = await self._call(leader, ApiKey.READ_SHARE_GROUP_STATE_SUMMARY, {"group_id": group, "topics": [
            {"topic_id": self.broker.topic_id(topic), "partitions": [{"partition": partition, "leader_epoch": -1}]}]})
        if answer is None:
            return COORDINATOR_NOT_AVAILABLE, None
        code = _code(answer)
        if code == UNINITIALIZED:
            return NONE, None
        if code:
            return code, None
        p = answer["results"][0]["partitions"][0]
        return NONE, StateSummary(p["state_epoch"], p["leader_epoch"], p["start_offset"])

    async def close(self) -> None:
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()

    # ------------------------------------------------------------------ routing
    async def _retrying(self, once: Callable[[], Awaitable[int | asyncio.Future[int]]]) -> int:
        deadline = time.monotonic() + RETRY_FOR_S
        while True:
            outcome = await once()
            if isinstance(outcome, asyncio.Future):
                return await asyncio.shield(outcome)
            if outcome not in RETRIABLE or time.monotonic() >= deadline:
                return outcome
            await asyncio.sleep(RETRY_S)

    async def _coordinator_of(self, group: str, topic: str, partition: int) -> int | None:
        """The broker coordinating the share-partition's state; None (retry) while none does."""
        if not self.broker.has_topic(SHARE_STATE_TOPIC):
            await self.coordinator.ensure_topic()
            return None
        where = self.coordinator.partition_of(group, topic, partition)
        if where is None:
            return -1
        leader = self.coordinator.locate(where)
        return leader if leader >= 0 else None

    async def _write_once(self, group: str, topic: str, partition: int,
                          snapshot: SharePartitionSnapshot | None, create: bool) -> int:
        leader = await self._coordinator_of(group, topic, partition)
        if leader is None:
            return COORDINATOR_NOT_AVAILABLE
        if leader < 0:
            return UNKNOWN_TOPIC_OR_PARTITION
        epoch = self.node.leader_epoch(topic, partition)
        if leader == self.node.broker_id:
            return await self.coordinator.write(group, topic, partition, snapshot, self.broker.clock(), epoch,
                                                create=create)
        topic_id = self.broker.topic_id(topic)
        if snapshot is None:
            api, body = ApiKey.DELETE_SHARE_GROUP_STATE, {"group_id": group, "topics": [
                {"topic_id": topic_id, "partitions": [{"partition": partition}]}]}
        else:
            api, body = ApiKey.WRITE_SHARE_GROUP_STATE, {"group_id": group, "topics": [
                {"topic_id": topic_id, "partitions": [{
                    "partition": partition, "state_epoch": snapshot.state_epoch, "leader_epoch": epoch,
                    "start_offset": snapshot.start_offset,
                    "state_batches": [{"first_offset": b.first_offset, "last_offset": b.last_offset,
                                       "delivery_state": int(b.state), "delivery_count": min(b.delivery_count, 32767)}
                                      for b in snapshot.batches]}]}]}
        answer = await self._call(leader, api, body)
        code = COORDINATOR_NOT_AVAILABLE if answer is None else _code(answer)
        if code == UNINITIALIZED and snapshot is not None and create:
            # The first state of this share-partition: initialize it, then write again.
            await self._call(leader, ApiKey.INITIALIZE_SHARE_GROUP_STATE, {"group_id": group, "topics": [
                {"topic_id": topic_id, "partitions": [{"partition": partition, "state_epoch": snapshot.state_epoch,
                                                       "start_offset": snapshot.start_offset}]}]})
            answer = await self._call(leader, api, body)
            code = COORDINATOR_NOT_AVAILABLE if answer is None else _code(answer)
        return code

    async def _read_once(self, group: str, topic: str, partition: int) -> tuple[int, SharePartitionSnapshot | None]:
        leader = await self._coordinator_of(group, topic, partition)
        if leader is None:
            return COORDINATOR_NOT_AVAILABLE, None
        if leader < 0:
            return UNKNOWN_TOPIC_OR_PARTITION, None
        epoch = self.node.leader_epoch(topic, partition)
        if leader == self.node.broker_id:
            code, held = self.coordinator.read(group, topic, partition, epoch)
            return (NONE, None) if code == UNINITIALIZED else (code, held)
        wanted = {"partition": partition, "leader_epoch": epoch}
        answer = await self._call(leader, ApiKey.READ_SHARE_GROUP_STATE, {"group_id": group, "topics": [
            {"topic_id": self.broker.topic_id(topic), "partitions": [wanted]}]})
        if answer is None:
            return COORDINATOR_NOT_AVAILABLE, None
        code = _code(answer)
        if code == UNINITIALIZED:
            return NONE, None  # nothing stored yet
        if code:
            return code, None
        p = answer["results"][0]["partitions"][0]
        return NONE, SharePartitionSnapshot(p["start_offset"], p["state_epoch"], tuple(
            StateBatch(b["first_offset"], b["last_offset"], RecordState(b["delivery_state"]), b["delivery_count"])
            for b in p["state_batches"]))

    async def _call(self, broker_id: int, api: int, body: dict[str, Any]) -> dict[str, Any] | None:
        """One request to another broker; None when it could not be sent or answered (the connection
        is dropped and opened again next time)."""
        async with self._locks.setdefault(broker_id, asyncio.Lock()):
            conn = self._connections.get(broker_id)
            try:
                if conn is not None and conn.reauth_due:
                    await conn.reauthenticate()  # KIP-368: renew the session on the open connection
                if conn is None:
                    address = self._address(broker_id)
                    if address is None:
                        return None
                    conn = await connect(address, self.node.inter_broker_security, self._client_id)
                    self._connections[broker_id] = conn
                return await conn.request(api, 0, self._client_id, body, REQUEST_TIMEOUT_S)
            except (OSError, ProtocolError, asyncio.IncompleteReadError, TimeoutError,
                    InterBrokerAuthenticationFailed) as exc:
                log.info("share state request %s to broker %d failed: %s", ApiKey(api).name, broker_id, exc)
                dropped = self._connections.pop(broker_id, None)
                if dropped is not None:
                    dropped.close()
                return None

    def _address(self, broker_id: int) -> tuple[str, int] | None:
        reg = self.node.brokers.get(broker_id)
        return (reg.host, reg.port) if reg is not None else None


def _code(answer: dict[str, Any]) -> int:
    try:
        return int(answer["results"][0]["partitions"][0]["error_code"])
    except (KeyError, IndexError):
        return COORDINATOR_NOT_AVAILABLE
