"""NATS JetStream as a peer in ``bench/compare.py``: Debian's ``nats-server`` and the ``nats-py`` client.

One ``nats-server -js`` for the whole comparison, on 127.0.0.1 with its own temporary store, stopped
by its pid. Each run gets a fresh file-backed stream with work-queue retention (a message is removed
once acknowledged) on one subject, and one durable pull consumer with explicit acks that the four
consumer processes share (each fetches batches and acknowledges every message). The producer
publishes asynchronously (``publish_async``, up to the client's window of pending acks) and is done
when JetStream has acknowledged every message (stored; the file store's fsync is left to the OS,
every 2 minutes by default, as Kafka's).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from compare_drivers import STAMP, RunSpec, Shared, Tally, _deadline, _producer_report, _wait_go, message
from harness import free_port, stop_process, wait_listening

DURABLE = "workers"
FETCH_BATCH = 100
MAX_ACK_PENDING = 10_000


def server_path() -> str | None:
    return shutil.which("nats-server") or next((p for p in ("/usr/sbin/nats-server", "/usr/bin/nats-server")
                                                if os.access(p, os.X_OK)), None)


def unavailable_reason() -> str | None:
    if server_path() is None:
        return "NATS not installed (apt-get install nats-server)"
    try:
        import nats  # noqa: F401
    except ImportError:
        return "nats-py not installed (pip install -e '.[bench]')"
    return None


class NatsNode:
    """``with NatsNode() as n: n.port, n.pid``; a JetStream server with its own temporary store."""

    def __init__(self, parent: Path | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="compare-nats-", dir=parent))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def version(self) -> str:
        out = subprocess.run([server_path() or "nats-server", "--version"], capture_output=True, text=True,
                             timeout=10, check=False)
        return out.stdout.strip().removeprefix("nats-server: ")

    def start(self, timeout: float = 30.0) -> NatsNode:
        exe = server_path()
        assert exe is not None
        with open(self.root / "nats.log", "ab") as log:
            self.proc = subprocess.Popen([exe, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd",
                                          str(self.root / "store")], stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        try:
            wait_listening(self.proc, self.port, timeout, "nats-server")
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"{exc}; see {self.root}/nats.log") from None
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        stop_process(proc)

    def _admin(self, coro_fn: Any) -> None:
        async def go() -> None:
            import nats

            nc = await nats.connect(f"nats://127.0.0.1:{self.port}", connect_timeout=10)
            try:
                await coro_fn(nc.jetstream())
            finally:
                await nc.close()

        asyncio.run(go())

    def create_stream(self, name: str) -> None:
        from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType, StreamConfig

        async def create(js: Any) -> None:
            await js.add_stream(StreamConfig(name=name, subjects=[name], retention=RetentionPolicy.WORK_QUEUE,
                                             storage=StorageType.FILE))
            await js.add_consumer(name, ConsumerConfig(durable_name=DURABLE, ack_policy=AckPolicy.EXPLICIT,
                                                       max_ack_pending=MAX_ACK_PENDING))

        self._admin(create)

    def delete_stream(self, name: str) -> None:
        async def delete(js: Any) -> None:
            await js.delete_stream(name)

        try:
            self._admin(delete)
        except Exception as exc:
            print(f"  NATS: deleting stream {name} failed: {exc}")

    def __enter__(self) -> NatsNode:
        try:
            return self.start()
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


# ================================================================================== workers
def nats_producer(spec: RunSpec, shared: Shared) -> None:
    asyncio.run(_produce(spec, shared))


async def _produce(spec: RunSpec, shared: Shared) -> None:
    import nats

    nc = await nats.connect(f"nats://127.0.0.1:{spec.options['nats_port']}", connect_timeout=10)
    js = nc.jetstream()
    pad = os.urandom(spec.size - STAMP.size)
    await asyncio.get_running_loop().run_in_executor(None, _wait_go, shared)
    t_first = time.time()
    futures = []
    for seq in range(spec.messages):
        futures.append(await js.publish_async(spec.topic, message(seq, pad), wait_stall=spec.timeout_s))
    done = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), spec.timeout_s)
    t_done = time.time()
    errors = sum(1 for d in done if isinstance(d, BaseException))
    await nc.close()
    _producer_report(shared, t_first, t_done, spec.messages, errors)


def nats_consumer(spec: RunSpec, idx: int, shared: Shared) -> None:
    asyncio.run(_consume(spec, idx, shared))


async def _consume(spec: RunSpec, idx: int, shared: Shared) -> None:
    import nats
    from nats.errors import TimeoutError as NatsTimeout

    tally = Tally(idx, shared)
    nc = await nats.connect(f"nats://127.0.0.1:{spec.options['nats_port']}", connect_timeout=10)
    js = nc.jetstream()
    sub = await js.pull_subscribe(spec.topic, durable=DURABLE, stream=spec.topic)
    shared.assigned[idx] = 1
    deadline = _deadline(spec)
    stop = shared.stop
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            msgs = await sub.fetch(FETCH_BATCH, timeout=0.05)
        except (TimeoutError, NatsTimeout):
            continue
        for m in msgs:
            tally.see(m.data)
            await m.ack()
        tally.publish()
    await nc.close()
    tally.report()
