"""logbroker/checkpoint_writer.py, and the broker's leader-epoch checkpoints written through it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from logbroker import checkpoint_writer
from logbroker.checkpoint_writer import CheckpointWriter
from segments.checkpoint import atomic_write
from tests.test_broker import make_broker


def test_writes_land_in_order_and_a_missing_directory_is_only_logged(tmp_path: Path) -> None:
    w = CheckpointWriter("test-writer")
    target = tmp_path / "cp"
    for i in range(50):
        w.write(target, f"{i}\n".encode())
    w.write(tmp_path / "gone" / "cp", b"x")  # its directory was deleted: nothing raised, nothing created
    w.flush()
    assert target.read_text() == "49\n"
    assert not (tmp_path / "gone").exists()
    w.close()


def test_leader_epoch_checkpoints_are_written_off_the_calling_thread(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writers: list[str] = []

    def recording(path: Path, data: bytes) -> None:
        writers.append(threading.current_thread().name)
        atomic_write(path, data)

    monkeypatch.setattr(checkpoint_writer, "atomic_write", recording)
    broker = make_broker(tmp_path / "data")
    broker.create_topic("t", 1, {})
    broker.become_leader("t", 0, 4)
    broker.epoch_writer.flush()
    assert writers and all(name.startswith("leader-epoch-checkpoint") for name in writers), writers
    assert (tmp_path / "data" / "t-0" / "leader-epoch-checkpoint").read_text() == "0\n1\n4 0\n"
    broker.close()
    broker.store.close()
