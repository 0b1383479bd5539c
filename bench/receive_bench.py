"""The Kafka listener's receive path: broker CPU per request and per GB, A/B between source trees.

Workloads (one connection, requests pipelined, the broker measured with psutil from outside):

- ``echo``: the transport alone (``logbroker.kafka.server.KafkaServer`` with a handler that answers
  every frame with the same 16 bytes), 100-byte frames, ``--window`` frames in flight: framing, the
  request memory pool, the response queue and the sends, nothing else;
- ``apiversions``: ApiVersions v3 through a real ``logbroker serve`` (about 60-byte frames);
- ``produce-100``: Produce v9, acks=1, one batch of one 100-byte record a request (about 230 bytes);
- ``produce-1m-1`` / ``produce-1m-all``: Produce v9 of ~1 MB batches of 1 KB records, 8 requests in
  flight, acks=1 / acks=all (the broker's default flush policy, group commit);
- ``produce-1m-os``: the same with acks=1 on a topic with flush policy ``os`` (no fsync: the receive
  and append path alone, without the disk's writeback in the broker's CPU time).

Each variant names a source tree (its ``PYTHONPATH``) and optional broker overrides, e.g.
``--variant base=/tmp/base --variant new=.`` or ``--variant unbounded=.:queued.max.request.bytes=-1``.
Variants alternate within each round (order rotated per round) so load drift on a shared machine
hits them alike; the report gives the median over rounds of CPU microseconds per request (small
frames) and CPU seconds per GB of request bytes (large frames), with the machine's load.
Every run is bounded by a request count and a time limit. Usage:

    python bench/receive_bench.py --variant base=/path/a --variant new=/path/b [--rounds 5]
        [--workloads echo,apiversions,produce-100,produce-1m-1] [--seconds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil
from harness import MB, Broker, CpuMeter, loadavg, median, spread

_SIZE = struct.Struct(">i")
_ECHO_REPLY = _SIZE.pack(12) + bytes(12)
SMALL = ("echo", "apiversions", "produce-100")


@dataclass
class Variant:
    name: str
    path: Path
    overrides: dict[str, str] = field(default_factory=dict)


def parse_variant(text: str) -> Variant:
    name, _, rest = text.partition("=")
    path, *settings = rest.split(":")
    overrides = dict(s.split("=", 1) for s in settings)
    return Variant(name, Path(path).resolve(), overrides)


# ------------------------------------------------------------------------- the echo server
async def _serve_echo(max_queued: int) -> None:
    from logbroker.kafka.server import KafkaServer

    async def handler(frame: memoryview, conn: object) -> list[bytes]:
        return [_ECHO_REPLY]

    server = KafkaServer(handler, max_frame_bytes=100 * 1024 * 1024, max_inflight_bytes=64 * 1024 * 1024,
                         max_queued_request_bytes=max_queued)
    await server.start("127.0.0.1", 0)
    print(server.address[1], flush=True)
    await asyncio.Event().wait()


class EchoServer:
    """``KafkaServer`` with a constant answer, in a subprocess on the variant's tree."""

    def __init__(self, variant: Variant) -> None:
        env = dict(os.environ, PYTHONPATH=str(variant.path))
        queued = variant.overrides.get("queued.max.request.bytes", "209715200")
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve-echo", queued], env=env,
                                     stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        self.pid = self.proc.pid

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


# ------------------------------------------------------------------------- the client
class FrameCounter:
    """Counts complete size-prefixed frames in a byte stream fed in arbitrary pieces."""

    def __init__(self) -> None:
        self.frames = 0
        self._left = 0  # bytes still due for the current frame's body
        self._head = b""

    def feed(self, data: memoryview) -> None:
        pos, n = 0, len(data)
        while pos < n:
            if self._left:
                take = min(self._left, n - pos)
                self._left -= take
                pos += take
                if not self._left:
                    self.frames += 1
                continue
            need = 4 - len(self._head)
            self._head += bytes(data[pos:pos + need])
            pos += min(need, n - pos)
            if len(self._head) == 4:
                self._left = _SIZE.unpack(self._head)[0]
                self._head = b""
                if not self._left:
                    self.frames += 1


def pipeline(port: int, frames: bytes, per_blob: int, window: int, total: int, seconds: float) -> tuple[int, float]:
    """Send ``frames`` (``per_blob`` requests) again and again, at most ``window`` requests unanswered,
    until ``total`` requests are answered or ``seconds`` pass; returns (answered, elapsed)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    counter = FrameCounter()
    buf = bytearray(4 * 1024 * 1024)
    view = memoryview(buf)
    sent = 0
    start = time.perf_counter()
    deadline = start + seconds
    try:
        while counter.frames < total and time.perf_counter() < deadline:
            while sent - counter.frames + per_blob <= window and sent < total:
                sock.sendall(frames)
                sent += per_blob
            n = sock.recv_into(buf)
            if not n:
                raise ConnectionError("closed by the broker")
            counter.feed(view[:n])
        while counter.frames < sent:
            n = sock.recv_into(buf)
            if not n:
                raise ConnectionError("closed by the broker")
            counter.feed(view[:n])
        return counter.frames, time.perf_counter() - start
    finally:
        sock.close()


def _request(api_key: int, version: int, body: dict[str, object], corr: int = 1) -> bytes:
    from logbroker.kafka import codec

    return codec.encode_request(api_key, version, corr, "receive-bench", body)


def workload_frames(name: str, topic: str) -> tuple[bytes, int, int]:
    """(bytes of one blob, requests in it, window in requests) for a workload."""
    from logbroker.kafka.api_keys import ApiKey
    from segments.records import RecordInput, build_batch

    if name == "echo":
        one = _SIZE.pack(96) + bytes(96)
        return one * 64, 64, 256
    if name == "apiversions":
        one = _request(ApiKey.API_VERSIONS, 3, {"client_software_name": "bench", "client_software_version": "1"})
        return one * 64, 64, 256
    if name == "produce-100":
        batch = build_batch([RecordInput(key=None, value=os.urandom(100), timestamp=1_700_000_000_000)])
        one = _request(ApiKey.PRODUCE, 9, {"acks": 1, "timeout_ms": 30000, "topic_data": [
            {"name": topic, "partition_data": [{"index": 0, "records": batch}]}]})
        return one * 32, 32, 256
    acks = {"produce-1m-1": 1, "produce-1m-all": -1, "produce-1m-os": 1}[name]
    value = os.urandom(1000)
    batch = build_batch([RecordInput(key=None, value=value, timestamp=1_700_000_000_000 + i) for i in range(990)])
    one = _request(ApiKey.PRODUCE, 9, {"acks": acks, "timeout_ms": 30000, "topic_data": [
        {"name": topic, "partition_data": [{"index": 0, "records": batch}]}]})
    return one, 1, 8


def create_topic(port: int, name: str, configs: dict[str, str]) -> None:
    from logbroker.kafka import codec
    from logbroker.kafka.api_keys import ApiKey

    frame = _request(ApiKey.CREATE_TOPICS, 5, {"topics": [{"name": name, "num_partitions": 1, "replication_factor": 1,
                                                           "assignments": [],
                                                           "configs": [{"name": k, "value": v}
                                                                       for k, v in configs.items()]}],
                                               "timeout_ms": 10000, "validate_only": False})
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(frame)
        size = _SIZE.unpack(_recv_exact(s, 4))[0]
        body = codec.decode_response(memoryview(_recv_exact(s, size)), ApiKey.CREATE_TOPICS, 5).body
    assert body["topics"][0]["error_code"] == 0, body


def _recv_exact(s: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed")
        out += chunk
    return bytes(out)


def _print_buffer_reuse(http_port: int) -> None:
    """The broker's receive-buffer counters from /metrics (a cold cache shows as allocations)."""
    import urllib.request

    time.sleep(1.1)  # the counters are refreshed by the listener's once-a-second sweep
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=10) as r:
        text = r.read().decode()
    found = {line.split()[0]: line.split()[1] for line in text.splitlines()
             if line.startswith("logbroker_kafka_receive_buffers")}
    print("   ", " ".join(f"{k.removeprefix('logbroker_kafka_')}={v}" for k, v in sorted(found.items())), flush=True)


@dataclass
class Result:
    requests: int
    nbytes: int
    seconds: float
    cpu_s: float
    load1: float
    loop_cpu_s: float = float("nan")  # the broker's main (event-loop) thread alone

    @property
    def us_per_request(self) -> float:
        return 1e6 * self.cpu_s / self.requests

    @property
    def s_per_gb(self) -> float:
        return self.cpu_s / (self.nbytes / 1e9)

    @property
    def loop_s_per_gb(self) -> float:
        """The event loop's CPU per GB: the work one core must carry (the rest runs on other threads)."""
        return self.loop_cpu_s / (self.nbytes / 1e9)


def _main_thread_cpu(pid: int) -> float:
    """CPU seconds (user + system) of the process's main thread, where the broker's event loop runs."""
    for thread in psutil.Process(pid).threads():
        if thread.id == pid:
            return float(thread.user_time + thread.system_time)
    return float("nan")


def run_one(variant: Variant, workload: str, seconds: float, data_parent: Path) -> Result:
    topic = "bench-" + workload
    blob, per_blob, window = workload_frames(workload, topic)
    total = 10_000_000 if workload in SMALL else 100_000
    scratch: list[Path] = []
    if workload == "echo":
        server: EchoServer | Broker = EchoServer(variant)
        port, pid = server.port, server.pid
    else:
        os.environ["PYTHONPATH"] = str(variant.path)
        data_dir = Path(tempfile.mkdtemp(prefix="recv-", dir=data_parent))
        scratch = [data_dir, data_dir.with_name(data_dir.name + ".log")]
        server = Broker(data_dir, dict(variant.overrides)).start()
        port, pid = server.port, server.pid
        if workload.startswith("produce"):
            create_topic(port, topic, {"logbroker.flush.policy": "os"} if workload.endswith("-os") else {})
    try:
        pipeline(port, blob, per_blob, window, 20 * per_blob, 10.0)  # warm-up
        meter = CpuMeter(pid).start()
        loop0 = _main_thread_cpu(pid)
        done, elapsed = pipeline(port, blob, per_blob, window, total, seconds)
        loop_cpu = _main_thread_cpu(pid) - loop0
        cpu = meter.stop()
        if isinstance(server, Broker):
            _print_buffer_reuse(server.http_port)
    finally:
        server.stop()
        # A produce-1m run writes gigabytes: nothing of a run may outlive it.
        for path in scratch:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    return Result(done, done * len(blob) // per_blob, elapsed, cpu.cpu_s, cpu.load1, loop_cpu)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", action="append", default=[], help="NAME=PATH[:key=value...]")
    parser.add_argument("--workloads", default="echo,apiversions,produce-100,produce-1m-1")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each measured run")
    parser.add_argument("--dir", default=None, help="parent of the temporary data dirs")
    parser.add_argument("--serve-echo", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_echo is not None:
        import uvloop  # as `logbroker serve` runs

        uvloop.run(_serve_echo(int(args.serve_echo)))
        return
    variants = [parse_variant(v) for v in args.variant] or [Variant("tree", Path(__file__).resolve().parent.parent)]
    workloads = args.workloads.split(",")
    parent = Path(args.dir or tempfile.gettempdir())
    results: dict[tuple[str, str], list[Result]] = {}
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in loadavg())}", flush=True)
    for r in range(args.rounds):
        order = variants[r % len(variants):] + variants[:r % len(variants)]
        for workload in workloads:
            for v in order:
                res = run_one(v, workload, args.seconds, parent)
                results.setdefault((workload, v.name), []).append(res)
                print(f"round {r + 1} {workload:15} {v.name:12} {res.requests:9d} req {res.seconds:5.2f} s "
                      f"{res.us_per_request:8.1f} us/req {res.s_per_gb:7.2f} s/GB "
                      f"{res.nbytes / res.seconds / MB:8.1f} MB/s loop {res.loop_s_per_gb:6.2f} s/GB "
                      f"load {res.load1:.1f}", flush=True)
    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in loadavg())}")
    print("medians over rounds (min: the least CPU of any round, the figure least disturbed by load)")
    print(f"{'workload':15} {'variant':12} {'us/req':>9} {'min':>7} {'s/GB':>8} {'min':>7} {'loop s/GB':>9} "
          f"{'req/s':>10} {'MB/s':>8} {'spread':>7}")
    for (workload, name), rs in results.items():
        us = [x.us_per_request for x in rs]
        gb = [x.s_per_gb for x in rs]
        print(f"{workload:15} {name:12} {median(us):9.1f} {min(us):7.1f} {median(gb):8.2f} {min(gb):7.2f} "
              f"{median([x.loop_s_per_gb for x in rs]):9.2f} "
              f"{median([x.requests / x.seconds for x in rs]):10.0f} "
              f"{median([x.nbytes / x.seconds / MB for x in rs]):8.1f} {100 * spread(us):6.0f}%")


if __name__ == "__main__":
    main()
