"""Kafka's bounds on producer timestamps (KIP-937): ``message.timestamp.before.max.ms`` and
``message.timestamp.after.max.ms``.

With ``message.timestamp.type=CreateTime`` Kafka refuses a batch holding a record whose timestamp is
more than ``before`` ms behind or ``after`` ms ahead of the broker's clock, with INVALID_TIMESTAMP;
with ``LogAppendTime`` the broker stamps the batch itself and there is nothing to check. Records are
not decoded (the produce path is HOT): the batch header's first timestamp stands for the oldest
record (producers write deltas from it, which are never negative) and its max timestamp for the
newest. A timestamp of -1 (no timestamp) is exempt, as in Kafka.
"""

from __future__ import annotations

from segments.batch import BatchHeader
from segments.config import LONG_MAX, LogConfig
from segments.errors import InvalidTimestampError

NO_TIMESTAMP = -1


def check_timestamp_bounds(header: BatchHeader, config: LogConfig, now_ms: int) -> None:
    """Raise InvalidTimestampError when the batch's timestamps fall outside the topic's window.

    HOT PATH: two comparisons per batch, none when both bounds are unlimited (the default)."""
    before = config.message_timestamp_before_max_ms
    after = config.message_timestamp_after_max_ms
    if (before == LONG_MAX and after == LONG_MAX) or config.message_timestamp_type != "CreateTime":
        return
    low, high = now_ms - before, now_ms + after
    oldest, newest = header.first_timestamp, header.max_timestamp
    if oldest != NO_TIMESTAMP and oldest < low:
        raise InvalidTimestampError(
            f"timestamp {oldest} of the batch at base sequence {header.base_sequence} is {now_ms - oldest} ms "
            f"behind the broker's clock; message.timestamp.before.max.ms is {before} (accepted: [{low}, {high}])")
    if newest != NO_TIMESTAMP and newest > high:
        raise InvalidTimestampError(
            f"timestamp {newest} of the batch at base sequence {header.base_sequence} is {newest - now_ms} ms "
            f"ahead of the broker's clock; message.timestamp.after.max.ms is {after} (accepted: [{low}, {high}])")
