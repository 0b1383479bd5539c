"""The group coordinator's error vocabulary: ``GroupError`` for the classic protocol, committed
offsets and administration, ``HeartbeatError`` for consumer-protocol heartbeats (KIP-848).

Each member is named after the Kafka error it stands for (``Errors.java``), because the classic
group protocol is defined by those errors: clients react to ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID
or REBALANCE_IN_PROGRESS by rejoining. The Kafka front maps them by name, once
(``logbroker/kafka/handlers/groups.py``); an HTTP front maps them once to statuses.
"""

from __future__ import annotations

import enum


class GroupError(enum.Enum):
    NONE = "no error"
    COORDINATOR_NOT_AVAILABLE = "the group's state could not be written; retry"
    NOT_COORDINATOR = "this broker is not the group's coordinator; find it again"
    REQUEST_TIMED_OUT = "the write was not durable in time"
    INVALID_GROUP_ID = "the group id is empty"
    INVALID_SESSION_TIMEOUT = "session timeout outside group.min/max.session.timeout.ms"
    INCONSISTENT_GROUP_PROTOCOL = "protocol type or protocols do not match the group's"
    UNKNOWN_MEMBER_ID = "the member is not in the group"
    MEMBER_ID_REQUIRED = "rejoin with the member id given in this response"
    ILLEGAL_GENERATION = "the generation is not the group's current one"
    REBALANCE_IN_PROGRESS = "the group is rebalancing; rejoin"
    FENCED_INSTANCE_ID = "another member has taken over this group.instance.id"
    GROUP_ID_NOT_FOUND = "no such group"
    NON_EMPTY_GROUP = "the group still has members"
    GROUP_SUBSCRIBED_TO_TOPIC = "the group's members are subscribed to the topic"
    UNKNOWN_TOPIC_OR_PARTITION = "no such topic or partition"
    OFFSET_METADATA_TOO_LARGE = "commit metadata is longer than offset.metadata.max.bytes"
    INVALID_COMMIT_OFFSET_SIZE = "the commit's records are too large for __consumer_offsets"
    STALE_MEMBER_EPOCH = "the member epoch is not the consumer group member's current one"

    @property
    def ok(self) -> bool:
        return self is GroupError.NONE


class HeartbeatError(enum.IntEnum):
    """The answers of a consumer-protocol heartbeat (KIP-848), by Kafka's names and numbers.

    The values are Kafka's codes (``Errors.java``), so a ``HeartbeatResult.error`` goes on the wire as
    is, and the HTTP front maps the same names to statuses once."""

    NONE = 0
    COORDINATOR_NOT_AVAILABLE = 15  # the group coordinator is not running
    NOT_COORDINATOR = 16  # another broker coordinates the group (a cluster): find it again
    INCONSISTENT_GROUP_PROTOCOL = 23  # the group id is held by a classic group with members
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
        return self is HeartbeatError.NONE
