"""Broker configuration: server.properties syntax, overrides, Kafka's names and defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from logbroker.config import BrokerConfig, parse_overrides, parse_properties
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
])
def test_bad_values_name_the_property(props: dict[str, str], fragment: str) -> None:
    with pytest.raises(InvalidConfigError) as info:
        BrokerConfig.from_props(props)
    assert fragment in str(info.value)


def test_override_syntax_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfigError, match="key=value"):
        parse_overrides(["novalue"])
    with pytest.raises(InvalidConfigError, match="cannot read config file"):
        BrokerConfig.load(tmp_path / "missing.properties")
