"""The PLAIN users file is re-read when it changes (``logbroker/security/plain_users_file.py``):
edits in place and replacements by rename take effect at the next authentication; a file that
disappears or grows past the bound refuses everyone until it is back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from logbroker.security import plain_users_file
from logbroker.security.plain_users_file import PlainUsersFile
from logbroker.security.sasl import SaslConfig


def _write(path: Path, text: str) -> None:
    path.write_text(text)
    st = path.stat()  # a new modification time even within the file system's time granularity
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def test_a_removed_user_is_refused_and_an_added_one_accepted_without_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "plain-users.jaas"
    _write(path, 'user_alice="alice-secret"\nuser_bob="bob-secret"\n')
    sasl = SaslConfig(("PLAIN",), lambda: None, plain_users_file=PlainUsersFile(path))  # type: ignore[arg-type,return-value]
    assert sasl.check_plain("bob", "bob-secret") and sasl.check_plain("alice", "alice-secret")
    _write(path, 'user_alice="alice-secret"\n')  # bob removed, in place
    assert not sasl.check_plain("bob", "bob-secret") and sasl.check_plain("alice", "alice-secret")
    replacement = tmp_path / "next.jaas"
    replacement.write_text('user_alice="rotated"\nuser_carol="carol-secret"\n')
    os.replace(replacement, path)  # replaced whole, by rename
    assert not sasl.check_plain("alice", "alice-secret") and sasl.check_plain("alice", "rotated")
    assert sasl.check_plain("carol", "carol-secret")


def test_an_unreadable_or_oversized_file_refuses_everyone_until_it_is_back(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "plain-users.jaas"
    _write(path, 'user_alice="alice-secret"\n')
    users = PlainUsersFile(path)
    assert users.password_of("alice") == "alice-secret"
    path.unlink()
    assert users.password_of("alice") is None and users.password_of("alice") is None
    assert sum("cannot be read" in r.getMessage() for r in caplog.records) == 1  # once per change, not per login
    _write(path, 'user_alice="alice-secret"\n')
    assert users.password_of("alice") == "alice-secret"
    monkeypatch.setattr(plain_users_file, "MAX_BYTES", 10)
    _write(path, 'user_alice="alice-secret"\n# padding\n')
    assert users.password_of("alice") is None
    with pytest.raises(OSError):
        PlainUsersFile(tmp_path / "missing.jaas")
