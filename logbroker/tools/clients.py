"""kafka-python clients built from the options every tool shares.

``ClientSettings`` holds the bootstrap list and how long to wait for it; the three constructors
turn "cannot bootstrap" into a ``ToolError`` naming the address, so an unreachable broker is one
line and exit status 1 instead of a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka import errors as kafka_errors
from kafka.admin import ConfigResource, ConfigResourceType

from logbroker.tools.errors import ToolError, explain

CLIENT_ID = "logbroker-cli"
_BOOTSTRAP_ERRORS = (kafka_errors.KafkaTimeoutError, kafka_errors.KafkaConnectionError)


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """Where the cluster is and how long (ms) to wait for it before giving up."""

    bootstrap_servers: str
    timeout_ms: int = 10_000

    def common(self) -> dict[str, Any]:
        return {"bootstrap_servers": self.bootstrap_servers.split(","), "client_id": CLIENT_ID,
                "bootstrap_timeout_ms": self.timeout_ms, "request_timeout_ms": max(self.timeout_ms, 5_000)}


def _unreachable(settings: ClientSettings, exc: BaseException) -> ToolError:
    return ToolError(f"cannot reach a broker at {settings.bootstrap_servers} "
                     f"within {settings.timeout_ms} ms ({explain(exc)})")


def admin_client(settings: ClientSettings) -> KafkaAdminClient:
    try:
        return KafkaAdminClient(**settings.common())
    except _BOOTSTRAP_ERRORS as exc:
        raise _unreachable(settings, exc) from None


def producer(settings: ClientSettings, **config: Any) -> KafkaProducer:
    try:
        return KafkaProducer(**settings.common(), max_block_ms=settings.timeout_ms, **config)
    except _BOOTSTRAP_ERRORS as exc:
        raise _unreachable(settings, exc) from None


def consumer(settings: ClientSettings, **config: Any) -> KafkaConsumer:
    try:
        return KafkaConsumer(**settings.common(), **config)
    except _BOOTSTRAP_ERRORS as exc:
        raise _unreachable(settings, exc) from None


def topic_partitions(admin: KafkaAdminClient, topic: str) -> list[int]:
    """The partition ids of an existing topic; ``ToolError`` when the cluster does not know it."""
    described = admin.describe_topics([topic])
    if not described or described[0]["error_code"] != 0:
        code = described[0]["error_code"] if described else 3
        error = kafka_errors.for_code(code)
        if error is kafka_errors.UnknownTopicOrPartitionError:
            raise ToolError(f"unknown topic {topic!r}")
        raise ToolError(f"cannot describe topic {topic!r}: {error.__name__}")
    return sorted(p["partition_index"] for p in described[0]["partitions"])


def broker_auto_creates_topics(admin: KafkaAdminClient) -> bool:
    """Whether a broker creates topics on first use (``auto.create.topics.enable``); true when unknown."""
    try:
        brokers = admin.describe_cluster()["brokers"]
        if not brokers:
            return True
        broker_id = str(brokers[0]["broker_id"])
        resource = ConfigResource(ConfigResourceType.BROKER, broker_id, configs={"auto.create.topics.enable": None})
        configs = admin.describe_configs([resource], config_filter="all")
        value = configs.get("broker", {}).get(broker_id, {}).get("auto.create.topics.enable", {}).get("value")
    except kafka_errors.KafkaError:
        return True
    return value is None or str(value).lower() != "false"
