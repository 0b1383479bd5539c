"""ShareGroupDescribe (api key 77) and DescribeShareGroupOffsets (api key 90) for kafka-python, which
ships no definition of either (KIP-932).

``logbroker groups describe`` asks them for a share group, as Kafka's admin client does for
kafka-share-groups: DescribeGroups and ConsumerGroupDescribe answer GROUP_ID_NOT_FOUND for one. The
layouts are in ``messages/`` in Kafka's JSON format, which kafka-python loads as it loads its own.
"""

from __future__ import annotations

from typing import Any

from kafka import KafkaAdminClient
from kafka.protocol.api_message import ApiMessage

_MESSAGES = "logbroker.tools.messages"


class ShareGroupDescribeRequest(ApiMessage, load_json=_MESSAGES):  # type: ignore[call-arg, misc]
    pass


class ShareGroupDescribeResponse(ApiMessage, load_json=_MESSAGES):  # type: ignore[call-arg, misc]
    pass


class DescribeShareGroupOffsetsRequest(ApiMessage, load_json=_MESSAGES):  # type: ignore[call-arg, misc]
    pass


class DescribeShareGroupOffsetsResponse(ApiMessage, load_json=_MESSAGES):  # type: ignore[call-arg, misc]
    pass


def describe_share_group(admin: KafkaAdminClient, group: str) -> dict[str, Any]:
    """The group's ShareGroupDescribe entry as a dict (``error_code``, ``group_state``, ``members``
    with ``assignment.topic_partitions``, ...), asked of the group's coordinator."""

    async def ask() -> dict[str, Any]:
        coordinator = await admin._find_coordinator_id(group)
        request = ShareGroupDescribeRequest(version=1, group_ids=[group], include_authorized_operations=False)
        response = await admin._manager.send(request, node_id=coordinator)
        described: dict[str, Any] = response.groups[0].to_dict()
        return described

    result: dict[str, Any] = admin._manager.run(ask)
    return result


def share_start_offsets(admin: KafkaAdminClient, group: str) -> dict[tuple[str, int], int]:
    """(topic, partition) -> the share-partition start offset, for every share-partition of the group."""

    async def ask() -> dict[tuple[str, int], int]:
        coordinator = await admin._find_coordinator_id(group)
        wanted = DescribeShareGroupOffsetsRequest.DescribeShareGroupOffsetsRequestGroup(group_id=group, topics=None)
        request = DescribeShareGroupOffsetsRequest(version=0, groups=[wanted])
        response = await admin._manager.send(request, node_id=coordinator)
        found = response.groups[0].to_dict()
        return {(t["topic_name"], p["partition_index"]): p["start_offset"] for t in found.get("topics") or []
                for p in t.get("partitions") or [] if not p.get("error_code") and p["start_offset"] >= 0}

    result: dict[tuple[str, int], int] = admin._manager.run(ask)
    return result
