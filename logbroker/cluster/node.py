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
the state.

A pass runs when a watch fires (kazoo's thread wakes the loop) or every ``RECONCILE_S`` as a safety
net. Its ZooKeeper reads and the controller's writes run in a worker thread (``_read_view``), and
ISR writes too (``_change_isr``), and so do the administrative writes (topic creation and deletion,
new partitions, elections, reassignments, producer-id blocks): the event loop never waits on
ZooKeeper. What was read or written is applied on the loop (``_apply_view`` and the admin methods'
own last lines), so the loop's view of the cluster changes only on the loop. A topic adopted or
grown there has its local metadata file written off the loop too (``Broker.adopt_topic``,
``Broker.grow_topic``); the pass or admin method awaits it before it records the topic's assignment.
A topic this broker changes through an admin method while a pass reads is left out of that pass
(it may be newer here than in the view) and read again by the next; the rest of the view applies.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import BadVersionError, ConnectionLoss, KazooException, NodeExistsError, NoNodeError

from logbroker.broker import Broker
from logbroker.cluster import znodes
from logbroker.cluster.backoff import ReconnectBackoff
from logbroker.cluster.broker_connection import InterBrokerSecurity
from logbroker.cluster.controller import Controller
from logbroker.cluster.fetcher import ReplicaFetcher
from logbroker.cluster.leader_offsets import ask_leaders
from logbroker.cluster.leader_sizes import ask_sizes
from logbroker.cluster.listed import ListedPartitions
from logbroker.cluster.peer_connections import PeerConnections
from logbroker.cluster.replicas import LeaderReplica
from logbroker.cluster.znodes import BrokerRegistration, PartitionState, TopicAssignment
from logbroker.config import BrokerConfig
from logbroker.errors import (
    ClusterStateUnavailableError,
    FencedLeaderEpochError,
    InvalidPartitionsError,
    InvalidReplicaAssignmentError,
    InvalidRequestError,
    NotControllerError,
    NotEnoughReplicasError,
    NotLeaderOrFollowerError,
    StorageError,
    TopicExistsError,
    UnknownLeaderEpochError,
    UnknownTopicError,
)
from logbroker.ownership import BrokerEndpoint, PartitionView, Reassignment
from logbroker.topics import (
    INTERNAL_MIN_ISR,
    INTERNAL_REPLICATION_FACTORS,
    TopicInfo,
    check_replication_factor_fits,
    check_replication_factor_sign,
    is_replicated,
)
from logbroker.zookeeper_deadline import ZooKeeperDeadline

log = logging.getLogger(__name__)

REFOLLOW_S = 0.5  # after a leader refused a follower's fetch
RECONCILE_S = 5.0  # a safety net only: watches start a pass as soon as something changes
PRODUCER_ID_BLOCK_SIZE = 1000  # Kafka's ProducerIdsBlock size
TopicPartition = tuple[str, int]
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ClusterView:
    """What one reconcile pass read from ZooKeeper."""

    brokers: dict[int, BrokerRegistration]
    registrations: dict[int, int]  # broker id -> czxid of its registration znode
    controller_id: int
    assignments: dict[str, TopicAssignment]
    configs: dict[str, dict[str, str]]  # of the topics new to this broker
    states: dict[TopicPartition, tuple[PartitionState, int]]
    # topics marked in /admin/delete_topics: their assignment (None once gone) and the brokers that
    # deleted their copies; left out of ``assignments``
    deletions: dict[str, tuple[TopicAssignment | None, frozenset[int]]]


def _now_ms() -> int:
    return time.monotonic_ns() // 1_000_000


async def _off_loop(zk: KazooClient, timeout_s: float, what: str, fn: Callable[..., _T], *args: object) -> _T:
    """``fn(calls, *args)`` in a worker thread, ``calls`` a ``ZooKeeperDeadline`` of ``timeout_s``
    (the broker's ``request.timeout.ms``): ZooKeeper calls never block the event loop, and none waits
    past the deadline, so the worker thread ends by then too (kazoo alone would hold a call while it
    reconnects, or on a stalled server until a ping goes unanswered). Without a connection it is not
    tried; that, the deadline, or a lost session becomes ClusterStateUnavailableError
    (REQUEST_TIMED_OUT to a client, which retries). ``what`` names the work (``topic t not
    created``). A write whose answer came too late may still be done."""
    calls = ZooKeeperDeadline(zk, timeout_s, what)
    try:
        return await asyncio.to_thread(fn, calls, *args)
    except KazooException as exc:
        raise ClusterStateUnavailableError(f"{what}: ZooKeeper: {exc!r}") from exc


class ClusterNode:
    def __init__(self, broker: Broker, config: BrokerConfig, host: str, port: int, *,
                 endpoints: dict[str, tuple[str, int]] | None = None,
                 protocols: dict[str, str] | None = None) -> None:
        self.broker = broker
        self.config = config
        self.broker_id = config.node_id
        self.registration = BrokerRegistration(self.broker_id, host, port, dict(endpoints or {}),
                                               dict(protocols or {}))
        # Set when the inter-broker listener uses TLS or SASL: how followers connect to leaders.
        self.inter_broker_security: InterBrokerSecurity | None = None
        self.zk = KazooClient(hosts=config.get_str("zookeeper.connect"),
                              timeout=config.get_int("zookeeper.session.timeout.ms") / 1000)
        self.controller = Controller(self.zk, self.broker_id, self._unclean)
        self.lag_ms = config.get_int("replica.lag.time.max.ms")
        # longest wait of an admin request on ZooKeeper, its worker thread's calls included
        self.admin_timeout_s = config.get_int("request.timeout.ms") / 1000
        self.brokers: dict[int, BrokerRegistration] = {}
        self.registrations: dict[int, int] = {}  # broker id -> czxid of its registration znode
        self.assignments: dict[str, TopicAssignment] = {}
        self.states: dict[TopicPartition, tuple[PartitionState, int]] = {}
        self.listed = ListedPartitions()
        self.leading: dict[TopicPartition, LeaderReplica] = {}
        self.following: dict[TopicPartition, tuple[int, int]] = {}  # tp -> (leader, leader epoch)
        self.follower_hw: dict[TopicPartition, int] = {}
        self.fetchers: dict[int, ReplicaFetcher] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._controller_id = -1
        self._isr_tasks: set[asyncio.Task[None]] = set()
        self._removals: set[asyncio.Task[None]] = set()  # directories of replicas this broker dropped
        self._local_changes = 0  # topic changes this broker wrote, counted
        # topic -> the count of its last change here: a pass that began reading before it leaves that
        # topic as this broker holds it and reads it again (``_conflicts``)
        self._changed_topics: dict[str, int] = {}
        self._passes = 0  # passes applied
        self.deletions: dict[str, TopicAssignment] = {}  # topics marked for deletion, as the last pass read
        self._confirming: set[str] = set()
        # Told when this broker starts or stops leading a partition (the group coordinator loads or
        # unloads the groups of a ``__consumer_offsets`` partition).
        self.on_leadership: Callable[[str, int, bool], None] | None = None
        # One pooled connection per other broker for the questions views ask of leaders.
        self.peers = PeerConnections(self.inter_broker_address, lambda: self.inter_broker_security,
                                     f"broker-{self.broker_id}-views",
                                     backoff_ms=config.get_int("reconnect.backoff.ms"),
                                     backoff_max_ms=config.get_int("reconnect.backoff.max.ms"))

    # ---------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        timeout = self.config.get_int("zookeeper.connection.timeout.ms") / 1000
        await asyncio.to_thread(self.zk.start, timeout)
        self.zk.add_listener(self._on_session_state)
        await asyncio.to_thread(self._ensure_paths)
        # The high watermarks as last checkpointed: a partition led again after a restart starts there
        # (never above its log end), not at zero, and a follower serves nothing above it.
        self.follower_hw.update(self.broker.read_high_watermarks())
        await self._reconcile()
        self._tasks.append(asyncio.create_task(self._reconcile_loop(), name="cluster-reconcile"))
        self._tasks.append(asyncio.create_task(self._isr_loop(), name="cluster-isr"))
        self._tasks.append(asyncio.create_task(self._hw_checkpoint_loop(), name="cluster-hw-checkpoint"))
        log.info("broker %d joined the cluster at %s", self.broker_id, self.config.get_str("zookeeper.connect"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for fetcher in self.fetchers.values():
            await fetcher.close()
        await self.peers.close()
        for tp, replica in self.leading.items():
            replica.resign("the broker is shutting down")
            self.follower_hw[tp] = replica.high_watermark  # what the final checkpoint below records
            self._leadership(tp, False)
        self.leading.clear()
        await asyncio.to_thread(self.broker.write_high_watermarks, self.high_watermarks())
        await asyncio.to_thread(self._close_session)

    def _ensure_paths(self) -> None:
        for path in (znodes.BROKER_IDS, znodes.TOPICS, znodes.TOPIC_CONFIGS, znodes.DELETE_TOPICS):
            self.zk.ensure_path(path)

    async def advertise_http(self, url: str) -> None:
        """Name this broker's HTTP API (``url``) in its registration, so the other brokers can forward
        the HTTP requests of groups this broker coordinates; the znode is rewritten in a worker thread."""
        self.registration = dataclasses.replace(self.registration, http=url)
        await asyncio.to_thread(self._rewrite_registration)
        self._wake.set()

    def _rewrite_registration(self) -> None:
        path = znodes.broker_path(self.broker_id)
        try:
            stat = self.zk.exists(path)
            if stat is not None and stat.ephemeralOwner == self.zk.client_id[0]:
                self.zk.set(path, self.registration.to_json(), version=stat.version)
        except KazooException as exc:  # the next registration (a new session) carries it anyway
            log.info("broker %d: registration not rewritten: %s", self.broker_id, exc)

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
        if self.leading:
            log.warning("broker %d lost its ZooKeeper session: it stops leading %d partition(s)", self.broker_id,
                        len(self.leading))
        else:
            log.info("broker %d lost its ZooKeeper session", self.broker_id)
        for tp, replica in self.leading.items():
            replica.resign("the broker lost its ZooKeeper session")
            self.follower_hw[tp] = replica.high_watermark
            self._leadership(tp, False)
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
                await self._reconcile()
            except KazooException as exc:
                log.info("cluster reconcile interrupted: %s", exc)
            except Exception:
                log.exception("cluster reconcile failed; it runs again")

    # ---------------------------------------------------------------- reconcile
    def _register(self) -> None:
        path = znodes.broker_path(self.broker_id)
        stat = self.zk.exists(path)
        session = self.zk.client_id  # None once the connection dropped meanwhile: the pass ends below
        if session is None:
            raise ConnectionLoss("the ZooKeeper connection dropped during the pass")
        if stat is not None and stat.ephemeralOwner == session[0]:
            return
        try:
            self.zk.create(path, self.registration.to_json(), ephemeral=True)
            log.info("broker %d registered at %s:%d", self.broker_id, self.registration.host, self.registration.port)
        except NodeExistsError:
            # A previous session of this broker id (a crash) still holds it until that session expires.
            log.info("broker id %d is still registered by an older session; waiting for it to expire",
                     self.broker_id)

    async def _reconcile(self) -> None:
        """One pass: read the cluster state (and, as controller, act on it) in a worker thread, so the
        event loop never waits on ZooKeeper; then apply it here, on the loop. A topic this broker
        changed meanwhile (created, grown, marked for deletion) may be newer here than in the view:
        the pass applies everything else and reads that topic again at once (``_conflicts``)."""
        known = {name: a.topic_id for name, a in self.assignments.items()}
        since = self._local_changes
        self._changed_topics.clear()  # changes before this read: it sees them
        view = await asyncio.to_thread(self._read_view, known)
        await self._apply_view(view, known, since)

    def _read_view(self, known: dict[str, uuid.UUID]) -> ClusterView:
        """ZooKeeper reads (each re-arming its watch) and the controller's work; a worker thread."""
        self._register()
        brokers, registrations = self._read_brokers()
        self.controller.try_elect(self._poke)
        controller_id = self.controller.controller_id()
        assignments, configs = self._read_topics(known)
        deletions = self._read_deletions(assignments)
        states = self._read_states(assignments)
        if self.controller.active:
            if self.controller.finish_deletions(deletions):
                deletions = self._read_deletions(assignments)
            if self.controller.elect_leaders(dict(registrations), assignments, states):
                states = self._read_states(assignments)
            if self.controller.finish_reassignments(dict(registrations), assignments, states):
                assignments, configs = self._read_topics(known)
                deletions = self._read_deletions(assignments)
                states = self._read_states(assignments)
        return ClusterView(brokers, registrations, controller_id, assignments, configs, states, deletions)

    def _read_deletions(self, assignments: dict[str, TopicAssignment]
                        ) -> dict[str, tuple[TopicAssignment | None, frozenset[int]]]:
        """The topics marked for deletion, taken out of ``assignments``: each with its assignment and
        the brokers that deleted their copies (a watch on each, so the controller hears of the last)."""
        deletions: dict[str, tuple[TopicAssignment | None, frozenset[int]]] = {}
        for name in self.zk.get_children(znodes.DELETE_TOPICS, watch=self._poke):
            try:
                done = self.zk.get_children(znodes.delete_topic_path(name), watch=self._poke)
            except NoNodeError:
                continue
            deletions[name] = (assignments.pop(name, None), frozenset(int(b) for b in done if b.isdigit()))
        return deletions

    def _read_brokers(self) -> tuple[dict[int, BrokerRegistration], dict[int, int]]:
        """Every registration, read again each pass: a broker that restarted re-registers under the
        same id with a new endpoint and a new znode (its czxid tells the controller it bounced)."""
        brokers: dict[int, BrokerRegistration] = {}
        registrations: dict[int, int] = {}
        for i in sorted(int(i) for i in self.zk.get_children(znodes.BROKER_IDS, watch=self._poke)):
            try:
                data, stat = self.zk.get(znodes.broker_path(i), watch=self._poke)  # its HTTP URL may come later
            except NoNodeError:
                continue
            brokers[i] = BrokerRegistration.from_json(i, data)
            registrations[i] = stat.czxid
        return brokers, registrations

    def _read_topics(self, known: dict[str, uuid.UUID]
                     ) -> tuple[dict[str, TopicAssignment], dict[str, dict[str, str]]]:
        """Every topic's assignment, and the configs of those new to this broker."""
        assignments: dict[str, TopicAssignment] = {}
        configs: dict[str, dict[str, str]] = {}
        for name in self.zk.get_children(znodes.TOPICS, watch=self._poke):
            try:
                data, _ = self.zk.get(znodes.topic_path(name), watch=self._poke)
            except NoNodeError:
                continue
            try:
                assignment = TopicAssignment.from_json(data)
            except (ValueError, KeyError, TypeError):
                log.warning("topic %s has no valid assignment in ZooKeeper (%r); ignored", name, data[:80])
                continue
            assignments[name] = assignment
            if known.get(name) != assignment.topic_id:
                try:
                    cdata, _ = self.zk.get(znodes.topic_config_path(name))
                    configs[name] = znodes.topic_config(cdata)
                except NoNodeError:
                    configs[name] = {}
        return assignments, configs

    def _read_states(self, assignments: dict[str, TopicAssignment]
                     ) -> dict[TopicPartition, tuple[PartitionState, int]]:
        states: dict[TopicPartition, tuple[PartitionState, int]] = {}
        for topic, assignment in assignments.items():
            for p in range(len(assignment.replicas)):
                try:
                    data, stat = self.zk.get(znodes.partition_state_path(topic, p), watch=self._poke)
                except NoNodeError:
                    self.zk.exists(znodes.partition_state_path(topic, p), watch=self._poke)
                    continue
                states[(topic, p)] = (PartitionState.from_json(data), stat.version)
        return states

    def _changed_locally(self, topic: str) -> None:
        """This broker wrote a change of ``topic`` to ZooKeeper (and applied it here)."""
        self._local_changes += 1
        self._changed_topics[topic] = self._local_changes

    def _conflicts(self, since: int) -> set[str]:
        """The topics this broker changed after a pass read from change count ``since`` on: the view
        may predate the change, so the pass leaves them as they are here."""
        return {name for name, count in self._changed_topics.items() if count > since}

    async def _apply_view(self, view: ClusterView, known: dict[str, uuid.UUID], since: int) -> None:
        """On the loop: first the local copies of the topics the view adds or grows (their metadata
        files written off the loop, awaited until durable); then, in one step, brokers, topics and
        this broker's roles (``_record_view``), so roles only ever apply to partitions the local
        copy has. Topics this broker changed since the read began, before or while the files were
        written, are left out and read again by the next pass, woken at once."""
        await self._write_local_copies(view, self._conflicts(since))
        conflicts = self._conflicts(since)
        if conflicts:
            log.debug("broker %d: topics %s changed here during the pass; read again", self.broker_id,
                      sorted(conflicts))
            self._wake.set()
        self._record_view(view, known, conflicts)

    async def _write_local_copies(self, view: ClusterView, conflicts: set[str]) -> None:
        """Adopt the topics the view adds and grow those it grows (a local copy with fewer partitions
        than the view's assignment, also one whose growth this broker asked for and is still writing:
        that is awaited). A name whose local copy is an older topic is left to ``_record_view`` (which
        deletes that copy) and the next pass; one in ``conflicts`` to the next pass."""
        for name, assignment in view.assignments.items():
            if name in conflicts:
                continue
            held = self.assignments.get(name)
            if held is None:
                if self.broker.topic_id(name) in (None, assignment.topic_id):
                    await self.broker.adopt_topic(name, len(assignment.replicas), view.configs.get(name, {}),
                                                  assignment.topic_id)
            elif (held.topic_id == assignment.topic_id and self.broker.topic_id(name) == held.topic_id
                  and len(assignment.replicas) > self.broker.topic(name).partitions):
                await self.broker.grow_topic(name, len(assignment.replicas))

    def _record_view(self, view: ClusterView, known: dict[str, uuid.UUID], conflicts: set[str]) -> None:
        """The view applied on the loop, in one step, once ``_write_local_copies`` is done; the topics
        in ``conflicts`` keep their assignment, states and deletion mark as held here."""
        for gone in set(self.brokers) - set(view.brokers):
            log.info("broker %d left the cluster", gone)
        for i, czxid in view.registrations.items():
            if self.registrations.get(i) != czxid:
                b = view.brokers[i]
                log.info("broker %d is in the cluster at %s:%d", i, b.host, b.port)
        self.brokers, self.registrations = view.brokers, view.registrations
        self._controller_id = view.controller_id
        changed = [name for name, a in view.assignments.items()
                   if name not in conflicts and self.assignments.get(name) != a]
        for deleted in set(known) - set(view.assignments) - conflicts:
            if deleted in self.assignments:
                self._forget(deleted)
        for name, assignment in view.assignments.items():
            if name in conflicts:
                continue
            if name in self.assignments and self.assignments[name].topic_id != assignment.topic_id:
                self._forget(name)  # deleted and created again between two passes
            if name not in self.assignments:
                if self.broker.topic_id(name) not in (None, assignment.topic_id):
                    self.broker.forget_topic(name)  # an older topic of that name, deleted meanwhile
                if self.broker.topic_id(name) != assignment.topic_id:
                    self._wake.set()  # its older copy is gone now: the next pass adopts it
                    continue
            elif len(assignment.replicas) > len(self.assignments[name].replicas):
                log.info("topic %s grew to %d partitions", name, len(assignment.replicas))
            self.assignments[name] = assignment
        # A state this broker wrote (an ISR change) while the pass was reading is newer than the read.
        states = {tp: held if (held := self.states.get(tp)) is not None and held[1] > read[1]
                  and held[0].leader_epoch == read[0].leader_epoch else read
                  for tp, read in view.states.items() if tp[0] not in conflicts}
        self.states = states | {tp: held for tp, held in self.states.items() if tp[0] in conflicts}
        for name in self.assignments:
            self.listed_partitions(name)
        self._apply_roles()
        for name in changed:
            if name in self.assignments:
                self._delete_strays(name)
        self._apply_deletions(view, conflicts)
        self.deletions = ({name: held[0] for name, held in view.deletions.items()
                           if held[0] is not None and name not in conflicts}
                          | {name: held for name, held in self.deletions.items() if name in conflicts})
        self._passes += 1

    def _apply_deletions(self, view: ClusterView, conflicts: set[str]) -> None:
        """Topics marked for deletion: their local copy goes (here or, for a broker that was down, on
        its first pass back) and each replica then records that it deleted its copy, so the
        controller can finish (Kafka's StopReplica with delete and its answer). Topics held here but
        unknown to the cluster at start (deleted while this broker was down, where it held no replica)
        lose their metadata; one holding data is kept and reported, never deleted on a guess."""
        for name, (assignment, deleted_by) in view.deletions.items():
            if assignment is None or name in conflicts:
                continue
            if name not in self.assignments and self.broker.topic_id(name) == assignment.topic_id:
                self.broker.forget_topic(name)
                log.info("topic %s is being deleted from the cluster: local copy deleted", name)
            if self.broker_id in assignment.all_replicas() and self.broker_id not in deleted_by:
                self._confirm_deletion(name)
        if self._passes == 0:
            for name in self.broker.topic_names():
                if not is_replicated(name) or name in view.assignments or name in view.deletions or name in conflicts:
                    continue
                info = self.broker.topic(name)
                if any(self.broker.holds_replica_files(name, p) for p in range(info.partitions)):
                    log.warning("topic %s has data here but is not in the cluster; kept", name)
                else:
                    self.broker.forget_topic(name)
                    log.info("topic %s is no longer in the cluster: its metadata here deleted", name)

    def _confirm_deletion(self, topic: str) -> None:
        """Record in a worker thread that this replica deleted its copy of ``topic`` (once at a time)."""
        if topic in self._confirming or self._loop is None:
            return
        self._confirming.add(topic)

        def write() -> None:
            with contextlib.suppress(NodeExistsError, NoNodeError):
                self.zk.create(znodes.deleted_copy_path(topic, self.broker_id))

        async def confirm() -> None:
            try:
                await asyncio.to_thread(write)
            except KazooException as exc:
                log.info("topic %s: deletion of the local copy not recorded (%s); again on the next pass", topic, exc)
            finally:
                self._confirming.discard(topic)

        task = self._loop.create_task(confirm())
        self._removals.add(task)
        task.add_done_callback(self._removals.discard)

    def _delete_strays(self, topic: str) -> None:
        """Delete the local copies of ``topic``'s partitions this broker is not a replica of: one left
        by a reassignment that completed while this broker was down, found when it learns the
        assignment (its first pass after a start, or any change). Kafka's broker deletes such stray
        logs at start, and its controller sends StopReplica with delete to replicas it removes."""
        assignment = self.assignments[topic]
        for p, replicas in enumerate(assignment.replicas):
            tp = (topic, p)
            if self.broker_id in replicas or tp in self.leading or tp in self.following:
                continue
            if self.broker.has_partition(topic, p) and self.broker.holds_replica_files(topic, p):
                log.info("broker %d is not a replica of %s-%d: deleting its stray copy", self.broker_id, topic, p)
                self._delete_copy(tp)

    def _forget(self, topic: str) -> None:
        """The topic left the cluster: stop its roles and delete the local copy."""
        self._forget_roles_only(topic)
        if self.broker.has_topic(topic):
            self.broker.forget_topic(topic)
            log.info("topic %s was deleted from the cluster: local copy deleted", topic)

    def _apply_roles(self) -> None:
        now = _now_ms()
        for tp, (state, version) in self.states.items():
            topic, partition = tp
            assignment = self.assignments.get(topic)
            if assignment is None or partition >= len(assignment.replicas):
                continue
            if self.broker_id not in assignment.replicas[partition]:
                self._no_longer_a_replica(tp)
                continue
            if not self.broker.has_partition(topic, partition):
                continue  # deleted here only (DeleteTopics does not reach the cluster yet)
            if state.leader == self.broker_id:
                current = self.leading.get(tp)
                if current is not None and current.leader_epoch == state.leader_epoch:
                    if version >= current.zk_version:  # never an ISR older than one this leader wrote
                        current.isr, current.zk_version = state.isr, version
                    current.set_replicas(assignment.replicas[partition], now)
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
                if current is None:
                    self._leadership(tp, True)
                continue
            current = self.leading.pop(tp, None)
            if current is not None:
                current.resign(f"broker {state.leader} leads now")
                self.follower_hw[tp] = current.high_watermark
                log.info("broker %d no longer leads %s-%d", self.broker_id, topic, partition)
                self._leadership(tp, False)
            if state.leader < 0:
                self._unfollow(tp)
                continue
            if self.following.get(tp) != (state.leader, state.leader_epoch):
                self._unfollow(tp)
                self.following[tp] = (state.leader, state.leader_epoch)
                self._fetcher(state.leader).follow(tp, state.leader_epoch)
                log.info("broker %d follows %s-%d from broker %d (leader epoch %d)", self.broker_id, topic,
                         partition, state.leader, state.leader_epoch)

    def _no_longer_a_replica(self, tp: TopicPartition) -> None:
        """A reassignment moved the partition away from this broker: stop leading or following it and
        delete its local data, as Kafka's StopReplica with delete does. The directory is renamed at
        once (a fetch still sending from it keeps its open files) and removed in a worker thread."""
        replica = self.leading.pop(tp, None)
        if replica is not None:
            replica.resign("this broker is no longer a replica")
            self._leadership(tp, False)
        had_role = replica is not None or tp in self.following
        if tp in self.following:
            self._unfollow(tp)
        if not had_role:
            return
        log.info("broker %d is no longer a replica of %s-%d: deleting its copy", self.broker_id, *tp)
        self._delete_copy(tp)

    def _delete_copy(self, tp: TopicPartition) -> None:
        """Take the partition's data out of the store at once and remove its directory in a worker thread."""
        self.follower_hw.pop(tp, None)
        try:
            detached = self.broker.drop_replica(*tp)
        except StorageError as exc:
            log.error("%s-%d: the local copy could not be removed: %s", *tp, exc)
            return
        if detached is not None and self._loop is not None:
            task = self._loop.create_task(asyncio.to_thread(self.broker.remove_dropped_replica, detached))
            self._removals.add(task)
            task.add_done_callback(self._removals.discard)

    def _leadership(self, tp: TopicPartition, leading: bool) -> None:
        if self.on_leadership is None:
            return
        try:
            self.on_leadership(tp[0], tp[1], leading)
        except Exception:
            log.exception("%s-%d: reacting to %s leadership failed", *tp, "gaining" if leading else "losing")

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
                                     on_high_watermark=self._follower_hw,
                                     high_watermark=lambda tp: self.follower_hw.get(tp, 0), on_dropped=self._dropped,
                                     wait_ms=self.config.get_int("replica.fetch.wait.max.ms"),
                                     max_bytes=self.config.get_int("replica.fetch.max.bytes"),
                                     security=self.inter_broker_security,
                                     backoff=ReconnectBackoff(self.config.get_int("reconnect.backoff.ms"),
                                                              self.config.get_int("reconnect.backoff.max.ms")))
            self.fetchers[leader] = fetcher
        return fetcher

    def _follower_hw(self, tp: TopicPartition, hw: int) -> None:
        self.follower_hw[tp] = max(self.follower_hw.get(tp, 0), hw)

    def _dropped(self, tp: TopicPartition) -> None:
        """The leader refused the partition (it may not know yet that it leads): follow it again after
        a pass shortly, if the state still says so."""
        self.following.pop(tp, None)
        if self._loop is not None:
            self._loop.call_later(REFOLLOW_S, self._wake.set)

    # ---------------------------------------------------------------- high-watermark checkpoint
    def high_watermarks(self) -> dict[TopicPartition, int]:
        """Each replica's high watermark here (a leader's own, a follower's as its leader last told
        it, never above the local log end): the content of ``replication-offset-checkpoint``."""
        out: dict[TopicPartition, int] = {}
        for topic, assignment in self.assignments.items():
            for p, replicas in enumerate(assignment.replicas):
                if self.broker_id not in replicas or not self.broker.has_partition(topic, p):
                    continue
                end = self.broker.log_end_offset(topic, p)
                out[(topic, p)] = self.high_watermark(topic, p, end)
        return out

    async def _hw_checkpoint_loop(self) -> None:
        interval = self.config.get_int("replica.high.watermark.checkpoint.interval.ms") / 1000
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.broker.write_high_watermarks, self.high_watermarks())
            except StorageError as exc:
                log.error("high-watermark checkpoint not written: %s", exc)

    # ---------------------------------------------------------------- ISR
    async def _isr_loop(self) -> None:
        interval = max(self.lag_ms / 2000, 0.05)
        while True:
            await asyncio.sleep(interval)
            for tp in list(self.leading):
                await self._change_isr(tp)

    async def _change_isr(self, tp: TopicPartition) -> None:
        """Write the ISR this leader wants (laggards out, caught-up followers in) with a conditional
        write of the state znode, in a worker thread; one write per partition at a time."""
        replica = self.leading.get(tp)
        if replica is None or replica.isr_change_pending or not self.zk.connected:
            return
        wanted = replica.wanted_isr(self.broker.log_end_offset(*tp), _now_ms(), self.lag_ms)
        if wanted is None:
            return
        held = self.states.get(tp)
        controller_epoch = held[0].controller_epoch if held is not None else self.controller.epoch
        new = PartitionState(self.broker_id, replica.leader_epoch, wanted, controller_epoch)
        replica.isr_change_pending = True
        try:
            stat = await asyncio.to_thread(self.zk.set, znodes.partition_state_path(*tp), new.to_json(),
                                           replica.zk_version)
        except BadVersionError:
            log.info("%s-%d: ISR change to %s refused: the state changed; re-reading", *tp, list(wanted))
            self._wake.set()
            return
        except KazooException as exc:
            log.info("%s-%d: ISR change not written: %s", *tp, exc)
            return
        finally:
            replica.isr_change_pending = False
        if self.leading.get(tp) is not replica:
            return  # leadership moved while the write was in flight; the next pass reads the state
        log.info("%s-%d: ISR %s -> %s (leader %d, epoch %d)", *tp, list(replica.isr), list(wanted),
                 self.broker_id, replica.leader_epoch)
        replica.isr, replica.zk_version = wanted, stat.version
        self.states[tp] = (new, stat.version)
        if replica.advance(self.broker.log_end_offset(*tp)):
            self.broker.notify_readers(*tp)

    # ---------------------------------------------------------------- PartitionOwnership
    def check_leader(self, topic: str, partition: int, leader_epoch: int = -1) -> None:
        if not is_replicated(topic):
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

    def hosts_replica(self, topic: str, partition: int) -> bool:
        tp = (topic, partition)
        if tp in self.leading or tp in self.following:
            return True
        assignment = self.assignments.get(topic)
        return assignment is not None and partition < len(assignment.replicas) \
            and self.broker_id in assignment.replicas[partition]

    def leader_epoch(self, topic: str, partition: int) -> int:
        replica = self.leading.get((topic, partition))
        return replica.leader_epoch if replica is not None else -1

    def high_watermark(self, topic: str, partition: int, log_end_offset: int) -> int:
        if not is_replicated(topic):
            return log_end_offset
        replica = self.leading.get((topic, partition))
        if replica is not None:
            # A leader alone in its ISR (RF=1, or every follower dropped out) gets no follower fetch to
            # move its high watermark: its own log end does, as in Kafka's maybeIncrementLeaderHW.
            replica.advance(log_end_offset)
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
        if replica_id not in replica.isr and not replica.isr_change_pending and self._loop is not None:
            task = self._loop.create_task(self._change_isr(tp))
            self._isr_tasks.add(task)
            task.add_done_callback(self._isr_tasks.discard)

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
        replica.advance(self.broker.log_end_offset(topic, partition))  # the leader's own append counts
        return replica.wait_for(end_offset, min_insync_replicas)

    async def publish_topic(self, info: TopicInfo, replication_factor: int | None,
                            assignments: Sequence[Sequence[int]] | None = None) -> None:
        """Register a new topic: its replica assignment is written in a worker thread (the event loop
        never waits on ZooKeeper); this broker learns it at once, the others from their watches."""
        assignment, info = await _off_loop(self.zk, self.admin_timeout_s, f"topic {info.name} not created",
                                           self._register_topic, info, replication_factor, assignments)
        # The local copy first (its metadata file durable, written off the loop), then the assignment
        # that lets roles be applied to it.
        await self.broker.adopt_topic(info.name, info.partitions, info.overrides, info.topic_id)
        self.assignments[info.name] = assignment
        self._changed_locally(info.name)
        log.info("topic %s registered: replicas %s", info.name, [list(r) for r in assignment.replicas])
        self._wake.set()

    def _register_topic(self, calls: ZooKeeperDeadline, info: TopicInfo, replication_factor: int | None,
                        assignments: Sequence[Sequence[int]] | None) -> tuple[TopicAssignment, TopicInfo]:
        """The topic's config and assignment znodes, in one transaction; a worker thread. Returns the
        assignment and the topic as registered (an internal topic's min.insync.replicas set)."""
        live = sorted(int(i) for i in calls.get_children(znodes.BROKER_IDS))  # now, not as last reconciled
        if assignments:
            # As Kafka: the client's replicas, every list as long as the first, on registered brokers.
            if replication_factor not in (None, -1):
                raise InvalidRequestError("Both replicationFactor and replicasAssignments were set.")
            chosen = [znodes.checked_replicas(a, live, len(assignments[0])) for a in assignments]
            return self._write_topic(calls, info, TopicAssignment(info.topic_id, tuple(chosen))), info
        check_replication_factor_sign(replication_factor)
        if replication_factor not in (None, -1):
            rf = replication_factor
        elif info.name in INTERNAL_REPLICATION_FACTORS:  # __consumer_offsets, __share_group_state
            rf = min(self.config.get_int(INTERNAL_REPLICATION_FACTORS[info.name]), len(live))
            if info.name in INTERNAL_MIN_ISR:  # __share_group_state: its own, capped like its replicas
                min_isr = min(self.config.get_int(INTERNAL_MIN_ISR[info.name]), rf)
                info = dataclasses.replace(info, overrides={**info.overrides, "min.insync.replicas": str(min_isr)})
        else:
            rf = self.config.get_int("default.replication.factor")
        assert rf is not None
        check_replication_factor_fits(rf, len(live))
        if calls.exists(znodes.topic_path(info.name)) is not None:
            raise TopicExistsError(f"Topic '{info.name}' already exists.")
        replicas = znodes.assign_replicas(live, info.partitions, rf, random.randrange(len(live)))
        return self._write_topic(calls, info, TopicAssignment(info.topic_id, tuple(replicas))), info

    @staticmethod
    def _write_topic(calls: ZooKeeperDeadline, info: TopicInfo, assignment: TopicAssignment) -> TopicAssignment:
        tx = calls.transaction()
        tx.create(znodes.topic_config_path(info.name), znodes.topic_config_json(dict(info.overrides)))
        tx.create(znodes.topic_path(info.name), assignment.to_json())
        results = tx.commit()
        if any(isinstance(r, Exception) for r in results):
            raise TopicExistsError(f"Topic '{info.name}' already exists.")
        return assignment

    async def unpublish_topic(self, name: str, timeout_s: float | None = None) -> None:
        """Mark the topic for deletion, ``/admin/delete_topics/<topic>`` (in a worker thread), as Kafka's
        ZooKeeper-mode DeleteTopics does, and wait until it is gone from the cluster: every broker drops
        it, each replica deletes its copy and says so, then the controller deletes its znodes. A replica
        that is down holds the deletion until it returns; past ``timeout_s`` (DeleteTopics' own;
        None: ``request.timeout.ms``) the request answers REQUEST_TIMED_OUT (ClusterStateUnavailableError)
        and the deletion goes on, as in Kafka; with ``timeout_s`` <= 0 it does not wait (Kafka's broker
        answers at once then)."""
        topic_id = await _off_loop(self.zk, self.admin_timeout_s, f"topic {name} not marked for deletion",
                                  self._mark_for_deletion, name)
        self._changed_locally(name)
        self._wake.set()
        if timeout_s is not None and timeout_s <= 0:
            return
        first = self._passes + 1
        deadline = time.monotonic() + (self.admin_timeout_s if timeout_s is None else timeout_s)
        while not (self._passes > first and name not in self.deletions
                   and (name not in self.assignments or self.assignments[name].topic_id != topic_id)):
            if time.monotonic() > deadline:
                raise ClusterStateUnavailableError(f"topic {name} is marked for deletion but not yet deleted "
                                                   "(a replica may be down); the deletion goes on")
            await asyncio.sleep(0.05)

    async def await_leaders(self, topic: str, timeout_s: float) -> None:
        if timeout_s <= 0:
            return
        deadline = time.monotonic() + timeout_s
        while not self._all_led(topic):
            if time.monotonic() > deadline:
                raise ClusterStateUnavailableError(
                    f"topic {topic} is registered, but not every partition had a leader within "
                    f"{timeout_s * 1000:.0f} ms; the controller is still electing them")
            await asyncio.sleep(0.01)

    def _all_led(self, topic: str) -> bool:
        assignment = self.assignments.get(topic)
        if assignment is None:
            return True  # deleted meanwhile
        views = (self.partition_view(topic, p) for p in range(len(assignment.replicas)))
        return all(v is not None and v.known and v.leader >= 0 for v in views)

    @staticmethod
    def _mark_for_deletion(calls: ZooKeeperDeadline, name: str) -> uuid.UUID:
        try:
            data, _ = calls.get(znodes.topic_path(name))
        except NoNodeError:
            raise UnknownTopicError(f"Topic '{name}' does not exist.") from None  # deleted meanwhile
        with contextlib.suppress(NodeExistsError):
            calls.create(znodes.delete_topic_path(name), makepath=True)
        log.info("topic %s marked for deletion", name)
        return TopicAssignment.from_json(data).topic_id

    def _forget_roles_only(self, topic: str) -> None:
        """As ``_forget`` but leaving the local delete to the caller (the client's DeleteTopics)."""
        del self.assignments[topic]
        self.listed.forget(topic)
        for tp in [tp for tp in self.states if tp[0] == topic]:
            del self.states[tp]
            replica = self.leading.pop(tp, None)
            if replica is not None:
                replica.resign(f"topic {topic} was deleted")
                self._leadership(tp, False)
            self._unfollow(tp)
            self.follower_hw.pop(tp, None)

    def claim_producer_id_block(self) -> tuple[int, int]:
        """A block of producer ids no other broker holds (a conditional write of the last block's end).
        Blocking: the allocator calls it in a worker thread."""
        calls = ZooKeeperDeadline(self.zk, self.admin_timeout_s, "no producer-id block claimed")
        try:
            return self._claim_producer_id_block(calls)
        except KazooException as exc:
            raise ClusterStateUnavailableError(f"no producer-id block claimed: ZooKeeper: {exc!r}") from exc

    def _claim_producer_id_block(self, calls: ZooKeeperDeadline) -> tuple[int, int]:
        calls.ensure_path(znodes.PRODUCER_ID_BLOCK)
        while True:
            data, stat = calls.get(znodes.PRODUCER_ID_BLOCK)
            start = znodes.producer_id_block_end(data) + 1
            end = start + PRODUCER_ID_BLOCK_SIZE
            try:
                calls.set(znodes.PRODUCER_ID_BLOCK, znodes.producer_id_block_json(self.broker_id, start, end - 1),
                          version=stat.version)
            except BadVersionError:
                continue
            log.info("broker %d claimed producer ids %d..%d", self.broker_id, start, end - 1)
            return start, end

    # ---------------------------------------------------------------- admin (CreatePartitions, KIP-455, KIP-460)
    async def add_partitions(self, topic: str, new_total: int, assignments: Sequence[Sequence[int]] | None) -> None:
        """Register new partitions with a conditional write of the topic znode, in a worker thread."""
        grown = await _off_loop(self.zk, self.admin_timeout_s, f"partitions of {topic} not added",
                                self._grow_assignment, topic, new_total, assignments)
        self.assignments[topic] = grown
        self._changed_locally(topic)
        log.info("topic %s grew to %d partitions: replicas %s", topic, new_total, [list(r) for r in grown.replicas])
        self._wake.set()

    @staticmethod
    def _grow_assignment(calls: ZooKeeperDeadline, topic: str, new_total: int,
                         assignments: Sequence[Sequence[int]] | None) -> TopicAssignment:
        live = sorted(int(i) for i in calls.get_children(znodes.BROKER_IDS))

        def grow(current: TopicAssignment) -> TopicAssignment:
            old = len(current.replicas)
            if new_total <= old:
                raise InvalidPartitionsError(f"Topic currently has {old} partitions, which is higher than "
                                             f"the requested {new_total}.")
            rf = len(current.replicas[0])
            if assignments is not None:
                if len(assignments) != new_total - old:
                    raise InvalidReplicaAssignmentError(
                        f"Increasing the number of partitions by {new_total - old} but {len(assignments)} "
                        "assignments provided.")
                added = [znodes.checked_replicas(a, live, rf) for a in assignments]
            else:
                check_replication_factor_fits(rf, len(live))
                start = live.index(current.replicas[0][0]) if current.replicas[0][0] in live else 0
                added = znodes.assign_replicas(live, new_total, rf, start)[old:]
            return TopicAssignment(current.topic_id, current.replicas + tuple(added), dict(current.adding),
                                   dict(current.removing))

        return znodes.update_topic(calls, topic, grow)

    async def elect_leaders(self, preferred: bool, partitions: Sequence[TopicPartition] | None
                            ) -> dict[TopicPartition, StorageError | None]:
        """ElectLeaders on the controller: the partitions are chosen here, the state writes are made
        in a worker thread."""
        self.controller.require_active()
        live = set(self.registrations)
        if partitions is None:
            partitions = [tp for tp, (state, _) in sorted(self.states.items())
                          if tp[0] in self.assignments and tp[1] < len(self.assignments[tp[0]].replicas)
                          and (state.leader != self.assignments[tp[0]].replicas[tp[1]][0] if preferred
                               else state.leader not in live)]
        wanted = [(tp, self.assignments.get(tp[0])) for tp in partitions]
        results = await _off_loop(self.zk, self.admin_timeout_s, "leaders not elected", self._elect_now, wanted, live,
                                  preferred)
        self._wake.set()
        return results

    def _elect_now(self, calls: ZooKeeperDeadline, wanted: list[tuple[TopicPartition, TopicAssignment | None]],
                   live: set[int], preferred: bool) -> dict[TopicPartition, StorageError | None]:
        results: dict[TopicPartition, StorageError | None] = {}
        for (topic, p), assignment in wanted:
            try:
                if assignment is None or not 0 <= p < len(assignment.replicas):
                    raise UnknownTopicError(f"{topic}-{p} does not exist")
                self.controller.elect_now(topic, p, assignment.replicas[p], live, preferred, zk=calls)
                results[(topic, p)] = None
            except NotControllerError:
                raise
            except StorageError as exc:
                results[(topic, p)] = exc
        return results

    async def alter_reassignments(self, changes: Mapping[TopicPartition, Sequence[int] | None]
                                  ) -> dict[TopicPartition, StorageError | None]:
        """AlterPartitionReassignments on the controller: the assignment writes in a worker thread."""
        self.controller.require_active()
        live = sorted(self.registrations)
        wanted = [(tp, target, self.assignments.get(tp[0])) for tp, target in changes.items()]
        results = await _off_loop(self.zk, self.admin_timeout_s, "reassignments not written", self._reassign_now,
                                  wanted, live)
        self._wake.set()
        return results

    def _reassign_now(self, calls: ZooKeeperDeadline,
                      wanted: list[tuple[TopicPartition, Sequence[int] | None, TopicAssignment | None]],
                      live: list[int]) -> dict[TopicPartition, StorageError | None]:
        results: dict[TopicPartition, StorageError | None] = {}
        for (topic, p), target, assignment in wanted:
            try:
                if assignment is None or not 0 <= p < len(assignment.replicas):
                    raise UnknownTopicError(f"{topic}-{p} does not exist")
                moved = None if target is None else znodes.checked_replicas(target, live, len(target))
                self.controller.update_assignment(topic, functools.partial(znodes.reassign, partition=p,
                                                                           target=moved), zk=calls)
                results[(topic, p)] = None
                log.info("%s-%d: %s", topic, p, "reassignment cancelled" if moved is None
                         else f"reassignment to {list(moved)} started")
            except NotControllerError:
                raise
            except StorageError as exc:
                results[(topic, p)] = exc
        return results

    def list_reassignments(self, partitions: Sequence[TopicPartition] | None) -> list[Reassignment]:
        out: list[Reassignment] = []
        for topic, assignment in sorted(self.assignments.items()):
            for p in sorted(set(assignment.adding) | set(assignment.removing)):
                if partitions is None or (topic, p) in partitions:
                    out.append(Reassignment(topic, p, assignment.replicas[p], assignment.adding.get(p, ()),
                                            assignment.removing.get(p, ())))
        return out

    # ---------------------------------------------------------------- views for Metadata
    def live_brokers(self, listener: str | None = None) -> list[BrokerEndpoint]:
        return [BrokerEndpoint(i, *self.brokers[i].address_for(listener)) for i in sorted(self.brokers)]

    def controller_id(self) -> int:
        return self._controller_id

    def http_url(self, broker_id: int) -> str | None:
        reg = self.brokers.get(broker_id)
        return reg.http or None if reg is not None else None

    def partition_view(self, topic: str, partition: int) -> PartitionView | None:
        assignment = self.assignments.get(topic)
        if assignment is None or partition >= len(assignment.replicas):
            return None
        held = self.states.get((topic, partition))
        if held is None:
            return PartitionView(-1, -1, assignment.replicas[partition], (), known=False)
        state = held[0]
        return PartitionView(state.leader, state.leader_epoch, assignment.replicas[partition], state.isr)

    def listed_partitions(self, topic: str) -> int:
        assignment = self.assignments.get(topic)
        if assignment is None:
            return 0
        return self.listed.count(topic, len(assignment.replicas), lambda p: (topic, p) in self.states)

    def inter_broker_address(self, broker_id: int) -> tuple[str, int] | None:
        """Where another broker listens for this one (its registered inter-broker endpoint)."""
        reg = self.brokers.get(broker_id)
        return (reg.host, reg.port) if reg is not None else None

    async def leader_offsets(self, partitions: Sequence[tuple[str, int]], timestamps: Sequence[int],
                             timeout_s: float) -> dict[tuple[str, int], tuple[int, ...] | StorageError]:
        return await ask_leaders(partitions, timestamps, timeout_s, view=self.partition_view, peers=self.peers)

    async def leader_sizes(self, partitions: Sequence[tuple[str, int]],
                           timeout_s: float) -> dict[tuple[str, int], int | StorageError]:
        return await ask_sizes(partitions, timeout_s, view=self.partition_view, peers=self.peers)

    def _unclean(self, topic: str) -> bool:
        try:
            return bool(self.broker.topic(topic).config.unclean_leader_election_enable)
        except UnknownTopicError:
            return False
