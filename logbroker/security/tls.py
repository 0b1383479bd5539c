"""TLS server contexts from Kafka's PEM settings, and the principal of a client certificate.

Kafka's names, read under a prefix (``""`` for the broker-wide value, ``listener.name.<name>.`` for
one listener, which wins; ``logbroker.http.`` for the HTTP listener):

    setting                            meaning here
    ssl.keystore.type                  PEM (the default here; Kafka's is JKS) or PKCS12; JKS is
                                       refused (logbroker/security/keystores.py)
    ssl.keystore.location              a PEM file holding the private key and the certificate chain,
                                       or a PKCS12 file
    ssl.keystore.password              the PKCS12 file's password
    ssl.keystore.certificate.chain     the chain as PEM text (instead of a location)
    ssl.keystore.key                   the private key as PEM text (with the chain)
    ssl.key.password                   the password of an encrypted private key
    ssl.truststore.type                PEM or PKCS12, as the key store
    ssl.truststore.location            a PEM (or PKCS12) file of trusted CA certificates
    ssl.truststore.password            the PKCS12 trust store's password (may be empty)
    ssl.truststore.certificates        the same as PEM text
    ssl.client.auth                    required | requested | none (Kafka's default: none)
    ssl.enabled.protocols              TLSv1.2 and/or TLSv1.3; older protocols are refused
    ssl.principal.mapping.rules        how a certificate's subject becomes a user name (below)

Facts from Kafka's documentation, "Encryption and Authentication using SSL"
(https://kafka.apache.org/documentation/#security_ssl) and KIP-651 (PEM keystores).
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

from logbroker.errors import InvalidConfigError

# The TLS settings of one listener, by Kafka's name.
SSL_SETTINGS = ("ssl.keystore.type", "ssl.keystore.location", "ssl.keystore.certificate.chain",
                "ssl.keystore.key", "ssl.key.password", "ssl.keystore.password", "ssl.truststore.type",
                "ssl.truststore.location", "ssl.truststore.certificates", "ssl.truststore.password",
                "ssl.client.auth", "ssl.enabled.protocols", "ssl.principal.mapping.rules")
_PROTOCOLS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
_CLIENT_AUTH = {"required": ssl.CERT_REQUIRED, "requested": ssl.CERT_OPTIONAL, "none": ssl.CERT_NONE}


def setting(props: Mapping[str, str], prefix: str, name: str, default: str = "") -> str:
    """``prefix + name`` if set, else the broker-wide ``name``, else ``default``."""
    if prefix and prefix + name in props:
        return props[prefix + name].strip()
    return props.get(name, default).strip()


@dataclass(frozen=True, slots=True)
class TlsSettings:
    context: ssl.SSLContext
    client_auth: str  # required | requested | none
    principal_mapper: PrincipalMapper


def server_context(props: Mapping[str, str], prefix: str = "", *, what: str = "listener") -> TlsSettings:
    """A server-side SSLContext (TLS 1.2+) from the PEM settings; InvalidConfigError names what is wrong."""
    # Imported here: the key store formats need the cryptography package, which a broker without TLS never loads.
    from logbroker.security.keystores import load_key_store, load_trust_store, store_type

    def get(name: str, default: str = "") -> str:
        return setting(props, prefix, name, default)

    for kind in ("ssl.keystore.type", "ssl.truststore.type"):
        store_type(get, kind, what)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    versions = [v.strip() for v in get("ssl.enabled.protocols", "TLSv1.2,TLSv1.3").split(",") if v.strip()]
    unknown = [v for v in versions if v not in _PROTOCOLS]
    if unknown or not versions:
        raise InvalidConfigError(f"{what}: ssl.enabled.protocols {', '.join(unknown) or '(empty)'}: "
                                 "only TLSv1.2 and TLSv1.3 are served")
    ctx.minimum_version = min(_PROTOCOLS[v] for v in versions)
    ctx.maximum_version = max(_PROTOCOLS[v] for v in versions)
    try:
        if not load_key_store(ctx, get, what):
            raise InvalidConfigError(f"{what}: TLS needs ssl.keystore.location, or ssl.keystore.certificate.chain "
                                     "with ssl.keystore.key")
        trusted = load_trust_store(ctx, get, what)
    except (ssl.SSLError, OSError) as exc:
        # The message names the file or the failing step, never a key or password.
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or type(exc).__name__
        raise InvalidConfigError(f"{what}: cannot load the TLS key store or trust store: {reason}") from None
    client_auth = get("ssl.client.auth", "none").lower()
    if client_auth not in _CLIENT_AUTH:
        raise InvalidConfigError(f"{what}: ssl.client.auth={client_auth} is not one of required, requested, none")
    if client_auth != "none" and not trusted:
        raise InvalidConfigError(f"{what}: ssl.client.auth={client_auth} needs a trust store "
                                 "(ssl.truststore.location or ssl.truststore.certificates)")
    ctx.verify_mode = _CLIENT_AUTH[client_auth]
    mapper = PrincipalMapper.parse(get("ssl.principal.mapping.rules", "DEFAULT"))
    return TlsSettings(ctx, client_auth, mapper)


def client_context(props: Mapping[str, str], prefix: str = "", *, what: str = "inter-broker client") -> ssl.SSLContext:
    """A client-side SSLContext (TLS 1.2+, the peer's certificate and host name verified against the
    trust store) presenting this broker's own key store, for a broker connecting to another one."""
    from logbroker.security.keystores import load_key_store, load_trust_store

    def get(name: str) -> str:
        return setting(props, prefix, name)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        if not load_trust_store(ctx, get, what):
            raise InvalidConfigError(f"{what}: TLS between brokers needs a trust store (ssl.truststore.location)")
        load_key_store(ctx, get, what)
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or type(exc).__name__
        raise InvalidConfigError(f"{what}: cannot load the TLS key store or trust store: {reason}") from None
    return ctx


# RFC 2253 short names, as Java's X500Principal.getName() writes a subject.
_SHORT_NAMES = {"commonName": "CN", "countryName": "C", "localityName": "L", "stateOrProvinceName": "ST",
                "organizationName": "O", "organizationalUnitName": "OU", "streetAddress": "STREET",
                "domainComponent": "DC", "userId": "UID"}


def _escape_dn_value(value: str) -> str:
    out = re.sub(r'([,+"\\<>;=])', r"\\\1", value)
    if out.startswith((" ", "#")):
        out = "\\" + out
    if out.endswith(" ") and not out.endswith("\\ "):
        out = out[:-1] + "\\ "
    return out


def subject_dn(cert: Mapping[str, object]) -> str:
    """The subject of a verified peer certificate (``SSLSocket.getpeercert()``) in RFC 2253 form,
    most specific RDN first, e.g. ``CN=alice,OU=eng,O=example``, as Kafka's default principal."""
    subject = cert.get("subject", ())
    rdns: list[str] = []
    assert isinstance(subject, tuple)
    for rdn in subject:
        parts = [f"{_SHORT_NAMES.get(k, k)}={_escape_dn_value(v)}" for k, v in rdn]
        rdns.append("+".join(parts))
    return ",".join(reversed(rdns))


@dataclass(frozen=True, slots=True)
class _Rule:
    pattern: re.Pattern[str] | None  # None: DEFAULT
    replacement: str
    case: str  # "", "L" or "U"

    def apply(self, dn: str) -> str | None:
        if self.pattern is None:
            return dn
        if self.pattern.fullmatch(dn) is None:
            return None
        result = self.pattern.sub(self.replacement, dn)
        return result.lower() if self.case == "L" else result.upper() if self.case == "U" else result


# One rule: DEFAULT, or RULE:pattern/replacement/ with an optional L or U; a pattern may hold
# commas and escaped slashes. Rules are separated by commas (Kafka's SslPrincipalMapper syntax).
_RULE = re.compile(r"\s*(?:(DEFAULT)|RULE:((?:\\.|[^\\/])*)/((?:\\.|[^\\/])*)/([LU]?))\s*(?:,|$)")


class PrincipalMapper:
    """Kafka's ``ssl.principal.mapping.rules``: the first rule whose pattern matches the whole
    subject DN gives the user name (``$1`` in the replacement is the first group; ``L``/``U`` lower-
    or upper-case it); ``DEFAULT`` keeps the DN. No matching rule refuses the certificate."""

    def __init__(self, rules: list[_Rule]) -> None:
        self.rules = rules

    @classmethod
    def parse(cls, text: str) -> PrincipalMapper:
        rules: list[_Rule] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _RULE.match(text, pos)
            if m is None or m.end() == pos:
                raise InvalidConfigError(f"ssl.principal.mapping.rules: cannot parse {text[pos:]!r}")
            if m.group(1):
                rules.append(_Rule(None, "", ""))
            else:
                pattern = m.group(2).replace("\\/", "/")
                replacement = re.sub(r"\$(\d)", r"\\g<\1>", m.group(3).replace("\\/", "/"))
                try:
                    rules.append(_Rule(re.compile(pattern), replacement, m.group(4)))
                except re.error as exc:
                    raise InvalidConfigError(f"ssl.principal.mapping.rules: bad pattern {pattern!r}: {exc}") from None
            pos = m.end()
        return cls(rules or [_Rule(None, "", "")])

    def map(self, dn: str) -> str:
        """The user name for ``dn``; ValueError when no rule applies."""
        for rule in self.rules:
            name = rule.apply(dn)
            if name is not None:
                return name
        raise ValueError(f"no ssl.principal.mapping.rules rule applies to {dn!r}")

