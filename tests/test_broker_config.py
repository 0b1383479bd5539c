"""Broker configuration: server.properties syntax, overrides, Kafka's names and defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from logbroker.config import (
    BrokerConfig,
    describe_broker,
    load_dynamic,
    parse_overrides,
    parse_properties,
    save_dynamic,
)
from segments.config import ConfigSource, ConfigType
from segments.errors import InvalidConfigError


def test_properties_syntax_follows_java_util_properties() -> None:
    text = "\n".join([
        "# a comment",
        "! another comment",
        "num.partitions=4",
        "log.retention.hours : 48",
        "broker.id 7",
        "  log.dirs = /var/lib/kafka  ",
        "advertised.listeners=PLAINTEXT://host\\",
        "    .example:9092",
        "key\\=with\\:escapes=value\\tx",
        "unicode=caf\\u00e9",
        "",
    ])
    props = parse_properties(text)
    assert props["num.partitions"] == "4"
    assert props["log.retention.hours"] == "48"
    assert props["broker.id"] == "7"
    assert props["log.dirs"] == "/var/lib/kafka  "  # java.util.Properties keeps trailing whitespace
    assert props["advertised.listeners"] == "PLAINTEXT://host.example:9092"
    assert props["key=with:escapes"] == "value\tx"
    assert props["unicode"] == "café"


def test_overrides_win_over_the_file_and_map_to_topic_defaults(tmp_path: Path) -> None:
    path = tmp_path / "server.properties"
    path.write_text("num.partitions=3\nlog.segment.bytes=1048576\nlog.retention.hours=2\nsome.unknown.key=1\n")
    config = BrokerConfig.load(path, parse_overrides(["num.partitions=5", "log.retention.ms=60000"]))
    assert config.get_int("num.partitions") == 5
    assert config.log_defaults.segment_bytes == 1048576
    assert config.log_defaults.retention_ms == 60000  # .ms wins over .hours, as in Kafka
    assert config.unknown == ("some.unknown.key",)
    assert config.get_bool("auto.create.topics.enable") is True  # Kafka's default
    assert config.get_int("socket.request.max.bytes") == 104857600
    assert config.node_id == 0


def test_hours_convert_when_ms_is_absent() -> None:
    config = BrokerConfig.from_props({"log.retention.hours": "2"})
    assert config.log_defaults.retention_ms == 2 * 3_600_000


@pytest.mark.parametrize("props, fragment", [
    ({"num.partitions": "zero"}, "num.partitions"),
    ({"num.partitions": "0"}, "at least 1"),
    ({"auto.create.topics.enable": "maybe"}, "true or false"),
    ({"log.segment.bytes": "-1"}, "segment.bytes"),
    ({"group.share.min.record.lock.duration.ms": "40000"},
     "group.share.min.record.lock.duration.ms must be at most 30000"),
    ({"group.share.max.record.lock.duration.ms": "20000"},
     "group.share.max.record.lock.duration.ms must be at least 30000"),
    ({"group.consumer.min.session.timeout.ms": "50000"},
     "group.consumer.session.timeout.ms must be greater than or equal to group.consumer.min.session.timeout.ms"),
    ({"group.share.record.lock.duration.ms": "10000"},
     "group.share.record.lock.duration.ms must be greater than or equal to group.share.min.record.lock.duration.ms"),
])
def test_bad_values_name_the_property(props: dict[str, str], fragment: str) -> None:
    with pytest.raises(InvalidConfigError) as info:
        BrokerConfig.from_props(props)
    assert fragment in str(info.value)


def test_group_timings_within_their_bounds_start() -> None:
    """Each value may sit on its bounds; lowered bounds let shorter timings start (as Kafka's do)."""
    BrokerConfig.from_props({"group.consumer.session.timeout.ms": "60000",
                             "group.consumer.heartbeat.interval.ms": "15000",
                             "group.share.record.lock.duration.ms": "15000"})
    BrokerConfig.from_props({"group.share.session.timeout.ms": "3000", "group.share.min.session.timeout.ms": "1000",
                             "group.share.heartbeat.interval.ms": "300", "group.share.min.heartbeat.interval.ms": "100",
                             "group.share.record.lock.duration.ms": "2000",
                             "group.share.min.record.lock.duration.ms": "1000"})


def test_override_syntax_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfigError, match="key=value"):
        parse_overrides(["novalue"])
    with pytest.raises(InvalidConfigError, match="cannot read config file"):
        BrokerConfig.load(tmp_path / "missing.properties")


def test_dynamic_layers_take_precedence_over_static_and_each_other() -> None:
    static = BrokerConfig.from_props({"log.retention.ms": "1000", "log.segment.bytes": "2097152"})
    config = static.with_dynamic({"log.retention.ms": "2000"}, {"log.retention.ms": "3000"})
    assert config.log_defaults.retention_ms == 3000 and config.log_defaults.segment_bytes == 2097152
    rows = {e.name: e for e in describe_broker(config, ["log.retention.ms", "log.segment.bytes"])}
    assert rows["log.retention.ms"].source is ConfigSource.DYNAMIC_BROKER_CONFIG
    assert [s.source for s in rows["log.retention.ms"].synonyms][:3] == [
        ConfigSource.DYNAMIC_BROKER_CONFIG, ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG,
        ConfigSource.STATIC_BROKER_CONFIG]
    assert rows["log.segment.bytes"].source is ConfigSource.STATIC_BROKER_CONFIG
    assert config.dynamic_sources() == {"log.retention.ms": ConfigSource.DYNAMIC_BROKER_CONFIG}


def test_only_topic_defaults_are_dynamic() -> None:
    """Each by its main property, as Kafka: log.retention.ms is dynamic, log.retention.hours is not."""
    for name in ("num.partitions", "log.retention.hours", "log.roll.hours"):
        with pytest.raises(InvalidConfigError, match="dynamically"):
            BrokerConfig.from_props({}).with_dynamic({}, {name: "3"})
    with pytest.raises(InvalidConfigError, match=r"segment\.bytes"):
        BrokerConfig.from_props({}).with_dynamic({"log.segment.bytes": "-5"}, {})
    rows = {e.name: e for e in describe_broker(BrokerConfig.from_props({}))}
    assert rows["num.partitions"].read_only and rows["log.retention.hours"].read_only
    assert not rows["log.retention.ms"].read_only and not rows["log.roll.ms"].read_only
    assert rows["log.retention.hours"].type is ConfigType.INT and rows["log.retention.ms"].type is ConfigType.LONG
    assert rows["log.retention.hours"].value == "168" and rows["log.retention.ms"].value is None


def test_dynamic_configs_round_trip_through_the_data_dir(tmp_path: Path) -> None:
    assert load_dynamic(tmp_path) == ({}, {})
    save_dynamic(tmp_path, {"log.segment.bytes": "2097152"}, {"log.retention.ms": "1"})
    assert load_dynamic(tmp_path) == ({"log.segment.bytes": "2097152"}, {"log.retention.ms": "1"})
    assert not list(tmp_path.glob("*.tmp"))
