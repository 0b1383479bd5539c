"""Admin work against the data path: p99 produce latency idle, during a large topic creation, and
during the compaction of a large partition.

One ``logbroker serve`` on loopback; one HTTP producer sends one small record per request (acks=1)
on a kept-alive connection and records each request's latency. Before the broker starts, one
``--compact-mb`` partition per round (topics ``cmp<round>``, ``cleanup.policy=delete``, 1 KB values
over 10,000 keys) is written with the storage engine. Phases, each admin phase between two idle
ones so that its ratio is taken against the idle figures measured just around it on a shared machine:

    ``--rounds`` times: idle, create (``POST /topics``, ``--partitions``), idle,
    compaction (``PATCH`` a ``cmp<round>`` topic to ``cleanup.policy=compact``; ends once the
    cleaner swapped the cleaned segments in); then a last idle phase

Each admin phase is also pooled over the rounds against all idle phases. Bounded: each admin phase
times out after 300 s, idle phases last ``--seconds``; ``--rounds`` x ``--compact-mb`` MB of disk.

    .venv/bin/python bench/admin_stall.py [--partitions 5000] [--compact-mb 1024] [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

from harness import ROOT, Broker, loadavg, machine_line, percentile

sys.path.insert(0, str(ROOT))
from segments.config import LogConfig
from segments.records import RecordInput, build_batch
from segments.store import Store

KEYS = 10_000
VALUE_BYTES = 1000
SEGMENT_BYTES = 128 * 1024 * 1024


class Producer:
    """Sends one-record produce requests back to back and keeps (start time, latency) pairs."""

    def __init__(self, port: int, topic: str) -> None:
        self.port, self.topic = port, topic
        self.samples: list[tuple[float, float]] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        body = json.dumps({"records": [{"key": "k", "value": "x" * 100}]}).encode()
        headers = {"Content-Type": "application/json"}
        while not self._stop.is_set():
            start = time.monotonic()
            conn.request("POST", f"/topics/{self.topic}/records?acks=1", body, headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                self.errors += 1
            self.samples.append((start, time.monotonic() - start))
        conn.close()

    def start(self) -> Producer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def window(self, t0: float, t1: float) -> list[float]:
        return sorted(lat for start, lat in list(self.samples) if t0 <= start < t1)


def _request(port: int, method: str, path: str, doc: object, timeout: float) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, json.dumps(doc).encode(), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def _post(port: int, path: str, doc: object, timeout: float) -> int:
    return _request(port, "POST", path, doc, timeout)


def write_compactable(data_dir: Path, topics: list[str], megabytes: int) -> int:
    """Each topic: ``megabytes`` MB of 1 KB records over ``KEYS`` keys, in closed 128 MiB segments.
    Returns the bytes of one topic's partition."""
    batches = []
    for b in range(KEYS // 1000):
        batches.append(build_batch([RecordInput(b"key-%05d" % (b * 1000 + i), b"%d" % b * VALUE_BYTES,
                                                timestamp=int(time.time() * 1000)) for i in range(1000)]))
    size = 0
    with Store.open(data_dir, LogConfig(), now_ms=int(time.time() * 1000)) as store:
        for topic in topics:
            store.create_topic(topic, 1, {"cleanup.policy": "delete", "retention.ms": "-1",
                                          "segment.bytes": str(SEGMENT_BYTES)})
            log = store.log(topic, 0)
            written = 0
            while written < megabytes * 1_000_000:
                batch = batches[(written // len(batches[0])) % len(batches)]
                log.append(bytearray(batch), now_ms=int(time.time() * 1000))
                written += len(batch)
            log.roll()
            size = log.size_bytes
    return size


def compact_and_wait(port: int, topic: str, partition_dir: Path, bytes_before: int, timeout: float) -> bool:
    """Turn compaction on for ``topic`` and wait until the cleaner swapped its cleaned segments in."""
    status = _request(port, "PATCH", f"/topics/{topic}/configs",
                      {"set": {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.01"}}, 30)
    if status != 200:
        raise RuntimeError(f"altering {topic}'s configs answered {status}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        paths = list(partition_dir.iterdir())
        size = sum(p.stat().st_size for p in paths if p.name.endswith(".log"))
        if size < bytes_before // 2 and not any(p.name.endswith((".cleaned", ".swap", ".deleted")) for p in paths):
            return True
        time.sleep(0.05)
    return False


def _line(name: str, lats: list[float]) -> str:
    if not lats:
        return f"| {name} | 0 | - | - | - |"
    return (f"| {name} | {len(lats)} | {percentile(lats, 50) * 1000:.2f} | {percentile(lats, 99) * 1000:.2f} | "
            f"{lats[-1] * 1000:.1f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=5000)
    parser.add_argument("--compact-mb", type=int, default=1024)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3, help="idle/create/idle/compaction/idle sequences")
    args = parser.parse_args()
    load_before = loadavg()[0]
    rounds = range(1, args.rounds + 1)
    ok = True
    with tempfile.TemporaryDirectory(prefix="admin-stall-") as tmp:
        data_dir = Path(tmp) / "data"
        t0 = time.monotonic()
        bytes_before = write_compactable(data_dir, [f"cmp{r}" for r in rounds], args.compact_mb)
        print(f"wrote {args.rounds} x {bytes_before} bytes to compact in {time.monotonic() - t0:.1f} s", flush=True)
        # The cleaner looks for work every 500 ms; the retention sweep (which would open every partition
        # of the created topics) stays out of the run.
        overrides = {"log.cleaner.backoff.ms": "500", "log.retention.check.interval.ms": "3600000"}
        broker = Broker(data_dir, overrides=overrides).start()
        phases: list[tuple[str, str, float, float]] = []  # (kind, name, start, end)
        try:
            deadline = time.monotonic() + 30
            while True:  # the HTTP listener starts just after the Kafka one
                try:
                    if _post(broker.http_port, "/topics", {"name": "lat", "partitions": 1}, 10) == 201:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("could not create the latency topic")
                time.sleep(0.1)
            producer = Producer(broker.http_port, "lat").start()
            time.sleep(1.0)  # warm-up, not counted

            def idle(r: int) -> None:
                start = time.monotonic()
                time.sleep(args.seconds)
                phases.append(("idle", f"idle (round {r})", start, time.monotonic()))

            for r in rounds:
                idle(r)
                start = time.monotonic()
                status = _post(broker.http_port, "/topics", {"name": f"big{r}", "partitions": args.partitions}, 300)
                ok &= status == 201
                phases.append(("create", f"{args.partitions}-partition create (round {r})", start, time.monotonic()))
                idle(r)
                start = time.monotonic()
                ok &= compact_and_wait(broker.http_port, f"cmp{r}", data_dir / f"cmp{r}-0", bytes_before, 300)
                phases.append(("compaction", f"compaction of {args.compact_mb} MB (round {r})", start,
                               time.monotonic()))
            idle(args.rounds + 1)
            producer.stop()
        finally:
            broker.stop()
    print(machine_line())
    print(f"load average (1 min) before the run: {load_before:.2f}, after: {loadavg()[0]:.2f}; "
          f"all creates and compactions finished: {ok}; produce errors {producer.errors}")
    print("| phase | seconds | requests | p50 ms | p99 ms | max ms | p99 / p99 of the idle phases around it |")
    print("|---|---|---|---|---|---|---|")
    p99 = [percentile(producer.window(a, b), 99) for _, _, a, b in phases]
    for i, (kind, name, a, b) in enumerate(phases):
        ratio = "" if kind == "idle" else f"{p99[i] / ((p99[i - 1] + p99[i + 1]) / 2):.2f}x"
        print(_line(f"{name} | {b - a:.1f}", producer.window(a, b)) + f" {ratio} |")
    pooled = {kind: sorted(lat for k, _, a, b in phases if k == kind for lat in producer.window(a, b))
              for kind in ("idle", "create", "compaction")}
    idle_p99 = percentile(pooled["idle"], 99)
    for kind in ("create", "compaction"):
        print(f"all {kind} phases: p99 {percentile(pooled[kind], 99) * 1000:.2f} ms over {len(pooled[kind])} "
              f"requests = {percentile(pooled[kind], 99) / idle_p99:.2f}x the p99 of all idle phases "
              f"({idle_p99 * 1000:.2f} ms over {len(pooled['idle'])} requests)")
    return 0 if ok and not producer.errors else 1


if __name__ == "__main__":
    sys.exit(main())
