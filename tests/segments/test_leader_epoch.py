"""segments/leader_epoch.py: the leader-epoch cache and its checkpoint file."""

from __future__ import annotations

from pathlib import Path

import pytest

from segments.checkpoint import CheckpointError
from segments.leader_epoch import FILE_NAME, LeaderEpochCache


def test_assign_persists_in_kafkas_text_format(tmp_path: Path) -> None:
    cache = LeaderEpochCache.load(tmp_path)
    cache.assign(0, 0)
    cache.assign(2, 10)
    cache.assign(1, 12)  # older than the latest: ignored
    assert (tmp_path / FILE_NAME).read_text() == "0\n2\n0 0\n2 10\n"
    assert LeaderEpochCache.load(tmp_path).entries == ((0, 0), (2, 10))


def test_end_offset_for_an_epoch(tmp_path: Path) -> None:
    cache = LeaderEpochCache.load(tmp_path)
    assert cache.end_offset_for(0, 5) == (-1, -1)
    cache.assign(1, 0)
    cache.assign(3, 10)
    cache.assign(4, 25)
    assert cache.end_offset_for(4, 40) == (4, 40)  # the latest epoch ends at the log end
    assert cache.end_offset_for(3, 40) == (3, 25)
    assert cache.end_offset_for(2, 40) == (1, 10)  # unknown epoch: the largest below it (KIP-279)
    # Older than every entry: the start of the first one (Kafka's LeaderEpochFileCache.endOffsetFor), so
    # a follower holding only an epoch this log never had truncates to where this log's history begins.
    assert cache.end_offset_for(0, 40) == (0, 0)
    # Newer than the latest, or undefined: Kafka answers UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET.
    assert cache.end_offset_for(9, 40) == (-1, -1)
    assert cache.end_offset_for(5, 40) == (-1, -1)
    assert cache.end_offset_for(-1, 40) == (-1, -1)


def test_truncation_drops_epochs_starting_at_or_after_the_new_end(tmp_path: Path) -> None:
    cache = LeaderEpochCache.load(tmp_path)
    cache.assign(1, 0)
    cache.assign(2, 10)
    cache.truncate_from_end(10)
    assert cache.entries == ((1, 0),)
    assert LeaderEpochCache.load(tmp_path).entries == ((1, 0),)


def test_a_newer_epoch_at_the_same_start_replaces_the_empty_older_one(tmp_path: Path) -> None:
    cache = LeaderEpochCache.load(tmp_path)
    cache.assign(1, 0)
    cache.assign(2, 5)
    cache.assign(3, 5)
    assert cache.entries == ((1, 0), (3, 5))


def test_a_malformed_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_text("0\n2\n1 0\n")
    with pytest.raises(CheckpointError):
        LeaderEpochCache.load(tmp_path)
