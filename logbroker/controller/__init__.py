"""Partition assignment done by the broker: the KIP-848 consumer group protocol.

``assignors.py`` holds the assignors (pure functions), ``group.py`` one group's state and the
member reconciliation state machine, ``controller.py`` the ``Controller`` both fronts call
(ConsumerGroupHeartbeat on the Kafka side, consumer groups on the HTTP side), and ``errors.py`` its
error vocabulary (Kafka's codes). Committed offsets stay in ``logbroker.groups`` (one store and one
group-id namespace for both protocols).
"""

from __future__ import annotations

from logbroker.controller.assignors import ASSIGNORS, MemberSubscription
from logbroker.controller.controller import (
    Controller,
    ControllerSettings,
    GroupDescription,
    HeartbeatResult,
    MemberDescription,
)
from logbroker.controller.errors import ControllerError

__all__ = [
    "ASSIGNORS",
    "Controller",
    "ControllerError",
    "ControllerSettings",
    "GroupDescription",
    "HeartbeatResult",
    "MemberDescription",
    "MemberSubscription",
]
