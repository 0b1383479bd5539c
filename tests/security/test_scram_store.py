"""SCRAM credentials: derived, verified, stored in Kafka's text form, durable in the data directory."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

from logbroker.security.scram_store import (
    FileCredentialStore,
    ScramCredential,
    check_password,
    from_password,
    from_salted_password,
    verify_password,
)


def test_a_credential_is_rfc_5802_keys_never_the_password() -> None:
    salt = b"0123456789abcdef"
    cred = from_password("SCRAM-SHA-256", "pencil", 4096, salt)
    salted = hashlib.pbkdf2_hmac("sha256", b"pencil", salt, 4096)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    assert cred.stored_key == hashlib.sha256(client_key).digest()
    assert cred.server_key == hmac.new(salted, b"Server Key", "sha256").digest()
    assert cred == from_salted_password("SCRAM-SHA-256", salt, salted, 4096)
    assert b"pencil" not in cred.to_text().encode()


def test_kafka_text_form_round_trips() -> None:
    cred = from_password("SCRAM-SHA-512", "pw", 8192)
    text = cred.to_text()
    assert text.startswith("salt=") and text.endswith(",iterations=8192")
    assert ScramCredential.from_text(text) == cred
    assert base64.b64decode(text.split(",")[0][5:]) == cred.salt


def test_passwords_verify_against_the_stored_keys() -> None:
    cred = from_password("SCRAM-SHA-512", "right")
    assert verify_password("SCRAM-SHA-512", cred, "right")
    assert not verify_password("SCRAM-SHA-512", cred, "wrong")


def test_the_file_store_survives_a_restart_and_keeps_no_password(tmp_path: Path) -> None:
    store = FileCredentialStore(tmp_path)
    store.upsert("alice", "SCRAM-SHA-512", from_password("SCRAM-SHA-512", "alice-secret"))
    store.upsert("alice", "SCRAM-SHA-256", from_password("SCRAM-SHA-256", "alice-secret"))
    store.upsert("bob", "SCRAM-SHA-256", from_password("SCRAM-SHA-256", "bob-secret"))
    assert store.delete("bob", "SCRAM-SHA-256") and not store.delete("bob", "SCRAM-SHA-256")
    reopened = FileCredentialStore(tmp_path)
    assert sorted(reopened.users()) == ["alice"] and sorted(reopened.users()["alice"]) == ["SCRAM-SHA-256",
                                                                                         "SCRAM-SHA-512"]
    assert check_password(reopened, "alice", "alice-secret")
    assert not check_password(reopened, "alice", "nope") and not check_password(reopened, "bob", "bob-secret")
    text = (tmp_path / "scram-credentials.json").read_text()
    assert "alice-secret" not in text and (tmp_path / "scram-credentials.json").stat().st_mode & 0o077 == 0
