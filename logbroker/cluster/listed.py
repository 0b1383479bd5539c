"""How many of a topic's partitions a broker of the cluster lists to clients.

Each broker reads a new partition's first state (leader, epoch, ISR) on its own, a moment after the
topic's assignment, partition by partition. A Kafka broker learns a topic's partitions in one update
from its controller, so a client never sees a topic with fewer partitions than it has, or than it
had. ``ListedPartitions`` keeps that rule here: a topic is listed with all its partitions once every
one's first state has been seen, and until then with as many as when all last were (none for a topic
created a moment ago; the old count while partitions are being added).
"""

from __future__ import annotations

from collections.abc import Callable


class ListedPartitions:
    def __init__(self) -> None:
        self._complete: dict[str, int] = {}  # topic -> its partition count when every state was last seen

    def count(self, topic: str, partitions: int, seen: Callable[[int], bool]) -> int:
        """The partitions to list of ``topic``, which has ``partitions``; ``seen(p)``: whether this
        broker holds partition ``p``'s first state."""
        if self._complete.get(topic) != partitions and all(seen(p) for p in range(partitions)):
            self._complete[topic] = partitions
        return min(self._complete.get(topic, 0), partitions)

    def forget(self, topic: str) -> None:
        """The topic is gone: one created again under its name starts unlisted."""
        self._complete.pop(topic, None)
