"""Helpers for the storage-engine tests: small configs and record batches."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from segments.config import LogConfig
from segments.records import RecordInput, build_batch


def small_config(**overrides: Any) -> LogConfig:
    """A config with tiny segments and a dense index, so tests roll and index often."""
    base = replace(LogConfig(), segment_bytes=4096, index_interval_bytes=128, segment_index_bytes=1024)
    return replace(base, **overrides)


def make_batch(count: int = 1, *, timestamp: int = 1_000, value_size: int = 10, tag: int = 0) -> bytes:
    """One v2 batch of ``count`` records with increasing timestamps from ``timestamp``."""
    return build_batch(
        [
            RecordInput(b"k%d" % i, bytes([tag % 256]) * value_size, timestamp=timestamp + i)
            for i in range(count)
        ]
    )
