"""ConsumerGroupDescribe (api key 69, KIP-848) for kafka-python, which ships no definition of it.

DescribeGroups only describes classic groups (Kafka answers GROUP_ID_NOT_FOUND for a group of the
consumer protocol), so ``logbroker groups`` asks ConsumerGroupDescribe too, as Kafka's own admin
client does. The message layouts are in ``messages/`` in Kafka's JSON format, which kafka-python
loads as it loads its own; version 0 is the one defined.
"""

from __future__ import annotations

from typing import Any

from kafka import KafkaAdminClient
from kafka.protocol.api_message import ApiMessage

_MESSAGES = "logbroker.tools.messages"


class ConsumerGroupDescribeRequest(ApiMessage, load_json=_MESSAGES):  # type: ignore[call-arg, misc]
    pass


class ConsumerGroupDescribeResponse(ApiMessage, load_json=_MESSAGES):  # type: ignore[call-arg, misc]
    pass


def describe_consumer_group(admin: KafkaAdminClient, group: str) -> dict[str, Any]:
    """The group's ConsumerGroupDescribe entry as a dict (``error_code``, ``group_state``,
    ``members`` with ``assignment.topic_partitions``, ...), asked of the group's coordinator."""

    async def ask() -> dict[str, Any]:
        coordinator = await admin._find_coordinator_id(group)
        request = ConsumerGroupDescribeRequest(group_ids=[group], include_authorized_operations=False)
        response = await admin._manager.send(request, node_id=coordinator)
        described: dict[str, Any] = response.groups[0].to_dict()
        return described

    result: dict[str, Any] = admin._manager.run(ask)
    return result
