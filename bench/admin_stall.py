"""Admin work against the data path: p99 produce latency idle, then during a large topic creation.

One ``logbroker serve`` on loopback; one HTTP producer sends one small record per request (acks=1)
on a kept-alive connection and records each request's latency. Phases: idle for ``--seconds``, then
while ``POST /topics`` creates a ``--partitions``-partition topic (the phase lasts as long as the
create). Bounded: the create has a 300 s timeout and the idle phase is fixed.

    .venv/bin/python bench/admin_stall.py [--partitions 5000] [--seconds 5]

Compaction of a large segment is not measured here yet.
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

from common import Broker, loadavg, machine_line, percentile


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


def _post(port: int, path: str, doc: object, timeout: float) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, json.dumps(doc).encode(), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def _line(name: str, lats: list[float]) -> str:
    if not lats:
        return f"| {name} | 0 | - | - | - |"
    return (f"| {name} | {len(lats)} | {percentile(lats, 50) * 1000:.2f} | {percentile(lats, 99) * 1000:.2f} | "
            f"{lats[-1] * 1000:.1f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="admin-stall-") as tmp:
        broker = Broker(Path(tmp) / "data").start()
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
            idle0 = time.monotonic()
            time.sleep(args.seconds)
            idle1 = create0 = time.monotonic()
            status = _post(broker.http_port, "/topics", {"name": "big", "partitions": args.partitions}, 300)
            create1 = time.monotonic()
            producer.stop()
        finally:
            broker.stop()
    idle, during = producer.window(idle0, idle1), producer.window(create0, create1)
    print(machine_line())
    print(f"load average before the run: {loadavg()[0]:.2f}; create status {status}, "
          f"{create1 - create0:.2f} s for {args.partitions} partitions; produce errors {producer.errors}")
    print("| phase | requests | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|")
    print(_line("idle", idle))
    print(_line(f"during a {args.partitions}-partition create", during))
    if idle and during:
        print(f"p99 during / idle: {percentile(during, 99) / percentile(idle, 99):.2f}x")
    return 0 if status == 201 and not producer.errors else 1


if __name__ == "__main__":
    sys.exit(main())
