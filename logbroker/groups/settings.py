"""The group coordinator's settings, by Kafka's broker property names.

``CoordinatorSettings`` holds what every group type shares (offsets) and the classic protocol's
``group.*`` timeouts; ``ConsumerGroupSettings`` the consumer protocol's ``group.consumer.*``
(KIP-848). Defaults are Kafka's.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from logbroker.config import BrokerConfig
from logbroker.groups.assignors import ASSIGNORS
from logbroker.groups.offsets import OFFSET_METADATA_MAX_BYTES

log = logging.getLogger(__name__)

OFFSETS_RETENTION_CHECK_INTERVAL_MS = 600_000  # offsets.retention.check.interval.ms


def _int_prop(props: Mapping[str, str], name: str, default: int) -> int:
    value = props.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        log.warning("ignoring non-integer %s=%r; using %d", name, value, default)
        return default


@dataclass(frozen=True, slots=True)
class ConsumerGroupSettings:
    session_timeout_ms: int = 45_000  # group.consumer.session.timeout.ms: heartbeat silence before eviction
    heartbeat_interval_ms: int = 5_000  # group.consumer.heartbeat.interval.ms: told to members
    assignors: tuple[str, ...] = ("uniform", "range", "sticky")  # group.consumer.assignors; first is default
    max_size: int = 2**31 - 1  # group.consumer.max.size: members per group

    @classmethod
    def from_props(cls, props: Mapping[str, str]) -> ConsumerGroupSettings:
        """Kafka's broker property names; unknown assignor names are dropped with a warning."""
        default = cls()
        names = tuple(n.strip() for n in props.get("group.consumer.assignors", ",".join(default.assignors)).split(",")
                      if n.strip())
        # Kafka also accepts class names; the last dotted part ("...UniformAssignor") names ours.
        normalized = tuple(n.rsplit(".", 1)[-1].lower().removesuffix("assignor") for n in names)
        known = tuple(n for n in normalized if n in ASSIGNORS)
        for n in normalized:
            if n not in ASSIGNORS:
                log.warning("group.consumer.assignors: unknown assignor %r ignored", n)
        return cls(
            session_timeout_ms=_int_prop(props, "group.consumer.session.timeout.ms", default.session_timeout_ms),
            heartbeat_interval_ms=_int_prop(props, "group.consumer.heartbeat.interval.ms",
                                            default.heartbeat_interval_ms),
            assignors=known or default.assignors,
            max_size=_int_prop(props, "group.consumer.max.size", default.max_size),
        )


@dataclass(frozen=True, slots=True)
class CoordinatorSettings:
    initial_rebalance_delay_ms: int = 3000
    min_session_timeout_ms: int = 6000
    max_session_timeout_ms: int = 1_800_000
    offsets_retention_ms: int = 7 * 24 * 3600 * 1000
    offset_metadata_max_bytes: int = OFFSET_METADATA_MAX_BYTES
    retention_check_interval_ms: int = OFFSETS_RETENTION_CHECK_INTERVAL_MS
    consumer: ConsumerGroupSettings = field(default_factory=ConsumerGroupSettings)

    @classmethod
    def from_config(cls, config: BrokerConfig) -> CoordinatorSettings:
        return cls(
            initial_rebalance_delay_ms=config.get_int("group.initial.rebalance.delay.ms"),
            min_session_timeout_ms=config.get_int("group.min.session.timeout.ms"),
            max_session_timeout_ms=config.get_int("group.max.session.timeout.ms"),
            offsets_retention_ms=config.get_int("offsets.retention.minutes") * 60_000,
            consumer=ConsumerGroupSettings.from_props(config.props),
        )
