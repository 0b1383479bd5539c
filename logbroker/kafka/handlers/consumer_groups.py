"""The consumer group protocol of KIP-848: ConsumerGroupHeartbeat (68) and ConsumerGroupDescribe (69).

Thin translations onto ``logbroker.groups.GroupCoordinator``, which speaks topic names; the wire
speaks topic ids, translated here (an owned partition of an unknown topic id is dropped: its topic
was deleted). Heartbeat errors (``HeartbeatError``) are Kafka's codes already.

Wire rules checked here rather than in the coordinator, which the HTTP front calls more leniently
(Kafka's ``ConsumerGroupHeartbeatRequest`` validation):

- v1 (KIP-1082): the member id is made by the client, so it must never be empty; in v0 it is empty
  exactly when joining.
- Joining (epoch 0) needs the rebalance timeout, a subscription (names or regex) and an empty owned
  list; a regex needs v1.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

from logbroker.broker import Broker
from logbroker.errors import StorageError
from logbroker.groups.consumer import HeartbeatResult
from logbroker.groups.errors import HeartbeatError
from logbroker.groups.shares import ShareHeartbeatResult
from logbroker.groups.state import CONSUMER
from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.handlers import Body, RequestContext
from logbroker.kafka.handlers.access import Op, Res, authorized_operations, group_allowed, topic_allowed

log = logging.getLogger(__name__)

_CONSUMER_MEMBER = 1  # ConsumerGroupDescribe v1's MemberType: -1 unknown, 0 classic, 1 consumer

NO_AUTHORIZED_OPERATIONS = -2147483648

def _client_host(peer: str) -> str:
    """Kafka reports a member's host as ``/<address>``."""
    host = peer.rsplit(":", 1)[0] if ":" in peer else peer
    return "/" + host.strip("[]")


def _topic_id(broker: Broker, name: str) -> uuid.UUID | None:
    try:
        return broker.topic(name).topic_id
    except StorageError:
        return None


def _by_topic(broker: Broker, partitions: Iterable[tuple[str, int]], *, with_names: bool) -> list[Body]:
    """(topic, partition) pairs grouped per topic, with topic ids (and names for Describe)."""
    grouped: dict[str, list[int]] = {}
    for topic, partition in sorted(partitions):
        grouped.setdefault(topic, []).append(partition)
    out: list[Body] = []
    for topic, parts in grouped.items():
        topic_id = _topic_id(broker, topic)
        if topic_id is None:
            continue  # deleted since it was assigned: it cannot be named on the wire
        entry: Body = {"topic_id": topic_id, "partitions": parts}
        if with_names:
            entry["topic_name"] = topic
        out.append(entry)
    return out


def _heartbeat_error(body: Body, version: int) -> str | None:
    """Why this request breaks the protocol's rules, or None."""
    member_id = body.get("member_id") or ""
    epoch = body.get("member_epoch", 0)
    if not body.get("group_id"):
        return "GroupId can't be empty"
    if version >= 1 and not member_id:
        return "MemberId can't be empty"
    if epoch == 0:
        if version == 0 and member_id:
            return "MemberId must be empty when joining with version 0"
        if body.get("rebalance_timeout_ms", -1) == -1:
            return "RebalanceTimeoutMs must be provided when joining"
        if body.get("subscribed_topic_names") is None and body.get("subscribed_topic_regex") is None:
            return "SubscribedTopicNames or SubscribedTopicRegex must be provided when joining"
        if body.get("topic_partitions"):
            return "TopicPartitions must be empty when joining"
    elif not member_id:
        return "MemberId can't be empty"
    return None


async def handle_consumer_group_heartbeat(ctx: RequestContext, body: Body) -> Body:
    v = ctx.api_version
    coordinator = ctx.coordinator
    member_id = body.get("member_id") or ""
    response: Body = {"throttle_time_ms": 0, "error_code": 0, "error_message": None, "member_id": member_id or None,
                      "member_epoch": body.get("member_epoch", 0), "heartbeat_interval_ms": 0, "assignment": None}
    if coordinator is None:
        response.update(error_code=int(HeartbeatError.COORDINATOR_NOT_AVAILABLE),
                        error_message="the group coordinator is not running")
        return response
    # Kafka: READ on the group, then DESCRIBE on every topic named in the subscription.
    if not group_allowed(ctx, Op.READ, body.get("group_id") or ""):
        response.update(error_code=int(ErrorCode.GROUP_AUTHORIZATION_FAILED),
                        error_message="Group authorization failed.")
        return response
    hidden = sorted({t for t in body.get("subscribed_topic_names") or () if not topic_allowed(ctx, Op.DESCRIBE, t)})
    if hidden:
        response.update(error_code=int(ErrorCode.TOPIC_AUTHORIZATION_FAILED),
                        error_message="Topic authorization failed for the subscribed topics " + ", ".join(hidden))
        return response
    invalid = _heartbeat_error(body, v)
    if invalid is not None:
        response.update(error_code=int(HeartbeatError.INVALID_REQUEST), error_message=invalid)
        return response
    owned: list[tuple[str, int]] | None = None
    if body.get("topic_partitions") is not None:
        owned = []
        for t in body["topic_partitions"]:
            name = ctx.broker.topic_name_by_id(t.get("topic_id"))
            if name is not None:
                owned.extend((name, p) for p in t.get("partitions") or [])
    result = await coordinator.consumer_heartbeat_recorded(
        body["group_id"], member_id, body.get("member_epoch", 0), now_ms=ctx.broker.clock(),
        subscribed_topics=body.get("subscribed_topic_names"),
        subscribed_regex=body.get("subscribed_topic_regex") if v >= 1 else None,
        owned=owned, assignor=body.get("server_assignor"), instance_id=body.get("instance_id"),
        rebalance_timeout_ms=body.get("rebalance_timeout_ms", -1), client_id=ctx.client_id or "",
        client_host=_client_host(ctx.peer), rack_id=body.get("rack_id"))
    return heartbeat_answer(ctx, response, result)


def heartbeat_answer(ctx: RequestContext, response: Body, result: HeartbeatResult | ShareHeartbeatResult) -> Body:
    """Fill a ConsumerGroupHeartbeat or ShareGroupHeartbeat response from the coordinator's result
    (both carry the same fields; the assignment goes out by topic id)."""
    response.update(error_code=int(result.error), error_message=result.message, member_id=result.member_id,
                    member_epoch=result.member_epoch, heartbeat_interval_ms=result.heartbeat_interval_ms)
    if result.assignment is not None and not result.error:
        response["assignment"] = {"topic_partitions": _by_topic(ctx.broker, result.assignment, with_names=False)}
    return response


async def handle_consumer_group_describe(ctx: RequestContext, body: Body) -> Body:
    coordinator = ctx.coordinator
    out: list[Body] = []
    for group_id in body.get("group_ids") or []:
        entry: Body = {"error_code": 0, "error_message": None, "group_id": group_id, "group_state": "Dead",
                       "group_epoch": -1, "assignment_epoch": -1, "assignor_name": "", "members": [],
                       "authorized_operations": NO_AUTHORIZED_OPERATIONS}
        out.append(entry)
        described = coordinator.describe_group(group_id) if coordinator is not None else None
        if coordinator is not None and not group_allowed(ctx, Op.DESCRIBE, group_id):
            entry.update(error_code=int(ErrorCode.GROUP_AUTHORIZATION_FAILED),
                         error_message="Group authorization failed.")
            continue
        entry["authorized_operations"] = authorized_operations(
            ctx, bool(body.get("include_authorized_operations", False)), Res.GROUP, group_id)
        if described is not None and described.group_type == CONSUMER:
            topics = {t for m in described.members
                      for t in (*m.subscribed_topics, *(tp[0] for tp in (*m.partitions, *m.target_partitions)))}
            if any(not topic_allowed(ctx, Op.DESCRIBE, t) for t in topics):
                # Kafka: a group whose members read topics the principal may not describe is not shown.
                entry.update(error_code=int(ErrorCode.TOPIC_AUTHORIZATION_FAILED),
                             error_message="The group has described topic(s) that the client is not authorized "
                                           "to describe.")
                continue
        if coordinator is None:
            entry.update(error_code=int(HeartbeatError.COORDINATOR_NOT_AVAILABLE),
                         error_message="the group coordinator is not running")
        elif not group_id:
            entry.update(error_code=int(HeartbeatError.INVALID_GROUP_ID), error_message="the group id is empty")
        elif not coordinator.owns(group_id):
            entry.update(error_code=int(HeartbeatError.NOT_COORDINATOR),
                         error_message=f"this broker does not coordinate group {group_id}")
        elif described is None or described.group_type != CONSUMER:
            # Also for classic groups: clients then fall back to DescribeGroups (as with Kafka).
            entry.update(error_code=int(HeartbeatError.GROUP_ID_NOT_FOUND),
                         error_message=f"group {group_id} is not a consumer group")
        else:
            entry.update(group_state=described.state, group_epoch=described.group_epoch,
                         assignment_epoch=described.assignment_epoch, assignor_name=described.protocol_data,
                         members=[{
                             "member_id": m.member_id, "instance_id": m.instance_id, "rack_id": m.rack_id,
                             "member_epoch": m.member_epoch, "client_id": m.client_id, "client_host": m.client_host,
                             "subscribed_topic_names": list(m.subscribed_topics),
                             "subscribed_topic_regex": m.subscribed_regex,
                             "assignment": {"topic_partitions": _by_topic(ctx.broker, m.partitions, with_names=True)},
                             "target_assignment": {"topic_partitions": _by_topic(ctx.broker, m.target_partitions,
                                                                                  with_names=True)},
                             # v1 (KIP-1099): 1, a consumer-protocol member; logbroker's consumer
                             # groups have no classic members (0).
                             "member_type": _CONSUMER_MEMBER,
                         } for m in described.members])
    return {"throttle_time_ms": 0, "groups": out}
