"""The controller: one broker, elected through ZooKeeper, that elects partition leaders.

Election (Kafka's ``KafkaController.elect``): create the ephemeral ``/controller``; the winner
increments ``/controller_epoch`` with a conditional write and remembers that znode's zkVersion.
Every partition-state write it makes afterwards is a transaction that first checks that zkVersion,
so a controller whose session expired and that lost the election can no longer change anything
(the new controller's increment changed the version).

Leader election (Kafka's ``OfflinePartitionLeaderElectionStrategy``), run over every partition
whenever brokers come or go, topics appear, or on a periodic pass:
- a new partition gets the live replicas as ISR and the first of them as leader (epoch 0);
- a partition whose leader is dead gets the first replica (assignment order) that is live and in
  the ISR; dead replicas leave the ISR; the leader epoch is incremented;
- with none, the partition stays offline (leader -1, ISR kept) unless the topic allows
  ``unclean.leader.election.enable``, which takes any live replica;
- a live leader with dead ISR members gets them removed (leader epoch incremented, as Kafka's
  controller does on a broker failure);
- an offline partition whose ISR member returns gets it as leader.

Administrative elections (ElectLeaders, KIP-460) and reassignments (KIP-455) are the controller's
too; only the controller accepts them (others answer NOT_CONTROLLER, as Kafka's ZooKeeper-era
brokers did):
- preferred: the first assigned replica leads, if it is live and in the ISR;
- unclean: a partition without a live leader gets a live ISR member, else any live replica;
- a reassignment writes the target replicas followed by the leaving ones, with ``adding_replicas``
  and ``removing_replicas``, into the topic znode; the new replicas follow the leader and join the
  ISR once caught up; when every target replica is in the ISR, the controller moves leadership into
  the target if needed, drops the leaving replicas from the ISR (a new leader epoch) and writes the
  target alone as the assignment. Cancelling writes the original replicas back.

Topic deletion (Kafka's ``TopicDeletionManager``): a topic marked in ``/admin/delete_topics`` is
deleted from ZooKeeper (its assignment, partition states, config and the mark, in one transaction)
once every replica has deleted its copy; while a replica is down the deletion waits for it, as
Kafka's does for a replica that cannot answer StopReplica.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError
from kazoo.protocol.states import ZnodeStat

from logbroker.cluster import znodes
from logbroker.cluster.znodes import NO_LEADER, PartitionState, TopicAssignment
from logbroker.errors import (
    ElectionNotNeededError,
    EligibleLeadersNotAvailableError,
    NotControllerError,
    PreferredLeaderNotAvailableError,
    UnknownTopicError,
)
from logbroker.zookeeper_deadline import ZooKeeperCalls

log = logging.getLogger(__name__)

WRITE_BATCH = 200  # partition states per ZooKeeper transaction (well under its 1 MiB request limit)


def elect_preferred(assigned: tuple[int, ...], state: PartitionState, live: set[int],
                    controller_epoch: int) -> PartitionState:
    """ElectLeaders PREFERRED: the first assigned replica leads. Raises ElectionNotNeededError or
    PreferredLeaderNotAvailableError (pure)."""
    preferred = assigned[0]
    if state.leader == preferred:
        raise ElectionNotNeededError("Leader election not needed for topic partition.")
    if preferred not in live or preferred not in state.isr:
        raise PreferredLeaderNotAvailableError(
            f"Failed to elect leader for partition: preferred replica {preferred} is not alive or not in "
            f"the ISR {list(state.isr)}")
    return PartitionState(preferred, state.leader_epoch + 1, state.isr, controller_epoch)


def elect_unclean(assigned: tuple[int, ...], state: PartitionState, live: set[int],
                  controller_epoch: int) -> PartitionState:
    """ElectLeaders UNCLEAN: only for a partition without a live leader; a live ISR member first, else
    any live replica (it may lack acknowledged records). Raises ElectionNotNeededError or
    EligibleLeadersNotAvailableError (pure)."""
    if state.leader in live:
        raise ElectionNotNeededError("Leader election not needed for topic partition.")
    in_sync = [r for r in assigned if r in live and r in state.isr]
    if in_sync:
        return PartitionState(in_sync[0], state.leader_epoch + 1, tuple(r for r in state.isr if r in live),
                              controller_epoch)
    anyone = [r for r in assigned if r in live]
    if not anyone:
        raise EligibleLeadersNotAvailableError("Failed to elect leader for partition: no live replica")
    log.warning("unclean leader election asked for: broker %d leads without being in the ISR %s", anyone[0],
                list(state.isr))
    return PartitionState(anyone[0], state.leader_epoch + 1, (anyone[0],), controller_epoch)


def finish_reassignment(target: tuple[int, ...], state: PartitionState, live: set[int],
                        controller_epoch: int) -> PartitionState | None:
    """The state once every target replica is in the ISR: the leader inside the target, the leaving
    replicas out of the ISR; None while some target replica is not in sync yet (pure)."""
    if not all(r in state.isr for r in target):
        return None
    leader = state.leader if state.leader in target and state.leader in live else \
        next((r for r in target if r in live), NO_LEADER)
    isr = tuple(r for r in state.isr if r in target)
    return PartitionState(leader, state.leader_epoch + 1, isr, controller_epoch)


def _complete(assignment: TopicAssignment, *, partition: int, target: tuple[int, ...]) -> TopicAssignment | None:
    """The assignment with ``partition``'s reassignment to ``target`` completed (None: not running)."""
    if assignment.reassigning(partition) and assignment.target(partition) == target:
        return assignment.with_partition(partition, target)
    return None


def elect(assigned: tuple[int, ...], state: PartitionState | None, live: set[int], controller_epoch: int,
          unclean: bool) -> PartitionState | None:
    """The partition's next state, or None when it needs no change (pure: the election rules above)."""
    if state is None:
        isr = tuple(r for r in assigned if r in live)
        if not isr:
            return None
        return PartitionState(isr[0], 0, isr, controller_epoch)
    live_isr = tuple(r for r in state.isr if r in live)
    if state.leader in live:
        if live_isr == state.isr:
            return None
        return PartitionState(state.leader, state.leader_epoch + 1, live_isr, controller_epoch)
    candidates = [r for r in assigned if r in live_isr]
    if candidates:
        return PartitionState(candidates[0], state.leader_epoch + 1, live_isr, controller_epoch)
    if unclean:
        anyone = [r for r in assigned if r in live]
        if anyone:
            log.warning("unclean leader election: broker %d leads without being in the ISR %s", anyone[0],
                        list(state.isr))
            return PartitionState(anyone[0], state.leader_epoch + 1, (anyone[0],), controller_epoch)
    if state.leader == NO_LEADER:
        return None
    # Offline: keep the last ISR so that only one of its members can lead again (no data loss).
    return PartitionState(NO_LEADER, state.leader_epoch + 1, state.isr, controller_epoch)


class Controller:
    """This broker's part in the controller election, and the controller's work when it wins."""

    def __init__(self, zk: KazooClient, broker_id: int, unclean: Callable[[str], bool]) -> None:
        self.zk = zk
        self.broker_id = broker_id
        self.unclean = unclean  # topic -> unclean.leader.election.enable
        self.epoch = -1
        self._epoch_version = -1
        self._seen: dict[int, int] = {}  # broker id -> registration czxid at the last election pass

    @property
    def active(self) -> bool:
        return self.epoch >= 0

    def controller_id(self) -> int:
        try:
            data, _ = self.zk.get(znodes.CONTROLLER)
        except NoNodeError:
            return -1
        return znodes.controller_id(data)

    def try_elect(self, watch: Callable[..., object]) -> None:
        """Become controller when ``/controller`` is free; stay (or stop) otherwise."""
        stat = self.zk.exists(znodes.CONTROLLER, watch=watch)
        session = self.zk.client_id[0] if self.zk.client_id else None
        if stat is not None:
            if stat.ephemeralOwner != session:
                if self.active:
                    log.info("broker %d is no longer the controller (epoch %d)", self.broker_id, self.epoch)
                self.epoch = -1
            return
        try:
            self.zk.create(znodes.CONTROLLER, znodes.controller_json(self.broker_id), ephemeral=True)
        except NodeExistsError:
            self.epoch = -1
            return
        self.epoch, self._epoch_version = self._increment_epoch()
        log.info("broker %d is the controller (controller epoch %d)", self.broker_id, self.epoch)

    def _increment_epoch(self) -> tuple[int, int]:
        while True:
            try:
                data, stat = self.zk.get(znodes.CONTROLLER_EPOCH)
            except NoNodeError:
                try:
                    self.zk.create(znodes.CONTROLLER_EPOCH, b"1")
                    return 1, 0
                except NodeExistsError:
                    continue
            epoch = int(data) + 1
            try:
                new_stat: ZnodeStat = self.zk.set(znodes.CONTROLLER_EPOCH, str(epoch).encode(), version=stat.version)
                return epoch, new_stat.version
            except BadVersionError:
                continue

    def elect_leaders(self, registrations: dict[int, int], assignments: dict[str, TopicAssignment],
                      states: dict[tuple[str, int], tuple[PartitionState, int]]) -> int:
        """Run leader election over every partition; returns how many states were written.

        ``registrations`` maps each live broker id to its registration znode's czxid. A broker whose
        czxid changed since the last pass restarted in between (its old session may not even have
        expired): for this pass it counts as dead, so it loses its leaderships and leaves the ISRs,
        as Kafka's controller handles a bounced broker; it rejoins the ISR once caught up.
        """
        bounced = {b for b, czxid in registrations.items() if self._seen.get(b, czxid) != czxid}
        for b in bounced:
            log.info("controller %d: broker %d restarted (a new registration)", self.broker_id, b)
        self._seen = dict(registrations)
        live = set(registrations) - bounced
        writes: list[tuple[str, int, PartitionState, int]] = []
        for topic, assignment in assignments.items():
            for p, assigned in enumerate(assignment.replicas):
                held = states.get((topic, p))
                state, version = held if held is not None else (None, -1)
                new = elect(assigned, state, live, self.epoch, self.unclean(topic))
                if new is not None:
                    writes.append((topic, p, new, version))
        written = []
        for start in range(0, len(writes), WRITE_BATCH):
            written += self._write_many(writes[start:start + WRITE_BATCH])
        for topic, p, new, _ in written:
            log.info("controller %d: %s-%d leader %d epoch %d isr %s", self.broker_id, topic, p, new.leader,
                     new.leader_epoch, list(new.isr))
        return len(written)

    def _write_many(self, writes: list[tuple[str, int, PartitionState, int]]
                    ) -> list[tuple[str, int, PartitionState, int]]:
        """Several partition states in one transaction (one write to ZooKeeper's log, instead of one per
        partition: a new topic's partitions, or every partition a dead broker led); when it is refused
        (one state moved meanwhile), one by one. Returns the writes made."""
        if len(writes) == 1:
            return writes if self._write(*writes[0]) else []
        tx = self.zk.transaction()
        tx.check(znodes.CONTROLLER_EPOCH, self._epoch_version)
        planned: list[tuple[str, int, PartitionState, int]] = []
        parents: set[str] = set()
        for topic, p, state, version in writes:
            path = znodes.partition_state_path(topic, p)
            if version < 0:
                if self.zk.exists(znodes.topic_path(topic)) is None:
                    continue  # deleted meanwhile: never recreate its parents
                partitions = f"{znodes.topic_path(topic)}/partitions"
                for parent in (partitions, f"{partitions}/{p}"):
                    if parent not in parents and self.zk.exists(parent) is None:
                        tx.create(parent)
                    parents.add(parent)
                tx.create(path, state.to_json())
            else:
                tx.set_data(path, state.to_json(), version=version)
            planned.append((topic, p, state, version))
        if not planned:
            return []
        if not any(isinstance(r, Exception) for r in tx.commit()):
            return planned
        if self._fenced():
            self.epoch = -1
            return []
        return [w for w in planned if self._write(*w)]

    # ------------------------------------------------------------ admin requests (the controller's)
    def require_active(self) -> None:
        if not self.active:
            raise NotControllerError(f"broker {self.broker_id} is not the controller")

    def read_state(self, topic: str, partition: int, zk: ZooKeeperCalls | None = None) -> tuple[PartitionState, int]:
        try:
            data, stat = (zk or self.zk).get(znodes.partition_state_path(topic, partition))
        except NoNodeError:
            raise UnknownTopicError(f"{topic}-{partition} has no state yet") from None
        return PartitionState.from_json(data), stat.version

    def elect_now(self, topic: str, partition: int, assigned: tuple[int, ...], live: set[int],
                  preferred: bool, zk: ZooKeeperCalls | None = None) -> PartitionState:
        """ElectLeaders for one partition; raises the election's refusal, NotControllerError when
        fenced. A state changed meanwhile is read again (a few times). ``zk``: the calls to make
        (an admin request's, bounded by its deadline), else the controller's client."""
        self.require_active()
        for _ in range(5):
            state, version = self.read_state(topic, partition, zk)
            chosen = (elect_preferred if preferred else elect_unclean)(assigned, state, live, self.epoch)
            if self._write(topic, partition, chosen, version, zk):
                log.info("controller %d: %s election of %s-%d: leader %d epoch %d", self.broker_id,
                         "preferred" if preferred else "unclean", topic, partition, chosen.leader,
                         chosen.leader_epoch)
                return chosen
            self.require_active()
        raise NotControllerError(f"{topic}-{partition}: its state kept changing; retry")

    def update_assignment(self, topic: str, change: Callable[[TopicAssignment], TopicAssignment | None],
                          zk: ZooKeeperCalls | None = None) -> TopicAssignment:
        """Rewrite a topic's assignment with ``change`` (None: leave it), conditionally on both the
        topic znode's and the controller epoch's versions; a concurrent change is read again.
        ``zk`` as for ``elect_now``."""
        self.require_active()
        calls = zk or self.zk
        path = znodes.topic_path(topic)
        for _ in range(5):
            try:
                data, stat = calls.get(path)
            except NoNodeError:
                raise UnknownTopicError(f"Topic '{topic}' does not exist.") from None
            current = TopicAssignment.from_json(data)
            new = change(current)
            if new is None:
                return current
            tx = calls.transaction()
            tx.check(znodes.CONTROLLER_EPOCH, self._epoch_version)
            tx.set_data(path, new.to_json(), version=stat.version)
            failed = [r for r in tx.commit() if isinstance(r, Exception)]
            if not failed:
                return new
            if self._fenced(zk):
                self.epoch = -1
                self.require_active()
        raise NotControllerError(f"the assignment of {topic} kept changing; retry")

    def finish_reassignments(self, registrations: dict[int, int], assignments: dict[str, TopicAssignment],
                             states: dict[tuple[str, int], tuple[PartitionState, int]]) -> int:
        """Complete every reassignment whose target replicas are all in the ISR; returns how many."""
        live = set(registrations)
        done = 0
        for topic, assignment in assignments.items():
            for p in sorted(set(assignment.adding) | set(assignment.removing)):
                held = states.get((topic, p))
                if held is None:
                    continue
                state, version = held
                target = assignment.target(p)
                new = finish_reassignment(target, state, live, self.epoch)
                if new is None:
                    continue
                if (new.leader, new.isr) != (state.leader, state.isr) and not self._write(topic, p, new, version):
                    continue

                self.update_assignment(topic, functools.partial(_complete, partition=p, target=target))
                log.info("controller %d: %s-%d reassigned to %s (leader %d, isr %s)", self.broker_id, topic, p,
                         list(target), new.leader, list(new.isr))
                done += 1
        return done

    def finish_deletions(self, deletions: dict[str, tuple[TopicAssignment | None, frozenset[int]]]) -> int:
        """Delete from ZooKeeper each topic marked for deletion whose replicas all deleted their copies
        (``deletions``: topic -> its assignment, None once its znode is gone, and the brokers that
        did); returns how many. A controller deposed meanwhile deletes nothing."""
        done = 0
        for topic, (assignment, deleted_by) in deletions.items():
            if assignment is not None and not assignment.all_replicas() <= deleted_by:
                continue
            tx = self.zk.transaction()
            tx.check(znodes.CONTROLLER_EPOCH, self._epoch_version)
            if assignment is not None:
                partitions = f"{znodes.topic_path(topic)}/partitions"
                with contextlib.suppress(NoNodeError):
                    for p in self.zk.get_children(partitions):
                        with contextlib.suppress(NoNodeError):
                            if self.zk.get_children(f"{partitions}/{p}"):
                                tx.delete(f"{partitions}/{p}/state")
                        tx.delete(f"{partitions}/{p}")
                    tx.delete(partitions)
                tx.delete(znodes.topic_path(topic))
                if self.zk.exists(znodes.topic_config_path(topic)) is not None:
                    tx.delete(znodes.topic_config_path(topic))
            try:
                marks = self.zk.get_children(znodes.delete_topic_path(topic))
            except NoNodeError:
                continue  # another controller finished it
            for child in marks:
                tx.delete(f"{znodes.delete_topic_path(topic)}/{child}")
            tx.delete(znodes.delete_topic_path(topic))
            failed = [r for r in tx.commit() if isinstance(r, Exception)]
            if failed:
                log.info("controller %d: deletion of topic %s not written (%s); tried again on the next pass",
                         self.broker_id, topic, type(failed[0]).__name__)
                if self._fenced():
                    self.epoch = -1
                    return done
                continue
            log.info("controller %d: topic %s deleted from the cluster (every replica deleted its copy)",
                     self.broker_id, topic)
            done += 1
        return done

    def _write(self, topic: str, partition: int, state: PartitionState, version: int,
               zk: ZooKeeperCalls | None = None) -> bool:
        """Write one partition state, fenced by the controller epoch's zkVersion and (for an existing
        state) the state's own zkVersion. False when either check failed."""
        calls = zk or self.zk
        path = znodes.partition_state_path(topic, partition)
        if version < 0:
            if calls.exists(znodes.topic_path(topic)) is None:
                return False  # deleted meanwhile: never recreate its parents
            calls.ensure_path(path.rsplit("/", 1)[0])
        tx = calls.transaction()
        tx.check(znodes.CONTROLLER_EPOCH, self._epoch_version)
        if version < 0:
            tx.create(path, state.to_json())
        else:
            tx.set_data(path, state.to_json(), version=version)
        results = tx.commit()
        failed = [r for r in results if isinstance(r, Exception)]
        if failed:
            log.info("controller %d: write of %s-%d state refused (%s)", self.broker_id, topic, partition,
                     type(failed[0]).__name__)
            if isinstance(failed[0], BadVersionError) and self._fenced(zk):
                self.epoch = -1
            return False
        return True

    def _fenced(self, zk: ZooKeeperCalls | None = None) -> bool:
        """True when the controller epoch moved on (another controller was elected)."""
        try:
            _, stat = (zk or self.zk).get(znodes.CONTROLLER_EPOCH)
        except NoNodeError:
            return True
        return bool(stat.version != self._epoch_version)
