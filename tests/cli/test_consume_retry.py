"""The console consumer's retry loop without a broker: a fake client fails the way kafka-python does
while the broker restarts, and a fake clock makes the backoff exact."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from kafka import errors as kafka_errors

from logbroker.tools.clients import ClientSettings
from logbroker.tools.consume import RETRY_BACKOFF_MAX_MS, ConsoleConsumer, ConsumeOptions
from logbroker.tools.errors import ToolError


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class FakeConsumer:
    """Answers each poll/commit from a script: an exception to raise, or records to return."""

    def __init__(self, polls: list[Any], commits: list[Any] | None = None) -> None:
        self.polls = polls
        self.commits = commits or []
        self.committed = 0

    def assignment(self) -> set[int]:
        return {0}

    def poll(self, timeout_ms: int, max_records: int | None) -> dict[str, list[Any]]:
        step = self.polls.pop(0) if self.polls else {}
        if isinstance(step, BaseException):
            raise step
        return step

    def commit(self) -> None:
        step = self.commits.pop(0) if self.commits else None
        if isinstance(step, BaseException):
            raise step
        self.committed += 1

    def close(self, autocommit: bool = False) -> None:
        pass


def record(value: bytes) -> SimpleNamespace:
    return SimpleNamespace(topic="t", partition=0, offset=0, timestamp=0, timestamp_type=0, key=None, value=value,
                           headers=[])


def session(fake: FakeConsumer, clock: FakeClock, **options: Any) -> tuple[ConsoleConsumer, list[str]]:
    notices: list[str] = []
    consumer = ConsoleConsumer(ClientSettings("127.0.0.1:1"), ConsumeOptions(topics=("t",), **options),
                               clock=clock, sleep=clock.sleep, notice=notices.append)
    consumer._consumer = fake
    return consumer, notices


def refused() -> kafka_errors.KafkaConnectionError:
    return kafka_errors.KafkaConnectionError("111 ECONNREFUSED")


def test_poll_failures_back_off_and_reading_resumes() -> None:
    clock = FakeClock()
    fake = FakeConsumer([{"tp": [record(b"a")]}, *[refused() for _ in range(8)], {"tp": [record(b"b")]}])
    consumer, notices = session(fake, clock, max_messages=2)
    assert list(consumer.lines()) == [b"a\n", b"b\n"]
    assert consumer.retries == 8
    assert notices == ["broker unavailable (KafkaConnectionError: 111 ECONNREFUSED); retrying"]
    # 50, 100, 200, 400, 800 ms, then capped at 1 s.
    waits = [round(s * 1000) for s in clock.slept]
    assert waits[:4] == [50, 100, 200, 200] and max(waits) <= RETRY_BACKOFF_MAX_MS  # sleeps come in <= 200 ms slices
    assert round(sum(clock.slept) * 1000) == 50 + 100 + 200 + 400 + 800 + 1000 * 3


def test_idle_timeout_still_ends_an_outage() -> None:
    clock = FakeClock()
    fake = FakeConsumer([refused() for _ in range(1000)])
    consumer, _ = session(fake, clock, timeout_ms=3000)
    assert list(consumer.lines()) == []
    assert 2.9 <= clock.now <= 3.1


def test_a_failed_commit_stays_pending_until_the_broker_answers() -> None:
    clock = FakeClock()
    fake = FakeConsumer([{"tp": [record(b"a")]}, {"tp": [record(b"b")]}],
                        commits=[kafka_errors.KafkaTimeoutError("coordinator"), refused()])
    consumer, notices = session(fake, clock, group="g", max_messages=2)
    assert list(consumer.lines()) == [b"a\n", b"b\n"]
    assert fake.committed == 2 and len(notices) == 1


def test_errors_that_will_not_go_away_end_the_run() -> None:
    clock = FakeClock()
    fake = FakeConsumer([kafka_errors.TopicAuthorizationFailedError()])
    consumer, _ = session(fake, clock)
    with pytest.raises(ToolError, match="consuming failed: TopicAuthorizationFailedError"):
        list(consumer.lines())
