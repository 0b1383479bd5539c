"""Every ``logbroker`` tool through a TLS or SASL listener, with a Kafka client properties file.

The same broker setup as ``test_security.py`` (``security_setup.py``), on logbroker and Apache Kafka
(``--broker=kafka``): each command gives the same outcome on both. The password is never on the
command line: the properties file names an environment variable through Kafka's EnvVarConfigProvider.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.runner import Result, assert_clean_error, run_cli
from tests.interop.security_setup import PASSWORDS, Secured, start_secured, wait_for_scram

pytestmark = pytest.mark.interop

SCENARIOS = ["SASL_SSL+SCRAM-SHA-512", "SSL+mutual-TLS"]
_PASSWORD_ENV = "LOGBROKER_TEST_ALICE_PASSWORD"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, broker_kind: str) -> Iterator[Secured]:
    s = start_secured(broker_kind, tmp_path_factory.mktemp("cli-secured"))
    try:
        wait_for_scram(s, "alice", PASSWORDS["alice"])
        yield s
    finally:
        s.broker.stop()


def _properties(s: Secured, scenario: str, directory: Path, *, password_ref: str | None = None) -> Path:
    ca = s.material.ca.cert_path
    if scenario == "SASL_SSL+SCRAM-SHA-512":
        ref = password_ref or f"${{env:{_PASSWORD_ENV}}}"
        text = ("config.providers=env\n"
                "config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider\n"
                "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n"
                "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
                f'username="alice" password="{ref}";\n'
                f"ssl.truststore.type=PEM\nssl.truststore.location={ca}\n")
        listener = "SASL_SSL"
    else:
        text = (f"security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location={ca}\n"
                f"ssl.keystore.type=PEM\nssl.keystore.location={s.material.alice.both}\n")
        listener = "SSL"
    path = directory / f"{listener.lower()}-{uuid.uuid4().hex[:6]}.properties"
    path.write_text(text)
    return path


def _bootstrap(s: Secured, scenario: str) -> str:
    return s.bootstrap("SASL_SSL" if scenario.startswith("SASL_SSL") else "SSL")


def _ok(result: Result) -> Result:
    assert result.code == 0, result
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_tool_works_through_the_secured_listener(secured: Secured, scenario: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_PASSWORD_ENV, PASSWORDS["alice"])
    config = _properties(secured, scenario, tmp_path)
    common = ["--bootstrap-server", _bootstrap(secured, scenario), "--command-config", str(config),
              "--command-timeout-ms", "20000"]
    topic, group = f"clisec-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"

    _ok(run_cli("topics", "create", topic, "--partitions", "1", *common))
    assert topic in _ok(run_cli("topics", "list", *common)).lines
    _ok(run_cli("topics", "alter", topic, "--partitions", "2", "--set", "retention.ms=3600000", *common))
    described = _ok(run_cli("topics", "describe", topic, *common)).stdout
    assert "PartitionCount: 2" in described and "retention.ms=3600000" in described, described
    # Kafka's tool spellings: --producer.config / --consumer.config, the action-flag form of topics.
    produced = _ok(run_cli("produce", "--topic", topic, "--bootstrap-server", _bootstrap(secured, scenario),
                           "--producer.config", str(config), "--partition", "0",
                           input=b"one\ntwo\nthree\n"))
    assert "produced 3 records" in produced.stderr, produced
    consumed = _ok(run_cli("consume", "--topic", topic, "--group", group, "--from-beginning", "--max-messages", "3",
                           "--timeout-ms", "20000", "--bootstrap-server", _bootstrap(secured, scenario),
                           "--consumer.config", str(config)))
    assert consumed.lines == ["one", "two", "three"], consumed
    assert group in _ok(run_cli("groups", "list", "--ids-only", *common)).lines
    lag = _ok(run_cli("groups", "describe", group, *common)).stdout
    assert f"{group}  {topic}  0          3" in lag, lag
    reset = _ok(run_cli("groups", "reset-offsets", group, "--topic", topic, "--to-earliest", "--execute",
                        "--format", "json", *common))
    assert '"new_offset": 0' in reset.stdout.replace('":0', '": 0'), reset
    _ok(run_cli("groups", "delete", group, *common))
    _ok(run_cli("topics", "--delete", "--topic", topic, *common))
    assert topic not in _ok(run_cli("topics", "list", *common)).lines

    user = f"cli-{uuid.uuid4().hex[:6]}"
    secret = tmp_path / "pw"
    secret.write_text("carol-secret\n")
    _ok(run_cli("users", "add", user, "--password-file", str(secret), "--mechanism", "SCRAM-SHA-512", *common))
    assert _ok(run_cli("users", "list", user, *common)).lines == [f"{user} SCRAM-SHA-512=4096"]
    _ok(run_cli("users", "delete", user, *common))


def test_a_wrong_password_is_one_error_line(secured: Secured, tmp_path: Path) -> None:
    config = _properties(secured, "SASL_SSL+SCRAM-SHA-512", tmp_path, password_ref="not-the-password")
    # A refused login ends the command at once, as Kafka's tools do: it is not retried until the
    # bootstrap timeout (60 s here) and reported as an unreachable broker.
    result = run_cli("topics", "list", "--bootstrap-server", secured.bootstrap("SASL_SSL"),
                     "--command-config", str(config), "--command-timeout-ms", "60000")
    assert_clean_error(result, "refused the login", "uthentication")
    assert "within 60000 ms" not in result.stderr, result.stderr
    assert "not-the-password" not in result.stderr

