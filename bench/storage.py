"""Storage-engine benchmark: append and read throughput beside the machine's own limits.

Measured in one run, on the same disk (a temporary directory under --dir):
- raw limits: sequential ``os.write`` of 1 MiB chunks (no fsync), the same with an fsync per
  chunk, and ``os.sendfile`` from a file to a local socket drained by a reader thread;
- ``segments.log.Log.append`` for 100 B and 1 KB records in 16 KiB and 1 MiB batches under the
  three flush policies: ``os`` (no fsync), ``group`` (group commit with 16 appends in flight, as
  pipelined acks=all producers) and ``always`` (fsync inside every append);
- the read path: ``Log.read`` from offset 0 to the end, each range sent with ``os.sendfile`` to the
  same drained socket.

Each figure is the median of ``--repeats`` runs (default 3), taken in interleaved rounds (raw limits,
then every append figure, then the read path, then the next round) so that machine drift hits the raw
limits and logbroker alike; it is printed with its ratio to the median of the matching raw limit.
Usage:
    python bench/storage.py [--dir /tmp] [--mib 256] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import Future
from pathlib import Path

from segments.batch import HEADER_SIZE, read_header
from segments.config import LogConfig
from segments.flush import Durability
from segments.log import Log
from segments.records import RecordInput, build_batch
from segments.segment import FileRange

MiB = 1024 * 1024


class Drain:
    """A socket pair whose far end is read and discarded by a thread (the sendfile target)."""

    def __init__(self) -> None:
        self.send_sock, self.recv_sock = socket.socketpair()
        self.send_sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * MiB)
        self.recv_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * MiB)
        self.received = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        buf = bytearray(4 * MiB)
        while True:
            n = self.recv_sock.recv_into(buf)
            if n == 0:
                return
            self.received += n

    def wait_for(self, total: int) -> None:
        while self.received < total:
            time.sleep(0.0005)

    def close(self) -> None:
        self.send_sock.close()
        self._thread.join(5)
        self.recv_sock.close()


def sendfile_all(out_fd: int, in_fd: int, pos: int, length: int) -> None:
    while length > 0:
        n = os.sendfile(out_fd, in_fd, pos, length)
        if n <= 0:
            raise OSError("sendfile made no progress")
        pos += n
        length -= n


def raw_write(path: Path, total: int, fsync_each: bool, seconds: float) -> float:
    chunk = os.urandom(MiB)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    written = 0
    start = time.perf_counter()
    try:
        while written < total and time.perf_counter() - start < seconds:
            written += os.write(fd, chunk)
            if fsync_each:
                os.fsync(fd)
        elapsed = time.perf_counter() - start
    finally:
        os.close(fd)
        path.unlink()
    return written / elapsed / MiB


def raw_sendfile(path: Path, total: int) -> float:
    with open(path, "wb") as f:
        chunk = os.urandom(MiB)
        for _ in range(total // MiB):
            f.write(chunk)
    drain = Drain()
    fd = os.open(path, os.O_RDONLY)
    try:
        start = time.perf_counter()
        pos = 0
        out = drain.send_sock.fileno()
        while pos < total:
            n = min(MiB, total - pos)
            sendfile_all(out, fd, pos, n)
            pos += n
        drain.wait_for(total)
        elapsed = time.perf_counter() - start
    finally:
        os.close(fd)
        drain.close()
        path.unlink()
    return total / elapsed / MiB


def make_batch(record_bytes: int, batch_bytes: int) -> tuple[bytearray, int]:
    count = max(1, batch_bytes // (record_bytes + 12))
    value = b"v" * record_bytes
    records = [RecordInput(key=None, value=value, timestamp=1_700_000_000_000 + i) for i in range(count)]
    return bytearray(build_batch(records)), count


def bench_append(root: Path, record_bytes: int, batch_bytes: int, policy: str, total: int,
                 seconds: float, run: int = 0) -> dict[str, float]:
    config = LogConfig.from_props({"logbroker.flush.policy": policy, "segment.bytes": str(256 * MiB)})
    path = root / f"append-{record_bytes}-{batch_bytes}-{policy}-{run}-0"
    path.mkdir()
    log = Log.open(path, config, now_ms=0)
    durability = Durability()
    batch, count = make_batch(record_bytes, batch_bytes)
    inflight: deque[Future[int]] = deque()
    window = 16 if policy == "group" else 1
    appended = 0
    batches = 0
    start = time.perf_counter()
    try:
        while appended < total and time.perf_counter() - start < seconds:
            result = log.append(memoryview(batch), now_ms=0)
            inflight.append(durability.after_append(log, config, result.last_offset, now_ms=0))
            appended += len(batch)
            batches += 1
            while len(inflight) >= window:
                inflight.popleft().result()
        while inflight:
            inflight.popleft().result()
        elapsed = time.perf_counter() - start
    finally:
        durability.close()
        log.close()
        shutil.rmtree(path, ignore_errors=True)
    return {"mib_s": appended / elapsed / MiB, "records_s": batches * count / elapsed, "bytes": appended}


def bench_read(root: Path, total: int, run: int = 0) -> float:
    config = LogConfig.from_props({"logbroker.flush.policy": "os", "segment.bytes": str(128 * MiB)})
    path = root / f"read-{run}-0"
    path.mkdir()
    log = Log.open(path, config, now_ms=0)
    batch, _ = make_batch(1000, MiB)
    while log.size_bytes < total:
        log.append(memoryview(batch), now_ms=0)
    log.flush()
    size = log.size_bytes
    drain = Drain()
    out = drain.send_sock.fileno()
    try:
        start = time.perf_counter()
        offset = log.log_start_offset
        sent = 0
        while offset < log.log_end_offset:
            result = log.read(offset, MiB)
            if not result.ranges:
                break
            for r in result.ranges:
                sendfile_all(out, r.fileno, r.position, r.length)
                sent += r.length
            offset = next_offset_after(result.ranges[-1])
        drain.wait_for(sent)
        elapsed = time.perf_counter() - start
    finally:
        drain.close()
        log.close()
        shutil.rmtree(path, ignore_errors=True)
    assert sent == size, (sent, size)
    return sent / elapsed / MiB


def next_offset_after(r: FileRange) -> int:
    """The offset after the last batch of a range (a consumer learns it from the batch headers)."""
    pos, end, header = r.position, r.position + r.length, None
    while pos < end:
        header = read_header(os.pread(r.fileno, HEADER_SIZE, pos))
        pos += header.size
    assert header is not None
    return header.next_offset


def median(values: list[float]) -> float:
    return float(statistics.median(values))


CONFIGS = [(policy, record_bytes, batch_bytes) for policy in ("os", "group", "always")
           for record_bytes in (100, 1000) for batch_bytes in (16 * 1024, MiB)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", default=None, help="directory on the disk to measure (default: system temp)")
    parser.add_argument("--mib", type=int, default=256, help="MiB written per no-fsync run")
    parser.add_argument("--seconds", type=float, default=4.0, help="time cap per run")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds; figures are medians")
    parser.add_argument("--json", default=None, help="also write the figures as JSON here")
    args = parser.parse_args()
    total = args.mib * MiB
    repeats = max(1, args.repeats)
    results: dict[str, object] = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                                             f"Python {platform.python_version()}, {platform.system()}",
                                  "repeats": repeats, "loadavg_start": os.getloadavg()}
    raw_runs: dict[str, list[float]] = {"write_mib_s": [], "write_fsync_each_mib_s": [], "sendfile_mib_s": []}
    append_runs: dict[tuple[str, int, int], list[dict[str, float]]] = {c: [] for c in CONFIGS}
    read_runs: list[float] = []
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="logbroker-bench-") as tmp:
        root = Path(tmp)
        for run in range(repeats):
            # One round: the raw limits, then every logbroker figure, so drift hits both alike.
            raw_runs["write_mib_s"].append(raw_write(root / "raw", total, False, args.seconds * 2))
            raw_runs["write_fsync_each_mib_s"].append(raw_write(root / "rawf", total, True, args.seconds))
            raw_runs["sendfile_mib_s"].append(raw_sendfile(root / "raws", total))
            for policy, record_bytes, batch_bytes in CONFIGS:
                append_runs[(policy, record_bytes, batch_bytes)].append(
                    bench_append(root, record_bytes, batch_bytes, policy, total, args.seconds, run))
            read_runs.append(bench_read(root, total, run))
    raw = {k: median(v) for k, v in raw_runs.items()}
    raw_w, raw_wf, raw_sf = raw["write_mib_s"], raw["write_fsync_each_mib_s"], raw["sendfile_mib_s"]
    results["raw"] = raw
    results["raw_runs"] = raw_runs
    print(f"machine: {results['machine']}")
    print(f"figures: median of {repeats} interleaved round(s); load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"raw sequential write (1 MiB, no fsync): {raw_w:9.1f} MiB/s")
    print(f"raw sequential write (1 MiB, fsync each): {raw_wf:7.1f} MiB/s")
    print(f"raw sendfile file->socket: {raw_sf:22.1f} MiB/s")
    print()
    print(f"{'append':<34} {'MiB/s':>9} {'records/s':>12} {'vs raw':>8}")
    rows = []
    for policy, record_bytes, batch_bytes in CONFIGS:
        runs = append_runs[(policy, record_bytes, batch_bytes)]
        r = {"mib_s": median([x["mib_s"] for x in runs]), "records_s": median([x["records_s"] for x in runs]),
             "bytes": median([x["bytes"] for x in runs])}
        limit = raw_w if policy == "os" else raw_wf
        ratio = r["mib_s"] / limit
        label = f"{policy:<6} {record_bytes:>4} B records, {batch_bytes // 1024:>4} KiB batches"
        print(f"{label:<34} {r['mib_s']:9.1f} {r['records_s']:12,.0f} {ratio:7.0%}")
        rows.append({"policy": policy, "record_bytes": record_bytes, "batch_bytes": batch_bytes,
                     **r, "ratio": ratio, "limit": "raw write" if policy == "os" else
                     "raw write + fsync per MiB", "runs_mib_s": [x["mib_s"] for x in runs]})
    results["append"] = rows
    read = median(read_runs)
    results["read"] = {"mib_s": read, "ratio": read / raw_sf, "runs_mib_s": read_runs}
    print()
    print(f"read path (Log.read + sendfile, 1 MiB batches): {read:.1f} MiB/s, {read / raw_sf:.0%} of raw sendfile")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
