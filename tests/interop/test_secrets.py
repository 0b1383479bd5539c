"""Secrets stay secret: values from Kafka's config providers, never shown by DescribeConfigs, error
messages or the broker's log, against logbroker and Apache Kafka (``--broker=kafka``) alike.

One broker whose secrets all come through config providers (KIP-297, KIP-421), as an operator keeps
them out of the properties file: the SASL_PLAINTEXT listener's PLAIN JAAS block (with its user list)
from a properties file (``${file:...}``), and the PKCS12 key store's password from the environment
(``${env:...}``). Logging in with PLAIN and connecting over TLS prove that both were resolved.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from logbroker.kafka import codec
from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from tests.conftest import BrokerHandle, launch_broker
from tests.interop.rawclient import RawClient
from tests.tls_material import TlsMaterial, make_material, write_pkcs12_key_store

pytestmark = pytest.mark.interop

ENV_NAME = "LOGBROKER_TEST_KEY_STORE_PASSWORD"
STORE_PASSWORD = "p12-provided-3f9a"
ALICE_PASSWORD = "alice-provided-7c1e"
WRONG_PASSWORD = "guessed-b42d"
SECRETS = (STORE_PASSWORD, ALICE_PASSWORD, WRONG_PASSWORD)
BROKER_RESOURCE = 4
JAAS_KEY = "listener.name.sasl_plaintext.plain.sasl.jaas.config"
SENSITIVE = (JAAS_KEY, "ssl.keystore.password", "ssl.key.password")
UNKNOWN, PASSWORD = 0, 9  # DescribeConfigs config types
STATIC_BROKER_CONFIG = 4  # DescribeConfigs config source


@dataclass
class Provided:
    broker: BrokerHandle
    material: TlsMaterial


@pytest.fixture(scope="module")
def provided(tmp_path_factory: pytest.TempPathFactory, broker_kind: str) -> Iterator[Provided]:
    base = tmp_path_factory.mktemp("provided")
    material = make_material(base / "certs")
    key_store = write_pkcs12_key_store(material.server, material.ca, base / "server.p12", STORE_PASSWORD)
    secrets_file = base / "secrets.properties"
    # A properties file: the value runs to the end of its line.
    secrets_file.write_text(
        "plain.jaas=org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="alice" password="{ALICE_PASSWORD}" user_alice="{ALICE_PASSWORD}";\n')
    secrets_file.chmod(0o600)
    props = {
        "config.providers": "file,env",
        "config.providers.file.class": "org.apache.kafka.common.config.provider.FileConfigProvider",
        "config.providers.env.class": "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
        "ssl.keystore.type": "PKCS12", "ssl.keystore.location": str(key_store),
        "ssl.keystore.password": f"${{env:{ENV_NAME}}}", "ssl.key.password": f"${{env:{ENV_NAME}}}",
        "ssl.truststore.type": "PEM", "ssl.truststore.location": str(material.ca.cert_path),
        "sasl.enabled.mechanisms": "PLAIN",
        JAAS_KEY: f"${{file:{secrets_file}:plain.jaas}}",
    }
    with pytest.MonkeyPatch.context() as env:
        env.setenv(ENV_NAME, STORE_PASSWORD)  # the broker process inherits it
        broker = launch_broker(broker_kind, base / "data", base / "broker.log", props,
                               listeners={"SSL": "SSL", "SASL_PLAINTEXT": "SASL_PLAINTEXT"})
    try:
        yield Provided(broker, material)
    finally:
        broker.stop()


def _plain(provided: Provided, password: str) -> dict[str, Any]:
    with RawClient(provided.broker.listener_ports["SASL_PLAINTEXT"]) as c:
        assert c.call(ApiKey.SASL_HANDSHAKE, 1, {"mechanism": "PLAIN"})["error_code"] == 0
        return c.call(ApiKey.SASL_AUTHENTICATE, 1, {"auth_bytes": b"\x00alice\x00" + password.encode()})


def test_values_from_the_file_and_the_environment_are_used(provided: Provided) -> None:
    assert _plain(provided, ALICE_PASSWORD)["error_code"] == 0  # the JAAS block came from the file
    tls = AdminClient({"bootstrap.servers": f"127.0.0.1:{provided.broker.listener_ports['SSL']}",
                       "security.protocol": "SSL", "ssl.ca.location": str(provided.material.ca.cert_path)})
    assert tls.list_topics(timeout=20).brokers  # the key store opened with the password from the environment


def test_a_refused_login_names_no_password(provided: Provided) -> None:
    body = _plain(provided, WRONG_PASSWORD)
    assert body["error_code"] == ErrorCode.SASL_AUTHENTICATION_FAILED
    assert body["error_message"] == "Authentication failed: Invalid username or password"


def _describe_broker(provided: Provided, keys: list[str] | None) -> tuple[bytes, dict[str, dict[str, Any]]]:
    with RawClient(provided.broker.port) as c:
        c.send(ApiKey.DESCRIBE_CONFIGS, 4, {"resources": [
            {"resource_type": BROKER_RESOURCE, "resource_name": "0", "configuration_keys": keys}],
            "include_synonyms": True, "include_documentation": False})
        raw = c.recv_frame()
    body = codec.decode_response(raw, ApiKey.DESCRIBE_CONFIGS, 4).body
    (result,) = body["results"]
    assert result["error_code"] == 0, result
    return raw, {entry["name"]: entry for entry in result["configs"]}


def test_describe_configs_answers_sensitive_settings_with_null(provided: Provided) -> None:
    raw, named = _describe_broker(provided, list(SENSITIVE))
    for key in SENSITIVE:
        entry = named[key]
        assert entry["value"] is None and entry["is_sensitive"], entry
        assert entry["synonyms"] and all(s["value"] is None for s in entry["synonyms"]), entry
    jaas = named[JAAS_KEY]  # a per-listener property: listed as set, typed as its base (a password)
    assert (jaas["config_type"], jaas["config_source"], jaas["read_only"]) == (PASSWORD, STATIC_BROKER_CONFIG, True)
    raw_all, every = _describe_broker(provided, None)
    assert every[JAAS_KEY]["value"] is None and every[JAAS_KEY]["is_sensitive"]
    # Properties the broker's definition does not have are of unknown type, so null as well.
    provider = every["config.providers.env.class"]
    assert (provider["value"], provider["is_sensitive"], provider["config_type"]) == (None, True, UNKNOWN)
    assert every["ssl.keystore.password"]["value"] is None and every["ssl.keystore.password"]["is_sensitive"]
    for answer in (raw, raw_all):
        assert not any(secret.encode() in answer for secret in SECRETS)
        assert b"PlainLoginModule" not in answer  # not even the unresolved reference or the module


def test_no_secret_reaches_the_log_or_the_metrics(provided: Provided) -> None:
    """After a successful and a refused login (above; repeated here so the order does not matter)."""
    assert _plain(provided, ALICE_PASSWORD)["error_code"] == 0
    assert _plain(provided, WRONG_PASSWORD)["error_code"] == ErrorCode.SASL_AUTHENTICATION_FAILED
    log = provided.broker.log_text()
    assert log and not [s for s in SECRETS if s in log]
    if provided.broker.kind == "logbroker":
        http_port = provided.broker.http_port  # type: ignore[attr-defined]
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=10) as resp:
            metrics = resp.read().decode()
        assert "logbroker" in metrics and not [s for s in SECRETS if s in metrics]
