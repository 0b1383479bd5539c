"""Hypothesis stateful test: the coordinator driven by clients that join, sync, heartbeat, commit
(sometimes with stale generations), leave, go silent while time passes, and survive coordinator
restarts, checked against a plain model of what clients may observe:

- generations handed out never go back (from a restart on: from the last stored generation), and
  one generation has one member that assigns (is told it leads, without skip_assignment), who is
  among the members it is told about (a static leader's restart may rename the leader within a
  generation, KIP-345/KIP-814, but never makes a second member compute an assignment);
- a SyncGroup answered without error carries exactly the bytes the leader assigned to that member
  for that generation;
- a heartbeat or commit succeeds only with the newest generation handed out; a commit with an older
  one never changes the committed offsets; committed offsets equal the model's, also after replay;
- member ids that left are unknown forever; the group's structure stays consistent.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from logbroker.groups.classic import JoinRequest
from logbroker.groups.classic_group import ClassicGroup
from logbroker.groups.errors import GroupError
from logbroker.groups.offsets import OffsetCommitInput
from logbroker.groups.settings import CoordinatorSettings
from logbroker.groups.state import GroupState
from tests.groups.fakes import MemoryGroupLog, make_coordinator, subscription

G = "g"
CLIENTS = 3
STATIC = 2  # client 2 uses group.instance.id
SETTINGS = CoordinatorSettings(initial_rebalance_delay_ms=500, min_session_timeout_ms=100,
                               max_session_timeout_ms=60_000, retention_check_interval_ms=10**9)
SESSION_MS = 3000
REBALANCE_MS = 4000


@dataclass
class Client:
    index: int
    member_id: str = ""
    generation: int = -1
    leader: bool = False
    members: list[str] = field(default_factory=list)
    join: asyncio.Future[Any] | None = None
    sync: tuple[int, asyncio.Future[Any]] | None = None

    @property
    def instance(self) -> str | None:
        return "static-host" if self.index == STATIC else None

    def forget(self) -> None:
        self.member_id, self.generation, self.leader, self.members = "", -1, False, []


class GroupMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.log = MemoryGroupLog(partitions=2)
        self.coord = make_coordinator(self.log, self.loop, SETTINGS)
        self.now = 0
        self.clients = [Client(i) for i in range(CLIENTS)]
        self.max_generation = 0
        self.leaders: dict[int, str] = {}
        self.sent: dict[tuple[int, str], bytes] = {}  # (generation, member or instance id) -> assignment
        self.committed: dict[tuple[str, int], int] = {}
        self.left: set[str] = set()

    def teardown(self) -> None:
        self.coord.close()
        self.loop.close()

    # ------------------------------------------------------------------ responses

    def _group(self) -> ClassicGroup | None:
        group = self.coord.group(G)
        assert group is None or isinstance(group, ClassicGroup)  # only classic members join here
        return group

    def _key(self, c: Client, member_id: str) -> str:
        return c.instance or member_id

    def _collect(self) -> None:
        for c in self.clients:
            if c.join is not None and c.join.done():
                r = c.join.result()
                c.join = None
                if r.error is GroupError.NONE:
                    assert r.generation_id >= self.max_generation
                    self.max_generation = r.generation_id
                    if r.leader_id == r.member_id and not r.skip_assignment:
                        assert self.leaders.setdefault(r.generation_id, r.member_id) == r.member_id
                    c.member_id, c.generation = r.member_id, r.generation_id
                    c.leader = r.leader_id == r.member_id
                    c.members = [m.member_id for m in r.members]
                    if c.leader and not r.skip_assignment:
                        assert r.member_id in c.members
                elif r.error is GroupError.MEMBER_ID_REQUIRED:
                    c.member_id = r.member_id
                elif r.error in (GroupError.UNKNOWN_MEMBER_ID, GroupError.FENCED_INSTANCE_ID):
                    c.forget()
            if c.sync is not None and c.sync[1].done():
                generation, fut = c.sync
                c.sync = None
                r = fut.result()
                if r.error is GroupError.NONE:
                    expected = self.sent.get((generation, self._key(c, c.member_id)))
                    assert expected is not None, "a SyncGroup succeeded before its leader assigned"
                    assert r.assignment == expected
                elif r.error in (GroupError.UNKNOWN_MEMBER_ID, GroupError.FENCED_INSTANCE_ID):
                    c.forget()

    # ------------------------------------------------------------------ rules

    @rule(i=st.integers(0, CLIENTS - 1))
    def join(self, i: int) -> None:
        c = self.clients[i]
        if c.join is not None:
            return
        req = JoinRequest(G, c.member_id, "consumer", [("range", subscription("t"))], SESSION_MS, REBALANCE_MS,
                          c.instance, client_id=f"c{i}", client_host="/127.0.0.1")
        c.join = self.coord.join_group(req, self.now)
        self._collect()

    @rule(i=st.integers(0, CLIENTS - 1))
    def sync(self, i: int) -> None:
        c = self.clients[i]
        if c.generation < 0 or c.sync is not None:
            return
        plan: dict[str, bytes] = {}
        if c.leader:
            for m in c.members:
                plan[m] = f"{c.generation}:{m}".encode()
        group = self._group()
        instances = {mid: m.group_instance_id for mid, m in group.members.items()} if group else {}
        fut = self.coord.sync_group(G, c.generation, c.member_id, plan, self.now, group_instance_id=c.instance)
        # A plan counts only if the coordinator took the SyncGroup: one refused at once (a stale
        # generation, say one a restarted coordinator forgot and will hand out again) is never sent.
        if not (fut.done() and fut.result().error is not GroupError.NONE):
            for m, data in plan.items():
                self.sent.setdefault((c.generation, instances.get(m) or m), data)
        c.sync = (c.generation, fut)
        self._collect()

    @rule(i=st.integers(0, CLIENTS - 1))
    def heartbeat(self, i: int) -> None:
        c = self.clients[i]
        error = self.coord.heartbeat(G, c.generation, c.member_id, self.now, group_instance_id=c.instance)
        if error in (GroupError.NONE, GroupError.REBALANCE_IN_PROGRESS):
            assert c.generation == self.max_generation
        if c.member_id in self.left or not c.member_id:
            # a static client without its member id is fenced while its instance id is held
            assert error is GroupError.UNKNOWN_MEMBER_ID or (c.instance and error is GroupError.FENCED_INSTANCE_ID)
        if error in (GroupError.UNKNOWN_MEMBER_ID, GroupError.FENCED_INSTANCE_ID):
            c.forget()

    @rule(i=st.integers(0, CLIENTS - 1), partition=st.integers(0, 2), offset=st.integers(0, 1000),
          stale=st.booleans())
    def commit(self, i: int, partition: int, offset: int, stale: bool) -> None:
        c = self.clients[i]
        if c.generation < 0:
            return
        generation = c.generation - 1 if stale else c.generation
        tp = ("t", partition)
        fut = self.coord.commit_offsets(G, generation, c.member_id, {tp: OffsetCommitInput(offset, -1, "m")},
                                        self.now, group_instance_id=c.instance)
        error = fut.result()[tp]
        if error is GroupError.NONE:
            assert generation == self.max_generation, "a commit from an old generation was accepted"
            self.committed[tp] = offset

    @rule(partition=st.integers(0, 2), offset=st.integers(0, 1000))
    def simple_commit(self, partition: int, offset: int) -> None:
        tp = ("t", partition)
        group = self._group()
        empty = group is None or group.state is GroupState.EMPTY
        error = self.coord.commit_offsets(G, -1, "", {tp: OffsetCommitInput(offset)}, self.now).result()[tp]
        assert (error is GroupError.NONE) == empty
        if error is GroupError.NONE:
            self.committed[tp] = offset

    @rule(i=st.integers(0, CLIENTS - 1))
    def leave(self, i: int) -> None:
        c = self.clients[i]
        if not c.member_id:
            return
        _, errors = self.coord.leave_group(G, [(c.member_id, c.instance)], self.now)
        if errors[0] is GroupError.NONE:
            self.left.add(c.member_id)
        c.forget()
        self._collect()

    @rule(i=st.just(STATIC))
    def static_restart(self, i: int) -> None:
        """The static client restarts: it forgets its member id and will rejoin by instance id."""
        c = self.clients[i]
        if c.join is None:
            c.forget()

    @rule(ms=st.sampled_from([10, 100, 600, 1500, 3100, 5000]))
    def advance(self, ms: int) -> None:
        self.now += ms
        self.coord.tick(self.now)
        self._collect()

    @rule(rounds=st.integers(1, 3))
    def behave(self, rounds: int) -> None:
        """Every client acts like a well-behaved consumer for a while: (re)join, wait, sync, heartbeat."""
        for _ in range(rounds):
            for c in self.clients:
                self.join(c.index)
            self.advance(600)
            self.advance(600)
            for c in self.clients:
                if c.leader:
                    self.sync(c.index)
            for c in self.clients:
                self.sync(c.index)
                if c.generation >= 0:
                    self.heartbeat(c.index)

    @precondition(lambda self: all(c.join is None and c.sync is None for c in self.clients))
    @rule()
    def restart_coordinator(self) -> None:
        self.coord.close()
        self.coord = make_coordinator(self.log, self.loop, SETTINGS)
        self.coord.load(self.now)
        group = self._group()
        # Like Kafka, a generation is persisted when its assignment is stored (or it empties); one
        # handed out but not yet synced is forgotten, and its number may be handed out again.
        self.max_generation = group.generation_id if group else 0
        self.leaders = {g: leader for g, leader in self.leaders.items() if g <= self.max_generation}
        self.sent = {k: v for k, v in self.sent.items() if k[0] <= self.max_generation}
        # Likewise a member that left after the last stored generation comes back with it (Kafka
        # too); its session then expires, since the client that left never heartbeats again.
        if group is not None:
            self.left -= set(group.members)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def offsets_match_the_model(self) -> None:
        got = {tp: c.offset for tp, c in self.coord.fetch_offsets(G, None).items() if c is not None}
        assert got == self.committed

    @invariant()
    def group_is_consistent(self) -> None:
        group = self._group()
        if group is None:
            return
        assert group.generation_id >= self.max_generation
        if group.state is GroupState.EMPTY:
            assert not group.members and group.leader_id is None and group.protocol_name is None
        if group.state in (GroupState.STABLE, GroupState.COMPLETING_REBALANCE):
            assert group.leader_id in group.members and group.protocol_name == "range"
        for instance, member_id in group.static_members.items():
            assert group.members[member_id].group_instance_id == instance
        assert not (set(group.members) & self.left)


TestGroupMachine = GroupMachine.TestCase
TestGroupMachine.settings = settings(max_examples=200, stateful_step_count=40, deadline=None,
                                     suppress_health_check=[HealthCheck.too_slow])


def test_a_generation_a_restart_forgot_carries_only_its_own_leaders_assignment() -> None:
    """A sequence the machine above once failed on: generation 3 is handed out but not stored when the
    coordinator restarts (back at generation 2); the old leader of 3 then sends a SyncGroup for 3,
    refused (ILLEGAL_GENERATION), and a later generation 3 with another leader must give each member
    what that leader assigned it, never the refused plan."""
    machine = GroupMachine()
    steps: list[tuple[str, dict[str, int]]] = [
        ("behave", {"rounds": 1}), ("behave", {"rounds": 2}), ("join", {"i": 0}), ("leave", {"i": 1}),
        ("restart_coordinator", {}), ("behave", {"rounds": 1}), ("behave", {"rounds": 1}), ("leave", {"i": 2}),
        ("behave", {"rounds": 1}),
    ]
    try:
        for name, args in steps:
            getattr(machine, name)(**args)
            machine.offsets_match_the_model()
            machine.group_is_consistent()
        group = machine._group()
        assert group is not None and group.state is GroupState.STABLE and group.generation_id == 3
        assert len(group.members) == 3
        for member_id, member in group.members.items():
            assert member.assignment == f"3:{member_id}".encode()
        assert all(c.generation == 3 and c.sync is None for c in machine.clients)
    finally:
        machine.teardown()
