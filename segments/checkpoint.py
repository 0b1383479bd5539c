"""Crash-safe small files: offset checkpoints and atomically replaced JSON/text files.

Offset checkpoint format (Kafka's ``OffsetCheckpointFile`` / ``CheckpointFile``, used for
``recovery-point-offset-checkpoint`` and ``log-start-offset-checkpoint``), UTF-8 text, one item a line:

    line        content                    meaning
    1           ``0``                      format version
    2           ``<count>``                number of entries that follow
    3..count+2  ``<topic> <partition> <offset>``  one per partition, single spaces

A file is replaced, never edited: the new content goes to ``<name>.tmp``, is fsynced, renamed over
the old file, and the directory is fsynced, so after a crash the file holds either the old or the
new content in full. A leftover ``.tmp`` is ignored (and overwritten by the next write).

``atomic_write`` takes the file mode: secrets (SCRAM credentials, token revocations) are written
with 0o600. The temporary file is created with that mode (the umask can only narrow it), and a
leftover temporary file with wider permissions is narrowed before a byte is written to it, so the
new content is never readable more widely than ``mode`` at any moment.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from segments.errors import StorageError

CHECKPOINT_VERSION = 0

TopicPartition = tuple[str, int]


class CheckpointError(StorageError):
    """A checkpoint file is malformed."""


def fsync_dir(path: Path) -> None:
    """Make renames and unlinks inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, sync: bool = True, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data``: write tmp, fsync, rename, fsync the directory. The file has
    at most the permissions ``mode`` (see the module docstring); short writes are continued."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        # O_CREAT's mode applies only to a new file: a leftover tmp keeps its own, so narrow it.
        current = stat.S_IMODE(os.fstat(fd).st_mode)
        if current & ~mode:
            os.fchmod(fd, current & mode)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if sync:
        fsync_dir(path.parent)


def write_offset_checkpoint(path: Path, offsets: Mapping[TopicPartition, int], *, sync: bool = True) -> None:
    """Write an offset checkpoint crash-safely (entries sorted for stable files)."""
    lines = [str(CHECKPOINT_VERSION), str(len(offsets))]
    lines.extend(f"{topic} {partition} {offset}" for (topic, partition), offset in sorted(offsets.items()))
    atomic_write(path, ("\n".join(lines) + "\n").encode(), sync=sync)


def read_offset_checkpoint(path: Path) -> dict[TopicPartition, int]:
    """Read an offset checkpoint; a missing file is empty. Raises CheckpointError when malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    lines = text.splitlines()
    if len(lines) < 2:
        raise CheckpointError(f"{path}: truncated checkpoint (no version/count lines)")
    if lines[0].strip() != str(CHECKPOINT_VERSION):
        raise CheckpointError(f"{path}: unsupported checkpoint version {lines[0]!r}")
    try:
        count = int(lines[1])
    except ValueError:
        raise CheckpointError(f"{path}: bad entry count {lines[1]!r}") from None
    entries = lines[2:]
    if len(entries) != count:
        raise CheckpointError(f"{path}: expected {count} entries, found {len(entries)}")
    offsets: dict[TopicPartition, int] = {}
    for line in entries:
        parts = line.split(" ")
        if len(parts) != 3:
            raise CheckpointError(f"{path}: malformed entry {line!r}")
        try:
            offsets[(parts[0], int(parts[1]))] = int(parts[2])
        except ValueError:
            raise CheckpointError(f"{path}: malformed entry {line!r}") from None
    return offsets
