"""InitProducerId (22): ids and epochs for idempotent producers (KIP-98, KIP-360).

Transactions are not supported: the APIs a transaction needs (AddPartitionsToTxn, AddOffsetsToTxn,
EndTxn, TxnOffsetCommit) are not in ApiVersions, as on a broker that never had them, and a producer
asking for a transactional id gets UNSUPPORTED_FOR_MESSAGE_FORMAT (43), Kafka's answer when its
stored format cannot hold what a request needs (transactions came with record batch v2 and its
control records, which this broker does not write). kafka-python and aiokafka then fail
``init_transactions`` at once, librdkafka when its timeout runs out, each saying the broker's
format does not support the request; a granted id would instead let librdkafka hang on the
missing AddPartitionsToTxn, and TRANSACTIONAL_ID_AUTHORIZATION_FAILED reads like a permissions
problem. What each client prints is in docs/COMPATIBILITY.md.
"""

from __future__ import annotations

import logging

from logbroker.errors import StorageError
from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.error_map import error_code_for
from logbroker.kafka.handlers import Body, RequestContext
from logbroker.kafka.handlers.access import Op, Res, allowed, any_allowed, cluster_allowed

log = logging.getLogger(__name__)


async def handle_init_producer_id(ctx: RequestContext, body: Body) -> Body:
    transactional_id = body.get("transactional_id")
    if transactional_id is not None and not allowed(ctx, Op.WRITE, Res.TRANSACTIONAL_ID, transactional_id):
        return {"throttle_time_ms": 0, "error_code": ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                "producer_id": -1, "producer_epoch": -1}
    # Kafka: an idempotent producer needs IDEMPOTENT_WRITE on the cluster, or WRITE on some topic.
    if transactional_id is None and not (cluster_allowed(ctx, Op.IDEMPOTENT_WRITE)
                                         or any_allowed(ctx, Op.WRITE, Res.TOPIC)):
        return {"throttle_time_ms": 0, "error_code": ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
                "producer_id": -1, "producer_epoch": -1}
    if transactional_id is not None:
        log.warning("client %s asked for transactional id %r; transactions are not supported",
                    ctx.client_id, body["transactional_id"])
        return {"throttle_time_ms": 0, "error_code": ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT,
                "producer_id": -1, "producer_epoch": -1}
    try:
        pid, epoch = await ctx.broker.init_producer_id_async(body.get("producer_id", -1),
                                                             body.get("producer_epoch", -1))
    except StorageError as exc:  # a cluster could not claim a block of ids
        log.info("no producer id for %s: %s", ctx.client_id, exc)
        return {"throttle_time_ms": 0, "error_code": error_code_for(exc), "producer_id": -1, "producer_epoch": -1}
    log.info("producer id %d epoch %d given to %s", pid, epoch, ctx.client_id)
    return {"throttle_time_ms": 0, "error_code": 0, "producer_id": pid, "producer_epoch": epoch}

