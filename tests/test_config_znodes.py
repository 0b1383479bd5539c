"""logbroker/config_znodes.py: entity names as Kafka's ``Sanitizer`` writes them in znode paths."""

from __future__ import annotations

import pytest

from logbroker.config_znodes import DEFAULT_ENTITY, decode, desanitize, encode, is_sanitized, sanitize


@pytest.mark.parametrize(("name", "znode"), [
    ("alice", "alice"), ("a.b-c_d", "a.b-c_d"), ("q alice", "q%20alice"), ("app/1", "app%2F1"),
    ("a*b", "a%2Ab"), ("x~y", "x%7Ey"), ("CN=u,O=o", "CN%3Du%2CO%3Do"), ("é", "%C3%A9"), (None, DEFAULT_ENTITY),
])
def test_names_are_sanitized_as_kafka_and_read_back(name: str | None, znode: str) -> None:
    assert sanitize(name) == znode
    assert desanitize(znode) == name
    assert is_sanitized(znode)


@pytest.mark.parametrize("raw", ["alice@example.com", "a+b", "50%", "%zz", "é", "a:b", "a*b", "x~y", "a b"])
def test_a_name_sanitize_could_not_have_written_is_told_apart(raw: str) -> None:
    assert not is_sanitized(raw)
    assert is_sanitized(sanitize(raw))


def test_a_config_map_keeps_entries_it_does_not_know() -> None:
    config = decode(b'{"version":1,"config":{"SCRAM-SHA-256":"salt=x","producer_byte_rate":"5","other":7}}')
    assert decode(encode(config)) == config
    assert decode(b"") == {}
    with pytest.raises(ValueError):
        decode(b"[1]")
