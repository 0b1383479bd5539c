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
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError
from kazoo.protocol.states import ZnodeStat

from logbroker.cluster import znodes
from logbroker.cluster.znodes import NO_LEADER, PartitionState, TopicAssignment

log = logging.getLogger(__name__)


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
        written = 0
        for topic, assignment in assignments.items():
            for p, assigned in enumerate(assignment.replicas):
                held = states.get((topic, p))
                state, version = held if held is not None else (None, -1)
                new = elect(assigned, state, live, self.epoch, self.unclean(topic))
                if new is None:
                    continue
                if self._write(topic, p, new, version):
                    written += 1
                    log.info("controller %d: %s-%d leader %d epoch %d isr %s", self.broker_id, topic, p,
                             new.leader, new.leader_epoch, list(new.isr))
        return written

    def _write(self, topic: str, partition: int, state: PartitionState, version: int) -> bool:
        """Write one partition state, fenced by the controller epoch's zkVersion and (for an existing
        state) the state's own zkVersion. False when either check failed."""
        path = znodes.partition_state_path(topic, partition)
        if version < 0:
            if self.zk.exists(znodes.topic_path(topic)) is None:
                return False  # deleted meanwhile: never recreate its parents
            self.zk.ensure_path(path.rsplit("/", 1)[0])
        tx = self.zk.transaction()
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
            if isinstance(failed[0], BadVersionError) and self._fenced():
                self.epoch = -1
            return False
        return True

    def _fenced(self) -> bool:
        """True when the controller epoch moved on (another controller was elected)."""
        try:
            _, stat = self.zk.get(znodes.CONTROLLER_EPOCH)
        except NoNodeError:
            return True
        return bool(stat.version != self._epoch_version)
