"""kill -9 during compaction: after a restart every key reads its latest value, and compaction finishes.

Each round writes a compacted partition (64 closed 1 MiB segments, 1,000 keys) with the storage
engine, starts a broker whose cleaner looks for work every 100 ms, and kills it with SIGKILL at one
moment of the cleaning: while the child process writes ``.cleaned`` files, while a swap is in
progress (a ``.swap`` or ``.deleted`` file is on disk), or after a random delay. The cleaner child
must die with the broker. After a restart on the same directory a real client reads the partition
from the start: offsets increase, and the newest record of every key is the one written last. The
restarted broker's cleaner then finishes the job. Rounds: 3, times ``LOGBROKER_FAULT_SCALE``.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import time
from pathlib import Path

import psutil
import pytest
from kafka import KafkaConsumer, TopicPartition

from segments.config import LogConfig
from segments.records import RecordInput, build_batch
from segments.store import Store
from tests.conftest import BrokerProcess
from tests.fault.figures import record, scale

KEYS = 1000
BATCHES = 640  # of 100 records of about 1 KB: 64 segments of 1 MiB
SEGMENT_BYTES = 1_048_576
MOMENTS = ("cleaned", "swap", "random")


def _write_history(data_dir: Path) -> dict[bytes, bytes]:
    """The partition's history; returns each key's latest value."""
    latest: dict[bytes, bytes] = {}
    with Store.open(data_dir, LogConfig(), now_ms=int(time.time() * 1000)) as store:
        store.create_topic("cmp", 1, {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.01",
                                      "segment.bytes": str(SEGMENT_BYTES)})
        log = store.log("cmp", 0)
        now = int(time.time() * 1000)
        for b in range(BATCHES):
            records = [RecordInput(b"key-%04d" % ((b * 37 + i) % KEYS), b"batch-%04d-" % b + b"v" * 1000,
                                   timestamp=now) for i in range(100)]
            for r in records:
                latest[r.key or b""] = r.value or b""
            log.append(build_batch(records), now_ms=now)
        log.roll()
    return latest


def _moment_reached(partition_dir: Path, moment: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        names = [p.name for p in partition_dir.iterdir()]
        if moment == "cleaned" and any(n.endswith(".cleaned") for n in names):
            return True
        if moment == "swap" and any(n.endswith((".swap", ".deleted")) for n in names):
            return True
        time.sleep(0.0005)
    return False


def _read_all(bootstrap: str) -> list[tuple[int, bytes, bytes]]:
    tp = TopicPartition("cmp", 0)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    end = consumer.end_offsets([tp])[tp]
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    got: list[tuple[int, bytes, bytes]] = []
    deadline = time.monotonic() + 60
    while (not got or got[-1][0] < end - 1) and time.monotonic() < deadline:
        got += [(m.offset, m.key, m.value) for batch in consumer.poll(timeout_ms=500).values() for m in batch]
    consumer.close()
    return got


def _log_bytes(partition_dir: Path) -> int:
    """Bytes of the segment files (a file renamed by a swap between listing and stat counts as 0)."""
    total = 0
    for entry in os.scandir(partition_dir):
        if entry.name.endswith(".log"):
            with contextlib.suppress(FileNotFoundError):
                total += entry.stat().st_size
    return total


@pytest.mark.slow
def test_kill9_during_compaction_loses_no_latest_value(tmp_path: Path) -> None:
    rng = random.Random(20261129)
    rounds = len(MOMENTS) * scale()
    hit: dict[str, int] = dict.fromkeys(MOMENTS, 0)
    completed_swaps = 0
    for r in range(rounds):
        moment = MOMENTS[r % len(MOMENTS)]
        data_dir = tmp_path / f"data{r}"
        latest = _write_history(data_dir)
        partition_dir = data_dir / "cmp-0"
        before = _log_bytes(partition_dir)
        broker = BrokerProcess(data_dir=data_dir, log_path=tmp_path / f"broker{r}.log",
                               overrides={"log.cleaner.backoff.ms": "100"}).start()
        try:
            assert broker.proc is not None
            parent = psutil.Process(broker.proc.pid)
            if moment == "random":
                time.sleep(rng.uniform(0.2, 3.0))
                reached = True
            else:
                reached = _moment_reached(partition_dir, moment, time.monotonic() + 60)
            children = parent.children(recursive=True)
            broker.stop(signal.SIGKILL)
            hit[moment] += reached
            _gone, alive = psutil.wait_procs(children, timeout=10)
            assert not alive, f"cleaner processes outlived the broker: {alive}"
            broker.start()
            got = _read_all(broker.bootstrap)
            offsets = [offset for offset, _, _ in got]
            assert offsets == sorted(set(offsets)), "offsets repeat or go backwards after the restart"
            assert {key: value for _, key, value in got} == latest
            completed_swaps += broker.log_text().count("completed interrupted segment swap")
            deadline = time.monotonic() + 120
            while _log_bytes(partition_dir) > before // 4 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert _log_bytes(partition_dir) <= before // 4, "the restarted broker did not finish compacting"
            assert {key: value for _, key, value in _read_all(broker.bootstrap)} == latest
        finally:
            if broker.proc is not None:
                broker.stop()
    record("kill9_during_compaction", rounds=rounds, kills_while_writing_cleaned=hit["cleaned"],
           kills_during_a_swap=hit["swap"], kills_at_random=hit["random"],
           interrupted_swaps_completed_by_recovery=completed_swaps)
    assert hit["cleaned"] == rounds // len(MOMENTS), "no kill landed while the cleaner wrote"
