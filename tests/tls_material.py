"""Certificates made at test time: a CA, a server certificate for 127.0.0.1, client certificates,
an expired one and one from a CA nobody trusts. PEM files in a directory the test owns."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path

    @property
    def both(self) -> Path:
        """A file with the key and then the chain (Kafka's PEM key store file)."""
        return self.cert.with_name(self.cert.stem + "-keystore.pem")


def _name(cn: str, ou: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "logbroker-tests")]
    if ou:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


class CertificateAuthority:
    def __init__(self, directory: Path, name: str = "test-ca") -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        self.name = _name(name)
        self.cert = (x509.CertificateBuilder().subject_name(self.name).issuer_name(self.name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=30))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.cert_path = self.dir / f"{name}.pem"
        self.cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, file_name: str, cn: str, *, ou: str | None = None, server: bool = False,
              expired: bool = False, key_password: bytes | None = None) -> Pair:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        start, end = ((now - datetime.timedelta(days=10), now - datetime.timedelta(days=1)) if expired
                      else (now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)))
        builder = (x509.CertificateBuilder().subject_name(_name(cn, ou)).issuer_name(self.name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(end))
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
            # Both uses: a broker presents the same certificate to clients and, as a follower, to leaders.
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                                    ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        else:
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(key_password) if key_password else serialization.NoEncryption())
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        pair = Pair(self.dir / f"{file_name}.pem", self.dir / f"{file_name}.key")
        pair.cert.write_bytes(cert_pem)
        pair.key.write_bytes(key_pem)
        pair.both.write_bytes(key_pem + cert_pem)
        return pair


@dataclass
class TlsMaterial:
    ca: CertificateAuthority
    server: Pair
    alice: Pair
    bob: Pair
    expired: Pair
    untrusted: Pair
    encrypted_server: Pair  # the server key encrypted with KEY_PASSWORD


KEY_PASSWORD = "server-key-secret"


def make_material(directory: Path) -> TlsMaterial:
    ca = CertificateAuthority(directory / "ca")
    other = CertificateAuthority(directory / "other", "untrusted-ca")
    return TlsMaterial(
        ca=ca,
        server=ca.issue("server", "127.0.0.1", server=True),
        alice=ca.issue("alice", "alice", ou="eng"),
        bob=ca.issue("bob", "bob", ou="ops"),
        expired=ca.issue("expired", "carol", ou="eng", expired=True),
        untrusted=other.issue("mallory", "mallory", ou="eng"),
        encrypted_server=ca.issue("server-enc", "127.0.0.1", server=True, key_password=KEY_PASSWORD.encode()),
    )


def write_pkcs12_key_store(pair: Pair, ca: CertificateAuthority, path: Path, password: str) -> Path:
    """``pair``'s key (unencrypted PEM) and certificate with the CA certificate as a PKCS#12 file."""
    key = serialization.load_pem_private_key(pair.key.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        b"broker", key, cert, [ca.cert], serialization.BestAvailableEncryption(password.encode())))
    return path


def write_pkcs12_trust_store(ca: CertificateAuthority, path: Path, password: str | None) -> Path:
    """The CA certificate alone as a PKCS#12 file (no key)."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption())
    path.write_bytes(pkcs12.serialize_key_and_certificates(None, None, None, [ca.cert], encryption))
    return path
