"""This broker as a member of a cluster: registration, cluster state, its partitions' roles.

``ClusterNode`` is the core's ``PartitionOwnership`` in a cluster. It keeps a ZooKeeper session
(kazoo), registers the ephemeral ``/brokers/ids/<id>``, takes part in the controller election, and
reconciles on every change it is told of (one-shot watches re-armed by each read) and every
``RECONCILE_S``:

- topics registered in ``/brokers/topics`` are created locally with the same id and configs (every
  broker holds every topic's metadata; only replicas receive data);
- for each partition, the state znode says who leads under which epoch: this broker becomes leader
  (its epoch starts at its log end; followers are tracked in ``LeaderReplica``) or follower
  (a ``ReplicaFetcher`` to the leader truncates, then fetches);
- the leader writes ISR changes itself with conditional writes on the state's zkVersion (Kafka's
  ZooKeeper-era ``Partition.shrinkIsr``/``expandIsr``); a refused write means the state changed and
  is read again.

The controller tells brokers their roles through the state znodes they watch, not with
LeaderAndIsr requests (Kafka sends both). A broker whose session is lost stops leading at once:
client reads and writes are refused with NOT_LEADER_OR_FOLLOWER until a new session has re-read
the state. ZooKeeper calls are made synchronously on the event loop (loopback, milliseconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import BadVersionError, KazooException, NodeExistsError, NoNodeError

from logbroker.broker import Broker
from logbroker.cluster import znodes
from logbroker.cluster.controller import Controller
from logbroker.cluster.fetcher import ReplicaFetcher
from logbroker.cluster.replicas import LeaderReplica
from logbroker.cluster.znodes import BrokerRegistration, PartitionState, TopicAssignment
from logbroker.config import BrokerConfig
from logbroker.errors import (
    FencedLeaderEpochError,
    InvalidReplicationFactorError,
    NotEnoughReplicasError,
    NotLeaderOrFollowerError,
    TopicExistsError,
    UnknownLeaderEpochError,
    UnknownTopicError,
)
from logbroker.ownership import BrokerEndpoint, PartitionView
from logbroker.topics import TopicInfo, is_internal

log = logging.getLogger(__name__)

RECONCILE_S = 0.5
PRODUCER_ID_BLOCK_SIZE = 1000  # Kafka's ProducerIdsBlock size
TopicPartition = tuple[str, int]


def _now_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class ClusterNode:
    def __init__(self, broker: Broker, config: BrokerConfig, host: str, port: int, *,
                 endpoints: dict[str, tuple[str, int]] | None = None,
                 protocols: dict[str, str] | None = None) -> None:
        self.broker = broker
        self.config = config
        self.broker_id = config.node_id
        self.registration = BrokerRegistration(self.broker_id, host, port, dict(endpoints or {}),
                                               dict(protocols or {}))
        # Set when the inter-broker listener is SSL: followers fetch from leaders through TLS.
        self.inter_broker_tls: ssl.SSLContext | None = None
        self.zk = KazooClient(hosts=config.get_str("zookeeper.connect"),
                              timeout=config.get_int("zookeeper.session.timeout.ms") / 1000)
        self.controller = Controller(self.zk, self.broker_id, self._unclean)
        self.lag_ms = config.get_int("replica.lag.time.max.ms")
        self.brokers: dict[int, BrokerRegistration] = {}
        self.registrations: dict[int, int] = {}  # broker id -> czxid of its registration znode
        self.assignments: dict[str, TopicAssignment] = {}
        self.states: dict[TopicPartition, tuple[PartitionState, int]] = {}
        self.leading: dict[TopicPartition, LeaderReplica] = {}
        self.following: dict[TopicPartition, tuple[int, int]] = {}  # tp -> (leader, leader epoch)
        self.follower_hw: dict[TopicPartition, int] = {}
        self.fetchers: dict[int, ReplicaFetcher] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._controller_id = -1

    # ---------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        timeout = self.config.get_int("zookeeper.connection.timeout.ms") / 1000
        await asyncio.to_thread(self.zk.start, timeout)
        self.zk.add_listener(self._on_session_state)
        for path in (znodes.BROKER_IDS, znodes.TOPICS, znodes.TOPIC_CONFIGS):
            self.zk.ensure_path(path)
        self._register()
        self._reconcile()
        self._tasks.append(asyncio.create_task(self._reconcile_loop(), name="cluster-reconcile"))
        self._tasks.append(asyncio.create_task(self._isr_loop(), name="cluster-isr"))
        log.info("broker %d joined the cluster at %s", self.broker_id, self.config.get_str("zookeeper.connect"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for fetcher in self.fetchers.values():
            await fetcher.close()
        for replica in self.leading.values():
            replica.resign("the broker is shutting down")
        self.leading.clear()
        await asyncio.to_thread(self._close_session)

    def _close_session(self) -> None:
        try:
            self.zk.stop()
            self.zk.close()
        except KazooException as exc:
            log.warning("closing the ZooKeeper session: %s", exc)

    def _on_session_state(self, state: str) -> None:
        """Kazoo's thread: hand the event to the loop."""
        if self._loop is None:
            return
        if state == KazooState.LOST:
            self._loop.call_soon_threadsafe(self._session_lost)
        self._loop.call_soon_threadsafe(self._wake.set)

    def _session_lost(self) -> None:
        log.warning("broker %d lost its ZooKeeper session: it stops leading %d partition(s)", self.broker_id,
                    len(self.leading))
        for replica in self.leading.values():
            replica.resign("the broker lost its ZooKeeper session")
        self.leading.clear()
        self.controller.epoch = -1

    def _poke(self, *_: object) -> None:
        """A watch fired (kazoo's thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _reconcile_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), RECONCILE_S)
            self._wake.clear()
            if not self.zk.connected:
                continue
            try:
                self._reconcile()
            except KazooException as exc:
                log.info("cluster reconcile interrupted: %s", exc)
            except Exception:
                log.exception("cluster reconcile failed; it runs again")

    # ---------------------------------------------------------------- reconcile
    def _register(self) -> None:
        path = znodes.broker_path(self.broker_id)
        stat = self.zk.exists(path)
        if stat is not None and stat.ephemeralOwner == self.zk.client_id[0]:
            return
        try:
            self.zk.create(path, self.registration.to_json(), ephemeral=True)
            log.info("broker %d registered at %s:%d", self.broker_id, self.registration.host, self.registration.port)
        except NodeExistsError:
            # A previous session of this broker id (a crash) still holds it until that session expires.
            log.info("broker id %d is still registered by an older session; waiting for it to expire",
                     self.broker_id)

    def _reconcile(self) -> None:
        self._register()
        self._read_brokers()
        self.controller.try_elect(self._poke)
        self._controller_id = self.controller.controller_id()
        self._read_topics()
        if self.controller.active:
            states = self._read_states()
            if self.controller.elect_leaders(dict(self.registrations), self.assignments, states):
                self._read_states()
        else:
            self._read_states()
        self._apply_roles()

    def _read_brokers(self) -> None:
        """Every registration, read again each pass: a broker that restarted re-registers under the
        same id with a new endpoint and a new znode (its czxid tells the controller it bounced)."""
        ids = {int(i) for i in self.zk.get_children(znodes.BROKER_IDS, watch=self._poke)}
        for gone in set(self.brokers) - ids:
            log.info("broker %d left the cluster", gone)
            del self.brokers[gone]
            self.registrations.pop(gone, None)
        for i in ids:
            try:
                data, stat = self.zk.get(znodes.broker_path(i))
            except NoNodeError:
                self.brokers.pop(i, None)
                self.registrations.pop(i, None)
                continue
            if self.registrations.get(i) != stat.czxid:
                self.brokers[i] = BrokerRegistration.from_json(i, data)
                self.registrations[i] = stat.czxid
                log.info("broker %d is in the cluster at %s:%d", i, self.brokers[i].host, self.brokers[i].port)

    def _read_topics(self) -> None:
        names = set(self.zk.get_children(znodes.TOPICS, watch=self._poke))
        for gone in set(self.assignments) - names:
            self._forget(gone)
        for name in names:
            try:
                data, _ = self.zk.get(znodes.topic_path(name), watch=self._poke)
            except NoNodeError:
                continue
            try:
                assignment = TopicAssignment.from_json(data)
            except (ValueError, KeyError, TypeError):
                log.warning("topic %s has no valid assignment in ZooKeeper (%r); ignored", name, data[:80])
                continue
            if name in self.assignments and self.assignments[name].topic_id != assignment.topic_id:
                self._forget(name)  # deleted and created again between two passes
            if name not in self.assignments:
                if self.broker.topic_id(name) not in (None, assignment.topic_id):
                    self.broker.forget_topic(name)  # an older topic of that name, deleted meanwhile
                configs: dict[str, str] = {}
                try:
                    cdata, _ = self.zk.get(znodes.topic_config_path(name))
                    configs = znodes.topic_config(cdata)
                except NoNodeError:
                    pass
                self.broker.adopt_topic(name, len(assignment.replicas), configs, assignment.topic_id)
            self.assignments[name] = assignment

    def _forget(self, topic: str) -> None:
        """The topic left the cluster: stop its roles and delete the local copy."""
        self._forget_roles_only(topic)
        if self.broker.has_topic(topic):
            self.broker.forget_topic(topic)
            log.info("topic %s was deleted from the cluster: local copy deleted", topic)

    def _read_states(self) -> dict[TopicPartition, tuple[PartitionState, int]]:
        for topic, assignment in self.assignments.items():
            for p in range(len(assignment.replicas)):
                try:
                    data, stat = self.zk.get(znodes.partition_state_path(topic, p), watch=self._poke)
                except NoNodeError:
                    self.zk.exists(znodes.partition_state_path(topic, p), watch=self._poke)
                    continue
                self.states[(topic, p)] = (PartitionState.from_json(data), stat.version)
        return dict(self.states)

    def _apply_roles(self) -> None:
        now = _now_ms()
        for tp, (state, version) in self.states.items():
            topic, partition = tp
            assignment = self.assignments.get(topic)
            if assignment is None or self.broker_id not in assignment.replicas[partition]:
                continue
            if not self.broker.has_partition(topic, partition):
                continue  # deleted here only (DeleteTopics does not reach the cluster yet)
            if state.leader == self.broker_id:
                current = self.leading.get(tp)
                if current is not None and current.leader_epoch == state.leader_epoch:
                    current.isr, current.zk_version = state.isr, version
                    continue
                if current is not None:
                    current.resign("a newer leader epoch")
                self._unfollow(tp)
                self.broker.become_leader(topic, partition, state.leader_epoch)
                end = self.broker.log_end_offset(topic, partition)
                hw = min(self.follower_hw.get(tp, 0), end)
                replica = LeaderReplica(self.broker_id, state.leader_epoch, assignment.replicas[partition],
                                        state.isr, version, hw, now, epoch_start_offset=end)
                self.leading[tp] = replica
                replica.advance(end)
                log.info("broker %d leads %s-%d (leader epoch %d, isr %s, log end %d)", self.broker_id, topic,
                         partition, state.leader_epoch, list(state.isr), end)
                continue
            current = self.leading.pop(tp, None)
            if current is not None:
                current.resign(f"broker {state.leader} leads now")
                self.follower_hw[tp] = current.high_watermark
                log.info("broker %d no longer leads %s-%d", self.broker_id, topic, partition)
            if state.leader < 0:
                self._unfollow(tp)
                continue
            if self.following.get(tp) != (state.leader, state.leader_epoch):
                self._unfollow(tp)
                self.following[tp] = (state.leader, state.leader_epoch)
                self._fetcher(state.leader).follow(tp, state.leader_epoch)
                log.info("broker %d follows %s-%d from broker %d (leader epoch %d)", self.broker_id, topic,
                         partition, state.leader, state.leader_epoch)

    def _unfollow(self, tp: TopicPartition) -> None:
        held = self.following.pop(tp, None)
        if held is not None and held[0] in self.fetchers:
            self.fetchers[held[0]].unfollow(tp)

    def _fetcher(self, leader: int) -> ReplicaFetcher:
        fetcher = self.fetchers.get(leader)
        if fetcher is None:
            def address() -> tuple[str, int] | None:
                reg = self.brokers.get(leader)
                return (reg.host, reg.port) if reg is not None else None
            fetcher = ReplicaFetcher(self.broker, self.broker_id, leader, address,
                                     on_high_watermark=self._follower_hw, on_dropped=self._dropped,
                                     wait_ms=self.config.get_int("replica.fetch.wait.max.ms"),
                                     max_bytes=self.config.get_int("replica.fetch.max.bytes"),
                                     tls=self.inter_broker_tls)
            self.fetchers[leader] = fetcher
        return fetcher

    def _follower_hw(self, tp: TopicPartition, hw: int) -> None:
        self.follower_hw[tp] = max(self.follower_hw.get(tp, 0), hw)

    def _dropped(self, tp: TopicPartition) -> None:
        self.following.pop(tp, None)  # followed again by the next reconcile, if the state still says so

    # ---------------------------------------------------------------- ISR
    async def _isr_loop(self) -> None:
        interval = max(self.lag_ms / 2000, 0.05)
        while True:
            await asyncio.sleep(interval)
            for tp in list(self.leading):
                try:
                    self._maybe_change_isr(tp)
                except KazooException as exc:
                    log.info("%s-%d: ISR change not written: %s", *tp, exc)

    def _maybe_change_isr(self, tp: TopicPartition) -> None:
        replica = self.leading.get(tp)
        if replica is None or not self.zk.connected:
            return
        end = self.broker.log_end_offset(*tp)
        wanted = replica.wanted_isr(end, _now_ms(), self.lag_ms)
        if wanted is None:
            return
        held = self.states.get(tp)
        controller_epoch = held[0].controller_epoch if held is not None else self.controller.epoch
        new = PartitionState(self.broker_id, replica.leader_epoch, wanted, controller_epoch)
        try:
            stat = self.zk.set(znodes.partition_state_path(*tp), new.to_json(), version=replica.zk_version)
        except BadVersionError:
            log.info("%s-%d: ISR change to %s refused: the state changed; re-reading", *tp, list(wanted))
            self._wake.set()
            return
        log.info("%s-%d: ISR %s -> %s (leader %d, epoch %d)", *tp, list(replica.isr), list(wanted),
                 self.broker_id, replica.leader_epoch)
        replica.isr, replica.zk_version = wanted, stat.version
        self.states[tp] = (new, stat.version)
        if replica.advance(end):
            self.broker.notify_readers(*tp)

    # ---------------------------------------------------------------- PartitionOwnership
    def check_leader(self, topic: str, partition: int, leader_epoch: int = -1) -> None:
        if is_internal(topic):
            return
        replica = self.leading.get((topic, partition))
        if replica is None:
            held = self.states.get((topic, partition))
            raise NotLeaderOrFollowerError(
                f"broker {self.broker_id} does not lead {topic}-{partition}"
                + (f" (broker {held[0].leader} does)" if held is not None and held[0].leader >= 0 else ""))
        if leader_epoch >= 0:
            if leader_epoch < replica.leader_epoch:
                raise FencedLeaderEpochError(f"{topic}-{partition}: leader epoch {leader_epoch} is older than "
                                             f"{replica.leader_epoch}")
            if leader_epoch > replica.leader_epoch:
                raise UnknownLeaderEpochError(f"{topic}-{partition}: leader epoch {leader_epoch} is newer than "
                                              f"{replica.leader_epoch}")

    def leader_epoch(self, topic: str, partition: int) -> int:
        replica = self.leading.get((topic, partition))
        return replica.leader_epoch if replica is not None else -1

    def high_watermark(self, topic: str, partition: int, log_end_offset: int) -> int:
        if is_internal(topic):
            return log_end_offset
        replica = self.leading.get((topic, partition))
        if replica is not None:
            return replica.high_watermark
        return min(self.follower_hw.get((topic, partition), 0), log_end_offset)

    def replica_fetched(self, topic: str, partition: int, replica_id: int, fetch_offset: int) -> None:
        tp = (topic, partition)
        replica = self.leading.get(tp)
        if replica is None:
            raise NotLeaderOrFollowerError(f"broker {self.broker_id} does not lead {topic}-{partition}")
        end = self.broker.log_end_offset(topic, partition)
        replica.follower_fetched(replica_id, fetch_offset, end, _now_ms())
        if replica.advance(end):
            self.broker.notify_readers(topic, partition)
        if replica_id not in replica.isr and self._loop is not None:
            self._loop.call_soon(self._safe_isr_change, tp)

    def _safe_isr_change(self, tp: TopicPartition) -> None:
        try:
            self._maybe_change_isr(tp)
        except KazooException as exc:
            log.info("%s-%d: ISR change not written: %s", *tp, exc)

    def check_min_isr(self, topic: str, partition: int, min_insync_replicas: int) -> None:
        replica = self.leading.get((topic, partition))
        if replica is None:
            raise NotLeaderOrFollowerError(f"broker {self.broker_id} does not lead {topic}-{partition}")
        if len(replica.isr) < min_insync_replicas:
            raise NotEnoughReplicasError(f"{topic}-{partition}: the ISR {list(replica.isr)} is smaller than "
                                         f"min.insync.replicas {min_insync_replicas}")

    def replicated(self, topic: str, partition: int, end_offset: int,
                   min_insync_replicas: int) -> asyncio.Future[None] | None:
        replica = self.leading.get((topic, partition))
        if replica is None:
            raise NotLeaderOrFollowerError(f"broker {self.broker_id} does not lead {topic}-{partition}")
        return replica.wait_for(end_offset, min_insync_replicas)

    def publish_topic(self, info: TopicInfo, replication_factor: int | None) -> None:
        rf = replication_factor if replication_factor not in (None, -1) else \
            self.config.get_int("default.replication.factor")
        assert rf is not None
        live = sorted(int(i) for i in self.zk.get_children(znodes.BROKER_IDS))  # now, not as last reconciled
        if rf < 1 or rf > len(live):
            raise InvalidReplicationFactorError(
                f"Replication factor: {rf} larger than available brokers: {len(live)}.")
        if self.zk.exists(znodes.topic_path(info.name)) is not None:
            raise TopicExistsError(f"Topic '{info.name}' already exists.")
        replicas = znodes.assign_replicas(live, info.partitions, rf, random.randrange(len(live)))
        assignment = TopicAssignment(info.topic_id, tuple(replicas))
        tx = self.zk.transaction()
        tx.create(znodes.topic_config_path(info.name), znodes.topic_config_json(dict(info.overrides)))
        tx.create(znodes.topic_path(info.name), assignment.to_json())
        results = tx.commit()
        if any(isinstance(r, Exception) for r in results):
            raise TopicExistsError(f"Topic '{info.name}' already exists.")
        self.assignments[info.name] = assignment
        log.info("topic %s registered: replicas %s", info.name, [list(r) for r in replicas])
        self._wake.set()

    def unpublish_topic(self, name: str) -> None:
        """Delete the topic's znodes (assignment, partition states, config); brokers that see it gone
        delete their copies. Kafka routes this through ``/admin/delete_topics`` and the controller."""
        self.zk.delete(znodes.topic_path(name), recursive=True)
        if self.zk.exists(znodes.topic_config_path(name)) is not None:
            self.zk.delete(znodes.topic_config_path(name))
        if name in self.assignments:
            self._forget_roles_only(name)
        self._wake.set()

    def _forget_roles_only(self, topic: str) -> None:
        """As ``_forget`` but leaving the local delete to the caller (the client's DeleteTopics)."""
        del self.assignments[topic]
        for tp in [tp for tp in self.states if tp[0] == topic]:
            del self.states[tp]
            replica = self.leading.pop(tp, None)
            if replica is not None:
                replica.resign(f"topic {topic} was deleted")
            self._unfollow(tp)
            self.follower_hw.pop(tp, None)

    def claim_producer_id_block(self) -> tuple[int, int]:
        """A block of producer ids no other broker holds (a conditional write of the last block's end)."""
        self.zk.ensure_path(znodes.PRODUCER_ID_BLOCK)
        while True:
            data, stat = self.zk.get(znodes.PRODUCER_ID_BLOCK)
            start = znodes.producer_id_block_end(data) + 1
            end = start + PRODUCER_ID_BLOCK_SIZE
            try:
                self.zk.set(znodes.PRODUCER_ID_BLOCK, znodes.producer_id_block_json(self.broker_id, start, end - 1),
                            version=stat.version)
            except BadVersionError:
                continue
            log.info("broker %d claimed producer ids %d..%d", self.broker_id, start, end - 1)
            return start, end

    # ---------------------------------------------------------------- views for Metadata
    def live_brokers(self, listener: str | None = None) -> list[BrokerEndpoint]:
        return [BrokerEndpoint(i, *self.brokers[i].address_for(listener)) for i in sorted(self.brokers)]

    def controller_id(self) -> int:
        return self._controller_id

    def partition_view(self, topic: str, partition: int) -> PartitionView | None:
        assignment = self.assignments.get(topic)
        if assignment is None or partition >= len(assignment.replicas):
            return None
        held = self.states.get((topic, partition))
        if held is None:
            return PartitionView(-1, -1, assignment.replicas[partition], ())
        state = held[0]
        return PartitionView(state.leader, state.leader_epoch, assignment.replicas[partition], state.isr)

    def _unclean(self, topic: str) -> bool:
        try:
            return bool(self.broker.topic(topic).config.unclean_leader_election_enable)
        except UnknownTopicError:
            return False
