"""How many failed password attempts a client address and a user name may make before they wait.

Each key (``addr:<client address>`` and ``user:<name given>``) keeps the times of its failures in
the last ``window_ms``; once a key holds ``max_failures`` of them, an attempt naming it is refused
until the oldest leaves the window (``retry_after_ms``). The check comes before the password is
looked at, so a refused attempt says nothing about the password, and a user name counts the same
whether or not such a user exists, so the limit does not tell which users exist.

The number of keys is bounded (``max_keys``): past it, the key whose last failure is oldest is
forgotten, so a stream of invented user names cannot grow memory without limit. Time is passed in
(``now_ms``), never read here. A successful login clears nothing: clearing would let a client with
one valid account reset its address's count between guesses at other accounts.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class LoginThrottle:
    max_failures: int  # 0: no limit
    window_ms: int
    max_keys: int = 100_000
    _failures: OrderedDict[str, deque[int]] = field(default_factory=OrderedDict)

    @property
    def enabled(self) -> bool:
        return self.max_failures > 0 and self.window_ms > 0

    def _keys(self, address: str | None, user: str | None) -> list[str]:
        keys = [f"addr:{address}"] if address else []
        if user:
            keys.append(f"user:{user}")
        return keys

    def _recent(self, key: str, now_ms: int) -> deque[int] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now_ms - self.window_ms:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def retry_after_ms(self, address: str | None, user: str | None, now_ms: int) -> int:
        """0 when an attempt may go ahead; else how long (ms) until it may."""
        if not self.enabled:
            return 0
        wait = 0
        for key in self._keys(address, user):
            times = self._recent(key, now_ms)
            if times is not None and len(times) >= self.max_failures:
                wait = max(wait, times[-self.max_failures] + self.window_ms - now_ms)
        return wait

    def record_failure(self, address: str | None, user: str | None, now_ms: int) -> None:
        if not self.enabled:
            return
        for key in self._keys(address, user):
            times = self._recent(key, now_ms)
            if times is None:
                times = self._failures[key] = deque(maxlen=self.max_failures)
            times.append(now_ms)
            self._failures.move_to_end(key)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)
