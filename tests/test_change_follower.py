"""logbroker/change_follower.py: signals from another thread run the catch-up one at a time, once
more for every burst during a run, again after a failure until it succeeds, and never once closed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any

from logbroker.change_follower import ChangeFollower
from logbroker.errors import ClusterStateUnavailableError


class Owner:
    """Keeps the tasks a follower spawns, as the application does."""

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[None]] = []

    def spawn(self, work: Coroutine[Any, Any, None], what: str) -> None:
        self.tasks.append(asyncio.get_running_loop().create_task(work, name=what))

    async def settle(self) -> None:
        while any(not t.done() for t in self.tasks):
            await asyncio.gather(*self.tasks)


def test_signals_during_a_catch_up_run_it_once_more() -> None:
    asyncio.run(_signals_during_a_catch_up_run_it_once_more())


async def _signals_during_a_catch_up_run_it_once_more() -> None:
    owner = Owner()
    started, release = asyncio.Event(), asyncio.Event()
    runs: list[int] = []

    async def catch_up() -> None:
        runs.append(len(runs))
        started.set()
        await release.wait()

    follower = ChangeFollower(asyncio.get_running_loop(), catch_up, "test", owner.spawn)
    follower.signal()
    await started.wait()
    signals = [threading.Thread(target=follower.signal) for _ in range(5)]  # as kazoo's thread would
    for t in signals:
        t.start()
    for t in signals:
        t.join()
    await asyncio.sleep(0.05)
    release.set()
    await owner.settle()
    assert runs == [0, 1]
    assert len(owner.tasks) == 1


def test_a_failed_catch_up_is_tried_again_until_it_succeeds() -> None:
    asyncio.run(_a_failed_catch_up_is_tried_again_until_it_succeeds())


async def _a_failed_catch_up_is_tried_again_until_it_succeeds() -> None:
    owner = Owner()
    attempts: list[int] = []

    async def catch_up() -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise ClusterStateUnavailableError("ZooKeeper is not connected")

    follower = ChangeFollower(asyncio.get_running_loop(), catch_up, "test", owner.spawn, retry_s=0.01)
    follower.signal()
    await asyncio.sleep(0.01)
    await owner.settle()
    assert len(attempts) == 3


def test_a_closed_follower_runs_nothing() -> None:
    asyncio.run(_a_closed_follower_runs_nothing())


async def _a_closed_follower_runs_nothing() -> None:
    owner = Owner()
    attempts: list[int] = []

    async def catch_up() -> None:
        attempts.append(1)
        raise ClusterStateUnavailableError("ZooKeeper is not connected")

    follower = ChangeFollower(asyncio.get_running_loop(), catch_up, "test", owner.spawn, retry_s=0.05)
    follower.signal()
    await asyncio.sleep(0.01)
    follower.close()  # stops the retries of the run under way too
    follower.signal()
    await asyncio.sleep(0.01)
    await owner.settle()
    assert attempts == [1]
