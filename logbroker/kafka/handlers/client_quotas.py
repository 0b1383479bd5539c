"""DescribeClientQuotas (48) and AlterClientQuotas (49), KIP-546: the client quotas set for users,
client ids or addresses (the rules and the store: ``logbroker/client_quotas.py``).

logbroker stores and describes quotas as Kafka does, so ``kafka-configs --alter --add-config
producer_byte_rate=... --entity-type users --entity-name alice`` and ``--describe`` work; it does not
throttle by them (docs/SECURITY.md).

The describe filter is checked as Kafka 4.1 checks it (``ClientQuotasImage.describe``), the whole
request failing with an error code and message and no entries:

    component                                        error
    empty entity type                                INVALID_REQUEST (42)
    an entity type named twice                       INVALID_REQUEST
    a type other than user, client-id, ip            UNSUPPORTED_VERSION (35)
    match type 0 (exact) with a null match           INVALID_REQUEST
    match type 1 (default) or 2 (any) with a match   INVALID_REQUEST
    any other match type                             INVALID_REQUEST
    ip together with user or client-id               INVALID_REQUEST

Describing needs DESCRIBE_CONFIGS on the cluster, altering ALTER_CONFIGS on it (else
CLUSTER_AUTHORIZATION_FAILED: for the whole describe, for every entity of an alteration), as in
Kafka's ``KafkaApis`` and ``ControllerApis``. An alteration is answered per entity, once per entity
(a repeated entity is answered once, with the refusal of its repetition); ``validate_only`` answers
the same and stores nothing.
"""

from __future__ import annotations

import asyncio
import logging

from logbroker.client_quotas import Entity, QuotaAlteration, QuotaOp, describe, normalize
from logbroker.errors import BrokerError
from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.error_map import error_code_for
from logbroker.kafka.handlers import Body, RequestContext
from logbroker.kafka.handlers.access import Op, cluster_allowed

ENTITY_TYPES = ("user", "client-id", "ip")
MATCH_EXACT, MATCH_DEFAULT, MATCH_SPECIFIED = 0, 1, 2

log = logging.getLogger(__name__)


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
    components = [(c["entity_type"], int(c["match_type"]), c["match"]) for c in body.get("components") or []]
    try:
        stored = await asyncio.to_thread(ctx.broker.client_quotas.read)  # a cluster's: ZooKeeper
    except BrokerError as exc:
        log.warning("client quotas not described: %s", exc)
        return {"throttle_time_ms": 0, "error_code": error_code_for(exc), "error_message": str(exc), "entries": None}
    found = describe(stored, components, bool(body.get("strict")))
    entries = [{"entity": [{"entity_type": t, "entity_name": n} for t, n in entity],
                "values": [{"key": k, "value": v} for k, v in sorted(values.items())]}
               for entity, values in sorted(found.items(), key=lambda item: repr(item[0]))]
    # Kafka 4.1 answers a success with an empty (not null) message.
    return {"throttle_time_ms": 0, "error_code": 0, "error_message": "", "entries": entries}


def _alteration(entry: Body) -> QuotaAlteration:
    ops = tuple(QuotaOp(o["key"], float(o["value"]), bool(o["remove"])) for o in entry.get("ops") or [])
    return QuotaAlteration(tuple((e["entity_type"], e["entity_name"]) for e in entry.get("entity") or []), ops)


async def handle_alter_client_quotas(ctx: RequestContext, body: Body) -> Body:
    alterations = [_alteration(e) for e in body.get("entries") or []]
    answers: dict[Entity, Body] = {}
    if not cluster_allowed(ctx, Op.ALTER_CONFIGS):
        for a in alterations:
            answers.setdefault(normalize(a.components), _answer(a, ErrorCode.CLUSTER_AUTHORIZATION_FAILED, None))
        return {"throttle_time_ms": 0, "entries": list(answers.values())}
    validate_only = bool(body.get("validate_only"))
    results = await asyncio.to_thread(ctx.broker.client_quotas.alter, alterations, validate_only)
    for alteration, error in results:
        entity = normalize(alteration.components)
        first = answers.get(entity)
        # One answer per entity, as Kafka's (a map by entity): a later refusal replaces an earlier answer.
        shown = alteration if first is None else _alteration_of(first, alteration)
        answers[entity] = _answer(shown, ErrorCode.NONE if error is None else error_code_for(error),
                                  None if error is None else str(error))
        if error is not None:
            log.info("client quota alteration of %s by %s refused: %s", alteration.components, ctx.principal, error)
    if not validate_only and any(error is None for _, error in results):
        log.info("client quotas altered by %s: %s", ctx.principal,
                 "; ".join(f"{a.components}: {[(o.key, None if o.remove else o.value) for o in a.ops]}"
                           for a, error in results if error is None))
    return {"throttle_time_ms": 0, "entries": list(answers.values())}


def _alteration_of(answer: Body, fallback: QuotaAlteration) -> QuotaAlteration:
    """The components of an earlier answer (the entity as first named), else ``fallback``'s."""
    components = tuple((e["entity_type"], e["entity_name"]) for e in answer.get("entity") or [])
    return QuotaAlteration(components, ()) if components else fallback


def _answer(alteration: QuotaAlteration, code: int, message: str | None) -> Body:
    return {"error_code": code, "error_message": message,
            "entity": [{"entity_type": t, "entity_name": n} for t, n in alteration.components]}
