"""Recent history of the broker's counters, for ``GET /stats`` and the console's live charts.

Prometheus keeps history for a scraper; a person opening the console wants the last minutes without
running one. ``History.sample`` is called every ``interval_ms`` (by ``HttpServer``'s sampler task)
and turns the broker's monotonic counters into per-second rates between two samples. Everything is
bounded: ``window`` samples of the totals, the same for each topic's rates (only the latest pair
is kept per topic), and per group the total lag plus the lag of at most ``MAX_LAG_PARTITIONS``
partitions, for at most ``MAX_GROUPS`` groups.

A sample (one ``RateSample``) holds per-second rates over the interval that ends at ``time_ms``:

    time_ms       int    wall-clock ms at the end of the interval
    bytes_in      float  record batch bytes appended per second (all topics)
    records_in    float  records appended per second
    bytes_out     float  record batch bytes read per second by Kafka fetches and HTTP reads
    records_out   float  records returned per second by HTTP reads (Kafka fetches are counted in bytes)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# The console's charts show five minutes at two-second resolution.
DEFAULT_INTERVAL_MS = 2_000
DEFAULT_WINDOW = 150
MAX_GROUPS = 200
MAX_LAG_PARTITIONS = 256


@dataclass(frozen=True, slots=True)
class RateSample:
    time_ms: int
    bytes_in: float
    records_in: float
    bytes_out: float
    records_out: float


@dataclass(frozen=True, slots=True)
class Counters:
    """Monotonic totals read from the broker and the HTTP front at one instant."""

    bytes_in: int
    records_in: int
    bytes_out: int
    records_out: int
    topic_bytes_in: Mapping[str, int]
    topic_records_in: Mapping[str, int]
    topic_bytes_out: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class TopicRates:
    bytes_in: float = 0.0
    records_in: float = 0.0
    bytes_out: float = 0.0


@dataclass(frozen=True, slots=True)
class LagSample:
    time_ms: int
    total: int
    lags: tuple[int | None, ...]  # in the order of GroupLagHistory.partitions
    error: str | None = None  # why some lags are null (a partition's leader could not be asked)


@dataclass(slots=True)
class GroupLagHistory:
    partitions: list[tuple[str, int]] = field(default_factory=list)
    samples: deque[LagSample] = field(default_factory=deque)


def _rate(now: int, before: int, seconds: float) -> float:
    # A counter that went down (a topic deleted and re-created) restarts from zero.
    return max(now - before, 0) / seconds if seconds > 0 else 0.0


class History:
    """Bounded rate and lag history. Not thread-safe: sampled and read on the event loop."""

    def __init__(self, *, interval_ms: int = DEFAULT_INTERVAL_MS, window: int = DEFAULT_WINDOW) -> None:
        self.interval_ms = interval_ms
        self.window = window
        self.rates: deque[RateSample] = deque(maxlen=window)
        self.topic_rates: dict[str, TopicRates] = {}
        self.groups: dict[str, GroupLagHistory] = {}
        self._last: tuple[int, Counters] | None = None

    def sample(self, now_ms: int, counters: Counters) -> None:
        """Add one sample of rates since the previous call (the first call only sets the baseline)."""
        last = self._last
        self._last = (now_ms, counters)
        if last is None:
            return
        then_ms, before = last
        seconds = (now_ms - then_ms) / 1000
        if seconds <= 0:
            return
        self.rates.append(RateSample(now_ms, _rate(counters.bytes_in, before.bytes_in, seconds),
                                     _rate(counters.records_in, before.records_in, seconds),
                                     _rate(counters.bytes_out, before.bytes_out, seconds),
                                     _rate(counters.records_out, before.records_out, seconds)))
        topics = set(counters.topic_bytes_in) | set(counters.topic_bytes_out)
        self.topic_rates = {
            t: TopicRates(_rate(counters.topic_bytes_in.get(t, 0), before.topic_bytes_in.get(t, 0), seconds),
                          _rate(counters.topic_records_in.get(t, 0), before.topic_records_in.get(t, 0), seconds),
                          _rate(counters.topic_bytes_out.get(t, 0), before.topic_bytes_out.get(t, 0), seconds))
            for t in topics}

    def sample_lag(self, now_ms: int, group_lags: Iterable[tuple[str, Iterable[tuple[str, int, int | None]]]],
                   errors: Mapping[str, str] | None = None) -> None:
        """Record each group's lag: ``(group, [(topic, partition, lag or None)])``, with ``errors``
        saying per group why some lag is not known. Groups no longer listed are forgotten; a group's
        partition set is fixed by its first sample and grows (up to the bound) when new partitions
        appear."""
        seen: set[str] = set()
        for group_id, lags in group_lags:
            seen.add(group_id)
            hist = self.groups.get(group_id)
            if hist is None:
                if len(self.groups) >= MAX_GROUPS:
                    continue
                hist = self.groups[group_id] = GroupLagHistory(samples=deque(maxlen=self.window))
            by_tp: dict[tuple[str, int], int | None] = {}
            total = 0
            for topic, partition, lag in lags:
                by_tp[(topic, partition)] = lag
                total += lag or 0
            known = set(hist.partitions)
            for tp in sorted(by_tp):
                if tp not in known and len(hist.partitions) < MAX_LAG_PARTITIONS:
                    hist.partitions.append(tp)
            hist.samples.append(LagSample(now_ms, total, tuple(by_tp.get(tp) for tp in hist.partitions),
                                          (errors or {}).get(group_id)))
        for gone in set(self.groups) - seen:
            del self.groups[gone]

