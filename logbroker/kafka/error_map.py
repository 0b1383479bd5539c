"""The one mapping from the storage engine's and broker's exceptions to Kafka error codes."""

from __future__ import annotations

import logging

from logbroker import errors as se
from logbroker.kafka.error_codes import ErrorCode

log = logging.getLogger(__name__)

# Subclasses come before their bases: the first match wins.
_MAP: tuple[tuple[type[BaseException], ErrorCode], ...] = (
    (se.TopicAuthorizationError, ErrorCode.TOPIC_AUTHORIZATION_FAILED),
    (se.TopicDeletionDisabledError, ErrorCode.TOPIC_DELETION_DISABLED),
    (se.InvalidReplicationFactorError, ErrorCode.INVALID_REPLICATION_FACTOR),
    (se.LogStorageError, ErrorCode.KAFKA_STORAGE_ERROR),
    (se.InvalidRequestError, ErrorCode.INVALID_REQUEST),
    (se.NotLeaderOrFollowerError, ErrorCode.NOT_LEADER_OR_FOLLOWER),
    (se.LeaderNotAvailableError, ErrorCode.LEADER_NOT_AVAILABLE),
    (se.NotControllerError, ErrorCode.NOT_CONTROLLER),
    (se.InvalidReplicaAssignmentError, ErrorCode.INVALID_REPLICA_ASSIGNMENT),
    (se.ElectionNotNeededError, ErrorCode.ELECTION_NOT_NEEDED),
    (se.PreferredLeaderNotAvailableError, ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE),
    (se.EligibleLeadersNotAvailableError, ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE),
    (se.NoReassignmentInProgressError, ErrorCode.NO_REASSIGNMENT_IN_PROGRESS),
    (se.NotEnoughReplicasError, ErrorCode.NOT_ENOUGH_REPLICAS),
    (se.NotEnoughReplicasAfterAppendError, ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND),
    (se.FencedLeaderEpochError, ErrorCode.FENCED_LEADER_EPOCH),
    (se.UnknownLeaderEpochError, ErrorCode.UNKNOWN_LEADER_EPOCH),
    (se.CorruptBatchError, ErrorCode.CORRUPT_MESSAGE),
    (se.InvalidTimestampError, ErrorCode.INVALID_TIMESTAMP),  # before its base class InvalidRecordError
    (se.InvalidRecordError, ErrorCode.INVALID_RECORD),
    (se.RecordTooLargeError, ErrorCode.MESSAGE_TOO_LARGE),
    (se.OffsetOutOfRangeError, ErrorCode.OFFSET_OUT_OF_RANGE),
    (se.TopicExistsError, ErrorCode.TOPIC_ALREADY_EXISTS),
    (se.UnknownTopicError, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
    (se.InvalidTopicError, ErrorCode.INVALID_TOPIC_EXCEPTION),
    (se.InvalidConfigError, ErrorCode.INVALID_CONFIG),
    (se.InvalidPartitionsError, ErrorCode.INVALID_PARTITIONS),
    (se.LogClosedError, ErrorCode.NOT_LEADER_OR_FOLLOWER),
    (se.LogTruncatedError, ErrorCode.NOT_LEADER_OR_FOLLOWER),  # only a replica truncates: leadership moved
    (se.OutOfOrderSequenceError, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER),
    (se.InvalidProducerEpochError, ErrorCode.INVALID_PRODUCER_EPOCH),
    (se.ClusterStateUnavailableError, ErrorCode.REQUEST_TIMED_OUT),
    (TimeoutError, ErrorCode.REQUEST_TIMED_OUT),
    (OSError, ErrorCode.KAFKA_STORAGE_ERROR),
)


def error_code_for(exc: BaseException) -> ErrorCode:
    """The Kafka error code for ``exc``; unexpected exceptions are logged and become UNKNOWN_SERVER_ERROR."""
    for kind, code in _MAP:
        if isinstance(exc, kind):
            return code
    log.error("unexpected error mapped to UNKNOWN_SERVER_ERROR", exc_info=exc)
    return ErrorCode.UNKNOWN_SERVER_ERROR
