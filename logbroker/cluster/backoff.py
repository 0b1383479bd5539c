"""Exponential reconnect backoff with jitter, as Kafka's clients compute it (``ExponentialBackoff``
behind ``reconnect.backoff.ms`` / ``reconnect.backoff.max.ms``).

After the n-th failure in a row (n = 0, 1, ...) the wait is ``initial * 2**n``, at most ``maximum``,
times a random factor in [0.8, 1.2] (20% jitter, so brokers refused together do not retry in step).
A success starts the count again.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

JITTER = 0.2


@dataclass(slots=True)
class ReconnectBackoff:
    initial_ms: int
    maximum_ms: int
    failures: int = 0  # in a row
    _random: random.Random = field(default_factory=random.Random)

    def next_wait_s(self) -> float:
        """The wait after one more failure (in seconds), counting it."""
        ceiling = max(self.maximum_ms, self.initial_ms)
        term = min(self.initial_ms << min(self.failures, 62), ceiling)  # initial * 2**failures, bounded
        self.failures += 1
        return term * self._random.uniform(1 - JITTER, 1 + JITTER) / 1000

    def succeeded(self) -> None:
        self.failures = 0
