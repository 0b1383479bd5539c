"""A Kafka client properties file (``--command-config``, ``--producer.config``, ``--consumer.config``)
turned into kafka-python connection settings, so the tools reach TLS and SASL listeners.

The file is java.util.Properties text with the names Kafka's Java clients read (and, where noted,
librdkafka's), so one file serves ``kafka-topics.sh --command-config`` and ``logbroker topics``:

    property                                        meaning
    security.protocol                               PLAINTEXT (default), SSL, SASL_PLAINTEXT, SASL_SSL
    ssl.truststore.type, ssl.keystore.type          PEM (the default here) or PKCS12; JKS is refused with
                                                    the keytool conversion in the message
    ssl.truststore.location | ssl.ca.location       CA certificates (PEM file) the broker must chain to;
                                                    without one, the system's trusted CAs
    ssl.truststore.certificates                     the same as PEM text
    ssl.keystore.location                           the client's key and certificate chain (one PEM file)
    ssl.keystore.key + ssl.keystore.certificate.chain  the same as PEM text
    ssl.certificate.location + ssl.key.location     the same as two files (librdkafka)
    ssl.key.password                                password of an encrypted key
    ssl.keystore.password, ssl.truststore.password  passwords of PKCS12 stores
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

import re
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from logbroker.config import parse_properties
from logbroker.errors import InvalidConfigError
from logbroker.security import config_providers, keystores

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_KNOWN = frozenset({
    "security.protocol", "ssl.truststore.type", "ssl.keystore.type", "ssl.truststore.location", "ssl.ca.location",
    "ssl.truststore.certificates", "ssl.keystore.location", "ssl.keystore.key", "ssl.keystore.certificate.chain",
    "ssl.certificate.location", "ssl.key.location", "ssl.key.password", "ssl.endpoint.identification.algorithm",
    "ssl.keystore.password", "ssl.truststore.password",
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


_WHAT = "client properties"


def tls_context(props: Mapping[str, str]) -> ssl.SSLContext:
    """A client TLS context: TLS 1.2 or newer, the broker verified, the client's certificate if given.
    The stores are read by the broker's own loader (``logbroker/security/keystores.py``: PEM, PKCS12)."""
    if bool(props.get("ssl.keystore.key")) != bool(props.get("ssl.keystore.certificate.chain")):
        raise ClientConfigError("ssl.keystore.key and ssl.keystore.certificate.chain go together")

    def get(name: str) -> str:
        if name == "ssl.truststore.location":  # librdkafka's name for a PEM trust store
            return props.get(name) or props.get("ssl.ca.location", "")
        return props.get(name, "")

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    algorithm = props.get("ssl.endpoint.identification.algorithm", "https").strip().lower()
    if algorithm not in ("https", ""):
        raise ClientConfigError(f"ssl.endpoint.identification.algorithm={algorithm!r}: expected https or empty")
    context.check_hostname = algorithm == "https"
    certfile, keyfile = props.get("ssl.certificate.location"), props.get("ssl.key.location")
    if keyfile and not certfile:
        raise ClientConfigError("ssl.key.location needs ssl.certificate.location")
    try:
        if not keystores.load_trust_store(context, get, _WHAT):
            context.load_default_certs()
        if certfile:  # librdkafka's two files
            context.load_cert_chain(certfile, keyfile or None, props.get("ssl.key.password") or None)
        else:
            keystores.load_key_store(context, get, _WHAT)
    except InvalidConfigError as exc:
        raise ClientConfigError(str(exc)) from None
    except (OSError, ssl.SSLError) as exc:
        stores = [v for v in (get("ssl.truststore.location"), get("ssl.keystore.location"), certfile) if v]
        raise ClientConfigError(f"cannot load the TLS trust store or key store ({', '.join(stores) or 'PEM text'}): "
                                f"{exc}") from None
    return context


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
