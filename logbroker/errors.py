"""The one error vocabulary of the core: what the broker raises on purpose, for every front.

The storage engine's errors are re-exported here so a front imports its exceptions from the core
and never from ``segments``; the core adds the refusals that are broker rules rather than storage
facts. The Kafka front maps these once to error codes (``logbroker/kafka/error_map.py``) and the
HTTP front once to statuses (``logbroker/http/errors.py``).

    exception                        Kafka error code (number)             when
    InternalTopicError               INVALID_TOPIC_EXCEPTION (17)          a client produces to or deletes records
                                                                           of an internal topic
    TopicAuthorizationError          TOPIC_AUTHORIZATION_FAILED (29)       a client deletes an internal topic
    TopicDeletionDisabledError       TOPIC_DELETION_DISABLED (73)          delete.topic.enable=false
    InvalidReplicationFactorError    INVALID_REPLICATION_FACTOR (38)       more replicas than brokers
    LogStorageError                  KAFKA_STORAGE_ERROR (56)              the disk refused a write (full, quota, I/O)
    LogTruncatedError                NOT_LEADER_OR_FOLLOWER (6)            acks=all records a replica truncated before
                                                                           their fsync (leadership moved)
    InvalidRequestError              INVALID_REQUEST (42)                  a request names another broker, or asks
                                                                           for something no broker could do
    ClusterTopicChangeError          INVALID_REQUEST (42)                  a topic the cluster replicates changed on
                                                                           this broker alone (a core method that
                                                                           cannot reach the cluster)
    NotLeaderOrFollowerError         NOT_LEADER_OR_FOLLOWER (6)            the partition is led by another broker
    LeaderNotAvailableError          LEADER_NOT_AVAILABLE (5)              the partition has no live leader
    NotEnoughReplicasError           NOT_ENOUGH_REPLICAS (19)              acks=all, ISR below min.insync.replicas
    NotEnoughReplicasAfterAppendError NOT_ENOUGH_REPLICAS_AFTER_APPEND (20) the ISR shrank below it after the append
    FencedLeaderEpochError           FENCED_LEADER_EPOCH (74)              a request carried an older leader epoch
    UnknownLeaderEpochError          UNKNOWN_LEADER_EPOCH (75)             a request carried a newer leader epoch
    NotControllerError               NOT_CONTROLLER (41)                   a controller's request reached another broker
    InvalidReplicaAssignmentError    INVALID_REPLICA_ASSIGNMENT (39)       replicas naming unknown brokers, duplicates
    ElectionNotNeededError           ELECTION_NOT_NEEDED (84)              the wanted leader leads already
    PreferredLeaderNotAvailableError PREFERRED_LEADER_NOT_AVAILABLE (80)   the preferred replica cannot lead now
    EligibleLeadersNotAvailableError ELIGIBLE_LEADERS_NOT_AVAILABLE (83)   no live replica may lead
    NoReassignmentInProgressError    NO_REASSIGNMENT_IN_PROGRESS (85)      cancelling a reassignment that is not running
    ClusterStateUnavailableError     REQUEST_TIMED_OUT (7)                 an admin change could not reach ZooKeeper
"""

from __future__ import annotations

from segments.errors import (
    CorruptBatchError,
    InvalidConfigError,
    InvalidPartitionsError,
    InvalidRecordError,
    InvalidTimestampError,
    InvalidTopicError,
    LogClosedError,
    LogStorageError,
    LogTruncatedError,
    OffsetOutOfRangeError,
    RecordTooLargeError,
    StorageError,
    TopicExistsError,
    UnknownTopicError,
)
from segments.producer_state import InvalidProducerEpochError, OutOfOrderSequenceError


class BrokerError(StorageError):
    """Base of the refusals decided by the core's rules (a StorageError, so one ``except`` catches all)."""


class InternalTopicError(InvalidTopicError):
    """A client may not write to (or delete records of) an internal topic; only the broker does.

    Kafka: ``ReplicaManager`` refuses appends to internal topics from clients ("Cannot append to
    internal topic") and DeleteRecords on them, both with INVALID_TOPIC_EXCEPTION.
    """


class TopicAuthorizationError(BrokerError):
    """The operation is not allowed on this topic (e.g. deleting an internal topic)."""


class TopicDeletionDisabledError(BrokerError):
    """Topic deletion is switched off by ``delete.topic.enable=false``."""


class InvalidReplicationFactorError(BrokerError):
    """The replication factor asks for more replicas than there are brokers."""


class InvalidRequestError(BrokerError):
    """The request is well formed but cannot be served as asked (e.g. it names a broker id that is not
    this broker's: Kafka's "Unexpected broker id")."""


class ClusterTopicChangeError(InvalidRequestError):
    """A synchronous core method was asked to create, grow or delete a topic the cluster replicates.
    Such a change is registered with the cluster first (ZooKeeper, in a worker thread: the core's
    ``*_async`` methods, which every front uses); done on one broker alone it would leave that broker
    out of step with the others, so it is refused (HTTP 400)."""


class NotLeaderOrFollowerError(BrokerError):
    """This broker does not lead the partition (in a cluster); the client refreshes its metadata."""


class LeaderNotAvailableError(BrokerError):
    """The partition has no live leader at the moment (an election is pending or impossible)."""


class NotEnoughReplicasError(BrokerError):
    """acks=all produce refused before the append: the ISR is smaller than ``min.insync.replicas``."""


class NotEnoughReplicasAfterAppendError(BrokerError):
    """acks=all: the batch was appended, but the ISR fell below ``min.insync.replicas`` before it
    was replicated; the producer retries (KIP-98 idempotence drops the duplicate)."""


class NotControllerError(BrokerError):
    """ElectLeaders or a reassignment reached a broker that is not the controller (the client finds it
    in Metadata and retries)."""


class InvalidReplicaAssignmentError(BrokerError):
    """A replica list names a broker that is not registered, twice the same broker, or none."""


class ElectionNotNeededError(BrokerError):
    """The partition is led already by the replica the election would choose."""


class PreferredLeaderNotAvailableError(BrokerError):
    """The preferred replica is not alive or not in the ISR, so it cannot lead now."""


class EligibleLeadersNotAvailableError(BrokerError):
    """No live replica may lead the partition."""


class NoReassignmentInProgressError(BrokerError):
    """A reassignment was cancelled for a partition that has none in progress."""


class ClusterStateUnavailableError(BrokerError):
    """An administrative change could not be written to (or read from) ZooKeeper: the connection or
    session was lost. Kafka's ZooKeeper-mode broker lets such a request time out; the client retries."""


class FencedLeaderEpochError(BrokerError):
    """The request's leader epoch is older than the partition's (KIP-320)."""


class UnknownLeaderEpochError(BrokerError):
    """The request's leader epoch is newer than this broker knows (it has not caught up yet)."""


__all__ = [
    "BrokerError",
    "ClusterStateUnavailableError",
    "ClusterTopicChangeError",
    "CorruptBatchError",
    "ElectionNotNeededError",
    "EligibleLeadersNotAvailableError",
    "FencedLeaderEpochError",
    "InternalTopicError",
    "InvalidConfigError",
    "InvalidPartitionsError",
    "InvalidProducerEpochError",
    "InvalidRecordError",
    "InvalidReplicaAssignmentError",
    "InvalidReplicationFactorError",
    "InvalidRequestError",
    "InvalidTimestampError",
    "InvalidTopicError",
    "LeaderNotAvailableError",
    "LogClosedError",
    "LogStorageError",
    "LogTruncatedError",
    "NoReassignmentInProgressError",
    "NotControllerError",
    "NotEnoughReplicasAfterAppendError",
    "NotEnoughReplicasError",
    "NotLeaderOrFollowerError",
    "OffsetOutOfRangeError",
    "OutOfOrderSequenceError",
    "PreferredLeaderNotAvailableError",
    "RecordTooLargeError",
    "StorageError",
    "TopicAuthorizationError",
    "TopicDeletionDisabledError",
    "TopicExistsError",
    "UnknownLeaderEpochError",
    "UnknownTopicError",
]
