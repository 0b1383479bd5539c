from __future__ import annotations

import dataclasses

import pytest

from segments.config import (
    CONFIGS_BY_NAME,
    LONG_MAX,
    TOPIC_CONFIGS,
    ConfigSource,
    ConfigType,
    LogConfig,
    describe,
    normalize_props,
)
from segments.errors import InvalidConfigError


def test_defaults_are_kafkas() -> None:
    c = LogConfig()
    assert c.cleanup_policy == ("delete",)
    assert c.compression_type == "producer"
    assert c.delete_retention_ms == 86_400_000
    assert c.file_delete_delay_ms == 0  # not Kafka's 60000: segments are unlinked at once (see the module doc)
    assert c.flush_messages == LONG_MAX
    assert c.flush_ms == LONG_MAX
    assert c.index_interval_bytes == 4096
    assert c.max_message_bytes == 1_048_588
    assert c.message_timestamp_type == "CreateTime"
    assert c.min_cleanable_dirty_ratio == 0.5
    assert c.min_compaction_lag_ms == 0
    assert c.retention_bytes == -1
    assert c.retention_ms == 604_800_000
    assert c.segment_bytes == 1_073_741_824
    assert c.segment_index_bytes == 10_485_760
    assert c.segment_ms == 604_800_000
    assert c.min_insync_replicas == 1
    assert c.logbroker_flush_policy == "group"
    assert c.flush_policy == "group"
    assert c.delete and not c.compact


def test_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        LogConfig().segment_bytes = 5  # type: ignore[misc]


def test_every_field_has_a_table_entry() -> None:
    names = {f.name for f in dataclasses.fields(LogConfig)}
    assert names == {d.attr for d in TOPIC_CONFIGS}
    assert all(d.doc for d in TOPIC_CONFIGS)


def test_from_props_parses_each_type() -> None:
    c = LogConfig.from_props(
        {
            "cleanup.policy": " compact , delete ",
            "internal.segment.bytes": "1024",
            "retention.ms": "-1",
            "min.cleanable.dirty.ratio": "0.25",
            "preallocate": "FALSE",
            "message.timestamp.type": "LogAppendTime",
        }
    )
    assert c.cleanup_policy == ("compact", "delete")
    assert c.compact and c.delete
    assert c.segment_bytes == 1024
    assert c.retention_ms == -1
    assert c.min_cleanable_dirty_ratio == 0.25
    assert c.preallocate is False
    assert c.message_timestamp_type == "LogAppendTime"


def test_from_props_layers_on_defaults() -> None:
    base = LogConfig.from_props({"internal.segment.bytes": "2048", "retention.ms": "10"})
    c = LogConfig.from_props({"retention.ms": "20"}, base)
    assert c.segment_bytes == 2048 and c.retention_ms == 20
    assert base.with_overrides({}) is base


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("internal.segment.bytes", "13", "at least 14"),
        ("segment.bytes", "1048575", "at least 1048576"),
        ("segment.bytes", "2147483648", "between"),
        ("segment.bytes", "ten", "integer"),
        ("retention.ms", "-2", "at least -1"),
        ("cleanup.policy", "compact,shred", "compact"),
        ("min.cleanable.dirty.ratio", "1.5", "between 0 and 1"),
        ("min.cleanable.dirty.ratio", "nan", "number"),
        ("message.timestamp.type", "Now", "CreateTime"),
        ("preallocate", "yes", "true or false"),
        ("flush.messages", "0", "at least 1"),
        ("logbroker.flush.policy", "sometimes", "group"),
        ("compression.type", "brotli", "only 'producer' is supported"),
        ("segment.ms", "0", "at least 1"),
    ],
)
def test_invalid_values_name_key_and_range(name: str, value: str, fragment: str) -> None:
    with pytest.raises(InvalidConfigError) as info:
        LogConfig.from_props({name: value})
    assert name in str(info.value)
    assert fragment in str(info.value)


def test_unknown_name_rejected() -> None:
    with pytest.raises(InvalidConfigError, match=r"segment\.byte"):
        LogConfig.from_props({"segment.byte": "100"})


def test_min_compaction_lag_above_max_rejected() -> None:
    with pytest.raises(InvalidConfigError, match=r"min\.compaction\.lag\.ms"):
        LogConfig.from_props({"min.compaction.lag.ms": "100", "max.compaction.lag.ms": "50"})


def test_to_props_round_trips() -> None:
    c = LogConfig.from_props({"cleanup.policy": "compact,delete", "preallocate": "false", "segment.jitter.ms": "7"})
    props = c.to_props()
    assert props["cleanup.policy"] == "compact,delete"
    assert props["preallocate"] == "false"
    assert set(props) == set(CONFIGS_BY_NAME) - {"internal.segment.bytes"}
    assert LogConfig.from_props(props) == c


def test_normalize_props() -> None:
    assert normalize_props({"cleanup.policy": "compact , delete", "preallocate": "False"}) == {
        "cleanup.policy": "compact,delete",
        "preallocate": "false",
    }


def test_flush_messages_one_means_always() -> None:
    assert LogConfig.from_props({"flush.messages": "1"}).flush_policy == "always"
    assert LogConfig.from_props({"flush.messages": "1", "logbroker.flush.policy": "os"}).flush_policy == "always"
    assert LogConfig.from_props({"logbroker.flush.policy": "os"}).flush_policy == "os"


def test_from_broker_props_units_and_precedence() -> None:
    c = LogConfig.from_broker_props(
        {
            "log.segment.bytes": "2097152",
            "log.retention.hours": "2",
            "log.roll.hours": "1",
            "message.max.bytes": "5000",
            "log.flush.interval.messages": "1",
            "log.cleanup.policy": "compact",
            "broker.id": "0",
            "log.dirs": "/tmp/x",
        }
    )
    assert c.segment_bytes == 2097152
    assert c.retention_ms == 2 * 3_600_000
    assert c.segment_ms == 3_600_000
    assert c.max_message_bytes == 5000
    assert c.flush_policy == "always"
    assert c.cleanup_policy == ("compact",)
    c = LogConfig.from_broker_props({"log.retention.hours": "2", "log.retention.minutes": "3"})
    assert c.retention_ms == 180_000
    c = LogConfig.from_broker_props({"log.retention.hours": "2", "log.retention.ms": "5"})
    assert c.retention_ms == 5
    assert LogConfig.from_broker_props({"log.retention.hours": "-1"}).retention_ms == -1
    with pytest.raises(InvalidConfigError, match=r"segment\.bytes"):
        LogConfig.from_broker_props({"log.segment.bytes": "1"})


def test_describe_sources() -> None:
    broker = {"log.retention.hours": "1"}
    entries = {e.name: e for e in describe({"segment.bytes": "2097152"}, broker_props=broker)}
    seg = entries["segment.bytes"]
    assert seg.value == "2097152" and seg.default == "1073741824"
    assert seg.source is ConfigSource.TOPIC_CONFIG
    assert seg.type is ConfigType.INT
    assert [s.source for s in seg.synonyms] == [ConfigSource.TOPIC_CONFIG, ConfigSource.DEFAULT_CONFIG]
    ret = entries["retention.ms"]
    assert ret.value == "3600000" and ret.source is ConfigSource.STATIC_BROKER_CONFIG
    assert ret.synonyms[0].name == "log.retention.hours"
    assert entries["delete.retention.ms"].source is ConfigSource.DEFAULT_CONFIG
    assert entries["delete.retention.ms"].is_default
    assert len(entries) == len(TOPIC_CONFIGS)


def test_describe_from_defaults_and_names() -> None:
    defaults = LogConfig.from_props({"retention.ms": "1000"})
    (entry,) = describe({}, defaults, names=["retention.ms"])
    assert entry.value == "1000" and entry.source is ConfigSource.STATIC_BROKER_CONFIG
    with pytest.raises(InvalidConfigError):
        describe({}, names=["nope"])


def test_empty_cleanup_policy_means_neither_delete_nor_compact() -> None:
    # Kafka 4.1 accepts cleanup.policy="": segments are kept forever and never compacted.
    c = LogConfig.from_props({"cleanup.policy": ""})
    assert c.cleanup_policy == ()
    assert not c.delete and not c.compact
    assert c.to_props()["cleanup.policy"] == ""
    assert LogConfig.from_props(c.to_props()).cleanup_policy == ()


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("compression.type", "gzip", "only 'producer' is supported"),
        ("compression.type", "uncompressed", "never recompressed"),
        ("compression.type", "zstd", "only 'producer' is supported"),
        ("preallocate", "true", "only false is supported"),
        ("file.delete.delay.ms", "60000", "only 0 is supported"),
    ],
)
def test_settings_not_honoured_are_refused(name: str, value: str, fragment: str) -> None:
    """Kafka configs this broker does not implement are refused by name, never accepted and ignored."""
    with pytest.raises(InvalidConfigError) as info:
        LogConfig.from_props({name: value})
    assert f"configuration {name}" in str(info.value) and fragment in str(info.value)
    with pytest.raises(InvalidConfigError, match=name.replace(".", r"\.")):
        LogConfig.from_broker_props({CONFIGS_BY_NAME[name].broker_props[0][0]: value})


def test_settings_not_honoured_keep_their_one_value() -> None:
    c = LogConfig.from_props({"compression.type": "producer", "preallocate": "false", "file.delete.delay.ms": "0"})
    assert (c.compression_type, c.preallocate, c.file_delete_delay_ms) == ("producer", False, 0)
    described = {e.name: e.value for e in describe({})}
    assert described["compression.type"] == "producer"
    assert described["preallocate"] == "false"
    assert described["file.delete.delay.ms"] == "0"


def test_timestamp_bounds_parse() -> None:
    c = LogConfig.from_props({"message.timestamp.before.max.ms": "3600000", "message.timestamp.after.max.ms": "0"})
    assert (c.message_timestamp_before_max_ms, c.message_timestamp_after_max_ms) == (3_600_000, 0)
    assert LogConfig().message_timestamp_before_max_ms == LONG_MAX == LogConfig().message_timestamp_after_max_ms
    with pytest.raises(InvalidConfigError, match="at least 0"):
        LogConfig.from_props({"message.timestamp.before.max.ms": "-1"})
