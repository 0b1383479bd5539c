"""ConsumerGroupDescribe (api key 69, KIP-848) for kafka-python, which ships no definition of it.

DescribeGroups only describes classic groups (Kafka answers GROUP_ID_NOT_FOUND for a group of the
consumer protocol), so ``logbroker groups`` asks ConsumerGroupDescribe too, as Kafka's own admin
client does. The layouts come from the broker's own definition
(``logbroker/kafka/messages/consumer_group_describe.txt``, one source for both): they are turned
into the JSON form kafka-python builds its message classes from (Kafka's message JSON: name,
type, versions, nullableVersions, default, nested fields), so nothing is written down twice.
"""

from __future__ import annotations

from typing import Any

from kafka import KafkaAdminClient
from kafka.protocol.api_message import ApiMessage
from kafka.protocol.data_container import SlotsBuilder
from kafka.protocol.schemas import StructField

from logbroker.kafka.schema import FieldSpec, MessageSpec, shipped_catalog

_API_KEY = 69


def _field_json(f: FieldSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"name": f.name, "type": f.type, "versions": f.versions.text}
    if not f.nullable.empty:
        out["nullableVersions"] = f.nullable.text
    if not f.tagged.empty and f.tag is not None:
        out["taggedVersions"] = f.tagged.text
        out["tag"] = f.tag
    if f.default_text is not None:
        out["default"] = str(f.default_text)
    if f.is_struct:
        out["fields"] = [_field_json(child) for child in f.fields]
    return out


def kafka_json(spec: MessageSpec) -> dict[str, Any]:
    """A parsed definition in the shape of Kafka's message JSON (what kafka-python loads)."""
    return {"apiKey": spec.api_key, "type": spec.kind, "name": spec.name, "validVersions": spec.valid.text,
            "flexibleVersions": spec.flexible.text, "fields": [_field_json(f) for f in spec.fields]}


class _FromDefinition(type(ApiMessage)):  # type: ignore[misc]
    """kafka-python's message metaclass, given the definition instead of reading a JSON file."""

    def __new__(metacls, name: str, bases: tuple[type, ...], attrs: dict[str, Any], **kw: Any) -> Any:
        if kw.get("init", True):
            catalog = shipped_catalog()
            spec = catalog.requests[_API_KEY] if name.endswith("Request") else catalog.responses[_API_KEY]
            assert spec.name == name, (spec.name, name)
            attrs["_json"] = kafka_json(spec)
            attrs["_struct"] = StructField(attrs["_json"])
        return SlotsBuilder.__new__(metacls, name, bases, attrs, **kw)


class ConsumerGroupDescribeRequest(ApiMessage, metaclass=_FromDefinition):  # type: ignore[misc]
    pass


class ConsumerGroupDescribeResponse(ApiMessage, metaclass=_FromDefinition):  # type: ignore[misc]
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
