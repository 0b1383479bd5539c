"""Latency histograms shared by both fronts (neither front imports the other; both import this).

Buckets are in seconds: the Prometheus client libraries' defaults plus 1 ms for fast requests. The
HTTP front renders them on ``GET /metrics``; the Kafka dispatcher records one observation per
request under Kafka's API name (``Produce``, ``Fetch``, ...).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

LATENCY_BUCKETS: tuple[float, ...] = (0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5,
                                      5.0, 7.5, 10.0)


@dataclass(slots=True)
class Histogram:
    """Counts per bucket (the last one is +Inf) and the sum of observed seconds."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.total += seconds

    @property
    def count(self) -> int:
        return sum(self.counts)

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile in seconds, interpolated linearly inside its bucket as Prometheus'
        ``histogram_quantile`` does (the +Inf bucket answers the largest finite bound); None when empty."""
        total = sum(self.counts)
        if total == 0:
            return None
        rank = q * total
        running = 0
        for i, n in enumerate(self.counts):
            if n and running + n >= rank:
                if i == len(LATENCY_BUCKETS):
                    return LATENCY_BUCKETS[-1]
                lower = LATENCY_BUCKETS[i - 1] if i > 0 else 0.0
                return lower + (LATENCY_BUCKETS[i] - lower) * (rank - running) / n
            running += n
        return LATENCY_BUCKETS[-1]


@dataclass(slots=True)
class RequestLatencies:
    """One histogram per request kind, created on first use."""

    by_name: dict[str, Histogram] = field(default_factory=dict)

    def observe(self, name: str, seconds: float) -> None:
        hist = self.by_name.get(name)
        if hist is None:
            hist = self.by_name[name] = Histogram()
        hist.observe(seconds)
