"""Hypothesis stateful test of incremental reconciliation against a model of well-behaved clients.

Clients join, leave, die (stop heartbeating), heartbeat (applying each assignment they get, and
reporting what they own), and topics grow, in any order, with time moving forward. After every step:

- no partition is held by two live clients, counting what each client consumes (its own view,
  which includes partitions it has not given back yet) -- the protocol's safety property (a client
  that could not heartbeat for a session stops consuming, as real clients do);
- the coordinator's view agrees: no partition in two members' ``assigned | revoking``.

At the end every client heartbeats a few rounds (dead ones expire first) and every subscribed
partition is owned by exactly one live client: liveness.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from logbroker.groups.consumer import ConsumerGroups
from logbroker.groups.settings import ConsumerGroupSettings

SESSION_MS = 1000
REBALANCE_MS = 800


class Reconciliation(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.topics: dict[str, int] = {"a": 3, "b": 2}
        self.groups = ConsumerGroups({}, lambda: self.topics, ConsumerGroupSettings(
            session_timeout_ms=SESSION_MS, heartbeat_interval_ms=100, assignors=("sticky", "uniform", "range")))
        self.now = 0
        self.clients: dict[str, tuple[int, set[tuple[str, int]]]] = {}  # live: member id -> (epoch, owned)
        self.dead: set[str] = set()
        self.last_ok: dict[str, int] = {}
        self.n = 0

    def _beat(self, member_id: str) -> None:
        epoch, owned = self.clients[member_id]
        r = self.groups.heartbeat("g", member_id, epoch, now_ms=self.now, owned=sorted(owned))
        if r.error:
            # Fenced or unknown: a real client drops its partitions and joins again.
            del self.clients[member_id]
            return
        if r.assignment is not None:
            # A client gives up revoked partitions and starts consuming new ones right away.
            owned = set(r.assignment)
        self.clients[member_id] = (r.member_epoch, owned)
        self.last_ok[member_id] = self.now

    @rule(assignor=st.sampled_from(["sticky", "uniform", "range"]), topics=st.sampled_from([["a"], ["a", "b"]]))
    def join(self, assignor: str, topics: list[str]) -> None:
        self.n += 1
        member_id = f"m{self.n}"
        r = self.groups.heartbeat("g", member_id, 0, now_ms=self.now, subscribed_topics=topics, owned=[],
                                 assignor=assignor, rebalance_timeout_ms=REBALANCE_MS)
        assert r.error == 0
        self.clients[member_id] = (r.member_epoch, set(r.assignment or []))
        self.last_ok[member_id] = self.now

    @precondition(lambda self: bool(self.clients))
    @rule(data=st.data())
    def heartbeat(self, data: st.DataObject) -> None:
        self._beat(data.draw(st.sampled_from(sorted(self.clients))))

    @precondition(lambda self: bool(self.clients))
    @rule(data=st.data())
    def leave(self, data: st.DataObject) -> None:
        member_id = data.draw(st.sampled_from(sorted(self.clients)))
        del self.clients[member_id]
        self.groups.heartbeat("g", member_id, -1, now_ms=self.now)

    @precondition(lambda self: bool(self.clients))
    @rule(data=st.data())
    def die(self, data: st.DataObject) -> None:
        member_id = data.draw(st.sampled_from(sorted(self.clients)))
        del self.clients[member_id]  # silent from now on; consumes nothing (the process is gone)
        self.dead.add(member_id)

    @rule(ms=st.integers(1, 400))
    def time_passes(self, ms: int) -> None:
        self.now += ms
        # A client that could not heartbeat for a whole session presumes its membership lost and stops
        # consuming (as real clients do), before the broker's session timeout gives its partitions away;
        # one that could not heartbeat for its rebalance timeout (max.poll.interval.ms) leaves the group
        # and stops too, before the broker fences it for partitions it did not give back in that time.
        for member_id in sorted(self.clients):
            if self.now - self.last_ok[member_id] >= min(SESSION_MS, REBALANCE_MS):
                del self.clients[member_id]
        self.groups.tick(self.now)
        for member_id in sorted(self.clients):
            if member_id in self.clients and self.now % 3 == 0:
                self._beat(member_id)

    @rule(topic=st.sampled_from(["a", "b", "c"]))
    def grow(self, topic: str) -> None:
        self.topics[topic] = self.topics.get(topic, 0) + 1

    @invariant()
    def no_partition_owned_twice(self) -> None:
        seen: dict[tuple[str, int], str] = {}
        for member_id, (_, owned) in self.clients.items():
            for tp in owned:
                assert tp not in seen, f"{tp} owned by {seen[tp]} and {member_id}"
                seen[tp] = member_id
        group = self.groups.group("g")
        if group is not None:
            held: dict[tuple[str, int], str] = {}
            for m in group.members.values():
                assert not (m.assigned & m.revoking)
                for tp in m.holds():
                    assert tp not in held
                    held[tp] = m.member_id

    def teardown(self) -> None:
        # Dead members expire; every live client keeps heartbeating; everything gets assigned.
        for _ in range(3):
            self.now += SESSION_MS // 3
            for member_id in sorted(self.clients):
                if member_id in self.clients:
                    self._beat(member_id)
            self.groups.tick(self.now)
        for _ in range(8):
            self.now += 50
            for member_id in sorted(self.clients):
                if member_id in self.clients:
                    self._beat(member_id)
            self.groups.tick(self.now)
        self.no_partition_owned_twice()
        group = self.groups.group("g")
        if group is None or not self.clients:
            return
        assert not (set(m.member_id for m in group.members.values()) & self.dead)
        subscribed = {t for m in group.members.values() for t in m.subscribed_topics}
        wanted = {(t, p) for t in subscribed for p in range(self.topics.get(t, 0))}
        owned = {tp for _, tps in self.clients.values() for tp in tps}
        assert owned == wanted
        assert group.state().value == "Stable"


TestReconciliation = Reconciliation.TestCase
TestReconciliation.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
