"""The group coordinator: one group map holding classic groups and consumer-protocol groups, and
every group's committed offsets.

``coordinator.py`` is the facade both fronts call; ``classic.py`` (with ``classic_group.py``)
holds the classic protocol's membership and rebalance state machine, ``consumer.py`` (with
``consumer_group.py`` and ``assignors.py``) the consumer protocol of KIP-848 with broker-side
assignment, ``http_members.py`` the HTTP front's members (positions and sessions), ``offsets.py``
committed offsets, ``record_writer.py``/``offsets_topic.py``/``loader.py`` the
``__consumer_offsets`` topic they are kept in, ``schema.py`` the byte layouts of its records
(Kafka's own) and ``assignment.py`` the consumer embedded protocol. ``state.py`` and
``description.py`` are the one set of types every group type is reported with; ``errors.py`` the
error vocabulary.
"""

from __future__ import annotations

from logbroker.groups.classic import JoinRequest
from logbroker.groups.consumer import HeartbeatResult
from logbroker.groups.coordinator import GroupCoordinator
from logbroker.groups.description import GroupDescription, ListedGroup, MemberDescription, PartitionLag
from logbroker.groups.errors import GroupError, HeartbeatError
from logbroker.groups.offsets import OffsetCommitInput
from logbroker.groups.offsets_topic import BrokerGroupLog
from logbroker.groups.settings import ConsumerGroupSettings, CoordinatorSettings
from logbroker.groups.state import GroupState

__all__ = [
    "BrokerGroupLog",
    "ConsumerGroupSettings",
    "CoordinatorSettings",
    "GroupCoordinator",
    "GroupDescription",
    "GroupError",
    "GroupState",
    "HeartbeatError",
    "HeartbeatResult",
    "JoinRequest",
    "ListedGroup",
    "MemberDescription",
    "OffsetCommitInput",
    "PartitionLag",
]
