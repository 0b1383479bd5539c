"""AlterClientQuotas (49) and DescribeClientQuotas (48) with quotas set, on both brokers: what is
stored is described back, per entity and filter; refused entities are refused as Kafka 4.1 refuses
them; ``kafka-configs --alter --add-config producer_byte_rate=...`` works.

Kafka applies an alteration through its metadata log, a moment after it answers: reads are retried
until they show it (``_until``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from tests.conftest import BrokerHandle, launch_broker
from tests.interop.kafka_java import Java, kafka_java  # noqa: F401 - the fixture
from tests.interop.rawclient import RawClient

pytestmark = pytest.mark.interop

T = TypeVar("T")


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, broker_kind: str) -> Iterator[BrokerHandle]:
    base = tmp_path_factory.mktemp("quotas")
    b = launch_broker(broker_kind, base / "data", base / "broker.log", {})
    yield b
    b.stop()


def _entity(**names: str | None) -> list[dict[str, Any]]:
    return [{"entity_type": t.replace("_", "-"), "entity_name": n} for t, n in names.items()]


def _op(key: str, value: float = 0.0, remove: bool = False) -> dict[str, Any]:
    return {"key": key, "value": value, "remove": remove}


def _alter(port: int, entries: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]],
           validate_only: bool = False) -> list[tuple[int, str | None, list[Any]]]:
    with RawClient(port) as c:
        body = c.call(ApiKey.ALTER_CLIENT_QUOTAS, 1, {
            "entries": [{"entity": e, "ops": ops} for e, ops in entries], "validate_only": validate_only})
    return [(a["error_code"], a["error_message"], a["entity"]) for a in body["entries"]]


def _describe(port: int, components: list[tuple[str, int, str | None]], strict: bool = False) -> set[Any]:
    with RawClient(port) as c:
        body = c.call(ApiKey.DESCRIBE_CLIENT_QUOTAS, 1, {"components": [
            {"entity_type": t, "match_type": m, "match": n} for t, m, n in components], "strict": strict})
    assert body["error_code"] == 0, body
    return {(tuple(sorted((e["entity_type"], e["entity_name"]) for e in entry["entity"])),
             tuple(sorted((v["key"], v["value"]) for v in entry["values"]))) for entry in body["entries"]}


def _until(read: Callable[[], T], expected: T, timeout_s: float = 15) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        got = read()
        if got == expected or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def test_altered_quotas_are_described_by_entity_and_filter(broker: BrokerHandle) -> None:
    port = broker.port
    answers = _alter(port, [
        (_entity(user="q-alice"), [_op("producer_byte_rate", 1024), _op("request_percentage", 12.5)]),
        (_entity(user="q-alice", client_id="app"), [_op("consumer_byte_rate", 2048)]),
        (_entity(user=None), [_op("producer_byte_rate", 4096)]),
        (_entity(ip="10.1.2.3"), [_op("connection_creation_rate", 10)]),
    ])
    assert sorted((code, message) for code, message, _ in answers) == [(0, None)] * 4
    alice = (("user", "q-alice"),), (("producer_byte_rate", 1024.0), ("request_percentage", 12.5))
    alice_app = (("client-id", "app"), ("user", "q-alice")), (("consumer_byte_rate", 2048.0),)
    default = (("user", None),), (("producer_byte_rate", 4096.0),)
    assert _until(lambda: _describe(port, [("user", 0, "q-alice")]), {alice, alice_app}) == {alice, alice_app}
    assert _describe(port, [("user", 0, "q-alice")], strict=True) == {alice}
    assert _describe(port, [("user", 1, None)]) == {default}
    assert _describe(port, [("user", 0, "q-alice"), ("client-id", 2, None)]) == {alice_app}
    assert _describe(port, [("ip", 0, "10.1.2.3")]) == {((("ip", "10.1.2.3"),), (("connection_creation_rate", 10.0),))}
    # Removing a key keeps the others; removing the last one removes the entity.
    assert [a[:2] for a in _alter(port, [(_entity(user="q-alice"), [_op("request_percentage", remove=True)]),
                                         (_entity(user=None), [_op("producer_byte_rate", remove=True)])])] \
        == [(0, None)] * 2
    trimmed = (("user", "q-alice"),), (("producer_byte_rate", 1024.0),)
    assert _until(lambda: _describe(port, [("user", 0, "q-alice")], strict=True), {trimmed}) == {trimmed}
    assert _until(lambda: _describe(port, [("user", 1, None)]), set()) == set()


def test_validate_only_stores_nothing(broker: BrokerHandle) -> None:
    port = broker.port
    assert [a[:2] for a in _alter(port, [(_entity(user="q-dry"), [_op("producer_byte_rate", 1)])],
                                  validate_only=True)] == [(0, None)]
    time.sleep(1)  # long enough for Kafka to have applied it, had it stored anything
    assert _describe(port, [("user", 0, "q-dry")]) == set()


@pytest.mark.parametrize("entity,ops,message", [
    ([], [_op("producer_byte_rate", 1)], "Invalid empty client quota entity"),
    (_entity(tenant="x"), [_op("producer_byte_rate", 1)], "Unhandled client quota entity type: tenant"),
    (_entity(user=""), [_op("producer_byte_rate", 1)], "Empty user not supported"),
    (_entity(user="a", ip="10.0.0.1"), [_op("connection_creation_rate", 1)],
     "Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId"),  # (sic)
    (_entity(ip="not an address"), [_op("connection_creation_rate", 1)],
     "not an address is not a valid IP or resolvable host."),
])
def test_a_malformed_entity_is_refused_as_kafka_refuses_it(broker: BrokerHandle, entity: list[dict[str, Any]],
                                                           ops: list[dict[str, Any]], message: str) -> None:
    answers = _alter(broker.port, [(entity, ops)])
    assert [(code, text) for code, text, _ in answers] == [(ErrorCode.INVALID_REQUEST, message)]


def test_a_bad_key_or_value_is_answered_as_kafka_answers_it(broker: BrokerHandle) -> None:
    """Kafka 4.1 checks keys and whole-number values per entity; the answers here are what it gives."""
    port = broker.port
    answers = _alter(port, [(_entity(user="q-bad-key"), [_op("no_such_quota", 1)]),
                            (_entity(user="q-fraction"), [_op("producer_byte_rate", 1.5)]),
                            (_entity(user="q-twice"), [_op("producer_byte_rate", 1), _op("producer_byte_rate", 2)])])
    by_user = {entity[0]["entity_name"]: (code, text) for code, text, entity in answers}
    assert by_user == {
        "q-bad-key": (ErrorCode.INVALID_REQUEST, "Invalid configuration key no_such_quota"),
        "q-fraction": (ErrorCode.INVALID_REQUEST, "producer_byte_rate cannot be a fractional value."),
        "q-twice": (ErrorCode.INVALID_REQUEST,
                    "Ignoring duplicate entity ClientQuotaEntity(entries={user=q-twice})"),
    }
    time.sleep(1)
    assert _describe(port, [("user", 0, "q-bad-key")]) == set()
    assert _describe(port, [("user", 0, "q-fraction")]) == set()
    assert _describe(port, [("user", 0, "q-twice")]) == set()


@pytest.mark.java
def test_kafka_configs_sets_and_describes_a_user_quota(broker: BrokerHandle, kafka_java: Java) -> None:  # noqa: F811
    kafka_java.tool("kafka.admin.ConfigCommand", "--bootstrap-server", broker.bootstrap, "--alter",
                    "--add-config", "producer_byte_rate=1048576,consumer_byte_rate=2097152",
                    "--entity-type", "users", "--entity-name", "q-carol")

    def described() -> str:
        return kafka_java.tool("kafka.admin.ConfigCommand", "--bootstrap-server", broker.bootstrap, "--describe",
                               "--entity-type", "users", "--entity-name", "q-carol").stdout.strip()

    out = _until(described, "Quota configs for user-principal 'q-carol' are "
                            "consumer_byte_rate=2097152.0, producer_byte_rate=1048576.0")
    assert out == ("Quota configs for user-principal 'q-carol' are "
                   "consumer_byte_rate=2097152.0, producer_byte_rate=1048576.0"), out
