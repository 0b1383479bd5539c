"""Kafka's config providers: ${env:NAME}, ${file:/path:key}, ${dir:/path:file}."""

from __future__ import annotations

from pathlib import Path

import pytest

from logbroker.config import BrokerConfig, describe_broker
from logbroker.errors import InvalidConfigError
from logbroker.security.config_providers import resolve
from segments.config import ConfigSource, ConfigType

PROVIDERS = {
    "config.providers": "env,file,dir",
    "config.providers.env.class": "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
    "config.providers.file.class": "org.apache.kafka.common.config.provider.FileConfigProvider",
    "config.providers.dir.class": "org.apache.kafka.common.config.provider.DirectoryConfigProvider",
}


def test_values_come_from_the_environment_files_and_directories(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LB_KEY_PASSWORD", "from-env")
    (tmp_path / "secrets.properties").write_text("truststore.password=from-file\n")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "jaas").write_text("from-dir")
    props = resolve({**PROVIDERS, "ssl.key.password": "${env:LB_KEY_PASSWORD}",
                     "ssl.truststore.password": f"${{file:{tmp_path}/secrets.properties:truststore.password}}",
                     "sasl.jaas.config": f"${{dir:{tmp_path}/secrets:jaas}}",
                     "num.partitions": "3"})
    assert props["ssl.key.password"] == "from-env"
    assert props["ssl.truststore.password"] == "from-file"
    assert props["sasl.jaas.config"] == "from-dir"
    assert props["num.partitions"] == "3"


def test_a_missing_key_is_left_as_written_and_undeclared_providers_are_not_used(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LB_NOT_SET", raising=False)
    props = resolve({**PROVIDERS, "a": "${env:LB_NOT_SET}", "b": "${vault:secret/x:y}"})
    assert props["a"] == "${env:LB_NOT_SET}" and props["b"] == "${vault:secret/x:y}"
    assert resolve({"a": "${env:HOME}"})["a"] == "${env:HOME}"  # no config.providers: nothing resolves


def test_an_unknown_provider_class_or_unreadable_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfigError, match=r"config\.providers\.x\.class"):
        resolve({"config.providers": "x", "config.providers.x.class": "com.example.Vault"})
    with pytest.raises(InvalidConfigError, match="cannot read"):
        resolve({**PROVIDERS, "a": f"${{file:{tmp_path}/missing.properties:k}}"})


def test_the_broker_config_resolves_providers_and_describe_configs_hides_secrets(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LB_KEY_PASSWORD", "hunter2")
    config = BrokerConfig.load(None, {**PROVIDERS, "ssl.key.password": "${env:LB_KEY_PASSWORD}",
                                      "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": "x required;"})
    assert config.props["ssl.key.password"] == "hunter2"
    assert config.unknown == ()
    entries = {e.name: e for e in describe_broker(config)}
    secret = entries["ssl.key.password"]
    assert secret.value is None and secret.sensitive and all(s.value is None for s in secret.synonyms)
    assert entries["ssl.client.auth"].value == "none" and not entries["ssl.client.auth"].sensitive
    assert "hunter2" not in repr(list(entries.values()))
    # Set properties outside the broker's own definitions are listed too, as Kafka lists them:
    # per listener with the base property's type, the rest of unknown type; secrets and unknowns null.
    jaas = entries["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"]
    assert (jaas.value, jaas.sensitive, jaas.type, jaas.read_only) == (None, True, ConfigType.PASSWORD, True)
    assert jaas.source == ConfigSource.STATIC_BROKER_CONFIG
    assert [(e.value, e.sensitive, e.type) for e in (entries["config.providers"],
                                                      entries["config.providers.env.class"])] == [
        (None, True, ConfigType.UNKNOWN)] * 2
    assert "config.providers" not in {e.name for e in describe_broker(BrokerConfig.load(None, {}))}
