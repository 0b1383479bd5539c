"""The one mapping from storage and broker exceptions to HTTP statuses, and the error middleware.

Every error answer has the body ``{"error_code": "<NAME>", "message": "..."}`` (JSON, or msgpack when
the client asked for it). ``error_code`` is Kafka's error name where one fits (``UNKNOWN_TOPIC_OR_PARTITION``,
``TOPIC_ALREADY_EXISTS``) and a short code otherwise (``BAD_REQUEST``, ``NOT_FOUND``).

    exception                         status  error_code
    HttpError                         own     own
    UnsupportedMediaTypeError         415     UNSUPPORTED_MEDIA_TYPE
    BodyError (bad JSON/msgpack)      400     BAD_REQUEST
    TopicAuthorizationError           403     TOPIC_AUTHORIZATION_FAILED
    TopicDeletionDisabledError        403     TOPIC_DELETION_DISABLED
    InvalidReplicationFactorError     400     INVALID_REPLICATION_FACTOR
    InvalidRequestError               400     INVALID_REQUEST (also ClusterTopicChangeError)
    LogStorageError                   507     KAFKA_STORAGE_ERROR (disk full or failing: nothing was written)
    UnknownTopicError                 404     UNKNOWN_TOPIC_OR_PARTITION
    TopicExistsError                  409     TOPIC_ALREADY_EXISTS
    InvalidTopicError                 400     INVALID_TOPIC_EXCEPTION (also internal topics, as Kafka)
    InvalidConfigError                400     INVALID_CONFIG
    InvalidPartitionsError            400     INVALID_PARTITIONS
    InvalidTimestampError             400     INVALID_TIMESTAMP
    InvalidRecordError                400     INVALID_RECORD
    CorruptBatchError                 400     CORRUPT_MESSAGE
    RecordTooLargeError               413     MESSAGE_TOO_LARGE
    OffsetOutOfRangeError             416     OFFSET_OUT_OF_RANGE
    OutOfOrderSequenceError           409     OUT_OF_ORDER_SEQUENCE_NUMBER
    InvalidProducerEpochError         409     INVALID_PRODUCER_EPOCH
    LogClosedError                    503     NOT_LEADER_OR_FOLLOWER (retriable: the log went away)
    LogTruncatedError                 503     NOT_LEADER_OR_FOLLOWER (a replica cut the records before their fsync)
    NotLeaderOrFollowerError          503     NOT_LEADER_OR_FOLLOWER (a cluster: another broker leads)
    LeaderNotAvailableError           503     LEADER_NOT_AVAILABLE
    ClusterStateUnavailableError      503     REQUEST_TIMED_OUT (a cluster: ZooKeeper out of reach)
    NotEnoughReplicasError            503     NOT_ENOUGH_REPLICAS (min.insync.replicas)
    NotEnoughReplicasAfterAppendError 503     NOT_ENOUGH_REPLICAS_AFTER_APPEND
    FencedLeaderEpochError            409     FENCED_LEADER_EPOCH
    UnknownLeaderEpochError           409     UNKNOWN_LEADER_EPOCH
    TimeoutError                      504     REQUEST_TIMED_OUT
    OSError                           500     KAFKA_STORAGE_ERROR
    aiohttp HTTPException (404, 405,  own     NOT_FOUND, METHOD_NOT_ALLOWED, REQUEST_TOO_LARGE, ...
      413 from client_max_size)
    any other exception               500     UNKNOWN_SERVER_ERROR

Group coordinator errors (``logbroker.groups.errors.GroupError``) are mapped by ``group_error``:
GROUP_ID_NOT_FOUND 404, NON_EMPTY_GROUP / REBALANCE_IN_PROGRESS 409, INVALID_GROUP_ID 400,
UNKNOWN_TOPIC_OR_PARTITION 404, COORDINATOR_NOT_AVAILABLE / NOT_COORDINATOR (a cluster: another
broker coordinates the group) 503, REQUEST_TIMED_OUT 504, others 400.
Consumer-protocol heartbeat errors (``HeartbeatError``, Kafka's codes) by ``heartbeat_error``:
UNKNOWN_MEMBER_ID / GROUP_ID_NOT_FOUND 404, FENCED_MEMBER_EPOCH / STALE_MEMBER_EPOCH /
UNRELEASED_INSTANCE_ID / INCONSISTENT_GROUP_PROTOCOL / GROUP_MAX_SIZE_REACHED 409,
COORDINATOR_NOT_AVAILABLE / NOT_COORDINATOR 503, others 400.

A 5xx is logged with its traceback; the client gets the exception's message, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from logbroker import errors as se
from logbroker.groups.errors import GroupError, HeartbeatError
from logbroker.http.content import BodyError, UnsupportedMediaTypeError, respond

log = logging.getLogger(__name__)


class HttpError(Exception):
    """An error answer decided by a route: status, error code and message."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message


def bad_request(message: str) -> HttpError:
    return HttpError(400, "BAD_REQUEST", message)


_MAP: tuple[tuple[type[BaseException], int, str], ...] = (
    (UnsupportedMediaTypeError, 415, "UNSUPPORTED_MEDIA_TYPE"),
    (BodyError, 400, "BAD_REQUEST"),
    (se.TopicAuthorizationError, 403, "TOPIC_AUTHORIZATION_FAILED"),
    (se.TopicDeletionDisabledError, 403, "TOPIC_DELETION_DISABLED"),
    (se.InvalidReplicationFactorError, 400, "INVALID_REPLICATION_FACTOR"),
    (se.InvalidRequestError, 400, "INVALID_REQUEST"),
    (se.LogStorageError, 507, "KAFKA_STORAGE_ERROR"),
    (se.UnknownTopicError, 404, "UNKNOWN_TOPIC_OR_PARTITION"),
    (se.TopicExistsError, 409, "TOPIC_ALREADY_EXISTS"),
    (se.InvalidTopicError, 400, "INVALID_TOPIC_EXCEPTION"),
    (se.InvalidConfigError, 400, "INVALID_CONFIG"),
    (se.InvalidPartitionsError, 400, "INVALID_PARTITIONS"),
    (se.InvalidTimestampError, 400, "INVALID_TIMESTAMP"),  # before its base class InvalidRecordError
    (se.InvalidRecordError, 400, "INVALID_RECORD"),
    (se.CorruptBatchError, 400, "CORRUPT_MESSAGE"),
    (se.RecordTooLargeError, 413, "MESSAGE_TOO_LARGE"),
    (se.OffsetOutOfRangeError, 416, "OFFSET_OUT_OF_RANGE"),
    (se.OutOfOrderSequenceError, 409, "OUT_OF_ORDER_SEQUENCE_NUMBER"),
    (se.InvalidProducerEpochError, 409, "INVALID_PRODUCER_EPOCH"),
    (se.LogClosedError, 503, "NOT_LEADER_OR_FOLLOWER"),
    (se.LogTruncatedError, 503, "NOT_LEADER_OR_FOLLOWER"),
    (se.NotLeaderOrFollowerError, 503, "NOT_LEADER_OR_FOLLOWER"),
    (se.LeaderNotAvailableError, 503, "LEADER_NOT_AVAILABLE"),
    (se.NotEnoughReplicasError, 503, "NOT_ENOUGH_REPLICAS"),
    (se.NotEnoughReplicasAfterAppendError, 503, "NOT_ENOUGH_REPLICAS_AFTER_APPEND"),
    (se.FencedLeaderEpochError, 409, "FENCED_LEADER_EPOCH"),
    (se.UnknownLeaderEpochError, 409, "UNKNOWN_LEADER_EPOCH"),
    (se.ClusterStateUnavailableError, 503, "REQUEST_TIMED_OUT"),
    (TimeoutError, 504, "REQUEST_TIMED_OUT"),
    (OSError, 500, "KAFKA_STORAGE_ERROR"),
)

_AIOHTTP_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "REQUEST_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


_GROUP_STATUS = {
    GroupError.GROUP_ID_NOT_FOUND: 404,
    GroupError.UNKNOWN_TOPIC_OR_PARTITION: 404,
    GroupError.UNKNOWN_MEMBER_ID: 404,
    GroupError.NON_EMPTY_GROUP: 409,
    GroupError.REBALANCE_IN_PROGRESS: 409,
    GroupError.GROUP_SUBSCRIBED_TO_TOPIC: 409,
    GroupError.COORDINATOR_NOT_AVAILABLE: 503,
    GroupError.NOT_COORDINATOR: 503,
    GroupError.REQUEST_TIMED_OUT: 504,
}


def group_error(error: GroupError, context: str) -> HttpError:
    """The HTTP error for a group coordinator error (never called with GroupError.NONE)."""
    return HttpError(_GROUP_STATUS.get(error, 400), error.name, f"{context}: {error.value}")


def status_for(exc: BaseException) -> tuple[int, str]:
    """(HTTP status, error code) of an exception; (500, UNKNOWN_SERVER_ERROR) for anything unexpected."""
    if isinstance(exc, HttpError):
        return exc.status, exc.error_code
    for kind, status, code in _MAP:
        if isinstance(exc, kind):
            return status, code
    return 500, "UNKNOWN_SERVER_ERROR"


def error_response(request: web.Request, status: int, code: str, message: str) -> web.StreamResponse:
    return respond(request, {"error_code": code, "message": message}, status=status)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every exception into a JSON (or msgpack) error answer and log one line for it."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _AIOHTTP_CODES.get(exc.status, f"HTTP_{exc.status}")
        message = exc.text or exc.reason
        if exc.status == 404:
            message = f"no route for {request.method} {request.path}"
        elif exc.status == 405:
            message = f"method {request.method} is not allowed on {request.path}"
        elif exc.status == 413:
            message = f"request body too large: {exc.text}" if exc.text else "request body too large"
        log.info("HTTP %s %s -> %d %s: %s", request.method, request.path, exc.status, code, message)
        response = error_response(request, exc.status, code, message)
        for name in ("Allow",):
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response
    except Exception as exc:
        status, code = status_for(exc)
        message = exc.message if isinstance(exc, HttpError) else str(exc) or type(exc).__name__
        if status >= 500:
            log.error("HTTP %s %s -> %d %s: %s", request.method, request.path, status, code, message,
                      exc_info=status == 500)
        else:
            log.info("HTTP %s %s -> %d %s: %s", request.method, request.path, status, code, message)
        return error_response(request, status, code, message)


# Consumer-protocol heartbeat errors (Kafka's codes and names) as HTTP statuses.
_HEARTBEAT_STATUS: dict[HeartbeatError, int] = {
    HeartbeatError.COORDINATOR_NOT_AVAILABLE: 503,
    HeartbeatError.NOT_COORDINATOR: 503,
    HeartbeatError.INCONSISTENT_GROUP_PROTOCOL: 409,
    HeartbeatError.INVALID_GROUP_ID: 400,
    HeartbeatError.UNKNOWN_MEMBER_ID: 404,
    HeartbeatError.INVALID_REQUEST: 400,
    HeartbeatError.GROUP_ID_NOT_FOUND: 404,
    HeartbeatError.GROUP_MAX_SIZE_REACHED: 409,
    HeartbeatError.FENCED_MEMBER_EPOCH: 409,
    HeartbeatError.UNRELEASED_INSTANCE_ID: 409,
    HeartbeatError.UNSUPPORTED_ASSIGNOR: 400,
    HeartbeatError.INVALID_REGULAR_EXPRESSION: 400,
    HeartbeatError.STALE_MEMBER_EPOCH: 409,
}


def heartbeat_error(error: HeartbeatError, message: str, context: str) -> HttpError:
    """The HTTP error for a refused consumer-protocol heartbeat (never called with NONE)."""
    return HttpError(_HEARTBEAT_STATUS.get(error, 400), error.name, f"{context}: {message}")
