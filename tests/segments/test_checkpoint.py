"""segments/checkpoint.py: atomically replaced files, their mode and short writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from segments.checkpoint import atomic_write, read_offset_checkpoint, write_offset_checkpoint


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_secret_file_and_its_temporary_file_are_created_with_the_mode_asked(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "secret.json"
    seen: list[int] = []
    real_write = os.write

    def watching_write(fd: int, data: bytes | memoryview) -> int:
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))  # the temporary file's mode while bytes go in
        return real_write(fd, data)

    monkeypatch.setattr("segments.checkpoint.os.write", watching_write)
    old_umask = os.umask(0o022)
    try:
        atomic_write(target, b'{"k": 1}', mode=0o600)
    finally:
        os.umask(old_umask)
    assert seen and set(seen) == {0o600}
    assert _mode(target) == 0o600 and target.read_bytes() == b'{"k": 1}'
    assert not (tmp_path / "secret.json.tmp").exists()


def test_a_leftover_wider_temporary_file_is_narrowed_before_anything_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    leftover = tmp_path / "secret.json.tmp"
    leftover.write_bytes(b"stale")
    leftover.chmod(0o666)
    seen: list[int] = []
    real_write = os.write

    def watching_write(fd: int, data: bytes | memoryview) -> int:
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_write(fd, data)

    monkeypatch.setattr("segments.checkpoint.os.write", watching_write)
    atomic_write(tmp_path / "secret.json", b"new", mode=0o600)
    assert seen and set(seen) == {0o600}
    assert _mode(tmp_path / "secret.json") == 0o600 and (tmp_path / "secret.json").read_bytes() == b"new"


def test_the_mode_is_never_widened_past_the_umask(tmp_path: Path) -> None:
    old_umask = os.umask(0o077)
    try:
        atomic_write(tmp_path / "plain", b"x")  # default 0o644, narrowed by the umask
    finally:
        os.umask(old_umask)
    assert _mode(tmp_path / "plain") == 0o600


def test_short_writes_are_continued_until_every_byte_is_written(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write
    calls = 0

    def short_write(fd: int, data: bytes | memoryview) -> int:
        nonlocal calls
        calls += 1
        return real_write(fd, bytes(data[:3]))

    monkeypatch.setattr("segments.checkpoint.os.write", short_write)
    offsets = {("topic-a", p): 1000 + p for p in range(20)}
    write_offset_checkpoint(tmp_path / "cp", offsets)
    size = (tmp_path / "cp").stat().st_size
    assert calls == -(-size // 3)
    assert read_offset_checkpoint(tmp_path / "cp") == offsets
