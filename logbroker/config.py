"""Broker configuration, with Apache Kafka's property names and defaults.

Sources, later ones winning: the embedded defaults below, a ``--config`` file in Kafka's
``server.properties`` (java.util.Properties) syntax, then each ``--override key=value``. Topic-level
defaults come from the broker's ``log.*`` properties (``log.segment.bytes`` -> ``segment.bytes``);
that mapping lives with the topic configs in ``segments.config``, the one home of topic settings.
Unknown properties are logged and ignored, as Kafka does, so a real ``server.properties`` loads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from segments.config import TOPIC_CONFIGS, LogConfig
from segments.errors import InvalidConfigError

log = logging.getLogger(__name__)


def _bool(value: str) -> bool:
    v = value.strip().lower()
    if v in ("true", "false"):
        return v == "true"
    raise ValueError("expected true or false")


def _int(value: str) -> int:
    return int(value.strip())


@dataclass(frozen=True, slots=True)
class BrokerProperty:
    name: str
    parse: Callable[[str], object]
    default: str
    doc: str
    minimum: int | None = None


# Broker-level properties (not topic defaults). Values are Kafka's defaults unless noted.
BROKER_PROPERTIES: dict[str, BrokerProperty] = {
    p.name: p
    for p in (
        BrokerProperty("node.id", _int, "0", "This broker's id in Metadata responses.", 0),
        BrokerProperty("broker.id", _int, "0", "Alias of node.id.", 0),
        BrokerProperty("cluster.id", str, "logbroker-cluster-0001", "Cluster id reported in Metadata."),
        BrokerProperty("auto.create.topics.enable", _bool, "true",
                       "Create a topic when a client asks for its metadata or produces to it."),
        BrokerProperty("num.partitions", _int, "1", "Partitions of an auto-created topic.", 1),
        BrokerProperty("default.replication.factor", _int, "1", "Accepted for compatibility; one node.", 1),
        BrokerProperty("socket.request.max.bytes", _int, "104857600",
                       "Largest request frame accepted; larger ones are refused before being read.", 1),
        BrokerProperty("queued.max.request.bytes", _int, "-1",
                       "Per-connection bytes of requests in flight before reading pauses (-1: 64 MiB)."),
        BrokerProperty("log.retention.check.interval.ms", _int, "300000",
                       "How often the retention sweeper runs.", 1),
        BrokerProperty("log.flush.scheduler.interval.ms", _int, "1000",
                       "How often logs are checked against flush.ms under the os flush policy.", 1),
        BrokerProperty("log.flush.offset.checkpoint.interval.ms", _int, "60000",
                       "How often recovery points are checkpointed.", 1),
        BrokerProperty("log.cleaner.enable", _bool, "true", "Run compaction for compacted topics."),
        BrokerProperty("offsets.topic.num.partitions", _int, "50", "Partitions of __consumer_offsets.", 1),
        BrokerProperty("offsets.retention.minutes", _int, "10080",
                       "How long committed offsets of an empty group are kept.", 1),
        BrokerProperty("group.initial.rebalance.delay.ms", _int, "3000",
                       "Wait for more members before the first rebalance of an empty group.", 0),
        BrokerProperty("group.min.session.timeout.ms", _int, "6000", "Smallest session timeout allowed.", 0),
        BrokerProperty("group.max.session.timeout.ms", _int, "1800000", "Largest session timeout allowed.", 0),
        BrokerProperty("group.consumer.session.timeout.ms", _int, "45000",
                       "KIP-848 consumer groups: heartbeat silence before a member is evicted.", 1),
        BrokerProperty("group.consumer.heartbeat.interval.ms", _int, "5000",
                       "KIP-848 consumer groups: heartbeat interval told to members.", 1),
        BrokerProperty("group.consumer.assignors", str, "uniform,range,sticky",
                       "KIP-848 consumer groups: server-side assignors; the first is the default."),
        BrokerProperty("group.consumer.max.size", _int, "2147483647", "KIP-848 consumer groups: members per group.", 1),
        BrokerProperty("group.share.session.timeout.ms", _int, "45000",
                       "Share groups: heartbeat silence before a member is evicted.", 1),
        BrokerProperty("group.share.heartbeat.interval.ms", _int, "5000",
                       "Share groups: heartbeat interval told to members.", 1),
        BrokerProperty("group.share.max.size", _int, "200", "Share groups: members per group.", 1),
        BrokerProperty("group.share.record.lock.duration.ms", _int, "30000",
                       "Share groups: how long an acquired record stays locked to its member.", 1),
        BrokerProperty("group.share.delivery.count.limit", _int, "5",
                       "Share groups: deliveries of a record before it is archived.", 1),
        BrokerProperty("group.share.partition.max.record.locks", _int, "2000",
                       "Share groups: in-flight records per share-partition.", 1),
        BrokerProperty("share.coordinator.state.topic.num.partitions", _int, "50",
                       "Partitions of __share_group_state.", 1),
        BrokerProperty("delete.topic.enable", _bool, "true", "Allow DeleteTopics."),
        BrokerProperty("advertised.listeners", str, "",
                       "Address given to clients (PLAINTEXT://host:port); defaults to the listener."),
        BrokerProperty("transactional.id.expiration.ms", _int, "604800000",
                       "Producer-id state is forgotten after this long without writes.", 1),
        BrokerProperty("connections.max.idle.ms", _int, "600000", "Idle connections are closed after this.", 1),
    )
}


def parse_properties(text: str) -> dict[str, str]:
    """Parse java.util.Properties text: ``key=value``, ``key: value`` or ``key value``; ``#``/``!``
    comments; a trailing backslash continues the line; ``\\t``, ``\\n``, ``\\uXXXX`` escapes."""
    props: dict[str, str] = {}
    logical: list[str] = []
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.lstrip()
        if not logical and (not line or line[0] in "#!"):
            continue
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2 == 1:
            logical.append(line[:-1])
            continue
        logical.append(line)
        lines.append("".join(logical))
        logical = []
    if logical:
        lines.append("".join(logical))
    for line in lines:
        key_chars: list[str] = []
        i = 0
        while i < len(line):
            c = line[i]
            if c == "\\" and i + 1 < len(line):
                key_chars.append(line[i : i + 2])
                i += 2
                continue
            if c in "=: \t\f":
                break
            key_chars.append(c)
            i += 1
        rest = line[i:].lstrip(" \t\f")
        if rest[:1] in ("=", ":"):
            rest = rest[1:].lstrip(" \t\f")
        props[_unescape("".join(key_chars))] = _unescape(rest)
    return props


def _unescape(s: str) -> str:
    if "\\" not in s:
        return s
    out: list[str] = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            if n == "u" and i + 6 <= len(s):
                try:
                    out.append(chr(int(s[i + 2 : i + 6], 16)))
                    i += 6
                    continue
                except ValueError:
                    pass
            out.append({"t": "\t", "n": "\n", "r": "\r", "f": "\f"}.get(n, n))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def parse_overrides(items: Iterable[str]) -> dict[str, str]:
    """Parse repeated ``key=value`` command-line overrides."""
    props: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidConfigError(f"override {item!r} is not of the form key=value")
        props[key.strip()] = value.strip()
    return props


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    """The effective configuration of one broker process."""

    props: Mapping[str, str]
    log_defaults: LogConfig
    unknown: tuple[str, ...] = field(default=())

    def get(self, name: str) -> object:
        spec = BROKER_PROPERTIES[name]
        return spec.parse(self.props.get(name, spec.default))

    def get_int(self, name: str) -> int:
        value = self.get(name)
        assert isinstance(value, int)
        return value

    def get_bool(self, name: str) -> bool:
        value = self.get(name)
        assert isinstance(value, bool)
        return value

    def get_str(self, name: str) -> str:
        return str(self.get(name))

    @property
    def node_id(self) -> int:
        if "node.id" in self.props:
            return self.get_int("node.id")
        return self.get_int("broker.id")

    @classmethod
    def load(cls, config_file: Path | None = None, overrides: Mapping[str, str] | None = None) -> BrokerConfig:
        props: dict[str, str] = {}
        if config_file is not None:
            try:
                text = config_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise InvalidConfigError(f"cannot read config file {config_file}: {exc.strerror}") from exc
            props.update(parse_properties(text))
        props.update(overrides or {})
        return cls.from_props(props)

    @classmethod
    def from_props(cls, props: Mapping[str, str]) -> BrokerConfig:
        for name, spec in BROKER_PROPERTIES.items():
            if name in props:
                try:
                    value = spec.parse(props[name])
                except ValueError as exc:
                    raise InvalidConfigError(f"invalid value {props[name]!r} for {name}: {exc}") from exc
                if spec.minimum is not None and isinstance(value, int) and value < spec.minimum:
                    raise InvalidConfigError(f"{name} must be at least {spec.minimum}, got {value}")
        log_defaults = LogConfig.from_broker_props(props)
        known_log = {prop for d in TOPIC_CONFIGS for prop, _ in d.broker_props}
        unknown = tuple(sorted(k for k in props if k not in BROKER_PROPERTIES and k not in known_log))
        for name in unknown:
            log.warning("ignoring unknown broker property %s", name)
        return cls(props=dict(props), log_defaults=log_defaults, unknown=unknown)
