"""A kafka-python group member subscribed the way that avoids a rebalance the client drops.

kafka-python 3.0.12 can drop a rejoin that follows a group leader's first assignment, leaving the
member without heartbeats until the coordinator expires it (Apache Kafka 4.1.1 and logbroker alike;
``test_a_rejoin_asked_for_by_metadata_alone_is_dropped`` pins it on both). ``subscribe_group`` in
``logbroker/tools/clients.py`` subscribes so that no such rejoin follows, and says how;
docs/COMPATIBILITY.md tells the story.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer

from logbroker.tools.clients import subscribe_group


def subscribed(topics: Sequence[str], listener: ConsumerRebalanceListener | None = None,
               **config: Any) -> KafkaConsumer:
    consumer = KafkaConsumer(**config)
    subscribe_group(consumer, topics, listener)
    return consumer
