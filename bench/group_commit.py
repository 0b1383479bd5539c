"""Group commit's round trip with one batch in flight per partition (kafka-python's idempotent pattern).

Each of ``--logs`` producer threads owns one log: it appends one batch of ``--batch-kib`` KiB, asks
the group committer for its fsync, waits for it, and starts again, ``--rounds`` times. The figure is
the round trip of each batch (append to durable), the pace one producer per partition gets from a
broker that answers acks=all after the fsync. Runs in the data directory's filesystem (``--dir``).

    python bench/group_commit.py [--logs 4] [--batch-kib 128] [--rounds 200] [--threads 4] [--dir /tmp]

To compare two source trees, run it from each in turn (PYTHONPATH=TREE), several times interleaved.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from segments.config import LogConfig
from segments.flush import GroupCommitter
from segments.log import Log
from segments.records import RecordInput, build_batch


def _producer(log: Log, committer: GroupCommitter, batch: bytes, rounds: int, out: list[float],
              start: threading.Barrier) -> None:
    start.wait()
    for _ in range(rounds):
        t0 = time.perf_counter()
        result = log.append(bytearray(batch), now_ms=int(time.time() * 1000))
        committer.request(log, result.last_offset).result(timeout=60)
        out.append(time.perf_counter() - t0)


def run(directory: Path, logs: int, batch_kib: int, rounds: int, threads: int) -> dict[str, float]:
    config = LogConfig(segment_bytes=1 << 30)
    opened = [Log.open(directory / f"bench-{i}", config, now_ms=0) for i in range(logs)]
    value = os.urandom(1000)
    count = max(1, batch_kib * 1024 // 1070)
    batch = build_batch([RecordInput(None, value)] * count, base_offset=0, now_ms=int(time.time() * 1000))
    committer = GroupCommitter(threads=threads)
    times: list[list[float]] = [[] for _ in opened]
    start = threading.Barrier(logs)
    workers = [threading.Thread(target=_producer, args=(log, committer, batch, rounds, times[i], start))
               for i, log in enumerate(opened)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - t0
    committer.close()
    for log in opened:
        log.close()
    every = sorted(t for ts in times for t in ts)
    return {"median_ms": statistics.median(every) * 1000, "p90_ms": every[int(len(every) * 0.9)] * 1000,
            "mean_ms": statistics.fmean(every) * 1000, "fsyncs": committer.stats.fsyncs,
            "batches_per_s": len(every) / elapsed, "mb_per_s": len(every) * len(batch) / elapsed / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--logs", type=int, default=4)
    parser.add_argument("--batch-kib", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--threads", type=int, default=4, help="the committer's concurrent fsyncs")
    parser.add_argument("--dir", default=None, help="where the logs go (default: system tmp)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="group-commit-") as tmp:
        r = run(Path(tmp), args.logs, args.batch_kib, args.rounds, args.threads)
    print(f"{args.logs} logs x {args.rounds} batches of {args.batch_kib} KiB, {args.threads} fsync threads: "
          f"round trip median {r['median_ms']:.2f} ms, p90 {r['p90_ms']:.2f} ms, mean {r['mean_ms']:.2f} ms; "
          f"{r['batches_per_s']:.0f} batches/s, {r['mb_per_s']:.1f} MB/s, {r['fsyncs']} fsyncs; "
          f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
