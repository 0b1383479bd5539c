"""Topic configuration: Kafka's topic configs, their defaults, validation and provenance.

Every topic config is declared once in ``TOPIC_CONFIGS`` with its Kafka name, type, default,
validator, one-line meaning and the broker property that supplies the default when the topic does
not override it (Kafka's ``LogConfig`` / ``ServerLogConfigs`` in ``storage/.../log/LogConfig.java``).
Defaults are Kafka 3.9's, except ``file.delete.delay.ms`` (below).

Values travel as strings, as in Kafka's CreateTopics/AlterConfigs/DescribeConfigs and the
``kafka-configs.sh`` tool:

    type     string form                          Python value
    int      decimal, within [-2**31, 2**31-1]    int
    long     decimal, within [-2**63, 2**63-1]    int
    double   float literal                        float
    boolean  true | false (any case)              bool
    string   as is (trimmed)                      str
    list     comma-separated, items trimmed       tuple[str, ...]

Configs Kafka has but this broker does not implement are kept in the table (clients send and
describe them) with a validator that accepts only what the broker actually does, so a setting is
never acknowledged and then ignored: ``compression.type`` only ``producer`` (batches are stored as
the producer compressed them; recompressing is refused rather than faked), ``preallocate`` only
``false``, and ``file.delete.delay.ms`` only 0 (a deleted segment's files are unlinked at once; reads
already under way keep their open file descriptors, which is what Kafka's delay protects), which is
therefore its default here instead of Kafka's 60000.

``logbroker.flush.policy`` is logbroker's own durability setting (Kafka has none: it relies on
replication instead of fsync). ``group`` (the default) answers ``acks=all`` after a group-committed
fsync covering the batch; ``always`` fsyncs inside every append; ``os`` never fsyncs on the append path
and leaves durability to the page cache plus the periodic ``flush.ms``/``flush.messages`` flushes.
Kafka's ``flush.messages=1`` (fsync after every message) is honoured as ``always`` whatever the policy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from enum import IntEnum
from typing import Any

from segments.errors import InvalidConfigError

LONG_MAX = 2**63 - 1
LONG_MIN = -(2**63)
INT_MAX = 2**31 - 1
INT_MIN = -(2**31)
SEGMENT_BYTES_MIN = 1_048_576  # Kafka 4's minimum segment.bytes / log.segment.bytes (KIP-1030)

CLEANUP_DELETE = "delete"
CLEANUP_COMPACT = "compact"

FLUSH_GROUP = "group"
FLUSH_ALWAYS = "always"
FLUSH_OS = "os"
FLUSH_POLICIES = (FLUSH_GROUP, FLUSH_ALWAYS, FLUSH_OS)

COMPRESSION_TYPES = ("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer")
TIMESTAMP_TYPES = ("CreateTime", "LogAppendTime")

ConfigValue = int | float | bool | str | tuple[str, ...]


class ConfigType(IntEnum):
    """Kafka's DescribeConfigs ``ConfigType`` codes (DescribeConfigsResponse v3+)."""

    UNKNOWN = 0
    BOOLEAN = 1
    STRING = 2
    INT = 3
    SHORT = 4
    LONG = 5
    DOUBLE = 6
    LIST = 7
    CLASS = 8
    PASSWORD = 9  # a secret: DescribeConfigs answers its value as null, isSensitive true


class ConfigSource(IntEnum):
    """Kafka's DescribeConfigs ``ConfigSource`` codes (where an effective value came from)."""

    UNKNOWN = 0
    TOPIC_CONFIG = 1
    DYNAMIC_BROKER_CONFIG = 2
    DYNAMIC_DEFAULT_BROKER_CONFIG = 3
    STATIC_BROKER_CONFIG = 4
    DEFAULT_CONFIG = 5


Validator = Callable[[ConfigValue], str | None]
"""Returns None when the value is acceptable, else a phrase describing the accepted range."""


def at_least(minimum: int | float) -> Validator:
    def check(value: ConfigValue) -> str | None:
        assert isinstance(value, int | float)
        return None if value >= minimum else f"must be at least {minimum}"

    return check


def between(low: float, high: float) -> Validator:
    def check(value: ConfigValue) -> str | None:
        assert isinstance(value, int | float)
        return None if low <= value <= high else f"must be between {low} and {high}"

    return check


def one_of(*choices: str) -> Validator:
    def check(value: ConfigValue) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"

    return check


def only(accepted: ConfigValue, why: str) -> Validator:
    """For a Kafka config this broker honours in one setting only: ``why`` says what it does instead."""

    def check(value: ConfigValue) -> str | None:
        return None if value == accepted else why

    return check


def subset_of(*choices: str, non_empty: bool = True) -> Validator:
    def check(value: ConfigValue) -> str | None:
        assert isinstance(value, tuple)
        if non_empty and not value:
            return f"must be a non-empty comma-separated list of {', '.join(choices)}"
        if any(item not in choices for item in value):
            return f"must be a comma-separated list of {', '.join(choices)}"
        return None

    return check


@dataclass(frozen=True, slots=True)
class ConfigDef:
    """One topic config: Kafka name, type, default, validator, meaning and broker synonyms.

    ``broker_props`` lists the broker properties that set this config's default, highest precedence
    first, each with the factor that converts its unit to the topic config's unit (e.g.
    ``log.retention.hours`` x 3,600,000 = ``retention.ms``).
    """

    name: str
    type: ConfigType
    default: ConfigValue
    doc: str
    validator: Validator | None = None
    broker_props: tuple[tuple[str, int], ...] = ()

    @property
    def attr(self) -> str:
        """The LogConfig field holding this config (snake_case of the Kafka name)."""
        return self.name.replace(".", "_")

    @property
    def broker_prop(self) -> str | None:
        """The main broker property supplying the default (Kafka's ``synonyms`` head)."""
        return self.broker_props[0][0] if self.broker_props else None


_MS_PER_MINUTE = 60_000
_MS_PER_HOUR = 3_600_000

TOPIC_CONFIGS: tuple[ConfigDef, ...] = (
    ConfigDef(
        "cleanup.policy",
        ConfigType.LIST,
        (CLEANUP_DELETE,),
        "delete old segments by time/size, compact to the latest record per key, both, or (empty) neither",
        # Kafka 4.1 (KIP-1143) accepts an empty list: infinite retention and no compaction.
        subset_of(CLEANUP_DELETE, CLEANUP_COMPACT, non_empty=False),
        (("log.cleanup.policy", 1),),
    ),
    ConfigDef(
        "compression.type",
        ConfigType.STRING,
        "producer",
        "final compression of stored batches; 'producer' keeps the producer's codec (the only value honoured)",
        only("producer", f"only 'producer' is supported: batches are stored as the producer compressed them "
                         f"and never recompressed (Kafka's values: {', '.join(COMPRESSION_TYPES)})"),
        (("compression.type", 1),),
    ),
    ConfigDef(
        "delete.retention.ms",
        ConfigType.LONG,
        86_400_000,
        "how long tombstones (null values) survive compaction, in ms",
        at_least(0),
        (("log.cleaner.delete.retention.ms", 1),),
    ),
    ConfigDef(
        "file.delete.delay.ms",
        ConfigType.LONG,
        0,
        "delay before a deleted segment's files are removed from disk, in ms (0: at once, the only value honoured)",
        only(0, "only 0 is supported: a deleted segment's files are unlinked at once (reads under way keep "
                "their open files)"),
        (("log.segment.delete.delay.ms", 1),),
    ),
    ConfigDef(
        "flush.messages",
        ConfigType.LONG,
        LONG_MAX,
        "fsync after this many unflushed messages (policy 'os'); 1 means fsync every append",
        at_least(1),
        (("log.flush.interval.messages", 1),),
    ),
    ConfigDef(
        "flush.ms",
        ConfigType.LONG,
        LONG_MAX,
        "fsync when the oldest unflushed data is this old, in ms (policy 'os')",
        at_least(0),
        (("log.flush.interval.ms", 1), ("log.flush.scheduler.interval.ms", 1)),
    ),
    ConfigDef(
        "index.interval.bytes",
        ConfigType.INT,
        4096,
        "bytes of log between two offset index entries (sparse index)",
        at_least(0),
        (("log.index.interval.bytes", 1),),
    ),
    ConfigDef(
        "max.compaction.lag.ms",
        ConfigType.LONG,
        LONG_MAX,
        "longest a record may stay uncompacted, in ms",
        at_least(1),
        (("log.cleaner.max.compaction.lag.ms", 1),),
    ),
    ConfigDef(
        "max.message.bytes",
        ConfigType.INT,
        1_048_588,
        "largest record batch accepted, in bytes",
        at_least(0),
        (("message.max.bytes", 1),),
    ),
    ConfigDef(
        "message.timestamp.after.max.ms",
        ConfigType.LONG,
        LONG_MAX,
        "how far in the future a CreateTime timestamp may be, in ms",
        at_least(0),
        (("log.message.timestamp.after.max.ms", 1),),
    ),
    ConfigDef(
        "message.timestamp.before.max.ms",
        ConfigType.LONG,
        LONG_MAX,
        "how far in the past a CreateTime timestamp may be, in ms",
        at_least(0),
        (("log.message.timestamp.before.max.ms", 1),),
    ),
    ConfigDef(
        "message.timestamp.type",
        ConfigType.STRING,
        "CreateTime",
        "record timestamps are the producer's (CreateTime) or the broker's (LogAppendTime)",
        one_of(*TIMESTAMP_TYPES),
        (("log.message.timestamp.type", 1),),
    ),
    ConfigDef(
        "min.cleanable.dirty.ratio",
        ConfigType.DOUBLE,
        0.5,
        "compact when uncompacted bytes / total bytes reach this ratio",
        between(0, 1),
        (("log.cleaner.min.cleanable.ratio", 1),),
    ),
    ConfigDef(
        "min.compaction.lag.ms",
        ConfigType.LONG,
        0,
        "shortest time a record stays uncompacted, in ms",
        at_least(0),
        (("log.cleaner.min.compaction.lag.ms", 1),),
    ),
    ConfigDef(
        "min.insync.replicas",
        ConfigType.INT,
        1,
        "replicas that must acknowledge acks=all (a single node always has one)",
        at_least(1),
        (("min.insync.replicas", 1),),
    ),
    ConfigDef(
        "preallocate",
        ConfigType.BOOLEAN,
        False,
        "preallocate segment files on creation (false, the only value honoured)",
        only(False, "only false is supported: segment files grow as records are appended"),
        (("log.preallocate", 1),),
    ),
    ConfigDef(
        "retention.bytes",
        ConfigType.LONG,
        -1,
        "delete old segments while the partition is larger than this, in bytes; -1 = no limit",
        None,
        (("log.retention.bytes", 1),),
    ),
    ConfigDef(
        "retention.ms",
        ConfigType.LONG,
        604_800_000,
        "delete segments whose newest record is older than this, in ms; -1 = no limit",
        at_least(-1),
        (("log.retention.ms", 1), ("log.retention.minutes", _MS_PER_MINUTE), ("log.retention.hours", _MS_PER_HOUR)),
    ),
    ConfigDef(
        "segment.bytes",
        ConfigType.INT,
        1_073_741_824,
        "roll a new segment when the active one reaches this size, in bytes",
        at_least(SEGMENT_BYTES_MIN),
        (("log.segment.bytes", 1),),
    ),
    ConfigDef(
        "segment.index.bytes",
        ConfigType.INT,
        10_485_760,
        "maximum size of a segment's offset and time index files, in bytes",
        at_least(4),
        (("log.index.size.max.bytes", 1),),
    ),
    ConfigDef(
        "segment.jitter.ms",
        ConfigType.LONG,
        0,
        "random jitter subtracted from segment.ms to spread rolls, in ms",
        at_least(0),
        (("log.roll.jitter.ms", 1), ("log.roll.jitter.hours", _MS_PER_HOUR)),
    ),
    ConfigDef(
        "segment.ms",
        ConfigType.LONG,
        604_800_000,
        "roll a new segment when the active one is this old, in ms",
        at_least(1),
        (("log.roll.ms", 1), ("log.roll.hours", _MS_PER_HOUR)),
    ),
    ConfigDef(
        "unclean.leader.election.enable",
        ConfigType.BOOLEAN,
        False,
        "allow an out-of-sync replica to become leader (no effect on a single node)",
        None,
        (("unclean.leader.election.enable", 1),),
    ),
    ConfigDef(
        "logbroker.flush.policy",
        ConfigType.STRING,
        FLUSH_GROUP,
        "durability: 'group' = group-committed fsync before acks=all, 'always' = fsync in every "
        "append, 'os' = page cache plus flush.ms/flush.messages",
        one_of(*FLUSH_POLICIES),
        (("logbroker.flush.policy", 1),),
    ),
)

# Kafka 4's internal topic config (LogConfig.INTERNAL_SEGMENT_BYTES_CONFIG, "for testing only"): when set it
# replaces segment.bytes, without segment.bytes' 1 MiB minimum, so tests can roll small segments. Like
# Kafka's internal configs it is accepted and persisted, but not listed among the topic configs.
INTERNAL_SEGMENT_BYTES = ConfigDef(
    "internal.segment.bytes",
    ConfigType.INT,
    1_073_741_824,
    "the maximum size of a segment, overriding segment.bytes; for testing only",
    at_least(14),
)
CONFIGS_BY_NAME: dict[str, ConfigDef] = {d.name: d for d in TOPIC_CONFIGS}
CONFIGS_BY_NAME[INTERNAL_SEGMENT_BYTES.name] = INTERNAL_SEGMENT_BYTES


def _range_of(definition: ConfigDef) -> tuple[int, int]:
    return (INT_MIN, INT_MAX) if definition.type is ConfigType.INT else (LONG_MIN, LONG_MAX)


def parse_value(definition: ConfigDef, raw: str | ConfigValue) -> ConfigValue:
    """Convert and validate one value; raises InvalidConfigError naming the key and the accepted range."""
    name = definition.name

    def invalid(why: str) -> InvalidConfigError:
        return InvalidConfigError(f"invalid value {raw!r} for configuration {name}: {why}")

    value: ConfigValue
    kind = definition.type
    if kind in (ConfigType.INT, ConfigType.LONG):
        if isinstance(raw, bool):
            raise invalid("expected an integer")
        try:
            value = int(raw.strip()) if isinstance(raw, str) else int(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise invalid("expected an integer") from None
        if isinstance(raw, float) and raw != value:
            raise invalid("expected an integer")
        low, high = _range_of(definition)
        if not low <= value <= high:
            raise invalid(f"must be between {low} and {high}")
    elif kind is ConfigType.DOUBLE:
        try:
            value = float(raw.strip()) if isinstance(raw, str) else float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise invalid("expected a number") from None
        if math.isnan(value):
            raise invalid("expected a number")
    elif kind is ConfigType.BOOLEAN:
        if isinstance(raw, bool):
            value = raw
        elif isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            value = raw.strip().lower() == "true"
        else:
            raise invalid("expected true or false")
    elif kind is ConfigType.LIST:
        if isinstance(raw, str):
            value = tuple(item.strip() for item in raw.split(",") if item.strip())
        elif isinstance(raw, tuple | list):
            value = tuple(str(item).strip() for item in raw)
        else:
            raise invalid("expected a comma-separated list")
    else:
        if not isinstance(raw, str):
            raise invalid("expected a string")
        value = raw.strip()
    if definition.validator is not None:
        problem = definition.validator(value)
        if problem is not None:
            raise invalid(problem)
    return value


def format_value(value: ConfigValue) -> str:
    """The string form of a value, as Kafka shows it in DescribeConfigs."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def _definition(name: str) -> ConfigDef:
    definition = CONFIGS_BY_NAME.get(name)
    if definition is None:
        raise InvalidConfigError(f"unknown topic configuration {name!r}")
    return definition


def normalize_props(props: Mapping[str, str]) -> dict[str, str]:
    """Validate topic config overrides and return them in canonical string form (for persisting)."""
    return {name: format_value(parse_value(_definition(name), raw)) for name, raw in props.items()}


@dataclass(frozen=True, slots=True)
class LogConfig:
    """The effective configuration of one topic's partition logs (Kafka's topic configs).

    Invariant: every field holds a validated value; build instances with ``from_props`` or
    ``from_broker_props`` (the constructor's defaults are Kafka's and need no validation).
    """

    cleanup_policy: tuple[str, ...] = (CLEANUP_DELETE,)
    compression_type: str = "producer"
    delete_retention_ms: int = 86_400_000
    file_delete_delay_ms: int = 0
    flush_messages: int = LONG_MAX
    flush_ms: int = LONG_MAX
    index_interval_bytes: int = 4096
    max_compaction_lag_ms: int = LONG_MAX
    max_message_bytes: int = 1_048_588
    message_timestamp_after_max_ms: int = LONG_MAX
    message_timestamp_before_max_ms: int = LONG_MAX
    message_timestamp_type: str = "CreateTime"
    min_cleanable_dirty_ratio: float = 0.5
    min_compaction_lag_ms: int = 0
    min_insync_replicas: int = 1
    preallocate: bool = False
    retention_bytes: int = -1
    retention_ms: int = 604_800_000
    segment_bytes: int = 1_073_741_824
    segment_index_bytes: int = 10_485_760
    segment_jitter_ms: int = 0
    segment_ms: int = 604_800_000
    unclean_leader_election_enable: bool = False
    logbroker_flush_policy: str = FLUSH_GROUP

    @classmethod
    def from_props(cls, props: Mapping[str, str], defaults: LogConfig | None = None) -> LogConfig:
        """Apply topic config overrides (Kafka names, string values) on top of ``defaults``.

        Raises InvalidConfigError for an unknown name, a malformed or out-of-range value, or
        min.compaction.lag.ms > max.compaction.lag.ms (Kafka rejects that pair too).
        """
        base = defaults if defaults is not None else cls()
        changes: dict[str, Any] = {}
        internal_segment_bytes = None
        for name, raw in props.items():
            definition = _definition(name)
            if definition is INTERNAL_SEGMENT_BYTES:
                internal_segment_bytes = parse_value(definition, raw)
                continue
            changes[definition.attr] = parse_value(definition, raw)
        if internal_segment_bytes is not None:
            changes["segment_bytes"] = internal_segment_bytes
        config = replace(base, **changes) if changes else base
        if config.min_compaction_lag_ms > config.max_compaction_lag_ms:
            raise InvalidConfigError(
                f"conflicting configuration: min.compaction.lag.ms ({config.min_compaction_lag_ms}) "
                f"must not exceed max.compaction.lag.ms ({config.max_compaction_lag_ms})"
            )
        return config

    @classmethod
    def from_broker_props(cls, props: Mapping[str, str]) -> LogConfig:
        """Derive topic defaults from broker properties (``log.segment.bytes``, ``log.retention.hours``...).

        Unrelated broker properties are ignored. When several synonyms are set the most precise one
        wins, as in Kafka (``log.retention.ms`` over ``.minutes`` over ``.hours``). A synonym in a
        coarser unit is converted (hours x 3,600,000); ``log.retention.ms=-1`` etc. keep -1.
        """
        topic_props: dict[str, str] = {}
        for definition in TOPIC_CONFIGS:
            found = _broker_value(definition, props)
            if found is not None:
                topic_props[definition.name] = found[1]
        try:
            return cls.from_props(topic_props)
        except InvalidConfigError as exc:
            raise InvalidConfigError(f"broker configuration: {exc}") from None

    def with_overrides(self, props: Mapping[str, str]) -> LogConfig:
        """This config with topic overrides applied (validated)."""
        return LogConfig.from_props(props, self)

    def get(self, name: str) -> ConfigValue:
        """A value by its Kafka name."""
        value: ConfigValue = getattr(self, _definition(name).attr)
        return value

    def to_props(self) -> dict[str, str]:
        """Every config by Kafka name with its string value (round-trips through ``from_props``)."""
        return {d.name: format_value(getattr(self, d.attr)) for d in TOPIC_CONFIGS}

    @property
    def compact(self) -> bool:
        return CLEANUP_COMPACT in self.cleanup_policy

    @property
    def delete(self) -> bool:
        return CLEANUP_DELETE in self.cleanup_policy

    @property
    def flush_policy(self) -> str:
        """The durability policy actually applied: ``flush.messages=1`` means fsync every append."""
        return FLUSH_ALWAYS if self.flush_messages == 1 else self.logbroker_flush_policy


def _broker_value(definition: ConfigDef, props: Mapping[str, str]) -> tuple[str, str] | None:
    """(broker property, value in the topic config's unit) of the synonym that sets ``definition``."""
    for prop, factor in definition.broker_props:
        raw = props.get(prop)
        if raw is None or raw.strip() == "":
            continue
        if factor == 1:
            return prop, raw
        try:
            number = int(raw.strip())
        except ValueError:
            raise InvalidConfigError(f"invalid value {raw!r} for broker property {prop}: expected an integer") from None
        # -1 means "no limit" in every unit (log.retention.hours=-1).
        return prop, str(number if number < 0 else number * factor)
    return None


@dataclass(frozen=True, slots=True)
class ConfigSynonym:
    name: str
    value: str
    source: ConfigSource


@dataclass(frozen=True, slots=True)
class ConfigEntry:
    """One row of a DescribeConfigs answer for a topic."""

    name: str
    value: str
    default: str
    source: ConfigSource
    type: ConfigType
    doc: str
    read_only: bool = False
    sensitive: bool = False
    synonyms: tuple[ConfigSynonym, ...] = ()

    @property
    def is_default(self) -> bool:
        return self.source is ConfigSource.DEFAULT_CONFIG


def describe(
    overrides: Mapping[str, str],
    defaults: LogConfig | None = None,
    *,
    broker_props: Mapping[str, str] | None = None,
    names: Iterable[str] | None = None,
    broker_sources: Mapping[str, ConfigSource] | None = None,
) -> list[ConfigEntry]:
    """Each topic config with its effective value, Kafka default and source, for DescribeConfigs.

    ``overrides`` are the topic's own configs. The broker-level value comes from ``broker_props`` when
    given; otherwise ``defaults`` (the broker-derived LogConfig) is compared with Kafka's default and a
    difference is reported as a broker config. ``names`` restricts the answer (unknown names raise).
    ``broker_sources`` says where a broker property in ``broker_props`` was set when that is not the
    static configuration (Kafka's dynamic broker configs).
    Synonyms are listed most specific first, as Kafka does.
    """
    kafka_defaults = LogConfig()
    broker_config = defaults
    if broker_props is not None:
        broker_config = LogConfig.from_broker_props(broker_props)
    if broker_config is None:
        broker_config = kafka_defaults
    effective = LogConfig.from_props(overrides, broker_config)
    wanted = list(names) if names is not None else [d.name for d in TOPIC_CONFIGS]
    entries: list[ConfigEntry] = []
    for name in wanted:
        definition = _definition(name)
        default_text = format_value(definition.default)
        synonyms: list[ConfigSynonym] = []
        if name in overrides:
            synonyms.append(ConfigSynonym(name, format_value(effective.get(name)), ConfigSource.TOPIC_CONFIG))
        broker_text = format_value(getattr(broker_config, definition.attr))
        if broker_props is not None:
            for prop, _factor in definition.broker_props:
                if prop in broker_props:
                    source = (broker_sources or {}).get(prop, ConfigSource.STATIC_BROKER_CONFIG)
                    synonyms.append(ConfigSynonym(prop, broker_props[prop], source))
        elif broker_text != default_text and definition.broker_prop is not None:
            synonyms.append(ConfigSynonym(definition.broker_prop, broker_text, ConfigSource.STATIC_BROKER_CONFIG))
        if definition.broker_prop is not None:
            synonyms.append(ConfigSynonym(definition.broker_prop, default_text, ConfigSource.DEFAULT_CONFIG))
        source = synonyms[0].source if synonyms else ConfigSource.DEFAULT_CONFIG
        entries.append(
            ConfigEntry(
                name=name,
                value=format_value(effective.get(name)),
                default=default_text,
                source=source,
                type=definition.type,
                doc=definition.doc,
                synonyms=tuple(synonyms),
            )
        )
    return entries


def _check_table() -> None:
    """The table and the dataclass must describe the same configs with the same defaults."""
    attrs = {f.name for f in fields(LogConfig)}
    table = {d.attr for d in TOPIC_CONFIGS}
    if attrs != table:
        raise AssertionError(f"LogConfig fields and TOPIC_CONFIGS differ: {sorted(attrs ^ table)}")
    defaults = LogConfig()
    for d in TOPIC_CONFIGS:
        if getattr(defaults, d.attr) != d.default:
            raise AssertionError(f"default of {d.name} differs between LogConfig and TOPIC_CONFIGS")


_check_table()
