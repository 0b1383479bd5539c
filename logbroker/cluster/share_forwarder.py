"""The group coordinator acting for its HTTP share-group members at the leaders of their partitions
(``groups/share_remote.py`` says why).

For each (group, member, leader) it keeps a share session as a Kafka share consumer does (KIP-932):
the first ShareFetch opens it (epoch 0) with the partitions wanted, later requests carry the next
epoch, add the partitions newly wanted (``Topics``) and drop the ones no longer wanted
(``ForgottenTopicsData``); ShareAcknowledge carries the next epoch too, and the member's departure
closes every session (ShareAcknowledge with epoch -1, which releases what it still holds there);
so does a periodic ``sweep`` for the members the coordinator no longer has (expired, or the group
moved). The requests of one session go one at a time, so epochs stay in order; they travel on this
broker's pooled connection to the leader (``peer_connections.py``, a pool of its own, so that these requests
never queue behind the views' questions). A session the leader no longer knows (it restarted, or
another broker leads now and this one lost the session) is opened again on the next fetch; the
acknowledgements that hit it answer INVALID_RECORD_STATE, as the records were released there.

Fetches never wait at the leader (``MaxWaitMs`` 0): a long poll of the HTTP API asks again every
100 ms, so one member's wait never holds the answers of others on the shared connection (a broker
answers a connection's requests in order).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from logbroker.broker import Broker
from logbroker.cluster.node import ClusterNode
from logbroker.cluster.peer_connections import CONNECTION_ERRORS, PeerConnections
from logbroker.groups.share_fetch import Acquired
from logbroker.groups.share_partition import AckType, AcquiredRange
from logbroker.groups.share_remote import RemoteAcquired
from logbroker.groups.share_sessions import INVALID_SHARE_SESSION_EPOCH, SHARE_SESSION_NOT_FOUND, next_epoch
from logbroker.kafka.api_keys import ApiKey

log = logging.getLogger(__name__)

SHARE_VERSION = 1
REQUEST_TIMEOUT_S = 10.0
INVALID_RECORD_STATE = 121
COORDINATOR_NOT_AVAILABLE = 15
_SESSION_LOST = (SHARE_SESSION_NOT_FOUND, INVALID_SHARE_SESSION_EPOCH)

TopicPartition = tuple[str, int]


@dataclass(slots=True)
class _Session:
    epoch: int = 0  # the epoch the next request carries (0: open a new session)
    partitions: set[TopicPartition] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class ShareForwarder:
    def __init__(self, broker: Broker, peers: PeerConnections,
                 is_member: Callable[[str, str], bool] | None = None) -> None:
        self.broker = broker
        self.peers = peers
        # Whether the coordinator still has the member (``sweep`` closes the sessions of those it lost).
        self.is_member = is_member
        self._sessions: dict[tuple[str, str, int], _Session] = {}

    @classmethod
    def of(cls, node: ClusterNode, broker: Broker) -> ShareForwarder:
        """A forwarder with a connection pool of its own to the node's peers."""
        config = node.config
        return cls(broker, PeerConnections(node.inter_broker_address, lambda: node.inter_broker_security,
                                           f"broker-{node.broker_id}-http-share",
                                           backoff_ms=config.get_int("reconnect.backoff.ms"),
                                           backoff_max_ms=config.get_int("reconnect.backoff.max.ms")))

    # ------------------------------------------------------------------ RemoteShares
    def leader_of(self, topic: str, partition: int) -> int | None:
        ownership = self.broker.ownership
        if ownership is None:
            return None
        view = ownership.partition_view(topic, partition)
        if view is None:
            return None  # unknown to the cluster: answered here (unknown topic or partition)
        if view.leader == self.broker.node_id and ownership.leader_epoch(topic, partition) >= 0:
            return None
        return view.leader

    async def fetch(self, group_id: str, member_id: str, leader: int, partitions: Sequence[TopicPartition],
                    max_records: int, max_bytes: int, now_ms: int) -> RemoteAcquired:
        session = self._session(group_id, member_id, leader)
        async with session.lock:
            for attempt in (1, 2):
                wanted = set(partitions)
                new = wanted if session.epoch == 0 else wanted - session.partitions
                gone = set() if session.epoch == 0 else session.partitions - wanted
                body = {"group_id": group_id, "member_id": member_id, "share_session_epoch": session.epoch,
                        "max_wait_ms": 0, "min_bytes": 1, "max_bytes": max_bytes, "max_records": max_records,
                        "batch_size": max_records, "topics": self._by_topic(new, "partitions",
                                                                            lambda p: {"partition_index": p,
                                                                                       "acknowledgement_batches": []}),
                        "forgotten_topics_data": self._by_topic(gone, "partitions", lambda p: p)}
                try:
                    answer = await self.peers.request(leader, ApiKey.SHARE_FETCH, SHARE_VERSION, body,
                                                      REQUEST_TIMEOUT_S)
                except CONNECTION_ERRORS as exc:
                    session.epoch = 0  # the leader may have closed it with the connection: open anew
                    why = f"leader broker {leader} could not be asked: {str(exc) or type(exc).__name__}"
                    return RemoteAcquired(errors=dict.fromkeys(partitions, why))
                code = int(answer["error_code"])
                if code in _SESSION_LOST and attempt == 1:
                    log.info("share group %s member %s: share session on broker %d lost (error %d); opening anew",
                             group_id, member_id, leader, code)
                    session.epoch = 0
                    continue
                if code:
                    session.epoch = 0
                    why = f"leader broker {leader} answered error code {code}: {answer.get('error_message') or ''}"
                    return RemoteAcquired(errors=dict.fromkeys(partitions, why.rstrip(": ")))
                session.epoch = next_epoch(session.epoch)
                session.partitions = wanted
                return self._acquired(leader, answer, now_ms)
        raise AssertionError("unreachable")  # the loop returns on its second attempt

    async def acknowledge(self, group_id: str, member_id: str, leader: int, topic: str, partition: int,
                          acks: Sequence[tuple[int, AckType]]) -> int:
        session = self._sessions.get((group_id, member_id, leader))
        if session is None:
            return INVALID_RECORD_STATE  # never fetched there: it holds nothing there
        topic_id = self.broker.topic_id(topic)
        async with session.lock:
            if session.epoch == 0:
                return INVALID_RECORD_STATE  # the session was lost: its records were released
            body = {"group_id": group_id, "member_id": member_id, "share_session_epoch": session.epoch,
                    "topics": [{"topic_id": topic_id, "partitions": [{
                        "partition_index": partition,
                        "acknowledgement_batches": [{"first_offset": o, "last_offset": o, "acknowledge_types": [int(k)]}
                                                    for o, k in acks]}]}]}
            try:
                answer = await self.peers.request(leader, ApiKey.SHARE_ACKNOWLEDGE, SHARE_VERSION, body,
                                                  REQUEST_TIMEOUT_S)
            except CONNECTION_ERRORS as exc:
                session.epoch = 0
                log.info("share group %s member %s: acknowledging on broker %d failed: %s", group_id, member_id,
                         leader, exc)
                return COORDINATOR_NOT_AVAILABLE
            code = int(answer["error_code"])
            if code in _SESSION_LOST:
                session.epoch = 0
                return INVALID_RECORD_STATE
            if code:
                return code
            session.epoch = next_epoch(session.epoch)
            for t in answer["responses"]:
                for p in t["partitions"]:
                    if int(p["partition_index"]) == partition and p["error_code"]:
                        return int(p["error_code"])
            return 0

    async def leave(self, group_id: str, member_id: str) -> None:
        for key in [k for k in self._sessions if k[:2] == (group_id, member_id)]:
            session = self._sessions.pop(key)
            async with session.lock:
                if session.epoch == 0:
                    continue
                body = {"group_id": group_id, "member_id": member_id, "share_session_epoch": -1, "topics": []}
                try:
                    await self.peers.request(key[2], ApiKey.SHARE_ACKNOWLEDGE, SHARE_VERSION, body, REQUEST_TIMEOUT_S)
                except CONNECTION_ERRORS as exc:  # its records come back when their locks expire
                    log.info("share group %s member %s: closing the share session on broker %d failed: %s",
                             group_id, member_id, key[2], exc)

    async def release(self, group_id: str, member_id: str, partitions: Sequence[TopicPartition]) -> None:
        """A member's session expired at this coordinator: close its share sessions at the leaders of
        ``partitions`` other than this broker (ShareAcknowledge with epoch -1, as a closing consumer
        sends), so they release the records it holds there now rather than when their locks expire.
        The sessions this broker held for it (an HTTP member) are closed as on ``leave``. Nothing is
        sent if the member joined again meanwhile (its new sessions are its own)."""
        if self.is_member is not None and self.is_member(group_id, member_id):
            return
        held = {k[2] for k in self._sessions if k[:2] == (group_id, member_id)}
        await self.leave(group_id, member_id)
        leaders = {leader for tp in partitions if (leader := self.leader_of(*tp)) is not None and leader >= 0}
        for leader in sorted(leaders - held):
            body = {"group_id": group_id, "member_id": member_id, "share_session_epoch": -1, "topics": []}
            try:
                answer = await self.peers.request(leader, ApiKey.SHARE_ACKNOWLEDGE, SHARE_VERSION, body,
                                                  REQUEST_TIMEOUT_S)
            except CONNECTION_ERRORS as exc:  # its records come back when their locks expire
                log.info("share group %s member %s: closing its share session on broker %d failed: %s",
                         group_id, member_id, leader, exc)
                continue
            code = int(answer["error_code"])
            if code == 0:
                log.info("share group %s member %s: session expired; its share session on broker %d closed, "
                         "its records there released", group_id, member_id, leader)
            elif code != SHARE_SESSION_NOT_FOUND:  # not found: it held nothing there
                log.info("share group %s member %s: closing its share session on broker %d answered error %d",
                         group_id, member_id, leader, code)

    async def sweep(self) -> None:
        """Close the share sessions of members the coordinator no longer has (their session expired
        there, or the group moved to another coordinator): the leaders hand their records back at
        once rather than when their locks expire, and this broker forgets them."""
        if self.is_member is None:
            return
        gone = {k[:2] for k in self._sessions if not self.is_member(*k[:2])}
        for group_id, member_id in sorted(gone):
            log.info("share group %s: member %s is gone; closing its share sessions at the leaders", group_id,
                     member_id)
            await self.leave(group_id, member_id)

    async def close(self) -> None:
        await self.peers.close()

    # ------------------------------------------------------------------ helpers
    def _session(self, group_id: str, member_id: str, leader: int) -> _Session:
        key = (group_id, member_id, leader)
        session = self._sessions.get(key)
        if session is None:
            session = self._sessions[key] = _Session()
        return session

    def _by_topic(self, tps: set[TopicPartition], field_name: str, entry: Any) -> list[dict[str, Any]]:
        grouped: dict[str, list[int]] = {}
        for topic, partition in sorted(tps):
            grouped.setdefault(topic, []).append(partition)
        return [{"topic_id": self.broker.topic_id(t), field_name: [entry(p) for p in ps]}
                for t, ps in grouped.items() if self.broker.topic_id(t) is not None]

    def _acquired(self, leader: int, answer: dict[str, Any], now_ms: int) -> RemoteAcquired:
        out = RemoteAcquired(lock_expires_ms=now_ms + int(answer.get("acquisition_lock_timeout_ms") or 0))
        for t in answer["responses"]:
            name = self.broker.topic_name_by_id(t["topic_id"])
            if name is None:
                continue
            for p in t["partitions"]:
                tp = (name, int(p["partition_index"]))
                if p["error_code"]:
                    out.errors[tp] = (f"leader broker {leader} answered error code {p['error_code']} for "
                                      f"{tp[0]}-{tp[1]}")
                    continue
                ranges = [AcquiredRange(int(r["first_offset"]), int(r["last_offset"]), int(r["delivery_count"]))
                          for r in p["acquired_records"]]
                if ranges:
                    out.got[tp] = Acquired(bytes(p["records"] or b""), ranges)
        return out
