"""DescribeClientQuotas (48), KIP-546: which client quotas apply to users, client ids or addresses.

logbroker enforces no client quotas (no throttling by ``producer_byte_rate``,
``consumer_byte_rate``, ``request_percentage`` or connection rates), so it holds no quota entities:
every valid filter matches nothing and the answer is an empty entry list. What matters to clients is
that the API is served, so Kafka's ``kafka-configs --describe --entity-type users`` (which asks this
and DescribeUserScramCredentials) works, and that a filter Kafka refuses is refused the same way.
AlterClientQuotas (49) is not served (not in ApiVersions; Kafka's admin client then fails the call
with UnsupportedVersionException): storing quotas that nothing enforces would claim a limit that
does not hold.

The filter is checked as Kafka 4.1 checks it (``ClientQuotasImage.describe``), the whole request
failing with an error code and message and no entries:

    component                                        error
    empty entity type                                INVALID_REQUEST (42)
    an entity type named twice                       INVALID_REQUEST
    a type other than user, client-id, ip            UNSUPPORTED_VERSION (35)
    match type 0 (exact) with a null match           INVALID_REQUEST
    match type 1 (default) or 2 (any) with a match   INVALID_REQUEST
    any other match type                             INVALID_REQUEST
    ip together with user or client-id               INVALID_REQUEST

Describing needs DESCRIBE_CONFIGS on the cluster (else CLUSTER_AUTHORIZATION_FAILED), as in
Kafka's ``KafkaApis``.
"""

from __future__ import annotations

from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.handlers import Body, RequestContext
from logbroker.kafka.handlers.access import Op, cluster_allowed

ENTITY_TYPES = ("user", "client-id", "ip")
MATCH_EXACT, MATCH_DEFAULT, MATCH_SPECIFIED = 0, 1, 2


class _FilterRefused(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _check_filter(components: list[Body]) -> None:
    """Kafka's checks of a filter (see the module docstring); _FilterRefused when one fails."""
    seen: set[str] = set()
    for c in components:
        entity_type, match_type, match = c["entity_type"], c["match_type"], c["match"]
        if not entity_type:
            raise _FilterRefused(ErrorCode.INVALID_REQUEST, "Invalid empty entity type.")
        if entity_type in seen:
            raise _FilterRefused(ErrorCode.INVALID_REQUEST,
                                 f"Entity type {entity_type} cannot appear more than once in the filter.")
        if entity_type not in ENTITY_TYPES:
            raise _FilterRefused(ErrorCode.UNSUPPORTED_VERSION, f"Unsupported entity type {entity_type}")
        if match_type == MATCH_EXACT and match is None:
            raise _FilterRefused(ErrorCode.INVALID_REQUEST,
                                 "Request specified MATCH_TYPE_EXACT, but set match string to null.")
        if match_type == MATCH_DEFAULT and match is not None:
            raise _FilterRefused(ErrorCode.INVALID_REQUEST,
                                 "Request specified MATCH_TYPE_DEFAULT, but also specified a match string.")
        if match_type == MATCH_SPECIFIED and match is not None:
            raise _FilterRefused(ErrorCode.INVALID_REQUEST,
                                 "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.")
        if match_type not in (MATCH_EXACT, MATCH_DEFAULT, MATCH_SPECIFIED):
            raise _FilterRefused(ErrorCode.INVALID_REQUEST, f"Unknown match type {match_type}")
        seen.add(entity_type)
    if "ip" in seen and seen & {"user", "client-id"}:
        raise _FilterRefused(ErrorCode.INVALID_REQUEST, "Invalid entity filter component combination. IP filter "
                             "component should not be used with user or clientId filter component.")


async def handle_describe_client_quotas(ctx: RequestContext, body: Body) -> Body:
    if not cluster_allowed(ctx, Op.DESCRIBE_CONFIGS):
        return {"throttle_time_ms": 0, "error_code": ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
                "error_message": None, "entries": None}  # Kafka 4.1 sends no message here
    try:
        _check_filter(body.get("components") or [])
    except _FilterRefused as exc:
        return {"throttle_time_ms": 0, "error_code": exc.code, "error_message": str(exc), "entries": None}
    # No quota entity exists (module docstring): whatever the filter, nothing matches. Kafka 4.1 answers
    # a success with an empty (not null) message.
    return {"throttle_time_ms": 0, "error_code": 0, "error_message": "", "entries": []}
