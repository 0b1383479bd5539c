"""listeners, advertised.listeners and log.dirs: honoured as Kafka writes them, or refused whole."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from logbroker.config import BrokerConfig
from logbroker.listeners import DEFAULT_DATA_DIR, DEFAULT_KAFKA_LISTEN, parse_endpoints, resolve
from segments.errors import InvalidConfigError


def _config(**props: str) -> BrokerConfig:
    return BrokerConfig.from_props({k.replace("_", "."): v for k, v in props.items()})


def test_defaults_without_a_file() -> None:
    net = resolve(_config())
    assert net.listen == DEFAULT_KAFKA_LISTEN and net.data_dir == DEFAULT_DATA_DIR and net.advertised is None
    assert net.advertised_address(("127.0.0.1", 9092)) == ("127.0.0.1", 9092)


def test_the_file_is_honoured() -> None:
    net = resolve(_config(listeners="PLAINTEXT://127.0.0.1:19092",
                          advertised_listeners="PLAINTEXT://broker.example:29092", log_dirs="/srv/kafka"))
    assert net.listen == ("127.0.0.1", 19092)
    assert net.advertised_address(("127.0.0.1", 19092)) == ("broker.example", 29092)
    assert net.data_dir == Path("/srv/kafka")


def test_flags_win_over_the_file() -> None:
    net = resolve(_config(listeners="PLAINTEXT://127.0.0.1:19092", log_dirs="/srv/kafka"),
                  kafka_listen=("127.0.0.1", 0), data_dir=Path("here"))
    assert net.listen == ("127.0.0.1", 0) and net.data_dir == Path("here")
    assert net.advertised_address(("127.0.0.1", 41234)) == ("127.0.0.1", 41234)  # the port actually bound


def test_an_empty_host_binds_every_interface_and_a_kraft_controller_listener_is_not_opened() -> None:
    net = resolve(_config(listeners="PLAINTEXT://:9092,CONTROLLER://:9093", controller_listener_names="CONTROLLER",
                          log_dir="/tmp/kafka-logs"))
    assert net.listen == ("0.0.0.0", 9092) and net.data_dir == Path("/tmp/kafka-logs")
    assert net.advertised_address(("0.0.0.0", 9092)) == ("127.0.0.1", 9092)


def test_a_custom_listener_name_mapped_to_plaintext() -> None:
    net = resolve(_config(listeners="CLIENT://127.0.0.1:9092", listener_security_protocol_map="CLIENT:PLAINTEXT",
                          advertised_listeners="CLIENT://kafka:9092"))
    assert net.listener_name == "CLIENT" and net.advertised == ("kafka", 9092)


@pytest.mark.parametrize(("props", "message"), [
    ({"log.dirs": "/a,/b"}, "log.dirs lists 2 directories"),
    ({"listeners": "X://:9093", "listener.security.protocol.map": "X:KERBEROS"}, "X maps to KERBEROS"),
    ({"listeners": "PLAINTEXT://:9092,OTHER://:9092", "listener.security.protocol.map": "OTHER:PLAINTEXT"},
     "two listeners use the same port"),
    ({"listeners": "PLAINTEXT://:9092", "inter.broker.listener.name": "INTERNAL"},
     "inter.broker.listener.name: INTERNAL is not one of the listeners"),
    ({"listeners": "CLIENT://:9092"}, "listener CLIENT has no security protocol"),
    ({"listeners": "127.0.0.1:9092"}, "is not of the form NAME://HOST:PORT"),
    ({"listeners": "PLAINTEXT://:99999"}, "is not of the form NAME://HOST:PORT"),
    ({"advertised.listeners": "EXTERNAL://x:9092"}, "EXTERNAL is not a listener logbroker serves"),
    ({"advertised.listeners": "PLAINTEXT://0.0.0.0:9092"}, "not an address clients can reach"),
    ({"advertised.listeners": "PLAINTEXT://host:0"}, "port 0 cannot be advertised"),
])
def test_what_cannot_be_honoured_is_refused_even_when_a_flag_overrides_it(props: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidConfigError, match=re.escape(message)):
        resolve(BrokerConfig.from_props(props), kafka_listen=("127.0.0.1", 0), data_dir=Path("x"))


def test_endpoints_parse_ipv6_hosts() -> None:
    assert parse_endpoints("PLAINTEXT://[::1]:9092", "listeners")[0].host == "::1"


def test_the_request_pool_must_hold_the_largest_request() -> None:
    with pytest.raises(InvalidConfigError, match=re.escape("queued.max.request.bytes")):
        BrokerConfig.from_props({"queued.max.request.bytes": "1000"})
    assert BrokerConfig.from_props({"queued.max.request.bytes": "-1"}).get_int("queued.max.request.bytes") == -1



def test_several_listeners_each_with_its_protocol_and_advertised_address() -> None:
    net = resolve(_config(
        listeners="PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093,SASL_PLAINTEXT://127.0.0.1:9094,"
                  "INTERNAL://127.0.0.1:9095,CONTROLLER://:9096",
        listener_security_protocol_map="INTERNAL:SASL_SSL,CONTROLLER:PLAINTEXT",
        controller_listener_names="CONTROLLER",
        advertised_listeners="SSL://kafka.example:19093,INTERNAL://broker1:9095",
        inter_broker_listener_name="INTERNAL"))
    assert [(entry.name, entry.protocol, entry.listen, entry.advertised) for entry in net.listeners] == [
        ("PLAINTEXT", "PLAINTEXT", ("127.0.0.1", 9092), None),
        ("SSL", "SSL", ("127.0.0.1", 9093), ("kafka.example", 19093)),
        ("SASL_PLAINTEXT", "SASL_PLAINTEXT", ("127.0.0.1", 9094), None),
        ("INTERNAL", "SASL_SSL", ("127.0.0.1", 9095), ("broker1", 9095)),
    ]
    assert net.inter_broker_listener == "INTERNAL"
    assert [e.tls for e in net.listeners] == [False, True, False, True]
    assert [e.sasl for e in net.listeners] == [False, False, True, True]


def test_kafka_listen_replaces_the_first_listener_only() -> None:
    net = resolve(_config(listeners="SASL_SSL://127.0.0.1:9093,PLAINTEXT://127.0.0.1:9092"),
                  kafka_listen=("127.0.0.1", 0))
    assert [e.listen for e in net.listeners] == [("127.0.0.1", 0), ("127.0.0.1", 9092)]
    assert net.listener_name == "SASL_SSL" and net.inter_broker_listener == "PLAINTEXT"
