"""DescribeProducers (61), DescribeTransactions (65), ListTransactions (66).

This broker runs no transaction coordinator: idempotent producers have state per partition (the
core's ``Broker.active_producers``), and there never is a transaction. So ListTransactions lists
none and DescribeTransactions answers TRANSACTIONAL_ID_NOT_FOUND for every id, which is what Kafka
answers for ids it has no state for. The APIs that would start a transaction (AddPartitionsToTxn,
AddOffsetsToTxn, EndTxn, TxnOffsetCommit) are not served, so a client learns from ApiVersions that
the broker does not support transactions.
"""

from __future__ import annotations

from logbroker.errors import StorageError
from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.error_map import error_code_for
from logbroker.kafka.handlers import Body, RequestContext
from logbroker.kafka.handlers.access import Op, Res, allowed, topic_allowed

# Kafka's TransactionState names, the only values ListTransactions' StateFilters may hold.
TRANSACTION_STATES = frozenset({"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit",
                                "CompleteAbort", "Dead", "PrepareEpochFence"})


async def handle_describe_producers(ctx: RequestContext, body: Body) -> Body:
    topics: list[Body] = []
    for t in body["topics"]:
        parts: list[Body] = []
        topics.append({"name": t["name"], "partitions": parts})
        readable = topic_allowed(ctx, Op.READ, t["name"])
        for index in t["partition_indexes"]:
            entry: Body = {"partition_index": index, "error_code": 0, "error_message": None, "active_producers": []}
            parts.append(entry)
            if not readable:
                entry["error_code"] = ErrorCode.TOPIC_AUTHORIZATION_FAILED
                continue
            if not ctx.broker.has_partition(t["name"], index):
                entry["error_code"] = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
                continue
            try:
                producers = ctx.broker.active_producers(t["name"], index)
            except StorageError as exc:
                entry["error_code"] = error_code_for(exc)
                entry["error_message"] = str(exc)
                continue
            entry["active_producers"] = [
                {"producer_id": p.producer_id, "producer_epoch": p.epoch, "last_sequence": p.last_sequence,
                 "last_timestamp": p.last_timestamp, "coordinator_epoch": -1, "current_txn_start_offset": -1}
                for p in producers
            ]
    return {"throttle_time_ms": 0, "topics": topics}


async def handle_list_transactions(ctx: RequestContext, body: Body) -> Body:
    unknown = [s for s in body.get("state_filters") or [] if s not in TRANSACTION_STATES]
    return {"throttle_time_ms": 0, "error_code": 0, "unknown_state_filters": unknown, "transaction_states": []}


async def handle_describe_transactions(ctx: RequestContext, body: Body) -> Body:
    states = [{"error_code": ErrorCode.TRANSACTIONAL_ID_NOT_FOUND
               if allowed(ctx, Op.DESCRIBE, Res.TRANSACTIONAL_ID, tid)
               else ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, "transactional_id": tid, "transaction_state": "",
               "transaction_timeout_ms": 0, "transaction_start_time_ms": -1, "producer_id": -1,
               "producer_epoch": -1, "topics": []}
              for tid in body["transactional_ids"]]
    return {"throttle_time_ms": 0, "transaction_states": states}
