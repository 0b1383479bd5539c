"""kafka-python clients built from the options every tool shares.

``ClientSettings`` holds the bootstrap list and how long to wait for it; the three constructors
turn "cannot bootstrap" into a ``ToolError`` naming the address, so an unreachable broker is one
line and exit status 1 instead of a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka import errors as kafka_errors
from kafka.admin import ConfigResource, ConfigResourceType

from logbroker.tools.errors import ToolError, explain

CLIENT_ID = "logbroker-cli"
_BOOTSTRAP_ERRORS = (kafka_errors.KafkaTimeoutError, kafka_errors.KafkaConnectionError)


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """Where the cluster is, how long (ms) to wait for it before giving up, and how to connect
    (TLS, SASL: kafka-python settings from a client properties file, ``client_config.py``)."""

    bootstrap_servers: str
    timeout_ms: int = 10_000
    security: Mapping[str, Any] = field(default_factory=dict)

    def common(self) -> dict[str, Any]:
        return {"bootstrap_servers": self.bootstrap_servers.split(","), "client_id": CLIENT_ID,
                "bootstrap_timeout_ms": self.timeout_ms, "request_timeout_ms": max(self.timeout_ms, 5_000),
                **self.security}


class _LoginRefused(Exception):
    """A broker refused the SASL login during bootstrap: no retry can succeed with the same
    credentials, so the tool stops at once, as Kafka's tools do on a SaslAuthenticationException."""

    def __init__(self, refused: BaseException) -> None:
        super().__init__(str(refused))
        self.refused = refused


class _BootstrapFailures(logging.Handler):
    """Keeps the last reason kafka-python gave for a failed bootstrap connection (a TLS handshake
    error, a refused connection), which it logs and retries rather than raises.

    kafka-python 3 retries a refused SASL login like any other failure until the bootstrap timeout.
    This handler ends the bootstrap instead: it raises ``_LoginRefused`` from the warning call that
    kafka-python makes in its bootstrap coroutine (``_do_bootstrap``) after closing the refused
    connection, so the coroutine fails with it and the client's constructor raises it.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.refused: BaseException | None = None  # the first refused login: later attempts may only see a close
        self.last: BaseException | None = None

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        for found in args:
            if not isinstance(found, BaseException) or isinstance(found, kafka_errors.KafkaTimeoutError):
                continue
            if self.refused is None and isinstance(found, (kafka_errors.SaslAuthenticationFailedError,
                                                           kafka_errors.AuthorizationError)):
                self.refused = found
            self.last = found
            # Only from the bootstrap coroutine itself: raised anywhere else (a connection's own task),
            # it would cut that code short instead of ending the bootstrap.
            if isinstance(found, kafka_errors.SaslAuthenticationFailedError) and record.funcName == "_do_bootstrap":
                raise _LoginRefused(found)

    @property
    def reason(self) -> BaseException | None:
        return self.refused or self.last


@contextmanager
def _bootstrapping(settings: ClientSettings) -> Iterator[None]:
    """Turn "cannot bootstrap" into one ``ToolError`` naming the address and the last reason."""
    logger = logging.getLogger("kafka.net.manager")
    handler = _BootstrapFailures()
    level, propagate = logger.level, logger.propagate
    quiet = logging.getLogger("kafka").getEffectiveLevel() > logging.WARNING
    logger.addHandler(handler)
    if quiet:  # see the warnings here, but do not print them
        logger.setLevel(logging.WARNING)
        logger.propagate = False
    try:
        yield
    except _LoginRefused as exc:
        raise ToolError(f"the broker at {settings.bootstrap_servers} refused the login "
                        f"({explain(exc.refused)}); check the SASL mechanism, user name and password "
                        f"of the client properties file") from None
    except _BOOTSTRAP_ERRORS as exc:
        reason = explain(handler.reason) if handler.reason is not None else explain(exc)
        raise ToolError(f"cannot reach a broker at {settings.bootstrap_servers} "
                        f"within {settings.timeout_ms} ms ({reason})") from None
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def admin_client(settings: ClientSettings) -> KafkaAdminClient:
    with _bootstrapping(settings):
        return KafkaAdminClient(**settings.common())


def producer(settings: ClientSettings, **config: Any) -> KafkaProducer:
    with _bootstrapping(settings):
        return KafkaProducer(**settings.common(), max_block_ms=settings.timeout_ms, **config)


def consumer(settings: ClientSettings, **config: Any) -> KafkaConsumer:
    with _bootstrapping(settings):
        return KafkaConsumer(**settings.common(), **config)


def subscribe_group(consumer: KafkaConsumer, topics: Sequence[str], listener: Any = None) -> None:
    """Subscribe ``consumer`` to ``topics`` so that its first group assignment is not followed by a
    rejoin that kafka-python 3.0.12 can drop (docs/COMPATIBILITY.md; Apache Kafka shows it alike).

    The client's group leader assigns from its metadata cache, so the topics are fetched first: a
    topic it has not fetched would get no partitions. Its coordinator takes a metadata snapshot when
    the consumer is built, before any subscription, and renews it only on a metadata answer that
    arrives after ``subscribe``; a leader that assigned against the empty one rejoins once the answer
    comes, so one more fetch follows ``subscribe``. A dropped rejoin leaves the member without
    heartbeats until the coordinator expires it.
    """
    for topic in topics:
        consumer.partitions_for_topic(topic)
    consumer.subscribe(list(topics), listener=listener)
    consumer.topics()


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
