"""A kafka-python group member subscribed the way that avoids a rebalance the client drops.

kafka-python 3.0.12's group leader asks for a rejoin only when its coordinator's metadata snapshot
(the partitions of the group's topics) differs from the one it assigned with, and it overwrites the
older one when it performs the next assignment, inside the join task. When ``poll(timeout_ms)`` has
returned while that task was still waiting for JoinGroup, nothing is left that says a rejoin is
needed: the finished JoinGroup/SyncGroup round is never applied, heartbeats stay disabled and the
member sits in REBALANCING with its old partitions until the coordinator expires it. Apache Kafka
4.1.1 and logbroker show it alike (``test_a_rejoin_asked_for_by_metadata_alone_is_dropped`` pins it
on both); docs/COMPATIBILITY.md tells the story.

Two things make such a metadata-only rejoin follow a member's first assignment, and both are closed
here. The leader assigns from its metadata cache, so a topic not yet fetched gets nothing: the
topics' metadata is fetched before subscribing. And the coordinator takes its snapshot when the
consumer is built, with no subscription, and renews it only on a metadata answer that arrives after
``subscribe``; a leader whose first JoinGroup is answered before that assigns against an empty
snapshot: one more metadata fetch after subscribing renews it. The ``logbroker consume --group``
tool and the bench driver do the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer


def subscribed(topics: Sequence[str], listener: ConsumerRebalanceListener | None = None,
               **config: Any) -> KafkaConsumer:
    consumer = KafkaConsumer(**config)
    for topic in topics:
        consumer.partitions_for_topic(topic)
    consumer.subscribe(list(topics), listener=listener)
    consumer.topics()  # a metadata answer after subscribe renews the coordinator's snapshot
    return consumer
