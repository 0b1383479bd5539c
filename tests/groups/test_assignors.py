"""The assignors of ``logbroker/groups/assignors.py``: coverage, balance, stickiness, determinism."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logbroker.groups.assignors import ASSIGNORS, Assignment, MemberSubscription, TopicPartition


def subs(members: list[str], topics: set[str], current: Mapping[str, set[TopicPartition]] | None = None
         ) -> dict[str, MemberSubscription]:
    current = current or {}
    return {m: MemberSubscription(frozenset(topics), frozenset(current.get(m, set()))) for m in members}


def check_valid(result: Assignment, members: Mapping[str, MemberSubscription], parts: Mapping[str, int]) -> None:
    owned = [tp for tps in result.values() for tp in tps]
    assert len(owned) == len(set(owned)), "a partition assigned twice"
    wanted = {(t, p) for m in members.values() for t in m.topics if t in parts for p in range(parts[t])}
    assert set(owned) == wanted
    for member_id, tps in result.items():
        assert all(t in members[member_id].topics for t, _ in tps)


@pytest.mark.parametrize("name", sorted(ASSIGNORS))
def test_balanced_when_subscriptions_match(name: str) -> None:
    members = subs(["a", "b", "c"], {"t"})
    result = ASSIGNORS[name](members, {"t": 8})
    check_valid(result, members, {"t": 8})
    assert sorted(len(v) for v in result.values()) == [2, 3, 3]


def test_range_gives_contiguous_ranges_per_topic() -> None:
    result = ASSIGNORS["range"](subs(["a", "b"], {"x", "y"}), {"x": 3, "y": 2})
    assert result == {"a": {("x", 0), ("x", 1), ("y", 0)}, "b": {("x", 2), ("y", 1)}}


def test_uniform_deals_round_robin() -> None:
    result = ASSIGNORS["uniform"](subs(["a", "b"], {"t"}), {"t": 4})
    assert result == {"a": {("t", 0), ("t", 2)}, "b": {("t", 1), ("t", 3)}}


def test_sticky_join_moves_only_what_balance_needs() -> None:
    before = ASSIGNORS["sticky"](subs(["a", "b"], {"t"}), {"t": 6})
    after = ASSIGNORS["sticky"](subs(["a", "b", "c"], {"t"}, before), {"t": 6})
    moved = sum(len(before[m] - after[m]) for m in ("a", "b"))
    assert moved == 2  # the newcomer's fair share, nothing else
    assert sorted(len(v) for v in after.values()) == [2, 2, 2]


def test_sticky_leave_keeps_the_survivors_partitions() -> None:
    before = ASSIGNORS["sticky"](subs(["a", "b", "c"], {"t"}), {"t": 9})
    after = ASSIGNORS["sticky"](subs(["a", "b"], {"t"}, before), {"t": 9})
    assert before["a"] <= after["a"] and before["b"] <= after["b"]
    assert sorted(len(v) for v in after.values()) == [4, 5]


def test_heterogeneous_subscriptions_only_get_their_topics() -> None:
    members = {"a": MemberSubscription(frozenset({"x"})), "b": MemberSubscription(frozenset({"x", "y"}))}
    for name, assignor in ASSIGNORS.items():
        result = assignor(members, {"x": 2, "y": 2})
        check_valid(result, members, {"x": 2, "y": 2})
        assert all(t == "x" for t, _ in result["a"]), name


@given(st.lists(st.sampled_from("abcdefg"), min_size=1, max_size=7, unique=True),
       st.dictionaries(st.sampled_from(["t1", "t2", "t3"]), st.integers(0, 12), min_size=1),
       st.sampled_from(sorted(ASSIGNORS)), st.randoms(use_true_random=False))
def test_any_input_gives_a_valid_deterministic_assignment(members: list[str], parts: dict[str, int], name: str,
                                                          rnd: object) -> None:
    topics = sorted(parts)
    subscriptions = {m: MemberSubscription(frozenset(topics[: 1 + i % len(topics)])) for i, m in enumerate(members)}
    result = ASSIGNORS[name](subscriptions, parts)
    check_valid(result, subscriptions, parts)
    assert ASSIGNORS[name](dict(reversed(list(subscriptions.items()))), parts) == result


@given(st.integers(1, 6), st.integers(0, 30))
def test_sticky_is_balanced_for_identical_subscriptions(n_members: int, n_parts: int) -> None:
    members = subs([f"m{i}" for i in range(n_members)], {"t"})
    result = ASSIGNORS["sticky"](members, {"t": n_parts})
    sizes = [len(v) for v in result.values()]
    assert max(sizes) - min(sizes) <= 1
