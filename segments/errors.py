"""The storage engine's error vocabulary.

Every failure ``segments`` reports is one of these. The Kafka front maps them once to Kafka error
codes and the HTTP front once to HTTP statuses; nothing below those fronts invents codes.
"""

from __future__ import annotations


class StorageError(Exception):
    """Base of every error the storage engine raises on purpose."""


class CorruptBatchError(StorageError):
    """A record batch failed validation: length bounds, magic, CRC32C or record count."""


class InvalidRecordError(StorageError):
    """A batch is well formed but not acceptable here (e.g. a control batch from a client)."""


class RecordTooLargeError(StorageError):
    """A batch is larger than the topic's ``max.message.bytes``."""


class OffsetOutOfRangeError(StorageError):
    """A read asked for an offset below the log start offset or above the log end offset."""

    def __init__(self, offset: int, log_start_offset: int, log_end_offset: int) -> None:
        super().__init__(
            f"offset {offset} is outside the log's range [{log_start_offset}, {log_end_offset}]"
        )
        self.offset = offset
        self.log_start_offset = log_start_offset
        self.log_end_offset = log_end_offset


class TopicExistsError(StorageError):
    """A topic with this name already exists."""


class UnknownTopicError(StorageError):
    """No such topic or partition."""


class InvalidTopicError(StorageError):
    """A topic name is not legal (Kafka's rules: [a-zA-Z0-9._-], 1..249 characters, not '.' or '..')."""


class InvalidConfigError(StorageError):
    """A configuration name is unknown or its value is out of range."""


class InvalidPartitionsError(StorageError):
    """A partition count is not acceptable (not positive, or not larger than the current count)."""


class LogClosedError(StorageError):
    """An operation reached a partition log after it was closed or deleted."""


class LogTruncatedError(StorageError):
    """Offsets an fsync was awaited for left the log before they were made durable (a replica's
    truncation): they will never be durable here, so the waiters are told instead of waiting on."""


class LogStorageError(StorageError):
    """The log directory refused a write (``ENOSPC``: disk full, ``EDQUOT``, ``EIO``...); nothing was appended.

    The one storage-failure error: the storage engine raises it when a segment write fails, and the
    core (``logbroker.broker``) turns any other ``OSError`` from the log directory into it. The Kafka
    front answers it KAFKA_STORAGE_ERROR and the HTTP front 507. ``errno`` is the refused call's.
    """

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno


class InvalidTimestampError(InvalidRecordError):
    """A batch's CreateTime timestamps lie outside the topic's ``message.timestamp.before.max.ms`` /
    ``message.timestamp.after.max.ms`` window around the broker's clock (Kafka's INVALID_TIMESTAMP)."""
