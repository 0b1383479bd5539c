"""DescribeAcls (29), CreateAcls (30), DeleteAcls (31), and the authorized operations of a resource.

This broker has no authorizer (Kafka's ``authorizer.class.name`` unset), so, as Kafka then does,
the ACL APIs answer SECURITY_DISABLED and Metadata, DescribeCluster and DescribeTopicPartitions
report every operation a resource type supports when a client asks for its authorized operations
(``AuthHelper.authorizedOperations`` without an authorizer); when it does not ask they carry
INT32_MIN ("not requested").

Operations are Kafka's ``AclOperation`` codes; the reported value is a bit field, bit ``code`` set
for each operation (``Utils.to32BitField``).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum

from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.handlers import Body, RequestContext

NOT_REQUESTED = -2147483648
_NO_AUTHORIZER = "No Authorizer is configured."


class AclOperation(IntEnum):
    READ = 3
    WRITE = 4
    CREATE = 5
    DELETE = 6
    ALTER = 7
    DESCRIBE = 8
    CLUSTER_ACTION = 9
    DESCRIBE_CONFIGS = 10
    ALTER_CONFIGS = 11
    IDEMPOTENT_WRITE = 12


# Kafka's ``AclEntry.supportedOperations`` per resource type.
TOPIC_OPERATIONS = (AclOperation.READ, AclOperation.WRITE, AclOperation.CREATE, AclOperation.DESCRIBE,
                    AclOperation.DELETE, AclOperation.ALTER, AclOperation.DESCRIBE_CONFIGS,
                    AclOperation.ALTER_CONFIGS)
CLUSTER_OPERATIONS = (AclOperation.CREATE, AclOperation.CLUSTER_ACTION, AclOperation.DESCRIBE_CONFIGS,
                      AclOperation.ALTER_CONFIGS, AclOperation.IDEMPOTENT_WRITE, AclOperation.ALTER,
                      AclOperation.DESCRIBE)


def bit_field(operations: Iterable[AclOperation]) -> int:
    field = 0
    for op in operations:
        field |= 1 << int(op)
    return field


def authorized_operations(requested: bool, operations: Iterable[AclOperation]) -> int:
    """The value of an ``*AuthorizedOperations`` field: all ``operations`` (no authorizer) when asked."""
    return bit_field(operations) if requested else NOT_REQUESTED


async def handle_describe_acls(ctx: RequestContext, body: Body) -> Body:
    return {"throttle_time_ms": 0, "error_code": ErrorCode.SECURITY_DISABLED, "error_message": _NO_AUTHORIZER,
            "resources": []}


async def handle_create_acls(ctx: RequestContext, body: Body) -> Body:
    results = [{"error_code": ErrorCode.SECURITY_DISABLED, "error_message": _NO_AUTHORIZER}
               for _ in body["creations"]]
    return {"throttle_time_ms": 0, "results": results}


async def handle_delete_acls(ctx: RequestContext, body: Body) -> Body:
    results = [{"error_code": ErrorCode.SECURITY_DISABLED, "error_message": _NO_AUTHORIZER, "matching_acls": []}
               for _ in body["filters"]]
    return {"throttle_time_ms": 0, "filter_results": results}
