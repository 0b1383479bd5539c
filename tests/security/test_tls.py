"""TLS contexts from Kafka's PEM settings, certificate subjects and ssl.principal.mapping.rules."""

from __future__ import annotations

import contextlib
import ssl
from pathlib import Path
from typing import Any

import pytest

from logbroker.errors import InvalidConfigError
from logbroker.security.tls import PrincipalMapper, client_context, server_context, subject_dn
from tests.tls_material import KEY_PASSWORD, make_material, write_pkcs12_key_store, write_pkcs12_trust_store


def test_default_keeps_the_subject() -> None:
    assert PrincipalMapper.parse("DEFAULT").map("CN=alice,OU=eng,O=org") == "CN=alice,OU=eng,O=org"


@pytest.mark.parametrize(("rules", "dn", "name"), [
    ("RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,DEFAULT", "CN=kafka-svc,OU=ServiceUsers,O=org", "kafka-svc"),
    ("RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,DEFAULT", "CN=alice,OU=eng,O=org", "CN=alice,OU=eng,O=org"),
    ("RULE:^CN=(.*?),OU=(.*?),O=(.*)$/$1@$2/L", "CN=Alice,OU=ENG,O=org", "alice@eng"),
    ("RULE:^CN=(.*?),OU=(.*?),O=(.*)$/$1@$2/U", "CN=Alice,OU=eng,O=org", "ALICE@ENG"),
    ("RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L, DEFAULT", "CN=Bob.Smith,O=org", "bob.smith"),
    ("RULE:^CN=(.*)\\/x$/$1/", "CN=a/x", "a"),
])
def test_rules_match_the_whole_subject_and_the_first_match_wins(rules: str, dn: str, name: str) -> None:
    assert PrincipalMapper.parse(rules).map(dn) == name


def test_no_matching_rule_refuses_the_certificate() -> None:
    with pytest.raises(ValueError, match=r"no ssl\.principal\.mapping\.rules rule applies"):
        PrincipalMapper.parse("RULE:^CN=(.*?),OU=svc$/$1/").map("CN=alice,OU=eng")


@pytest.mark.parametrize("rules", ["RULE:no-slashes", "NONSENSE", "RULE:(/x/"])
def test_a_malformed_rule_is_a_config_error(rules: str) -> None:
    with pytest.raises(InvalidConfigError, match=r"ssl\.principal\.mapping\.rules"):
        PrincipalMapper.parse(rules)


def test_the_subject_is_written_in_rfc_2253_order_with_escapes() -> None:
    cert = {"subject": ((("organizationName", "Example, Inc."),), (("organizationalUnitName", "eng"),),
                        (("commonName", "alice"),))}
    assert subject_dn(cert) == "CN=alice,OU=eng,O=Example\\, Inc."


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return make_material(tmp_path_factory.mktemp("tls"))


def test_pem_files_or_pem_text_make_a_tls_1_2_plus_context(material) -> None:  # type: ignore[no-untyped-def]
    from_files = server_context({"ssl.keystore.location": str(material.server.both),
                                 "ssl.truststore.location": str(material.ca.cert_path),
                                 "ssl.client.auth": "required"})
    assert from_files.context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert from_files.context.verify_mode == ssl.CERT_REQUIRED
    inline = server_context({"listener.name.ssl.ssl.keystore.certificate.chain": material.server.cert.read_text(),
                             "listener.name.ssl.ssl.keystore.key": material.server.key.read_text(),
                             "ssl.truststore.certificates": material.ca.cert_path.read_text(),
                             "ssl.client.auth": "requested"}, "listener.name.ssl.")
    assert inline.context.verify_mode == ssl.CERT_OPTIONAL
    encrypted = server_context({"ssl.keystore.location": str(material.encrypted_server.both),
                                "ssl.key.password": KEY_PASSWORD})
    assert encrypted.client_auth == "none"


@pytest.mark.parametrize(("props", "message"), [
    ({"ssl.keystore.type": "JKS"}, "ssl.keystore.type=JKS is not supported; use PKCS12 .* or PEM"),
    ({"ssl.truststore.type": "jks"}, "ssl.truststore.type=JKS is not supported; use PKCS12"),
    ({"ssl.keystore.type": "BCFKS"}, "ssl.keystore.type=BCFKS is not supported; logbroker reads PKCS12 and PEM"),
    ({"ssl.keystore.type": "PKCS12"}, "TLS needs ssl.keystore.location"),
    ({}, "TLS needs ssl.keystore.location"),
    ({"ssl.keystore.location": "/nonexistent.pem"}, "cannot load the TLS key store"),
    ({"ssl.enabled.protocols": "TLSv1.1"}, "only TLSv1.2 and TLSv1.3 are served"),
    ({"ssl.client.auth": "required"}, "needs a trust store"),
    ({"ssl.client.auth": "maybe"}, "is not one of required, requested, none"),
])
def test_bad_tls_settings_are_refused_by_name(material, props: dict[str, str],  # type: ignore[no-untyped-def]
                                              message: str) -> None:
    base = {"ssl.keystore.location": str(material.server.both)} if "ssl.keystore" not in str(props) else {}
    if not props:
        base = {}
    with pytest.raises(InvalidConfigError, match=message):
        server_context({**base, **props})


def test_a_wrong_key_password_names_no_secret(material) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidConfigError) as caught:
        server_context({"ssl.keystore.location": str(material.encrypted_server.both),
                        "ssl.key.password": "wrong-password-123"})
    assert "wrong-password-123" not in str(caught.value)
    assert Path(material.encrypted_server.both).exists()


def _handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> Any:
    """One TLS handshake in memory; the client certificate the server saw."""
    s_in, s_out, c_in, c_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    srv = server.wrap_bio(s_in, s_out, server_side=True)
    cli = client.wrap_bio(c_in, c_out, server_hostname="127.0.0.1")
    for _ in range(10):
        for side in (cli, srv):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
        s_in.write(c_out.read())
        c_in.write(s_out.read())
    return srv.getpeercert()


def test_pkcs12_key_and_trust_stores_serve_mutual_tls(material, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key_store = write_pkcs12_key_store(material.server, material.ca, tmp_path / "server.p12", "store-pw")
    trust_store = write_pkcs12_trust_store(material.ca, tmp_path / "trust.p12", "trust-pw")
    props = {"ssl.keystore.type": "PKCS12", "ssl.keystore.location": str(key_store),
             "ssl.keystore.password": "store-pw", "ssl.truststore.type": "PKCS12",
             "ssl.truststore.location": str(trust_store), "ssl.truststore.password": "trust-pw",
             "ssl.client.auth": "required"}
    server = server_context(props)
    # The broker's own client side (a follower) from the same stores presents the same certificate.
    follower = client_context(props)
    seen = _handshake(server.context, follower)
    assert seen is not None and subject_dn(seen) == "CN=127.0.0.1,O=logbroker-tests"
    # A trust store without a password (Kafka allows an empty ssl.truststore.password).
    open_trust = write_pkcs12_trust_store(material.ca, tmp_path / "open.p12", None)
    assert server_context({**props, "ssl.truststore.location": str(open_trust),
                           "ssl.truststore.password": ""}).client_auth == "required"


def test_a_wrong_pkcs12_password_is_refused_without_naming_it(material, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key_store = write_pkcs12_key_store(material.server, material.ca, tmp_path / "server.p12", "store-pw")
    with pytest.raises(InvalidConfigError, match=r"wrong ssl\.keystore\.password or not a PKCS12 file") as caught:
        server_context({"ssl.keystore.type": "PKCS12", "ssl.keystore.location": str(key_store),
                        "ssl.keystore.password": "wrong-pw-456"})
    assert "wrong-pw-456" not in str(caught.value)
    with pytest.raises(InvalidConfigError, match="not a PKCS12 file"):
        server_context({"ssl.keystore.type": "PKCS12", "ssl.keystore.location": str(material.server.both),
                        "ssl.keystore.password": "store-pw"})
    with pytest.raises(InvalidConfigError, match="holds no private key"):
        server_context({"ssl.keystore.type": "PKCS12", "ssl.keystore.password": "x",
                        "ssl.keystore.location": str(write_pkcs12_trust_store(material.ca, tmp_path / "t.p12", "x"))})
