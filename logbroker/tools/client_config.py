"""A Kafka client properties file (``--command-config``, ``--producer.config``, ``--consumer.config``)
turned into kafka-python connection settings, so the tools reach TLS and SASL listeners.

The file is java.util.Properties text with the names Kafka's Java clients read (and, where noted,
librdkafka's), so one file serves ``kafka-topics.sh --command-config`` and ``logbroker topics``:

    property                                        meaning
    security.protocol                               PLAINTEXT (default), SSL, SASL_PLAINTEXT, SASL_SSL
    ssl.truststore.type, ssl.keystore.type          PEM only (JKS and PKCS12 are refused with a message)
    ssl.truststore.location | ssl.ca.location       CA certificates (PEM file) the broker must chain to;
                                                    without one, the system's trusted CAs
    ssl.truststore.certificates                     the same as PEM text
    ssl.keystore.location                           the client's key and certificate chain (one PEM file)
    ssl.keystore.key + ssl.keystore.certificate.chain  the same as PEM text
    ssl.certificate.location + ssl.key.location     the same as two files (librdkafka)
    ssl.key.password                                password of an encrypted key
    ssl.endpoint.identification.algorithm           https (default): the broker's name is checked
                                                    against its certificate; empty: not checked
    sasl.mechanism                                  PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
    sasl.jaas.config                                a PlainLoginModule or ScramLoginModule line with
                                                    username="..." password="..."
    sasl.username, sasl.password                    the same (librdkafka)
    config.providers, config.providers.<n>.class    Kafka's config providers: any value may be
                                                    ${env:VAR}, ${file:/path:key} or ${dir:/path:name}

So no password has to be typed on the command line: it sits in the file, or the file points to an
environment variable or another file. Any other property is refused (named in the message) rather
than ignored. Sources: Kafka's client configuration reference
(https://kafka.apache.org/documentation/#adminclientconfigs), "Authentication using SASL" and
"Encryption and Authentication using SSL" in Kafka's security documentation, KIP-651 (PEM stores),
librdkafka's CONFIGURATION.md.
"""

from __future__ import annotations

import os
import re
import ssl
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from logbroker.config import parse_properties
from logbroker.errors import InvalidConfigError
from logbroker.security import config_providers

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_KNOWN = frozenset({
    "security.protocol", "ssl.truststore.type", "ssl.keystore.type", "ssl.truststore.location", "ssl.ca.location",
    "ssl.truststore.certificates", "ssl.keystore.location", "ssl.keystore.key", "ssl.keystore.certificate.chain",
    "ssl.certificate.location", "ssl.key.location", "ssl.key.password", "ssl.endpoint.identification.algorithm",
    "sasl.mechanism", "sasl.jaas.config", "sasl.username", "sasl.password", "config.providers",
})
_JAAS_OPTION = re.compile(r'(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"')
_LOGIN_MODULES = ("PlainLoginModule", "ScramLoginModule")


class ClientConfigError(ValueError):
    """The properties file cannot be used; the message names the property and why."""


def load(path: Path) -> dict[str, Any]:
    """kafka-python settings from the properties file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ClientConfigError(f"cannot read {path}: {exc.strerror}") from None
    return settings(parse_properties(text))


def _resolved(props: Mapping[str, str]) -> dict[str, str]:
    try:
        return config_providers.resolve(props)
    except InvalidConfigError as exc:
        raise ClientConfigError(str(exc)) from None


def settings(raw: Mapping[str, str]) -> dict[str, Any]:
    """kafka-python keyword arguments (``security_protocol``, ``ssl_context``, ``sasl_*``) for ``raw``."""
    unknown = sorted(k for k in raw if k not in _KNOWN and not k.startswith("config.providers."))
    if unknown:
        raise ClientConfigError(f"unsupported client properties: {', '.join(unknown)} "
                                f"(the tools read the connection's security settings only)")
    props = _resolved(raw)
    protocol = props.get("security.protocol", "PLAINTEXT").strip().upper()
    if protocol not in PROTOCOLS:
        raise ClientConfigError(f"security.protocol={protocol!r}: expected one of {', '.join(PROTOCOLS)}")
    out: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        out["ssl_context"] = tls_context(props)
    elif any(k.startswith("ssl.") for k in props):
        raise ClientConfigError(f"ssl.* properties are set but security.protocol is {protocol}")
    if protocol.startswith("SASL_"):
        out.update(sasl(props))
    elif any(k.startswith("sasl.") for k in props):
        raise ClientConfigError(f"sasl.* properties are set but security.protocol is {protocol}")
    return out


def _pem_only(props: Mapping[str, str], name: str) -> None:
    kind = props.get(name, "PEM").strip().upper() or "PEM"
    if kind != "PEM":
        raise ClientConfigError(f"{name}={kind}: the tools read PEM stores only (convert with openssl or keytool)")


def tls_context(props: Mapping[str, str]) -> ssl.SSLContext:
    """A client TLS context: TLS 1.2 or newer, the broker verified, the client's certificate if given."""
    _pem_only(props, "ssl.truststore.type")
    _pem_only(props, "ssl.keystore.type")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    cafile = props.get("ssl.truststore.location") or props.get("ssl.ca.location")
    cadata = props.get("ssl.truststore.certificates")
    try:
        if cafile or cadata:
            context.load_verify_locations(cafile=cafile or None, cadata=cadata or None)
        else:
            context.load_default_certs()
    except (OSError, ssl.SSLError) as exc:
        raise ClientConfigError(f"cannot load the trust store ({cafile or 'ssl.truststore.certificates'}): "
                                f"{exc}") from None
    algorithm = props.get("ssl.endpoint.identification.algorithm", "https").strip().lower()
    if algorithm not in ("https", ""):
        raise ClientConfigError(f"ssl.endpoint.identification.algorithm={algorithm!r}: expected https or empty")
    context.check_hostname = algorithm == "https"
    _load_key(context, props)
    return context


def _load_key(context: ssl.SSLContext, props: Mapping[str, str]) -> None:
    password = props.get("ssl.key.password") or None
    certfile = props.get("ssl.keystore.location") or props.get("ssl.certificate.location")
    keyfile = props.get("ssl.key.location") if not props.get("ssl.keystore.location") else None
    key_pem, chain_pem = props.get("ssl.keystore.key"), props.get("ssl.keystore.certificate.chain")
    if bool(key_pem) != bool(chain_pem):
        raise ClientConfigError("ssl.keystore.key and ssl.keystore.certificate.chain go together")
    try:
        if key_pem and chain_pem:
            _load_pem_text(context, key_pem, chain_pem, password)
        elif certfile:
            context.load_cert_chain(certfile, keyfile or None, password)
        elif keyfile:
            raise ClientConfigError("ssl.key.location needs ssl.certificate.location")
    except (OSError, ssl.SSLError) as exc:
        raise ClientConfigError(f"cannot load the client key and certificate ({certfile or 'ssl.keystore.key'}): "
                                f"{exc}") from None


def _load_pem_text(context: ssl.SSLContext, key_pem: str, chain_pem: str, password: str | None) -> None:
    # The ssl module loads keys from files only: a private file, removed as soon as it is read.
    fd, name = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(key_pem.strip() + "\n" + chain_pem.strip() + "\n")
        context.load_cert_chain(name, None, password)
    finally:
        os.unlink(name)


def jaas_credentials(jaas: str) -> tuple[str, str]:
    """username and password of a PlainLoginModule or ScramLoginModule ``sasl.jaas.config`` line."""
    if not any(module in jaas for module in _LOGIN_MODULES):
        raise ClientConfigError("sasl.jaas.config: the tools understand PlainLoginModule and ScramLoginModule")
    options = {m.group(1): m.group(2).replace('\\"', '"') for m in _JAAS_OPTION.finditer(jaas)}
    if "username" not in options or "password" not in options:
        raise ClientConfigError('sasl.jaas.config needs username="..." and password="..."')
    return options["username"], options["password"]


def sasl(props: Mapping[str, str]) -> dict[str, Any]:
    mechanism = props.get("sasl.mechanism", "").strip().upper()
    if mechanism not in MECHANISMS:
        raise ClientConfigError(f"sasl.mechanism={mechanism or '(not set; Kafka defaults to GSSAPI)'}: "
                                f"the tools speak {', '.join(MECHANISMS)}")
    jaas = props.get("sasl.jaas.config", "")
    if jaas:
        user, password = jaas_credentials(jaas)
    elif props.get("sasl.username") and "sasl.password" in props:
        user, password = props["sasl.username"], props["sasl.password"]
    else:
        raise ClientConfigError("SASL needs sasl.jaas.config (or sasl.username and sasl.password)")
    return {"sasl_mechanism": mechanism, "sasl_plain_username": user, "sasl_plain_password": password}
