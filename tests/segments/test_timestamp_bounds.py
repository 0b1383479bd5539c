"""KIP-937 timestamp bounds on produced batches, from the batch header alone."""

from __future__ import annotations

import pytest

from segments.batch import read_header
from segments.config import LogConfig
from segments.errors import InvalidRecordError, InvalidTimestampError
from segments.records import RecordInput, build_batch
from segments.timestamp_bounds import check_timestamp_bounds

NOW = 1_700_000_000_000
HOUR = 3_600_000


def header(*timestamps: int):  # type: ignore[no-untyped-def]
    return read_header(build_batch([RecordInput(None, b"v", timestamp=t) for t in timestamps]))


BOUNDED = LogConfig.from_props({"message.timestamp.before.max.ms": str(HOUR),
                                "message.timestamp.after.max.ms": "60000"})


def test_unbounded_by_default() -> None:
    check_timestamp_bounds(header(0, NOW + 10 * 365 * 24 * HOUR), LogConfig(), NOW)


def test_within_the_window_passes_at_both_edges() -> None:
    check_timestamp_bounds(header(NOW - HOUR, NOW, NOW + 60_000), BOUNDED, NOW)


def test_too_old_is_invalid_timestamp() -> None:
    with pytest.raises(InvalidTimestampError, match=r"behind the broker's clock; message\.timestamp\.before\.max\.ms"):
        check_timestamp_bounds(header(NOW - HOUR - 1, NOW), BOUNDED, NOW)


def test_too_new_is_invalid_timestamp() -> None:
    with pytest.raises(InvalidTimestampError, match=r"ahead of the broker's clock; message\.timestamp\.after\.max\.ms"):
        check_timestamp_bounds(header(NOW, NOW + 60_001), BOUNDED, NOW)


def test_only_one_side_bounded() -> None:
    only_past = LogConfig.from_props({"message.timestamp.before.max.ms": "0"})
    check_timestamp_bounds(header(NOW, NOW + 10 * HOUR), only_past, NOW)
    with pytest.raises(InvalidTimestampError):
        check_timestamp_bounds(header(NOW - 1), only_past, NOW)


def test_log_append_time_topics_are_not_checked() -> None:
    config = BOUNDED.with_overrides({"message.timestamp.type": "LogAppendTime"})
    check_timestamp_bounds(header(0), config, NOW)


def test_no_timestamp_is_exempt() -> None:
    check_timestamp_bounds(header(-1), BOUNDED, NOW)


def test_is_an_invalid_record_error() -> None:
    # The HTTP front maps InvalidRecordError (400); the Kafka front maps this subclass to INVALID_TIMESTAMP.
    assert issubclass(InvalidTimestampError, InvalidRecordError)
