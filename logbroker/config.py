"""Broker configuration, with Apache Kafka's property names and defaults.

Sources, later ones winning: the embedded defaults below, a ``--config`` file in Kafka's
``server.properties`` (java.util.Properties) syntax, then each ``--override key=value``. Topic-level
defaults come from the broker's ``log.*`` properties (``log.segment.bytes`` -> ``segment.bytes``);
that mapping lives with the topic configs in ``segments.config``, the one home of topic settings.
Unknown properties are logged and ignored, as Kafka does, so a real ``server.properties`` loads.

Dynamic broker configs (Kafka's AlterConfigs/IncrementalAlterConfigs on a BROKER resource): the
properties Kafka lets a running broker change, here the broker-level topic defaults (``log.*``,
``message.max.bytes``, ... Kafka's ``DynamicLogConfig``), can be set for this broker (resource name
its node id) or as the cluster-wide default (resource name empty). Precedence, highest first:
dynamic per-broker, dynamic cluster default, static (file and ``--override``), Kafka's default.
They are kept in ``<data dir>/dynamic-broker-configs.json`` so they survive a restart, as Kafka keeps
them in its metadata log. Every other property is read-only at run time, as in Kafka.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from segments.config import (
    CONFIGS_BY_NAME,
    TOPIC_CONFIGS,
    ConfigEntry,
    ConfigSource,
    ConfigSynonym,
    ConfigType,
    LogConfig,
    format_value,
)
from segments.errors import InvalidConfigError

log = logging.getLogger(__name__)

# The topic configs a client may name (create, alter), for the fronts' documents.
TOPIC_CONFIG_NAMES: tuple[str, ...] = tuple(d.name for d in TOPIC_CONFIGS)


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
    type: ConfigType | None = None  # Kafka's type when the parser does not say it (LONG, LIST)
    maximum: int | None = None

    @property
    def config_type(self) -> ConfigType:
        if self.type is not None:
            return self.type
        if self.parse is _int:
            return ConfigType.INT
        return ConfigType.BOOLEAN if self.parse is _bool else ConfigType.STRING


def _secret(name: str, doc: str) -> BrokerProperty:
    return BrokerProperty(name, str, "", doc, type=ConfigType.PASSWORD)


# TLS and SASL (docs/SECURITY.md). Each may also be set for one listener as
# ``listener.name.<listener, lower case>.<property>``, which wins for that listener.
_SECURITY_PROPERTIES = (
    BrokerProperty("ssl.keystore.type", str, "PEM",
                   "Key store format: PEM (logbroker's default; Kafka's is JKS, refused) or PKCS12."),
    BrokerProperty("ssl.keystore.location", str, "",
                   "PEM file with the private key and its certificate chain, or a PKCS12 file."),
    _secret("ssl.keystore.certificate.chain", "The certificate chain as PEM text (instead of a location)."),
    _secret("ssl.keystore.key", "The private key as PEM text (with ssl.keystore.certificate.chain)."),
    _secret("ssl.key.password", "Password of an encrypted private key."),
    _secret("ssl.keystore.password", "Password of a PKCS12 key store (PEM files need none)."),
    BrokerProperty("ssl.truststore.type", str, "PEM", "Trust store format: PEM or PKCS12 (JKS is refused)."),
    BrokerProperty("ssl.truststore.location", str, "", "PEM (or PKCS12) file of the CA certificates peer "
                   "certificates must chain to."),
    _secret("ssl.truststore.certificates", "Trusted CA certificates as PEM text."),
    _secret("ssl.truststore.password", "Password of a PKCS12 trust store (may be empty; unused for PEM)."),
    BrokerProperty("ssl.client.auth", str, "none", "Client certificates: required, requested or none."),
    BrokerProperty("ssl.enabled.protocols", str, "TLSv1.2,TLSv1.3", "TLS versions served (1.2 and newer only).",
                   type=ConfigType.LIST),
    BrokerProperty("ssl.principal.mapping.rules", str, "DEFAULT",
                   "Certificate subject -> user name: DEFAULT or RULE:pattern/replacement/[LU], first match wins."),
    BrokerProperty("sasl.enabled.mechanisms", str, "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
                   "SASL mechanisms served on SASL listeners (logbroker's default; Kafka's is GSSAPI).",
                   type=ConfigType.LIST),
    _secret("sasl.jaas.config", "JAAS login settings; for PLAIN, user_NAME=\"password\" entries list the users."),
    BrokerProperty("logbroker.sasl.plain.users.file", str, "",
                   "A file of user_NAME=\"password\" entries (JAAS PlainLoginModule style) PLAIN checks "
                   "against; empty: the SCRAM credential store."),
    BrokerProperty("sasl.mechanism.inter.broker.protocol", str, "GSSAPI",
                   "SASL mechanism brokers authenticate to each other with on a SASL inter-broker listener: "
                   "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (Kafka's default, GSSAPI, is not served)."),
    BrokerProperty("logbroker.inter.broker.sasl.username", str, "",
                   "This broker's own SASL user on the inter-broker listener when "
                   "listener.name.<l>.<mechanism>.sasl.jaas.config names none."),
    _secret("logbroker.inter.broker.sasl.password", "The password of logbroker.inter.broker.sasl.username."),
    BrokerProperty("connection.failed.authentication.delay.ms", _int, "100",
                   "A failed SASL authentication is answered, and its connection closed, only after this "
                   "long (slows password guessing); 0: at once.", 0),
    BrokerProperty("connections.max.reauth.ms", _int, "0",
                   "SASL sessions last at most this long; clients must re-authenticate (KIP-368). 0: forever.",
                   0, type=ConfigType.LONG),
    BrokerProperty("logbroker.append.writer.min.bytes", _int, "2097152",
                   "Appends of at least this many bytes are copied into the segment file by the data "
                   "directory's writer thread while the event loop goes on; smaller ones inline. -1: every "
                   "append inline (no writer thread).", -1),
    BrokerProperty("logbroker.flush.threads", _int, "4",
                   "How many partitions' group-commit fsyncs run at once, each started as soon as a thread is "
                   "free (concurrent fsyncs share the filesystem's journal commits); 1: one after the other.", 1),
    BrokerProperty("logbroker.http.ssl.enable", _bool, "false",
                   "Serve the HTTP API over TLS, with the ssl.* settings prefixed logbroker.http. (else the "
                   "broker-wide ssl.* values)."),
    BrokerProperty("logbroker.http.auth.enable", _bool, "false",
                   "Require credentials on the HTTP API and console (HTTP Basic, bearer tokens, the console's "
                   "session cookie); /health stays open."),
    BrokerProperty("logbroker.http.metrics.auth", _bool, "false",
                   "With logbroker.http.auth.enable, /metrics needs credentials too."),
    _secret("logbroker.http.token.secret", "HMAC key of the bearer tokens (empty: random per process)."),
    BrokerProperty("logbroker.http.token.lifetime.ms", _int, "3600000", "How long an issued token is valid.", 1000,
                   type=ConfigType.LONG),
    BrokerProperty("logbroker.http.auth.max.failures", _int, "5",
                   "Failed HTTP password attempts a client address, or a user name, may make within "
                   "logbroker.http.auth.failure.window.ms before further attempts get 429; 0: no limit.", 0),
    BrokerProperty("logbroker.http.auth.failure.window.ms", _int, "60000",
                   "The window failed HTTP password attempts are counted in (and the longest wait).", 1000,
                   type=ConfigType.LONG),
    BrokerProperty("config.providers", str, "", "Config providers for ${provider:[path:]key} values "
                   "(env, file, dir).", type=ConfigType.LIST),
)

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
        BrokerProperty("default.replication.factor", _int, "1",
                       "Replicas of a topic created without one (a cluster; a single broker has one).", 1),
        BrokerProperty("zookeeper.connect", str, "",
                       "ZooKeeper host:port[,...][/chroot]: set, the broker joins a cluster; empty, it runs alone."),
        BrokerProperty("zookeeper.session.timeout.ms", _int, "18000",
                       "ZooKeeper session timeout: a silent broker loses its registration after this.", 1),
        BrokerProperty("zookeeper.connection.timeout.ms", _int, "18000",
                       "How long start-up waits for the first ZooKeeper connection.", 1),
        BrokerProperty("request.timeout.ms", _int, "30000",
                       "How long the broker waits on ZooKeeper for a client's client-quota or SCRAM "
                       "credential request before answering REQUEST_TIMED_OUT (a cluster; Kafka: how long "
                       "the broker waits on its own requests, such as those forwarded to the controller).", 0),
        BrokerProperty("replica.high.watermark.checkpoint.interval.ms", _int, "5000",
                       "How often each partition's high watermark is written to replication-offset-checkpoint "
                       "(a cluster).", 1, type=ConfigType.LONG),
        BrokerProperty("replica.lag.time.max.ms", _int, "30000",
                       "A follower that has not caught up for this long leaves the ISR.", 1),
        BrokerProperty("replica.fetch.wait.max.ms", _int, "500", "Longest wait of a follower's fetch.", 1),
        BrokerProperty("replica.fetch.max.bytes", _int, "1048576", "Bytes per partition a follower fetches.", 1),
        BrokerProperty("reconnect.backoff.ms", _int, "50",
                       "A follower's first wait before connecting again to a leader it could not reach or that "
                       "refused it; doubled on each failure in a row, with 20% jitter.", 0, type=ConfigType.LONG),
        BrokerProperty("reconnect.backoff.max.ms", _int, "1000",
                       "The longest wait between a follower's attempts to connect to a leader.", 0,
                       type=ConfigType.LONG),
        BrokerProperty("socket.request.max.bytes", _int, "104857600",
                       "Largest request frame accepted; larger ones are refused before being read.", 1),
        BrokerProperty("queued.max.request.bytes", _int, "209715200",
                       "Bytes of received requests (partial or unanswered) held across all connections; "
                       "reading pauses while they are exhausted (Kafka's default is -1, unbounded; "
                       "logbroker's is 200 MiB). At least socket.request.max.bytes + 4, or -1.",
                       type=ConfigType.LONG),
        BrokerProperty("request.receive.timeout.ms", _int, "30000",
                       "logbroker's own: a connection whose request has not fully arrived this long after "
                       "its first byte is closed (Kafka has no such bound).", 1),
        BrokerProperty("log.retention.check.interval.ms", _int, "300000",
                       "How often the retention sweeper runs.", 1, type=ConfigType.LONG),
        BrokerProperty("log.flush.scheduler.interval.ms", _int, "1000",
                       "How often logs are checked against flush.ms under the os flush policy.", 1,
                       type=ConfigType.LONG),
        BrokerProperty("log.flush.offset.checkpoint.interval.ms", _int, "60000",
                       "How often recovery points are checkpointed.", 1),
        BrokerProperty("log.cleaner.enable", _bool, "true", "Run compaction for compacted topics."),
        BrokerProperty("log.cleaner.backoff.ms", _int, "15000",
                       "How often the cleaner thread looks for compacted partitions to clean.", 0,
                       type=ConfigType.LONG),
        BrokerProperty("offsets.topic.num.partitions", _int, "50", "Partitions of __consumer_offsets.", 1),
        BrokerProperty("offsets.topic.replication.factor", _int, "3",
                       "Replicas of __consumer_offsets in a cluster (at most the live brokers when it is "
                       "created).", 1, type=ConfigType.SHORT),
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
        BrokerProperty("group.consumer.min.session.timeout.ms", _int, "45000",
                       "KIP-848 consumer groups: the smallest consumer.session.timeout.ms a group may set.", 1),
        BrokerProperty("group.consumer.max.session.timeout.ms", _int, "60000",
                       "KIP-848 consumer groups: the largest consumer.session.timeout.ms a group may set.", 1),
        BrokerProperty("group.consumer.min.heartbeat.interval.ms", _int, "5000",
                       "KIP-848 consumer groups: the smallest consumer.heartbeat.interval.ms a group may set.", 1),
        BrokerProperty("group.consumer.max.heartbeat.interval.ms", _int, "15000",
                       "KIP-848 consumer groups: the largest consumer.heartbeat.interval.ms a group may set.", 1),
        BrokerProperty("group.consumer.assignors", str, "uniform,range,sticky",
                       "KIP-848 consumer groups: server-side assignors; the first is the default.",
                       type=ConfigType.LIST),
        BrokerProperty("group.consumer.max.size", _int, "2147483647", "KIP-848 consumer groups: members per group.", 1),
        BrokerProperty("group.share.session.timeout.ms", _int, "45000",
                       "Share groups: heartbeat silence before a member is evicted.", 1),
        BrokerProperty("group.share.heartbeat.interval.ms", _int, "5000",
                       "Share groups: heartbeat interval told to members.", 1),
        BrokerProperty("group.share.min.session.timeout.ms", _int, "45000",
                       "Share groups: the smallest share.session.timeout.ms a group may set.", 1),
        BrokerProperty("group.share.max.session.timeout.ms", _int, "60000",
                       "Share groups: the largest share.session.timeout.ms a group may set.", 1),
        BrokerProperty("group.share.min.heartbeat.interval.ms", _int, "5000",
                       "Share groups: the smallest share.heartbeat.interval.ms a group may set.", 1),
        BrokerProperty("group.share.max.heartbeat.interval.ms", _int, "15000",
                       "Share groups: the largest share.heartbeat.interval.ms a group may set.", 1),
        BrokerProperty("group.share.max.size", _int, "200", "Share groups: members per group.", 1),
        BrokerProperty("group.share.record.lock.duration.ms", _int, "30000",
                       "Share groups: how long an acquired record stays locked to its member.", 1000,
                       maximum=3_600_000),
        BrokerProperty("group.share.min.record.lock.duration.ms", _int, "15000",
                       "Share groups: the smallest share.record.lock.duration.ms a group may set.", 1000,
                       maximum=30_000),
        BrokerProperty("group.share.max.record.lock.duration.ms", _int, "60000",
                       "Share groups: the largest share.record.lock.duration.ms a group may set.", 30_000,
                       maximum=3_600_000),
        BrokerProperty("group.share.delivery.count.limit", _int, "5",
                       "Share groups: deliveries of a record before it is archived.", 1),
        BrokerProperty("group.share.partition.max.record.locks", _int, "2000",
                       "Share groups: in-flight records per share-partition.", 1),
        BrokerProperty("share.coordinator.state.topic.num.partitions", _int, "50",
                       "Partitions of __share_group_state.", 1),
        BrokerProperty("share.coordinator.state.topic.replication.factor", _int, "3",
                       "Replicas of __share_group_state in a cluster (at most the live brokers when it is "
                       "created).", 1, type=ConfigType.SHORT),
        BrokerProperty("share.coordinator.state.topic.min.isr", _int, "2",
                       "min.insync.replicas of __share_group_state in a cluster (at most its replication "
                       "factor when it is created).", 1, type=ConfigType.SHORT),
        BrokerProperty("delete.topic.enable", _bool, "true", "Allow DeleteTopics."),
        BrokerProperty("listeners", str, "",
                       "The Kafka listener, NAME://HOST:PORT (one, PLAINTEXT; empty: 127.0.0.1:9092 or "
                       "--kafka-listen, which wins)."),
        BrokerProperty("advertised.listeners", str, "",
                       "Address given to clients (PLAINTEXT://host:port); defaults to the listener.",
                       type=ConfigType.STRING),
        BrokerProperty("listener.security.protocol.map", str, "",
                       "NAME:PROTOCOL pairs for listener names that are not protocol names."),
        BrokerProperty("controller.listener.names", str, "",
                       "KRaft controller listeners: accepted in listeners, not opened (no quorum here)."),
        BrokerProperty("log.dirs", str, "",
                       "The data directory (one; empty: log.dir, else ./data; --data-dir wins).",
                       type=ConfigType.LIST),
        BrokerProperty("log.dir", str, "", "The data directory when log.dirs is not set."),
        BrokerProperty("transactional.id.expiration.ms", _int, "604800000",
                       "Producer-id state is forgotten after this long without writes.", 1),
        BrokerProperty("producer.id.expiration.ms", _int, "86400000",
                       "An idempotent producer whose last batch is older than this is forgotten when its log "
                       "loads, so a retry of its batch is appended again.", 1),
        BrokerProperty("max.incremental.fetch.session.cache.slots", _int, "1000",
                       "Incremental fetch sessions (KIP-227) kept; when full, a stale or long-lived one makes "
                       "room by Kafka's rule (logbroker/kafka/fetch_sessions.py), else a new one gets none.", 0),
        BrokerProperty("authorizer.class.name", str, "",
                       "Set to org.apache.kafka.metadata.authorizer.StandardAuthorizer or "
                       "kafka.security.authorizer.AclAuthorizer to check every request against ACLs "
                       "(logbroker's authorizer either way); empty: no authorization."),
        BrokerProperty("super.users", str, "",
                       "Principals allowed everything, separated by ';' (User:admin;User:ops).",
                       type=ConfigType.LIST),
        BrokerProperty("allow.everyone.if.no.acl.found", _bool, "false",
                       "With an authorizer: allow a resource no ACL names at all (false: refuse)."),
        BrokerProperty("connections.max.idle.ms", _int, "600000", "Idle connections are closed after this.", 1,
                       type=ConfigType.LONG),
        BrokerProperty("inter.broker.listener.name", str, "",
                       "The listener brokers of a cluster use between them (followers fetch over it)."),
        BrokerProperty("security.inter.broker.protocol", str, "PLAINTEXT",
                       "The inter-broker listener's protocol when inter.broker.listener.name is not set."),
        *_SECURITY_PROPERTIES,
    )
}


def _check_request_memory(props: Mapping[str, str]) -> None:
    """A bounded request pool smaller than the largest request would stall that request forever."""
    queued = int(props.get("queued.max.request.bytes", BROKER_PROPERTIES["queued.max.request.bytes"].default))
    largest = int(props.get("socket.request.max.bytes", BROKER_PROPERTIES["socket.request.max.bytes"].default))
    if queued != -1 and queued < largest + 4:
        raise InvalidConfigError(
            f"queued.max.request.bytes ({queued}) must be -1 (unbounded) or at least socket.request.max.bytes "
            f"+ 4 ({largest + 4}), so the largest request accepted can be received"
        )


# Kafka's start-up rules for the group coordinator's timing properties, in its order and words
# (GroupCoordinatorConfig, ShareGroupConfig): (a, relation, b) means "a must be <relation> b".
_GROUP_TIMING_RULES: tuple[tuple[str, str, str], ...] = (
    *(rule for kind in ("consumer", "share") for rule in (
        (f"group.{kind}.max.heartbeat.interval.ms", ">=", f"group.{kind}.min.heartbeat.interval.ms"),
        (f"group.{kind}.heartbeat.interval.ms", ">=", f"group.{kind}.min.heartbeat.interval.ms"),
        (f"group.{kind}.heartbeat.interval.ms", "<=", f"group.{kind}.max.heartbeat.interval.ms"),
        (f"group.{kind}.max.session.timeout.ms", ">=", f"group.{kind}.min.session.timeout.ms"),
        (f"group.{kind}.session.timeout.ms", ">=", f"group.{kind}.min.session.timeout.ms"),
        (f"group.{kind}.session.timeout.ms", "<=", f"group.{kind}.max.session.timeout.ms"),
        (f"group.{kind}.heartbeat.interval.ms", "<", f"group.{kind}.session.timeout.ms"),
    )),
    ("group.share.record.lock.duration.ms", ">=", "group.share.min.record.lock.duration.ms"),
    ("group.share.max.record.lock.duration.ms", ">=", "group.share.record.lock.duration.ms"),
)
_RELATIONS: dict[str, tuple[Callable[[int, int], bool], str]] = {
    ">=": (lambda a, b: a >= b, "greater than or equal to"),
    "<=": (lambda a, b: a <= b, "less than or equal to"),
    "<": (lambda a, b: a < b, "less than"),
}


def _check_group_timing(props: Mapping[str, str]) -> None:
    """Refuse group timings Kafka refuses at start-up: a default outside its min/max bounds, a min
    above its max, a heartbeat interval not shorter than the session, with Kafka's message."""
    def value(name: str) -> int:
        return int(props.get(name, BROKER_PROPERTIES[name].default))

    for left, relation, right in _GROUP_TIMING_RULES:
        holds, words = _RELATIONS[relation]
        if not holds(value(left), value(right)):
            raise InvalidConfigError(f"{left} must be {words} {right} ({left}={value(left)}, {right}={value(right)})")


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


# The broker properties that set topic defaults, with the topic config each one sets and the factor
# from its unit to the topic config's (log.retention.hours -> retention.ms: 3,600,000).
LOG_PROPERTIES: dict[str, tuple[str, int]] = {
    prop: (d.name, factor) for d in TOPIC_CONFIGS for prop, factor in d.broker_props
}
# What a running broker may change (Kafka's dynamic broker configs): the topic defaults, each by its
# main property only (Kafka's DynamicLogConfig takes the head of each topic config's synonyms:
# log.retention.ms, not log.retention.hours or .minutes; log.roll.ms, not log.roll.hours).
DYNAMIC_PROPERTIES = frozenset(d.broker_prop for d in TOPIC_CONFIGS if d.broker_prop is not None)
DYNAMIC_CONFIGS_FILE = "dynamic-broker-configs.json"


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    """The effective configuration of one broker process.

    ``props`` is what every reader uses: ``static`` (file and overrides) with the dynamic cluster
    default and then the dynamic per-broker configs laid over it.
    """

    props: Mapping[str, str]
    log_defaults: LogConfig
    unknown: tuple[str, ...] = field(default=())
    static: Mapping[str, str] = field(default_factory=dict)
    dynamic_default: Mapping[str, str] = field(default_factory=dict)
    dynamic_broker: Mapping[str, str] = field(default_factory=dict)

    def dynamic_sources(self) -> dict[str, ConfigSource]:
        """Where each dynamically set property comes from (per-broker wins over the cluster default)."""
        sources = dict.fromkeys(self.dynamic_default, ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG)
        sources.update(dict.fromkeys(self.dynamic_broker, ConfigSource.DYNAMIC_BROKER_CONFIG))
        return sources

    def with_dynamic(self, default: Mapping[str, str], broker: Mapping[str, str]) -> BrokerConfig:
        """This config with these dynamic layers (validated as a whole; raises InvalidConfigError)."""
        for name in (*default, *broker):
            if name not in DYNAMIC_PROPERTIES:
                known = name in BROKER_PROPERTIES or name in LOG_PROPERTIES
                raise InvalidConfigError(f"Cannot update these configs dynamically: {{{name}}}"
                                         if known else f"unknown broker config {name!r}")
        props = {**self.static, **default, **broker}
        log_defaults = LogConfig.from_broker_props(props)
        return replace(self, props=props, log_defaults=log_defaults, dynamic_default=dict(default),
                       dynamic_broker=dict(broker))

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
        from logbroker.security import config_providers  # imports parse_properties from here

        return cls.from_props(config_providers.resolve(props))

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
                if spec.maximum is not None and isinstance(value, int) and value > spec.maximum:
                    raise InvalidConfigError(f"{name} must be at most {spec.maximum}, got {value}")
        _check_request_memory(props)
        _check_group_timing(props)
        log_defaults = LogConfig.from_broker_props(props)
        known_log = {prop for d in TOPIC_CONFIGS for prop, _ in d.broker_props}
        unknown = tuple(sorted(k for k in props if k not in BROKER_PROPERTIES and k not in known_log
                               and not _is_listener_or_provider_property(k)))
        for name in unknown:
            log.warning("ignoring unknown broker property %s", name)
        return cls(props=dict(props), log_defaults=log_defaults, unknown=unknown, static=dict(props))


def _is_listener_or_provider_property(name: str) -> bool:
    """``listener.name.<l>.<property>`` (a per-listener value of a known property, or a
    ``<mechanism>.sasl.jaas.config``) and ``config.providers.<name>.*`` are known too."""
    if name.startswith("config.providers."):
        return True
    if name.startswith("logbroker.http.ssl."):
        return name[len("logbroker.http."):] in BROKER_PROPERTIES
    if not name.startswith("listener.name."):
        return False
    rest = name[len("listener.name."):].partition(".")[2]
    # <property>, or <mechanism>.<property> (sasl.jaas.config, connections.max.reauth.ms)
    return rest in BROKER_PROPERTIES or rest.partition(".")[2] in BROKER_PROPERTIES or rest.endswith(
        ".sasl.jaas.config")


def is_sensitive(name: str) -> bool:
    """A property whose value is a secret: never logged, answered as null by DescribeConfigs."""
    base = name
    if name.startswith("logbroker.http.ssl."):
        base = name[len("logbroker.http."):]
    if name.startswith("listener.name."):
        base = name[len("listener.name."):].partition(".")[2]
    if base.endswith(".sasl.jaas.config"):
        return True
    spec = BROKER_PROPERTIES.get(base)
    return spec is not None and spec.type == ConfigType.PASSWORD


def _source_of(config: BrokerConfig, name: str) -> tuple[ConfigSource, str] | None:
    for layer, source in ((config.dynamic_broker, ConfigSource.DYNAMIC_BROKER_CONFIG),
                          (config.dynamic_default, ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG),
                          (config.static, ConfigSource.STATIC_BROKER_CONFIG)):
        if name in layer:
            return source, layer[name]
    return None


def _layers(config: BrokerConfig, name: str) -> list[ConfigSynonym]:
    out: list[ConfigSynonym] = []
    for layer, source in ((config.dynamic_broker, ConfigSource.DYNAMIC_BROKER_CONFIG),
                          (config.dynamic_default, ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG),
                          (config.static, ConfigSource.STATIC_BROKER_CONFIG)):
        if name in layer:
            out.append(ConfigSynonym(name, layer[name], source))
    return out


def _log_default(name: str) -> str | None:
    """Kafka's default of a ``log.*`` property in its own unit (None where Kafka has none, e.g. the
    finer ``log.retention.ms`` whose default comes from ``log.retention.hours``)."""
    topic_name, factor = LOG_PROPERTIES[name]
    definition = CONFIGS_BY_NAME[topic_name]
    synonyms = definition.broker_props
    if len(synonyms) > 1 and name != synonyms[-1][0]:
        return None
    value = definition.default
    if factor != 1 and isinstance(value, int) and not isinstance(value, bool):
        return str(value // factor)
    return format_value(value)


def describe_broker(config: BrokerConfig, names: Iterable[str] | None = None) -> list[ConfigEntry]:
    """DescribeConfigs rows for this broker: every broker property and topic-default property with
    its value, source, Kafka type, whether it can change at run time, and its synonyms (the property
    at each layer that sets it, then the synonyms of the same topic default; most specific first)."""
    wanted = set(names) if names else None
    entries: list[ConfigEntry] = []
    for name, spec in BROKER_PROPERTIES.items():
        if (wanted is not None and name not in wanted) or name in _DESCRIBED_AS_SET_ONLY:
            continue
        found = _source_of(config, name)
        synonyms = [*_layers(config, name), ConfigSynonym(name, spec.default, ConfigSource.DEFAULT_CONFIG)]
        entry = ConfigEntry(name=name, value=found[1] if found else spec.default, default=spec.default,
                            source=found[0] if found else ConfigSource.DEFAULT_CONFIG,
                            type=spec.config_type, doc=spec.doc, read_only=name not in DYNAMIC_PROPERTIES,
                            synonyms=tuple(synonyms))
        if is_sensitive(name):
            # Kafka answers a secret's value (and its synonyms' values) as null, isSensitive true.
            entry = replace(entry, value=None, default=None, sensitive=True,  # type: ignore[arg-type]
                            synonyms=tuple(replace(s, value=None) for s in synonyms))  # type: ignore[arg-type]
        entries.append(entry)
    for name, (topic_name, factor) in LOG_PROPERTIES.items():
        if (wanted is not None and name not in wanted) or name in BROKER_PROPERTIES:
            continue
        definition = CONFIGS_BY_NAME[topic_name]
        default = _log_default(name)
        found = _source_of(config, name)
        synonyms = []
        for prop, _ in definition.broker_props:
            synonyms += _layers(config, prop)
        for prop, _ in definition.broker_props:
            prop_default = _log_default(prop)
            if prop_default is not None:
                synonyms.append(ConfigSynonym(prop, prop_default, ConfigSource.DEFAULT_CONFIG))
        kind = ConfigType.INT if factor != 1 else definition.type
        value = found[1] if found else default
        doc = f"Default of the topic config {topic_name}" + (f" (in units of {factor} ms)" if factor != 1 else "")
        entries.append(ConfigEntry(name=name, value=value if value is not None else "", default=default or "",
                                   source=found[0] if found else ConfigSource.DEFAULT_CONFIG, type=kind,
                                   doc=f"{doc}: {definition.doc}.", read_only=name not in DYNAMIC_PROPERTIES,
                                   synonyms=tuple(synonyms)))
        if value is None:
            entries[-1] = replace(entries[-1], value=None)  # type: ignore[arg-type]
    described = {e.name for e in entries}
    entries += [_set_only_entry(name, value) for name, value in sorted(config.static.items())
                if name not in described and (wanted is None or name in wanted)
                and (name not in BROKER_PROPERTIES or name in _DESCRIBED_AS_SET_ONLY)]
    return entries


# Properties outside Kafka's broker config definition (KafkaConfig): described only when set.
_DESCRIBED_AS_SET_ONLY = frozenset({"config.providers"})


def _set_only_entry(name: str, value: str) -> ConfigEntry:
    """A set property that is not one of the broker's own definitions, as Kafka's DescribeConfigs
    lists every property of the broker's file (``ConfigHelper``'s originals): a per-listener
    ``listener.name.<l>.[<mechanism>.]<property>`` takes its base property's type, anything else
    (``config.providers.*``, names no definition has) is of unknown type; a password or an unknown
    type is sensitive, so its value is null, as Kafka answers (it cannot tell an unknown one is safe)."""
    base = _base_property(name)
    spec = BROKER_PROPERTIES.get(base) if base is not None else None
    kind = spec.config_type if spec is not None else ConfigType.UNKNOWN
    shown = None if kind in (ConfigType.PASSWORD, ConfigType.UNKNOWN) else value
    return ConfigEntry(name=name, value=shown, default=None,  # type: ignore[arg-type]
                       source=ConfigSource.STATIC_BROKER_CONFIG, type=kind, doc="", read_only=True,
                       sensitive=shown is None,
                       synonyms=(ConfigSynonym(name, shown, ConfigSource.STATIC_BROKER_CONFIG),))  # type: ignore[arg-type]


def _base_property(name: str) -> str | None:
    """The property a ``listener.name.<l>.[<mechanism>.]<property>`` (or logbroker's
    ``logbroker.http.ssl.*``) sets for one listener; None for any other name or an unknown property."""
    if name.startswith("logbroker.http.ssl."):
        rest = name[len("logbroker.http."):]
    elif name.startswith("listener.name."):
        rest = name[len("listener.name."):].partition(".")[2]
    else:
        return None
    for candidate in (rest, rest.partition(".")[2]):
        if candidate in BROKER_PROPERTIES:
            return candidate
    return None


def load_dynamic(data_dir: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The dynamic (cluster default, per-broker) configs saved in the data directory."""
    path = data_dir / DYNAMIC_CONFIGS_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, {}
    except (OSError, ValueError) as exc:
        raise InvalidConfigError(f"cannot read dynamic broker configs {path}: {exc}") from exc
    return dict(doc.get("default", {})), dict(doc.get("broker", {}))


def save_dynamic(data_dir: Path, default: Mapping[str, str], broker: Mapping[str, str]) -> None:
    """Write the dynamic configs crash-safely: a temporary file, fsync, rename, fsync the directory."""
    path = data_dir / DYNAMIC_CONFIGS_FILE
    tmp = path.with_suffix(".tmp")
    data = json.dumps({"default": dict(default), "broker": dict(broker)}, indent=1, sort_keys=True).encode()
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(data_dir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
