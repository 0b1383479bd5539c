"""The group coordinator's error vocabulary.

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
