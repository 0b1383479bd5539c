"""``logbroker users``: SCRAM users through the Admin API, used to log in over SASL right after."""

from __future__ import annotations

from pathlib import Path

from confluent_kafka.admin import AdminClient

from tests.cli.runner import assert_clean_error, run_cli
from tests.conftest import BrokerProcess


def _can_log_in(broker: BrokerProcess, user: str, password: str, mechanism: str) -> bool:
    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{broker.listener_ports['SASL_PLAINTEXT']}",
                         "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": mechanism,
                         "sasl.username": user, "sasl.password": password})
    try:
        admin.list_topics(timeout=5)
        return True
    except Exception:
        return False


def test_add_list_delete_and_the_password_never_in_argv(broker_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    broker: BrokerProcess = broker_factory(**{
        "listeners": "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
        "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512"})
    boot = ["--bootstrap-server", broker.bootstrap]
    secret = tmp_path / "pw"
    secret.write_text("carol-secret\n")
    added = run_cli("users", "add", "carol", "--password-file", str(secret), "--iterations", "8192", *boot)
    assert added.code == 0, added
    prompted = run_cli("users", "add", "dave", "--mechanism", "SCRAM-SHA-256", *boot,
                       input=b"dave-secret\ndave-secret\n")
    assert prompted.code == 0 and "dave-secret" not in prompted.stdout + prompted.stderr, prompted
    listed = run_cli("users", "list", *boot)
    assert listed.lines == ["carol SCRAM-SHA-256=8192,SCRAM-SHA-512=8192", "dave SCRAM-SHA-256=4096"], listed
    assert _can_log_in(broker, "carol", "carol-secret", "SCRAM-SHA-512")
    assert _can_log_in(broker, "dave", "dave-secret", "SCRAM-SHA-256")
    assert not _can_log_in(broker, "dave", "dave-secret", "SCRAM-SHA-512")
    assert run_cli("users", "delete", "carol", "--mechanism", "SCRAM-SHA-512", *boot).code == 0
    assert run_cli("users", "list", "carol", *boot).lines == ["carol SCRAM-SHA-256=8192"]
    assert not _can_log_in(broker, "carol", "carol-secret", "SCRAM-SHA-512")
    assert_clean_error(run_cli("users", "delete", "nobody", *boot), "nobody")
    assert_clean_error(run_cli("users", "list", "nobody", *boot), "no SCRAM credentials for nobody")
    assert "carol-secret" not in broker.log_text() and "dave-secret" not in broker.log_text()
