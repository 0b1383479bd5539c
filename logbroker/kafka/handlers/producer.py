"""InitProducerId (22): ids and epochs for idempotent producers (KIP-98, KIP-360)."""

from __future__ import annotations

import logging

from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.handlers import Body, RequestContext

log = logging.getLogger(__name__)


async def handle_init_producer_id(ctx: RequestContext, body: Body) -> Body:
    if body.get("transactional_id") is not None:
        log.warning("client %s asked for transactional id %r; transactions are not supported",
                    ctx.client_id, body["transactional_id"])
        return {"throttle_time_ms": 0, "error_code": ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                "producer_id": -1, "producer_epoch": -1}
    pid, epoch = ctx.broker.init_producer_id(body.get("producer_id", -1), body.get("producer_epoch", -1))
    log.info("producer id %d epoch %d given to %s", pid, epoch, ctx.client_id)
    return {"throttle_time_ms": 0, "error_code": 0, "producer_id": pid, "producer_epoch": epoch}


async def handle_sasl_handshake(ctx: RequestContext, body: Body) -> Body:
    return {"error_code": ErrorCode.UNSUPPORTED_SASL_MECHANISM, "mechanisms": []}
