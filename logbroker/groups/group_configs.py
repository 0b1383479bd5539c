"""Group configs (ConfigResource type GROUP, KIP-848/KIP-932): the names a group may set, the type
DescribeConfigs gives each, and the bounds the broker puts on the timing ones.

A group's configs override the broker's ``group.*`` defaults for that group alone, whatever its
type; they live apart from the group (``ShareGroups`` keeps them: alone in ``__share_group_state``,
in a cluster in ZooKeeper). The names, types and bounds are Kafka 4.1's ``GroupConfig`` (checked
against a running Kafka 4.1 in ``tests/interop/test_group_configs.py``), except
``share.delivery.count.limit``, logbroker's own. Kafka 4.1 also has ``share.isolation.level`` and
the ``streams.*`` configs, which steer features logbroker does not have; they are refused as unknown.
"""

from __future__ import annotations

from collections.abc import Mapping

from logbroker.config import BrokerConfig
from logbroker.topics import ConfigType

AUTO_OFFSET_RESET = "share.auto.offset.reset"
LOCK_DURATION = "share.record.lock.duration.ms"
DELIVERY_LIMIT = "share.delivery.count.limit"
SHARE_SESSION_TIMEOUT = "share.session.timeout.ms"
SHARE_HEARTBEAT_INTERVAL = "share.heartbeat.interval.ms"
CONSUMER_SESSION_TIMEOUT = "consumer.session.timeout.ms"
CONSUMER_HEARTBEAT_INTERVAL = "consumer.heartbeat.interval.ms"

GROUP_CONFIG_TYPES: dict[str, ConfigType] = {
    AUTO_OFFSET_RESET: ConfigType.STRING, LOCK_DURATION: ConfigType.INT, DELIVERY_LIMIT: ConfigType.INT,
    SHARE_SESSION_TIMEOUT: ConfigType.INT, SHARE_HEARTBEAT_INTERVAL: ConfigType.INT,
    CONSUMER_SESSION_TIMEOUT: ConfigType.INT, CONSUMER_HEARTBEAT_INTERVAL: ConfigType.INT,
}
GROUP_CONFIGS = tuple(GROUP_CONFIG_TYPES)

# A bounded config: the broker properties holding its smallest and largest allowed value.
BOUND_PROPERTIES: dict[str, tuple[str, str]] = {
    SHARE_SESSION_TIMEOUT: ("group.share.min.session.timeout.ms", "group.share.max.session.timeout.ms"),
    SHARE_HEARTBEAT_INTERVAL: ("group.share.min.heartbeat.interval.ms", "group.share.max.heartbeat.interval.ms"),
    CONSUMER_SESSION_TIMEOUT: ("group.consumer.min.session.timeout.ms", "group.consumer.max.session.timeout.ms"),
    CONSUMER_HEARTBEAT_INTERVAL: ("group.consumer.min.heartbeat.interval.ms",
                                  "group.consumer.max.heartbeat.interval.ms"),
}
INT_MAX = 2**31 - 1  # the configs are Kafka INTs
# The least value of an unbounded integer config.
GROUP_CONFIG_MINIMA = {LOCK_DURATION: 1000, DELIVERY_LIMIT: 2}
Bounds = Mapping[str, tuple[int, int]]
# Kafka 4.1's defaults of those properties: sessions 45-60 s, heartbeats 5-15 s.
DEFAULT_BOUNDS: dict[str, tuple[int, int]] = {name: ((45_000, 60_000) if "session" in name else (5_000, 15_000))
                                              for name in BOUND_PROPERTIES}


def bounds_from_config(config: BrokerConfig) -> dict[str, tuple[int, int]]:
    return {name: (config.get_int(low), config.get_int(high)) for name, (low, high) in BOUND_PROPERTIES.items()}


def check_group_config(name: str, value: str, bounds: Bounds) -> str | None:
    """Why ``value`` is not valid for the group config ``name``, or None. A bounded config outside
    its bounds is answered naming the broker property it broke, as Kafka names it."""
    if name not in GROUP_CONFIG_TYPES:
        return f"unknown group config {name}"
    if name == AUTO_OFFSET_RESET:
        return None if value in ("earliest", "latest") else f"{name} must be earliest or latest"
    try:
        number = int(value)
    except ValueError:
        return f"{name} must be an integer"
    if name in BOUND_PROPERTIES:
        low_name, high_name = BOUND_PROPERTIES[name]
        low, high = bounds.get(name, DEFAULT_BOUNDS[name])
        if number < low:
            return f"{name} must be greater than or equal to {low_name} ({low})"
        if number > high:
            return f"{name} must be less than or equal to {high_name} ({high})"
        return None
    low = GROUP_CONFIG_MINIMA[name]
    if number > INT_MAX:
        return f"{name} must be at most {INT_MAX}"
    return None if number >= low else f"{name} must be at least {low}"


def config_int(configs: Mapping[str, str], name: str, default: int) -> int:
    """A group's integer config, else ``default`` (also for a value stored by hand that is not one)."""
    value = configs.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        return default
