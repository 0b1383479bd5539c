"""Kafka client properties files read by the tools (``logbroker/tools/client_config.py``): which
properties become which connection settings, and that a file the tools cannot honour is refused
with the property named (exit 2), never half-used."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from logbroker.tools import client_config
from logbroker.tools.client_config import ClientConfigError
from tests.cli.runner import run_cli
from tests.tls_material import make_material, write_pkcs12_key_store, write_pkcs12_trust_store

_SCRAM = 'org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="{p}";'


def test_sasl_from_the_jaas_line_with_the_password_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALICE_PW", "s3cret")
    out = client_config.settings({
        "config.providers": "env",
        "config.providers.env.class": "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
        "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.jaas.config": _SCRAM.format(p="${env:ALICE_PW}")})
    assert out == {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
                   "sasl_plain_username": "alice", "sasl_plain_password": "s3cret"}


def test_sasl_from_librdkafka_names_and_a_password_file(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.properties"
    secrets.write_text("alice=from-a-file\n")
    out = client_config.settings({
        "config.providers": "file",
        "config.providers.file.class": "org.apache.kafka.common.config.provider.FileConfigProvider",
        "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "sasl.username": "alice",
        "sasl.password": f"${{file:{secrets}:alice}}"})
    assert out["sasl_plain_password"] == "from-a-file" and out["sasl_mechanism"] == "PLAIN"


def test_tls_with_a_pem_key_store_file_or_pem_text(tmp_path: Path) -> None:
    m = make_material(tmp_path / "certs")
    from_file = client_config.settings({"security.protocol": "SSL", "ssl.truststore.type": "PEM",
                                        "ssl.truststore.location": str(m.ca.cert_path),
                                        "ssl.keystore.type": "PEM", "ssl.keystore.location": str(m.alice.both)})
    context = from_file["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.get_ca_certs()[0]["subject"][-1][0][1] == "test-ca"
    as_text = client_config.settings({
        "security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN", "sasl.username": "a", "sasl.password": "b",
        "ssl.truststore.certificates": m.ca.cert_path.read_text(), "ssl.endpoint.identification.algorithm": "",
        "ssl.keystore.key": m.alice.key.read_text(), "ssl.keystore.certificate.chain": m.alice.cert.read_text()})
    assert not as_text["ssl_context"].check_hostname
    assert list(tmp_path.glob("*.pem")) == []  # nothing of the key left behind
    librdkafka = client_config.settings({"security.protocol": "SSL", "ssl.ca.location": str(m.ca.cert_path),
                                         "ssl.certificate.location": str(m.alice.cert),
                                         "ssl.key.location": str(m.alice.key)})
    assert isinstance(librdkafka["ssl_context"], ssl.SSLContext)


def test_tls_with_pkcs12_stores_read_by_the_broker_s_own_loader(tmp_path: Path) -> None:
    m = make_material(tmp_path / "certs")
    keystore = write_pkcs12_key_store(m.alice, m.ca, tmp_path / "alice.p12", "store-pw")
    truststore = write_pkcs12_trust_store(m.ca, tmp_path / "trust.p12", "trust-pw")
    out = client_config.settings({"security.protocol": "SSL", "ssl.keystore.type": "PKCS12",
                                  "ssl.keystore.location": str(keystore), "ssl.keystore.password": "store-pw",
                                  "ssl.truststore.type": "PKCS12", "ssl.truststore.location": str(truststore),
                                  "ssl.truststore.password": "trust-pw"})
    assert out["ssl_context"].get_ca_certs()[0]["subject"][-1][0][1] == "test-ca"
    with pytest.raises(ClientConfigError, match=r"ssl\.keystore\.password"):
        client_config.settings({"security.protocol": "SSL", "ssl.keystore.type": "PKCS12",
                                "ssl.keystore.location": str(keystore), "ssl.keystore.password": "wrong"})


@pytest.mark.parametrize(("props", "named"), [
    ({"security.protocol": "SASL_SSL", "sasl.mechanism": "GSSAPI"}, "sasl.mechanism=GSSAPI"),
    ({"security.protocol": "SASL_PLAINTEXT"}, "Kafka defaults to GSSAPI"),
    ({"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN"}, "sasl.jaas.config"),
    ({"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
      "sasl.jaas.config": "com.example.Custom required;"}, "PlainLoginModule"),
    ({"security.protocol": "SSL", "ssl.truststore.type": "JKS"}, "ssl.truststore.type=JKS"),
    ({"security.protocol": "SSL", "ssl.truststore.location": "/nonexistent/ca.pem"}, "/nonexistent/ca.pem"),
    ({"security.protocol": "SSL", "ssl.keystore.key": "x"}, "go together"),
    ({"security.protocol": "PLAINTEXT", "sasl.mechanism": "PLAIN"}, "security.protocol is PLAINTEXT"),
    ({"security.protocol": "TLS"}, "security.protocol='TLS'"),
    ({"security.protocol": "SSL", "batch.size": "1"}, "batch.size"),
    ({"config.providers": "vault", "config.providers.vault.class": "com.example.Vault"}, "config.providers.vault"),
])
def test_what_the_tools_cannot_honour_is_refused_by_name(props: dict[str, str], named: str) -> None:
    with pytest.raises(ClientConfigError) as refused:
        client_config.settings(props)
    assert named in str(refused.value)


def test_the_cli_refuses_a_bad_file_as_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "client.properties"
    config.write_text("security.protocol=SASL_SSL\nsasl.mechanism=GSSAPI\n")
    result = run_cli("topics", "list", "--bootstrap-server", "127.0.0.1:1", "--command-config", str(config))
    assert result.code == 2 and "sasl.mechanism=GSSAPI" in result.stderr and "Traceback" not in result.stderr
    missing = run_cli("produce", "t", "--producer.config", str(tmp_path / "none.properties"))
    assert missing.code == 2 and "none.properties" in missing.stderr, missing
    plain = tmp_path / "plain.properties"
    plain.write_text("security.protocol=PLAINTEXT\n")
    both = run_cli("consume", "t", "--command-config", str(plain), "--consumer.config", str(plain))
    assert both.code == 2 and "one client properties file" in both.stderr, both
