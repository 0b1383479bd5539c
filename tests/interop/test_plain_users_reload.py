"""A running broker follows its PLAIN users file: a user removed from it is refused from the next
login on, a user added is accepted, with no restart (real clients over SASL_PLAINTEXT)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from tests.http.http_api import start_http_broker

pytestmark = [pytest.mark.interop,
              pytest.mark.logbroker_only(reason="logbroker.sasl.plain.users.file is logbroker's own setting; "
                                                "Kafka's PLAIN reads its JAAS user list once")]


def _logs_in(port: int, user: str, password: str) -> bool:
    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}", "security.protocol": "SASL_PLAINTEXT",
                         "sasl.mechanism": "PLAIN", "sasl.username": user, "sasl.password": password})
    try:
        admin.list_topics(timeout=5)
        return True
    except KafkaException:
        return False


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(text)
    os.replace(tmp, path)  # as an operator's tooling would: the whole file at once


def test_a_user_removed_from_the_file_is_refused_at_the_next_login(tmp_path: Path) -> None:
    users = tmp_path / "plain-users.jaas"
    _write(users, 'user_alice="alice-secret"\nuser_bob="bob-secret"\n')
    broker = start_http_broker(tmp_path, **{"listeners": "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
                                            "sasl.enabled.mechanisms": "PLAIN",
                                            "logbroker.sasl.plain.users.file": str(users)})
    try:
        port = broker.listener_ports["SASL_PLAINTEXT"]
        assert _logs_in(port, "bob", "bob-secret") and _logs_in(port, "alice", "alice-secret")
        _write(users, 'user_alice="alice-secret"\nuser_carol="carol-secret"\n')
        assert not _logs_in(port, "bob", "bob-secret")
        assert _logs_in(port, "alice", "alice-secret") and _logs_in(port, "carol", "carol-secret")
        assert "PLAIN users file" in broker.log_text() and "bob-secret" not in broker.log_text()
    finally:
        broker.stop()
