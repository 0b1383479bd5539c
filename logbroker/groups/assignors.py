"""Server-side partition assignors: pure functions from subscriptions to a target assignment.

Each assignor takes the group's members (id -> what the member subscribes to and the partitions
its previous target held) and the partition count of every subscribed topic, and returns the
target: member id -> the set of (topic, partition) it should own. A partition of a topic is only
given to members subscribed to that topic, and every partition of a subscribed topic is given to
exactly one member (none when nobody subscribes to its topic). Ties are broken by sorted member
id, so the same input always gives the same output (members on several brokers, or a replay,
agree).

- ``range``: per topic, the subscribed members (sorted) get contiguous ranges of partitions; the
  first ``count % members`` get one extra (Kafka's classic ``RangeAssignor``). Members subscribed
  to the same topics get the same partition numbers of each topic (co-partitioned joins).
- ``uniform``: every subscribed partition, sorted by (topic, partition), dealt round-robin to the
  members subscribed to its topic. Balanced, not sticky.
- ``sticky``: keeps each member's previous partitions where it still subscribes and the result
  stays balanced, then gives the remaining partitions to the least-loaded eligible members and
  moves partitions off members that have two or more above an eligible member. Only partitions
  that must move for balance move, so a join or a leave disturbs as few members as possible.

Kafka's own broker assignors are ``uniform`` (which is sticky in Kafka) and ``range``
(``group.consumer.assignors``); ``sticky`` here is the sticky one under its own name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

TopicPartition = tuple[str, int]


@dataclass(frozen=True, slots=True)
class MemberSubscription:
    """What the assignor knows of one member: its resolved topics and its previous target."""

    topics: frozenset[str]
    current: frozenset[TopicPartition] = field(default_factory=frozenset)


Assignment = dict[str, set[TopicPartition]]
Assignor = Callable[[Mapping[str, MemberSubscription], Mapping[str, int]], Assignment]


def _subscribers(members: Mapping[str, MemberSubscription], partitions: Mapping[str, int]) -> dict[str, list[str]]:
    """topic -> sorted ids of members subscribed to it, for topics that exist."""
    out: dict[str, list[str]] = {}
    for member_id in sorted(members):
        for topic in members[member_id].topics:
            if partitions.get(topic, 0) > 0:
                out.setdefault(topic, []).append(member_id)
    return out


def assign_range(members: Mapping[str, MemberSubscription], partitions: Mapping[str, int]) -> Assignment:
    result: Assignment = {m: set() for m in members}
    for topic, subs in sorted(_subscribers(members, partitions).items()):
        count = partitions[topic]
        share, extra = divmod(count, len(subs))
        start = 0
        for i, member_id in enumerate(subs):
            n = share + (1 if i < extra else 0)
            result[member_id].update((topic, p) for p in range(start, start + n))
            start += n
    return result


def assign_uniform(members: Mapping[str, MemberSubscription], partitions: Mapping[str, int]) -> Assignment:
    result: Assignment = {m: set() for m in members}
    subs = _subscribers(members, partitions)
    order = sorted(members)
    position = {m: i for i, m in enumerate(order)}
    turn = 0  # index into ``order`` of the next member to deal to
    for topic in sorted(subs):
        eligible = set(subs[topic])
        for p in range(partitions[topic]):
            # The next member in the rotation that subscribes to this topic (one always does).
            for step in range(len(order)):
                candidate = order[(turn + step) % len(order)]
                if candidate in eligible:
                    result[candidate].add((topic, p))
                    turn = (position[candidate] + 1) % len(order)
                    break
    return result


def assign_sticky(members: Mapping[str, MemberSubscription], partitions: Mapping[str, int]) -> Assignment:
    subs = _subscribers(members, partitions)
    eligible: dict[TopicPartition, list[str]] = {
        (topic, p): ids for topic, ids in subs.items() for p in range(partitions[topic])}
    result: Assignment = {m: set() for m in members}
    owner: dict[TopicPartition, str] = {}
    # 1. Keep what each member had, where it still may own it (first claim wins on a conflict).
    for member_id in sorted(members):
        for tp in sorted(members[member_id].current):
            if tp in eligible and tp not in owner and member_id in eligible[tp]:
                owner[tp] = member_id
                result[member_id].add(tp)
    # 2. A member keeps at most its fair share: with all members subscribed to the same topics,
    #    ceil(total / members); a member above it gives back its highest partitions.
    total = len(eligible)
    if members and total:
        ceiling = -(-total // len(members))
        for member_id in sorted(members):
            owned = result[member_id]
            if len(owned) > ceiling:
                for tp in sorted(owned)[ceiling:]:
                    owned.discard(tp)
                    del owner[tp]
    # 3. Unowned partitions go to the least-loaded eligible member.
    for tp in sorted(eligible):
        if tp not in owner:
            best = min(eligible[tp], key=lambda m: (len(result[m]), m))
            owner[tp] = best
            result[best].add(tp)
    # 4. Move partitions from a member to an eligible one with two or more fewer, until none can move.
    #    Each move lowers the sum of squared loads, so the loop ends; the bound is a safety net.
    for _ in range(total * max(len(members), 1) + 1):
        moved = False
        for giver in sorted(result, key=lambda m: (-len(result[m]), m)):
            for tp in sorted(result[giver]):
                taker = min(eligible[tp], key=lambda m: (len(result[m]), m))
                if len(result[taker]) + 1 < len(result[giver]):
                    result[giver].discard(tp)
                    result[taker].add(tp)
                    owner[tp] = taker
                    moved = True
                    break
            if moved:
                break
        if not moved:
            break
    return result


ASSIGNORS: dict[str, Assignor] = {
    "uniform": assign_uniform,
    "range": assign_range,
    "sticky": assign_sticky,
}
