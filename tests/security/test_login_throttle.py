"""The failed-login limit (``logbroker/security/login_throttle.py``) against a plain model of it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from logbroker.security.login_throttle import LoginThrottle


def test_an_address_or_a_user_waits_until_its_oldest_counted_failure_leaves_the_window() -> None:
    t = LoginThrottle(max_failures=3, window_ms=1000)
    for now in (0, 100, 200):
        assert t.retry_after_ms("10.0.0.1", "alice", now) == 0
        t.record_failure("10.0.0.1", "alice", now)
    assert t.retry_after_ms("10.0.0.1", "bob", 300) == 700  # the address
    assert t.retry_after_ms("10.0.0.2", "alice", 300) == 700  # the user name
    assert t.retry_after_ms("10.0.0.2", "bob", 300) == 0
    assert t.retry_after_ms("10.0.0.1", "alice", 1000) == 0  # the failure at 0 has left the window


def test_no_limit_when_turned_off_and_memory_is_bounded() -> None:
    off = LoginThrottle(max_failures=0, window_ms=1000)
    for now in range(10):
        off.record_failure("a", "u", now)
    assert off.retry_after_ms("a", "u", 10) == 0
    small = LoginThrottle(max_failures=1, window_ms=10_000, max_keys=4)
    for n in range(100):
        small.record_failure(None, f"invented-{n}", n)
    assert len(small._failures) == 4
    assert small.retry_after_ms(None, "invented-99", 100) > 0


@given(st.lists(st.tuples(st.integers(0, 50), st.sampled_from(["a", "b"]), st.sampled_from(["u", "v"]),
                          st.booleans()), max_size=60))
def test_matches_a_plain_model(events: list[tuple[int, str, str, bool]]) -> None:
    limit, window = 3, 20
    t = LoginThrottle(max_failures=limit, window_ms=window)
    failures: list[tuple[int, str, str]] = []
    now = 0
    for step, address, user, fail in events:
        now += step
        recent = [f for f in failures if f[0] > now - window]
        blocked = (sum(1 for f in recent if f[1] == address) >= limit
                   or sum(1 for f in recent if f[2] == user) >= limit)
        assert (t.retry_after_ms(address, user, now) > 0) == blocked
        if fail and not blocked:
            t.record_failure(address, user, now)
            failures.append((now, address, user))
