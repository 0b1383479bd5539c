"""Where password checks run: a small, bounded pool of worker threads, never the event loop.

Checking a password against a SCRAM credential derives PBKDF2-HMAC over the credential's
iterations (4096 to 16384 rounds of SHA-256 or SHA-512, milliseconds to tens of milliseconds
each); on the event loop that would stall every connection of the broker for as long. HTTP Basic,
the HTTP login routes and Kafka's SaslAuthenticate (PLAIN against the SCRAM store, and the SCRAM
exchange itself) run their check here and await it. Two threads bound the CPU a flood of login
attempts can take; further checks wait their turn in the pool's queue, while the loop goes on
serving everything else (``tests/interop/test_password_checks_off_loop.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

WORKERS = 2


class PasswordChecks:
    """The broker's pool of password-check threads (owned by ``Broker``, closed with it)."""

    def __init__(self, workers: int = WORKERS) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="password-check")

    async def run(self, check: Callable[..., T], *args: object) -> T:
        """Run ``check(*args)`` in a pool thread; its exception, if any, is raised here."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, check, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
