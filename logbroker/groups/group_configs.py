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

import logging
import re
from collections.abc import Mapping

from logbroker.config import BROKER_PROPERTIES, BrokerConfig
from logbroker.topics import ConfigType

log = logging.getLogger(__name__)

AUTO_OFFSET_RESET = "share.auto.offset.reset"
ISOLATION_LEVEL = "share.isolation.level"
LOCK_DURATION = "share.record.lock.duration.ms"
DELIVERY_LIMIT = "share.delivery.count.limit"
SHARE_SESSION_TIMEOUT = "share.session.timeout.ms"
SHARE_HEARTBEAT_INTERVAL = "share.heartbeat.interval.ms"
CONSUMER_SESSION_TIMEOUT = "consumer.session.timeout.ms"
CONSUMER_HEARTBEAT_INTERVAL = "consumer.heartbeat.interval.ms"

GROUP_CONFIG_TYPES: dict[str, ConfigType] = {
    AUTO_OFFSET_RESET: ConfigType.STRING, ISOLATION_LEVEL: ConfigType.STRING,
    LOCK_DURATION: ConfigType.INT, DELIVERY_LIMIT: ConfigType.INT,
    SHARE_SESSION_TIMEOUT: ConfigType.INT, SHARE_HEARTBEAT_INTERVAL: ConfigType.INT,
    CONSUMER_SESSION_TIMEOUT: ConfigType.INT, CONSUMER_HEARTBEAT_INTERVAL: ConfigType.INT,
}

# A bounded config: the broker properties holding its smallest and largest allowed value.
BOUND_PROPERTIES: dict[str, tuple[str, str]] = {
    SHARE_SESSION_TIMEOUT: ("group.share.min.session.timeout.ms", "group.share.max.session.timeout.ms"),
    SHARE_HEARTBEAT_INTERVAL: ("group.share.min.heartbeat.interval.ms", "group.share.max.heartbeat.interval.ms"),
    CONSUMER_SESSION_TIMEOUT: ("group.consumer.min.session.timeout.ms", "group.consumer.max.session.timeout.ms"),
    CONSUMER_HEARTBEAT_INTERVAL: ("group.consumer.min.heartbeat.interval.ms",
                                  "group.consumer.max.heartbeat.interval.ms"),
    LOCK_DURATION: ("group.share.min.record.lock.duration.ms", "group.share.max.record.lock.duration.ms"),
}
INVALID_CONFIG = 40  # Kafka's error code for a refused config
INT_MAX = 2**31 - 1  # the configs are Kafka INTs
_INTEGER = re.compile(r"-?[0-9]+")
# The least value of an unbounded integer config.
GROUP_CONFIG_MINIMA = {DELIVERY_LIMIT: 2}
Bounds = Mapping[str, tuple[int, int]]
# The bounds with those properties at their defaults (Kafka 4.1's): sessions 45-60 s, heartbeats
# 5-15 s, record locks 15-60 s.
DEFAULT_BOUNDS: dict[str, tuple[int, int]] = {
    name: (int(BROKER_PROPERTIES[low].default), int(BROKER_PROPERTIES[high].default))
    for name, (low, high) in BOUND_PROPERTIES.items()}


def bounds_from_config(config: BrokerConfig) -> dict[str, tuple[int, int]]:
    return {name: (config.get_int(low), config.get_int(high)) for name, (low, high) in BOUND_PROPERTIES.items()}


def check_group_config(name: str, value: str, bounds: Bounds) -> str | None:
    """Why ``value`` is not valid for the group config ``name``, or None. A bounded config outside
    its bounds is answered naming the broker property it broke, as Kafka names it."""
    if name not in GROUP_CONFIG_TYPES:
        return _unknown(name)
    if name == AUTO_OFFSET_RESET:
        if _RESET.fullmatch(value) is not None:
            return None
        return (f"Invalid value `{value}` for configuration {name}. The value must be either 'earliest', "
                "'latest' or of the format 'by_duration:<PnDTnHnMn.nS>'.")
    if name == ISOLATION_LEVEL:
        if value in ISOLATION_LEVELS:
            return None
        return f"Invalid value {value} for configuration {name}: String must be one of: {', '.join(ISOLATION_LEVELS)}"
    if _INTEGER.fullmatch(value) is None:  # Kafka's INT: ASCII digits, an optional minus
        return f"{name} must be an integer"
    number = int(value)
    if name in BOUND_PROPERTIES:
        low_name, high_name = BOUND_PROPERTIES[name]
        low, high = bounds.get(name, DEFAULT_BOUNDS[name])
        if number < low:
            return f"{name} must be greater than or equal to {low_name} ({low})"
        if number > min(high, INT_MAX):
            return f"{name} must be less than or equal to {high_name} ({min(high, INT_MAX)})"
        return None
    low = GROUP_CONFIG_MINIMA[name]
    if number > INT_MAX:
        return f"{name} must be at most {INT_MAX}"
    return None if number >= low else f"{name} must be at least {low}"


def _unknown(name: str) -> str:
    return f"unknown group config {name}; the group configs are {', '.join(sorted(GROUP_CONFIG_TYPES))}"


def config_problem(changes: Mapping[str, str | None], bounds: Bounds) -> str | None:
    """Why these changes (a value to set, None to delete) are refused (INVALID_CONFIG), or None."""
    for name, value in changes.items():
        if name not in GROUP_CONFIG_TYPES:
            return _unknown(name)
        problem = check_group_config(name, value, bounds) if value is not None else None
        if problem is not None:
            return problem
    return None


# A session timeout must be longer than the heartbeat interval of the same protocol.
TIMING_PAIRS = ((CONSUMER_SESSION_TIMEOUT, CONSUMER_HEARTBEAT_INTERVAL),
                (SHARE_SESSION_TIMEOUT, SHARE_HEARTBEAT_INTERVAL))


def timing_problem(configs: Mapping[str, str]) -> str | None:
    """Why a group's configs as they would be (its own over the broker's defaults) are refused: a
    session timeout not longer than its heartbeat interval, as Kafka refuses it. None when fine."""
    for session, interval in TIMING_PAIRS:
        if session in configs and interval in configs and \
                config_int(configs, session, 0) <= config_int(configs, interval, 0):
            return f"{session} must be greater than {interval}"
    return None


# share.isolation.level's values. logbroker refuses transactional producers, so no log holds
# transactional records and both deliver the same records.
ISOLATION_LEVELS = ("read_committed", "read_uncommitted")
BY_DURATION = "by_duration:"
# The ISO-8601 durations by_duration takes, as java.time.Duration reads them: days, hours, minutes,
# seconds (with up to nine decimals), letters in either case, at least one part, a T only before a
# time part. Unsigned only, so never negative: Java also reads signed parts ("-PT-5S" is 5 s), which
# logbroker refuses. One pattern for the check here and the HTTP API's OpenAPI document.
RESET_PATTERN = (r"^(earliest|latest|by_duration:[Pp](?=[0-9]|[Tt][0-9])(?:([0-9]+)[Dd])?"
                 r"(?:[Tt](?=[0-9])(?:([0-9]+)[Hh])?(?:([0-9]+)[Mm])?(?:([0-9]+)(?:[.,]([0-9]{0,9}))?[Ss])?)?)$")
_RESET = re.compile(RESET_PATTERN)


def reset_duration_ms(value: str) -> int | None:
    """The milliseconds of a ``by_duration:<ISO-8601 duration>`` share.auto.offset.reset (KIP-1106:
    start at the first record at most that old), or None when ``value`` is not one."""
    m = _RESET.fullmatch(value)
    if m is None or not value.startswith(BY_DURATION):
        return None
    days, hours, minutes, seconds, fraction = m.groups()[1:]
    total_ns = (int(days or 0) * 86_400 + int(hours or 0) * 3_600 + int(minutes or 0) * 60
                + int(seconds or 0)) * 10**9 + int((fraction or "").ljust(9, "0"))
    return total_ns // 10**6


def config_int(configs: Mapping[str, str], name: str, default: int, group_id: str = "") -> int:
    """A group's integer config, else ``default``; also for a value that is not one (stored by hand
    or by another version), said once per group, name and value."""
    value = configs.get(name)
    if value is None:
        return default
    if _INTEGER.fullmatch(value) is None:
        if (group_id, name, value) not in _warned and len(_warned) < _WARN_AT_MOST:
            _warned.add((group_id, name, value))
            log.warning("group %s: %s=%r is not an integer; %d used", group_id, name, value, default)
        return default
    return int(value)


_warned: set[tuple[str, str, str]] = set()
_WARN_AT_MOST = 1000
