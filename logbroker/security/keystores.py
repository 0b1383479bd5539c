"""Key stores and trust stores by Kafka's ``ssl.keystore.type`` / ``ssl.truststore.type``, loaded
into an ``ssl.SSLContext``.

    type     key store (ssl.keystore.*)                       trust store (ssl.truststore.*)
    PEM      location: a file with the private key and the    location: a file of CA certificates;
             chain (the key encrypted with ssl.key.password);  or the certificates as PEM text
             or certificate.chain + key as PEM text             (ssl.truststore.certificates)
    PKCS12   location: a PKCS#12 file (RFC 7292) with one      location: a PKCS#12 file of CA
             private key and its chain, opened with             certificates, opened with
             ssl.keystore.password (else ssl.key.password)      ssl.truststore.password (may be empty)
    JKS      refused at start-up: Java's own format has no well-kept Python reader; the message
             names PKCS12 and PEM and the keytool conversion to PKCS12

logbroker's default type is PEM (Kafka's is JKS, which it cannot read). Python's ``ssl`` reads PEM
files only, so a PKCS#12 key store is decoded with ``cryptography`` and handed to the context through
a private temporary file (mode 0600, removed once loaded) holding the chain and the key, the key
encrypted again with a random one-time password. Sources: Kafka's broker configs
(https://kafka.apache.org/documentation/#brokerconfigs_ssl.keystore.type), KIP-651 (PEM), RFC 7292.
"""

from __future__ import annotations

import os
import secrets
import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from logbroker.errors import InvalidConfigError

STORE_TYPES = ("PEM", "PKCS12")

Getter = Callable[[str], str]  # a setting by Kafka's name, for this listener (tls.setting)


def store_type(get: Getter, kind: str, what: str) -> str:
    """The upper-cased ``ssl.keystore.type`` or ``ssl.truststore.type`` (``kind``); InvalidConfigError
    for JKS and anything else not read here."""
    value = (get(kind) or "PEM").upper()
    if value == "JKS":
        raise InvalidConfigError(
            f"{what}: {kind}=JKS is not supported; use PKCS12 (convert with keytool -importkeystore "
            f"-srcstoretype JKS -deststoretype PKCS12) or PEM, and set {kind} to match")
    if value not in STORE_TYPES:
        raise InvalidConfigError(f"{what}: {kind}={value} is not supported; logbroker reads PKCS12 and PEM")
    return value


def _read_pkcs12(location: str, password: str | None, what: str, setting: str) -> pkcs12.PKCS12KeyAndCertificates:
    try:
        data = Path(location).read_bytes()
    except OSError as exc:
        raise InvalidConfigError(f"{what}: cannot read {location}: {exc.strerror}") from None
    try:
        return pkcs12.load_pkcs12(data, password.encode() if password else None)
    except ValueError:
        # cryptography cannot tell a wrong password from a damaged file; neither can the message.
        raise InvalidConfigError(f"{what}: cannot open the PKCS12 store {location}: wrong {setting} "
                                 "or not a PKCS12 file") from None


def load_key_store(ctx: ssl.SSLContext, get: Getter, what: str) -> bool:
    """This side's key and certificate chain into ``ctx``; False when none is configured."""
    kind = store_type(get, "ssl.keystore.type", what)
    location = get("ssl.keystore.location")
    if kind == "PKCS12":
        if not location:
            return False
        password = get("ssl.keystore.password") or get("ssl.key.password") or None
        store = _read_pkcs12(location, password, what, "ssl.keystore.password")
        if store.key is None or store.cert is None:
            raise InvalidConfigError(f"{what}: the PKCS12 key store {location} holds no private key with a "
                                     "certificate")
        one_time = secrets.token_urlsafe(24)
        key = store.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.BestAvailableEncryption(one_time.encode())).decode()
        chain = "".join(c.public_bytes(serialization.Encoding.PEM).decode()
                        for c in [store.cert.certificate, *(extra.certificate for extra in store.additional_certs)])
        load_inline_chain(ctx, chain, key, one_time)
        return True
    password = get("ssl.key.password") or None
    chain, key = get("ssl.keystore.certificate.chain"), get("ssl.keystore.key")
    if location:
        ctx.load_cert_chain(location, password=password)
    elif chain and key:
        load_inline_chain(ctx, chain, key, password)
    else:
        return False
    return True


def load_trust_store(ctx: ssl.SSLContext, get: Getter, what: str) -> bool:
    """The CA certificates peers must chain to into ``ctx``; False when none is configured."""
    kind = store_type(get, "ssl.truststore.type", what)
    location = get("ssl.truststore.location")
    if kind == "PKCS12":
        if not location:
            return False
        store = _read_pkcs12(location, get("ssl.truststore.password") or None, what, "ssl.truststore.password")
        certificates: list[x509.Certificate] = [extra.certificate for extra in store.additional_certs]
        if store.cert is not None:
            certificates.insert(0, store.cert.certificate)
        if not certificates:
            raise InvalidConfigError(f"{what}: the PKCS12 trust store {location} holds no certificate")
        ctx.load_verify_locations(cadata="".join(c.public_bytes(serialization.Encoding.PEM).decode()
                                                 for c in certificates))
        return True
    pem = get("ssl.truststore.certificates")
    if location:
        ctx.load_verify_locations(cafile=location)
    elif pem:
        ctx.load_verify_locations(cadata=pem)
    else:
        return False
    return True


def load_inline_chain(ctx: ssl.SSLContext, chain: str, key: str, password: str | None) -> None:
    """``load_cert_chain`` reads files only: the PEM text goes to a private temporary file that is
    removed as soon as it is loaded."""
    fd, path = tempfile.mkstemp(prefix="logbroker-tls-", suffix=".pem")
    try:
        with os.fdopen(fd, "w") as f:  # mkstemp creates it mode 0600
            f.write(key.strip() + "\n" + chain.strip() + "\n")
        ctx.load_cert_chain(path, password=password)
    finally:
        os.unlink(path)
