"""The controller's error vocabulary: Kafka's own error codes, by Kafka's names.

The values are Kafka's numbers (``Errors.java``), so a ``HeartbeatResult.error`` can go on the wire
as is and an HTTP front can map the same names to statuses once.
"""

from __future__ import annotations

import enum


class ControllerError(enum.IntEnum):
    NONE = 0
    COORDINATOR_NOT_AVAILABLE = 15  # the controller is not running
    INVALID_GROUP_ID = 24  # empty group id
    UNKNOWN_MEMBER_ID = 25  # the member is not (or no longer) in the group: rejoin with epoch 0
    INVALID_REQUEST = 42  # a field combination the protocol forbids
    GROUP_ID_NOT_FOUND = 69  # no such consumer group, or the id belongs to a classic group
    GROUP_MAX_SIZE_REACHED = 81  # group.consumer.max.size members already
    FENCED_MEMBER_EPOCH = 110  # the member's epoch is not its current one: rejoin with epoch 0
    UNRELEASED_INSTANCE_ID = 111  # another live member holds this group.instance.id
    UNSUPPORTED_ASSIGNOR = 112  # server_assignor names no assignor of group.consumer.assignors
    STALE_MEMBER_EPOCH = 113  # an offset commit carries an epoch other than the member's
    INVALID_REGULAR_EXPRESSION = 128  # subscribed_topic_regex does not compile (KIP-848, heartbeat v1)

    @property
    def ok(self) -> bool:
        return self is ControllerError.NONE
