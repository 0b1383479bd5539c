"""Consumer groups (the classic protocol) and their committed offsets.

``coordinator.py`` holds the group state machine and member management, ``group.py`` one group's
state, ``offsets.py`` the ``__consumer_offsets`` topic the state is persisted in, ``schema.py`` the
byte layouts of its records (Kafka's own) and ``assignment.py`` the consumer embedded protocol.
"""

from __future__ import annotations

from logbroker.groups.coordinator import (
    CoordinatorSettings,
    GroupCoordinator,
    JoinRequest,
    OffsetCommitInput,
    PartitionLag,
)
from logbroker.groups.errors import GroupError
from logbroker.groups.group import GroupState
from logbroker.groups.offsets import BrokerGroupLog

__all__ = [
    "BrokerGroupLog",
    "CoordinatorSettings",
    "GroupCoordinator",
    "GroupError",
    "GroupState",
    "JoinRequest",
    "OffsetCommitInput",
    "PartitionLag",
]
