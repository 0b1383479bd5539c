"""Email, inventory and analytics: three services, each in its own consumer group over the HTTP API.

Each service joins its group (the broker assigns the partitions), long-polls for ``order.created``
events, handles them and commits after handling, so a stop loses nothing (delivery is
at-least-once). Handling is idempotent, keyed by order id: an event delivered again after a stop
between handling and commit is recognised and not applied twice, so each order's effect happens
exactly once per service.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from order_service import TOPIC


@dataclass
class Ledger:
    """What a service did: the orders it applied (once each) and the redeliveries it skipped."""

    applied: Counter[str] = field(default_factory=Counter)
    skipped_redeliveries: int = 0


class Service:
    def __init__(self, name: str, broker: str, session: aiohttp.ClientSession, work_ms: float = 0.0) -> None:
        self.name = name
        self.group = f"order-{name}"
        self.broker = broker.rstrip("/")
        self.session = session
        self.work_ms = work_ms
        self.ledger = Ledger()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Stop cleanly: finish the batch in hand, commit it, leave the group."""
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        async with self.session.request(method, self.broker + path, json=body) as resp:
            if resp.status >= 400:
                raise RuntimeError(f"{self.name}: {method} {path} -> {resp.status} {await resp.text()}")
            return await resp.json() if resp.status != 204 else None

    async def _run(self) -> None:
        joined = await self._call("POST", f"/groups/{self.group}/members",
                                  {"topics": [TOPIC], "auto_offset_reset": "earliest", "session_timeout_ms": 15000})
        member = f"/groups/{self.group}/members/{joined['member_id']}"
        try:
            while not self._stopping.is_set():
                batch = await self._call("POST", f"{member}/poll?max_records=50&wait_ms=200&value_format=json")
                records = batch["records"]
                for record in records:
                    await self.handle(record["value"])
                if records:
                    await self._call("POST", f"{member}/commit")
        finally:
            with contextlib.suppress(Exception):
                await self._call("DELETE", member)

    async def handle(self, event: dict[str, Any]) -> None:
        order_id = event["order_id"]
        if self.ledger.applied[order_id]:
            self.ledger.skipped_redeliveries += 1
            return
        if self.work_ms:
            await asyncio.sleep(self.work_ms / 1000)  # sending an email, reserving stock, ...
        self.ledger.applied[order_id] += 1
