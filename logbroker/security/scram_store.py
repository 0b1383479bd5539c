"""SCRAM credentials, salted and hashed, and where a broker keeps them.

A credential never holds the password, only what RFC 5802 lets a server verify a proof with:

    field       meaning
    salt        random bytes, per user and mechanism
    iterations  PBKDF2 rounds (Kafka accepts 4096 to 16384)
    stored_key  H(HMAC(SaltedPassword, "Client Key"))
    server_key  HMAC(SaltedPassword, "Server Key")

with SaltedPassword = PBKDF2-HMAC(H, password, salt, iterations), H being SHA-256 or SHA-512.
Kafka writes a credential as ``salt=<base64>,stored_key=<base64>,server_key=<base64>,iterations=<n>``
(its ScramCredentialUtils format, the value of a mechanism in a user's config znode in ZooKeeper
mode, ``/config/users/<name>``); the stores here use the same text.

``FileCredentialStore`` keeps them in ``<data dir>/scram-credentials.json`` (one object: user ->
mechanism -> credential text), replaced whole by ``segments.checkpoint.atomic_write`` (temporary file,
fsync, rename, mode 0600), so a crash leaves the old or the new set. The cluster keeps them in
ZooKeeper (``logbroker/cluster/credentials.py``).
Sources: RFC 5802 (SCRAM), RFC 7677 (SCRAM-SHA-256), KIP-84 (SCRAM in Kafka), KIP-554 (the APIs).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from segments.checkpoint import atomic_write

log = logging.getLogger(__name__)

# mechanism name -> (Kafka's ScramMechanism type code in the APIs, hash name)
MECHANISMS: dict[str, tuple[int, str]] = {"SCRAM-SHA-256": (1, "sha256"), "SCRAM-SHA-512": (2, "sha512")}
MECHANISM_BY_CODE = {code: name for name, (code, _) in MECHANISMS.items()}
MIN_ITERATIONS, MAX_ITERATIONS = 4096, 16384  # Kafka's bounds
DEFAULT_ITERATIONS = 4096
CREDENTIALS_FILE = "scram-credentials.json"


@dataclass(frozen=True, slots=True)
class ScramCredential:
    salt: bytes
    stored_key: bytes
    server_key: bytes
    iterations: int

    def to_text(self) -> str:
        b64 = base64.b64encode
        return (f"salt={b64(self.salt).decode()},stored_key={b64(self.stored_key).decode()},"
                f"server_key={b64(self.server_key).decode()},iterations={self.iterations}")

    @classmethod
    def from_text(cls, text: str) -> ScramCredential:
        """Parse Kafka's credential text; ValueError when a field is missing or malformed."""
        fields = dict(part.partition("=")[::2] for part in text.split(","))
        try:
            return cls(base64.b64decode(fields["salt"], validate=True),
                       base64.b64decode(fields["stored_key"], validate=True),
                       base64.b64decode(fields["server_key"], validate=True), int(fields["iterations"]))
        except (KeyError, ValueError) as exc:
            raise ValueError(f"malformed SCRAM credential ({type(exc).__name__})") from None


def from_salted_password(mechanism: str, salt: bytes, salted_password: bytes, iterations: int) -> ScramCredential:
    """The credential for a salted password (what AlterUserScramCredentials carries)."""
    digest = MECHANISMS[mechanism][1]
    client_key = hmac.new(salted_password, b"Client Key", digest).digest()
    server_key = hmac.new(salted_password, b"Server Key", digest).digest()
    return ScramCredential(salt, hashlib.new(digest, client_key).digest(), server_key, iterations)


def salted_password(mechanism: str, password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac(MECHANISMS[mechanism][1], password.encode("utf-8"), salt, iterations)


def from_password(mechanism: str, password: str, iterations: int = DEFAULT_ITERATIONS,
                  salt: bytes | None = None) -> ScramCredential:
    salt = salt if salt is not None else secrets.token_bytes(32)
    return from_salted_password(mechanism, salt, salted_password(mechanism, password, salt, iterations), iterations)


def verify_password(mechanism: str, credential: ScramCredential, password: str) -> bool:
    """Whether ``password`` derives ``credential`` (PLAIN and HTTP Basic against SCRAM credentials)."""
    derived = from_salted_password(mechanism, credential.salt,
                                   salted_password(mechanism, password, credential.salt, credential.iterations),
                                   credential.iterations)
    return hmac.compare_digest(derived.stored_key, credential.stored_key)


class CredentialStore(Protocol):
    """Where SCRAM credentials live: a file on one node, ZooKeeper in a cluster. ``upsert`` and
    ``delete`` block (a file write, ZooKeeper writes) and are safe from a worker thread, which is
    where the fronts call them; ``get`` and ``users`` only read memory."""

    def get(self, user: str, mechanism: str) -> ScramCredential | None: ...

    def users(self) -> dict[str, dict[str, ScramCredential]]: ...

    def upsert(self, user: str, mechanism: str, credential: ScramCredential) -> None: ...

    def delete(self, user: str, mechanism: str) -> bool: ...


def check_password(store: CredentialStore, user: str, password: str) -> bool:
    """Whether ``password`` is ``user``'s, by any of the user's SCRAM credentials."""
    for mechanism in ("SCRAM-SHA-512", "SCRAM-SHA-256"):
        credential = store.get(user, mechanism)
        if credential is not None:
            return verify_password(mechanism, credential, password)
    return False


class FileCredentialStore:
    """Credentials in one JSON file of the data directory (see the module docstring)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / CREDENTIALS_FILE
        # Replaced whole, never changed in place: a change may run in a worker thread while the loop reads.
        self._users: dict[str, dict[str, ScramCredential]] = self._load()
        self._lock = threading.Lock()  # one change (and file write) at a time

    def _load(self) -> dict[str, dict[str, ScramCredential]]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise OSError(f"cannot read SCRAM credentials {self.path}: {exc}") from None
        users: dict[str, dict[str, ScramCredential]] = {}
        for user, mechanisms in doc.get("users", {}).items():
            for mechanism, text in mechanisms.items():
                try:
                    users.setdefault(user, {})[mechanism] = ScramCredential.from_text(text)
                except ValueError as exc:
                    log.warning("skipping the %s credential of user %r in %s: %s", mechanism, user, self.path, exc)
        return users

    def _save(self, users: dict[str, dict[str, ScramCredential]]) -> None:
        doc = {"users": {u: {m: c.to_text() for m, c in mechs.items()} for u, mechs in sorted(users.items())}}
        atomic_write(self.path, json.dumps(doc, indent=1).encode(), mode=0o600)

    def get(self, user: str, mechanism: str) -> ScramCredential | None:
        return self._users.get(user, {}).get(mechanism)

    def users(self) -> dict[str, dict[str, ScramCredential]]:
        return {u: dict(m) for u, m in self._users.items()}

    def upsert(self, user: str, mechanism: str, credential: ScramCredential) -> None:
        with self._lock:
            users = with_credential(self._users, user, mechanism, credential)
            self._save(users)
            self._users = users

    def delete(self, user: str, mechanism: str) -> bool:
        with self._lock:
            if self.get(user, mechanism) is None:
                return False
            users = with_credential(self._users, user, mechanism, None)
            self._save(users)
            self._users = users
            return True


def with_credential(users: dict[str, dict[str, ScramCredential]], user: str, mechanism: str,
                    credential: ScramCredential | None) -> dict[str, dict[str, ScramCredential]]:
    """A copy of ``users`` with one credential set (None: removed; a user left without any goes)."""
    out = {u: dict(m) for u, m in users.items()}
    if credential is not None:
        out.setdefault(user, {})[mechanism] = credential
        return out
    mechanisms = out.get(user, {})
    mechanisms.pop(mechanism, None)
    if not mechanisms:
        out.pop(user, None)
    return out
