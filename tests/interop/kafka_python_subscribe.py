"""A kafka-python group member subscribed the way that avoids a rebalance the client drops.

kafka-python 3.0.12's group leader assigns partitions from its own metadata cache. A member whose
first join happens before its topic metadata has arrived assigns nothing; once the metadata comes,
the leader sees that the metadata changed since its assignment and rejoins. That rejoin is asked
for only by comparing two metadata snapshots, and the leader overwrites the older one when it
performs the next assignment, inside the join task. When ``poll(timeout_ms)`` has returned while
that task was still waiting for JoinGroup, nothing is left that says a rejoin is needed: the
finished JoinGroup/SyncGroup round is never applied, heartbeats stay disabled and the member sits
in REBALANCING with no partitions until the coordinator expires it. Apache Kafka 4.1.1 and logbroker
show it alike (``test_a_rejoin_asked_for_by_metadata_alone_is_dropped`` pins it on both);
docs/COMPATIBILITY.md tells the story. Fetching the topics' metadata before subscribing makes the
first assignment complete, so no metadata-triggered rejoin follows (the ``logbroker consume
--group`` tool does the same).
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
    return consumer
