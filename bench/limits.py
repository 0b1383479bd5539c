"""logbroker against this machine's own limits, measured in one run.

1. Raw limits (median of up to 3 rounds, interleaved with the logbroker runs so drift hits both):
   loopback TCP (sender and receiver in separate processes, 1 MiB sends), sequential write of 1 MiB
   chunks in the data dir's filesystem without and with an fsync per chunk, loopback TCP received
   into a file (the least a broker that receives records into memory does: socket-to-file, without
   and with the fsync loop), and ``os.sendfile`` of a page-cached file to a loopback TCP socket read
   by a separate process. The writes and the socket-to-file runs, which the ingest figures are
   divided by, last as long as an ingest run. Every run that writes (raw or broker, both brokers)
   starts after ``sync``, with no dirty pages left by the run before it.
2. Ingest with confluent-kafka producers (``--producers`` processes, linger.ms=5, batch.size=1 MiB,
   compression none): 1 KB and 100 B records, acks=1 and acks=all, the broker's default flush policy
   (group commit). Also a raw producer on logbroker's codec (pre-built ~1 MB batches, 32 requests in
   flight, as long as an ingest run), which shows what the broker takes when the client is not the
   limit; then the same producer fills the fetch topic (``--fill-mb``). Each run's topic is deleted
   after it, and the next run waits until its files are gone (``retire_topic``), on both brokers.
3. Fetch from the beginning of that topic: a raw fetcher (our codec, large max_bytes, record bytes
   received and discarded, next offset from the last batch header) and a confluent-kafka consumer.
4. End-to-end latency at a fixed 10 MB/s of 1 KB records, acks=all: producer stamps the send time in
   the value, a confluent consumer (assign, not group) computes receive - send.
5. Broker CPU (psutil) over every logbroker run: % of one core and CPU seconds per GB.
6. With ``--cluster``: one broker against three with ZooKeeper on this machine, the same 1 KB ingest
   over 3 partitions, RF=1 (scaling) and RF=3 acks=all with idempotent producers, CPU summed over the
   brokers; then the same on one Apache Kafka node and on three (``bench/limits_cluster.py``).

MB = 10^6 bytes; ingest MB/s counts record values (payload), fetch MB/s record-batch bytes.
Each logbroker figure is printed with its ratio to the matching raw limit and its flush policy.
``--profile`` adds py-spy profiles of the broker during ingest and fetch (separate runs, not in
the figures). Usage:
    python bench/limits.py [--quick] [--json out.json] [--dir /tmp] [--producers 2] [--profile] [--cluster]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import compare_kafka
import limits_cluster
import limits_peer
from harness import (
    MB,
    Broker,
    CpuMeter,
    CpuMeters,
    CpuSample,
    MiB,
    busy_processes,
    loadavg,
    machine_line,
    median,
    percentile,
    settle_disk,
    settle_fsync,
    spread,
    wait_until_gone,
)

from logbroker.kafka import codec
from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from segments.batch import HEADER_SIZE, read_header
from segments.records import RecordInput, build_batch

CTX = mp.get_context("spawn")
PRODUCE_V = 9
FETCH_V = 12
POLICY = "group"  # the broker default; every figure below was taken with it
POLICY_NOTE = {
    "1": "flush=group (default); acks=1 answered once in the page cache, group-commit fsync in background",
    "all": "flush=group (default); acks=all answered after the group-commit fsync covering it",
}


# =========================================================================== raw Kafka client
class Raw:
    """A blocking Kafka connection on our codec, with pipelining (send many, then receive)."""

    def __init__(self, port: int, tls: ssl.SSLContext | None = None) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = tls.wrap_socket(sock, server_hostname="127.0.0.1") if tls is not None else sock
        self.corr = 0
        self._size = bytearray(4)

    def close(self) -> None:
        self.sock.close()

    def send(self, api_key: int, version: int, body: dict[str, Any]) -> int:
        self.corr += 1
        self.sock.sendall(codec.encode_request(api_key, version, self.corr, "limits-bench", body))
        return self.corr

    def recv_into(self, buf: bytearray) -> memoryview:
        """Read one frame into ``buf`` (grown if needed); returns a view of the frame body."""
        self._recv_exact(memoryview(self._size))
        (size,) = struct.unpack(">i", self._size)
        if size > len(buf):
            buf.extend(bytes(size - len(buf)))
        view = memoryview(buf)[:size]
        self._recv_exact(view)
        return view

    def _recv_exact(self, view: memoryview) -> None:
        got, n = 0, len(view)
        while got < n:
            r = self.sock.recv_into(view[got:], n - got)
            if r == 0:
                raise ConnectionError("closed by the broker")
            got += r

    def call(self, api_key: int, version: int, body: dict[str, Any]) -> dict[str, Any]:
        corr = self.send(api_key, version, body)
        response = codec.decode_response(self.recv_into(bytearray(64 * 1024)), api_key, version)
        assert response.correlation_id == corr
        return response.body


def create_topic(port: int, name: str, partitions: int, configs: dict[str, str] | None = None) -> None:
    c = Raw(port)
    try:
        cfgs = [{"name": k, "value": v} for k, v in (configs or {}).items()]
        body = c.call(ApiKey.CREATE_TOPICS, 5, {"topics": [{"name": name, "num_partitions": partitions,
                                                            "replication_factor": 1, "assignments": [],
                                                            "configs": cfgs}],
                                                "timeout_ms": 10000, "validate_only": False})
        assert body["topics"][0]["error_code"] == 0, body
    finally:
        c.close()


def retire_topic(broker: Any, topic: str, timeout_s: float = 120.0) -> None:
    """Delete a finished run's topic and wait until its files are gone from ``broker.data_dir``.

    Each raw limit removes its file when it ends, so the next one writes into page cache that has
    just been freed; a broker run that kept its data would make every later run write into memory
    that has not (``settle_disk`` explains why that is slower here). Retiring each topic gives every
    run, on both brokers, the start a raw limit gets."""
    c = Raw(broker.port)
    try:
        body = c.call(ApiKey.DELETE_TOPICS, 5, {"topic_names": [topic], "timeout_ms": 30000})
    finally:
        c.close()
    err = body["responses"][0]["error_code"]
    if err:
        try:
            name = ErrorCode(err).name
        except ValueError:
            name = "an unknown error"
        print(f"  (deleting {topic} failed with {name} ({err}): its data stays, so the runs after this one "
              f"write into page cache that was not freed)")
        return
    wait_until_gone([broker.data_dir], topic, timeout_s)


def end_offsets(port: int, topic: str, partitions: int) -> list[int]:
    c = Raw(port)
    try:
        body = c.call(ApiKey.LIST_OFFSETS, 5, {"replica_id": -1, "isolation_level": 0, "topics": [
            {"name": topic, "partitions": [{"partition_index": p, "current_leader_epoch": -1, "timestamp": -1}
                                           for p in range(partitions)]}]})
    finally:
        c.close()
    parts = sorted(body["topics"][0]["partitions"], key=lambda p: p["partition_index"])
    return [int(p["offset"]) for p in parts]


# =========================================================================== raw limits
class FsyncLoop:
    """A second thread fsyncing one file in a loop while it is written: the group-commit pattern,
    the limit for acks=all. ``stop`` ends the loop and makes the last bytes durable too, as the
    last acks=all waits for them."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
            os.fsync(self.fd)

    def _run(self) -> None:
        while not self._stopping.is_set():
            os.fsync(self.fd)


def _tcp_receiver(pipe: Any, path: str = "", fsync: str = "none") -> None:
    """Accept one connection, read it to EOF, report (bytes, seconds from first byte to EOF).

    With ``path``: every chunk received is also written to that file (``fsync`` "group": with a
    second thread fsyncing in a loop, and a last fsync before the clock stops), which is the least a
    broker that receives records into memory does with them: the socket-to-file limit."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) if path else -1
    syncer = FsyncLoop(fd)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    pipe.send(srv.getsockname()[1])
    conn, _ = srv.accept()
    srv.close()
    buf = bytearray(4 * MiB)
    view = memoryview(buf)
    total, t0 = 0, 0.0
    filled = 0  # writing to a file: 1 MiB is gathered before each write, as a broker reads a whole request
    while True:
        n = conn.recv_into(view[filled:MiB] if fd >= 0 else buf)
        if n == 0:
            break
        if not total:
            t0 = time.perf_counter()
            if fd >= 0 and fsync == "group":
                syncer.start()
        total += n
        if fd >= 0:
            filled += n
            if filled == MiB:
                os.write(fd, view[:filled])
                filled = 0
    if fd >= 0:
        if filled:
            os.write(fd, view[:filled])
        syncer.stop()
    pipe.send((total, time.perf_counter() - t0))
    conn.close()
    if fd >= 0:
        os.close(fd)
        os.unlink(path)


def _with_receiver(send: Callable[[socket.socket], None], path: Path | None = None, fsync: str = "none") -> float:
    """Run ``send`` on a socket connected to a receiver process (writing what it receives to ``path``
    when given); MB/s seen by the receiver."""
    parent, child = CTX.Pipe()
    proc = CTX.Process(target=_tcp_receiver, args=(child, str(path or ""), fsync), daemon=True)
    proc.start()
    try:
        if not parent.poll(30):
            raise RuntimeError("receiver process did not start")
        port = parent.recv()
        with socket.create_connection(("127.0.0.1", port)) as s:
            send(s)
            s.shutdown(socket.SHUT_WR)
            if not parent.poll(60):
                raise RuntimeError("receiver did not finish")
            total, seconds = parent.recv()
        return float(total / seconds / MB)
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.kill()


def raw_tcp(seconds: float, cap_bytes: int, path: Path | None = None, fsync: str = "none") -> float:
    chunk = memoryview(os.urandom(MiB))
    if path is not None:
        settle_disk()

    def send(s: socket.socket) -> None:
        deadline = time.perf_counter() + seconds
        sent = 0
        while sent < cap_bytes and time.perf_counter() < deadline:
            s.sendall(chunk)
            sent += MiB

    return _with_receiver(send, path, fsync)


def raw_sendfile(path: Path) -> float:
    size = path.stat().st_size

    def send(s: socket.socket) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            pos = 0
            while pos < size:
                n = os.sendfile(s.fileno(), fd, pos, size - pos)
                if n <= 0:
                    raise OSError("sendfile made no progress")
                pos += n
        finally:
            os.close(fd)

    return _with_receiver(send)


def raw_write(path: Path, cap_bytes: int, fsync: str, seconds: float, cpu: list[float] | None = None) -> float:
    """1 MiB ``os.write`` calls; ``fsync``: "none", "each" (after every chunk) or "group" (a second
    thread fsyncs in a loop while the writer writes: the group-commit pattern, the limit for acks=all).
    ``cpu``: gets the writing thread's CPU seconds per GB written (the copy into the page cache)."""
    chunk = os.urandom(MiB)
    settle_disk()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    written = 0
    syncer = FsyncLoop(fd)
    try:
        start, cpu0 = time.perf_counter(), time.thread_time()
        if fsync == "group":
            syncer.start()
        while written < cap_bytes and time.perf_counter() - start < seconds:
            written += os.write(fd, chunk)
            if fsync == "each":
                os.fsync(fd)
        syncer.stop()
        elapsed = time.perf_counter() - start
        if cpu is not None and written:
            cpu.append((time.thread_time() - cpu0) / (written / 1e9))
    finally:
        syncer.stop()
        os.close(fd)
        path.unlink()
    return float(written / elapsed / MB)


RAW_KEYS = ("tcp", "write", "write_gfsync", "write_fsync", "tcp_write", "tcp_write_gfsync", "sendfile")
RAW_LABELS = {
    "tcp": "loopback TCP, 1 MiB sends, 2 processes",
    "tcp_write": "loopback TCP received into a file",
    "tcp_write_gfsync": "loopback TCP into a file + fsync loop",
    "write": "sequential write, 1 MiB, no fsync",
    "write_gfsync": "write 1 MiB + fsync loop in a 2nd thread",
    "write_fsync": "sequential write, 1 MiB, fsync each",
    "sendfile": "sendfile file -> loopback TCP, 2 procs",
}


def disk_room(scratch: Path, share: float) -> int:
    """The cap in bytes of a run that writes for a time rather than a size: ``share`` of the free
    space where it writes, so that a fast disk cannot fill it."""
    return int(shutil.disk_usage(scratch).free * share)


def raw_round(scratch: Path, sendfile_path: Path, seconds: float, cap: int, sustained_s: float,
              write_cpu: list[float]) -> dict[str, float]:
    """One round of raw limits. The limits an ingest figure is divided by (the writes, the
    socket-to-file runs) last as long as an ingest run (``sustained_s``) and start, as it does, with
    no dirty pages: a write of a second or less only fills the page cache at memory speed, where an
    ingest run of several seconds reaches the dirty limits and the disk's own pace. ``write_cpu``
    gets the plain write's CPU seconds per GB."""
    room = disk_room(scratch, 0.3)  # a file written this long must still fit
    return {
        "tcp": raw_tcp(seconds, 8 * cap),
        "write": raw_write(scratch / "raw-write", room, "none", sustained_s, write_cpu),
        "write_gfsync": raw_write(scratch / "raw-write-gfsync", room, "group", sustained_s),
        "write_fsync": raw_write(scratch / "raw-write-fsync", cap, "each", seconds),
        "tcp_write": raw_tcp(sustained_s, room, scratch / "raw-tcp-write"),
        "tcp_write_gfsync": raw_tcp(sustained_s, room, scratch / "raw-tcp-write-gfsync", "group"),
        "sendfile": raw_sendfile(sendfile_path),
    }


# =========================================================================== confluent producers
def _producer_worker(idx: int, bootstrap: str, topic: str, value_size: int, acks: str, seconds: float,
                     extra: dict[str, Any], ready: Any, go: Any, results: Any) -> None:
    from confluent_kafka import Producer

    errors = [0]

    def on_error(err: Any, _msg: Any) -> None:
        if err is not None:
            errors[0] += 1

    conf = {"bootstrap.servers": bootstrap, "acks": acks, "linger.ms": 5, "batch.size": 1048576,
            "compression.type": "none", "queue.buffering.max.messages": 2_000_000,
            "queue.buffering.max.kbytes": 512 * 1024, "delivery.report.only.error": True,
            "on_delivery": on_error, **extra}
    p = Producer(conf)
    p.list_topics(topic, timeout=15)
    value = os.urandom(value_size)
    produce, poll = p.produce, p.poll
    n = 0
    if extra.get("enable.idempotence"):
        # An idempotent producer first gets a producer id, which a broker may be slow to give (Kafka's
        # coordinator still loading): one record, counted, is acknowledged before the clock starts.
        produce(topic, value)
        n = 1
        if p.flush(60):
            raise RuntimeError("the idempotent producer's first record was not acknowledged within 60 s")
    ready.put(idx)
    go.wait(60)
    c0 = os.times()
    t0 = time.monotonic()
    deadline = t0 + seconds
    while True:
        try:
            produce(topic, value)
        except BufferError:
            poll(0.0005)
            if time.monotonic() > deadline:
                break
            continue
        n += 1
        if not n & 1023:
            poll(0)
            if time.monotonic() > deadline:
                break
    left = p.flush(60)
    t1, c1 = time.monotonic(), os.times()
    # The producer's own CPU (every thread of the process: the produce loop and librdkafka's).
    cpu_s = c1.user + c1.system - c0.user - c0.system
    results.put({"idx": idx, "records": n, "unflushed": left, "errors": errors[0], "t0": t0, "t1": t1,
                 "cpu_s": cpu_s})


def run_producers(broker: Any, topic: str, partitions: int, nproc: int, value_size: int, acks: str,
                  seconds: float, extra: dict[str, Any] | None = None,
                  during: Callable[[], None] | None = None,
                  topic_configs: dict[str, str] | None = None) -> dict[str, Any]:
    """``broker``: one broker (``port``, ``bootstrap``, ``pid``), or several behind one bootstrap
    (``pids``, and ``landed(topic, partitions)`` counting the records that arrived; the topic created
    beforehand), whose CPU is summed."""
    pids = getattr(broker, "pids", None)
    if pids is None:
        create_topic(broker.port, topic, partitions, topic_configs)
    ready, results, go = CTX.Queue(), CTX.Queue(), CTX.Event()
    procs = [CTX.Process(target=_producer_worker, daemon=True,
                         args=(i, broker.bootstrap, topic, value_size, acks, seconds, extra or {}, ready, go,
                               results)) for i in range(nproc)]
    settle_disk()
    for proc in procs:
        proc.start()
    try:
        for _ in procs:
            ready.get(timeout=60)
        meter = CpuMeters(pids).start() if pids is not None else CpuMeter(broker.pid).start()
        go.set()
        if during is not None:
            during()
        outs = [results.get(timeout=seconds + 90) for _ in procs]
        cpu = meter.stop()
    finally:
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
    records = sum(o["records"] for o in outs)
    elapsed = max(o["t1"] for o in outs) - min(o["t0"] for o in outs)
    landed = broker.landed(topic, partitions) if pids is not None else sum(end_offsets(broker.port, topic, partitions))
    nbytes = records * value_size
    return {"records": records, "landed": landed, "errors": sum(o["errors"] for o in outs),
            "unflushed": sum(o["unflushed"] for o in outs), "seconds": elapsed,
            "mb_s": nbytes / elapsed / MB, "records_s": records / elapsed, "bytes": nbytes, "cpu": cpu,
            "client_cpu_s": sum(o["cpu_s"] for o in outs)}


# =========================================================================== raw produce (fill)
# Requests the raw producer keeps in flight. It stands for a client that costs nothing, so its window
# must not be what limits it: with acks=all each answer waits for a group-commit fsync, and 8 requests
# of 1 MB took 382-391 MB/s on a fresh broker with the machine 40% busy, 32 took 483-508 MB/s.
RAW_PRODUCE_WINDOW = 32


def raw_produce(broker: Any, topic: str, total: int, acks: int, window: int = 8,
                seconds: float = 60.0, *, port: int | None = None, tls: ssl.SSLContext | None = None) -> dict[str, Any]:
    """Pre-built ~1 MB batches of 1 KB records, ``window`` requests in flight, until ``total`` bytes
    (on ``port``, through TLS when ``tls`` is given; by default the broker's plaintext port)."""
    create_topic(broker.port, topic, 1)
    value = os.urandom(1000)
    batch = build_batch([RecordInput(key=None, value=value, timestamp=1_700_000_000_000 + i) for i in range(990)])
    per_batch_payload = 990 * 1000
    body = {"acks": acks, "timeout_ms": 30000, "topic_data": [
        {"name": topic, "partition_data": [{"index": 0, "records": batch}]}]}
    frame = codec.encode_request(ApiKey.PRODUCE, PRODUCE_V, 1, "limits-bench", body)
    c = Raw(port or broker.port, tls)
    buf = bytearray(64 * 1024)
    sent = received = 0
    settle_disk()
    meter = CpuMeter(broker.pid).start()
    start = time.perf_counter()
    try:
        while received * len(batch) < total and time.perf_counter() - start < seconds:
            while sent - received < window and sent * len(batch) < total:
                c.sock.sendall(frame)  # same correlation id each time; responses come back in order
                sent += 1
            r = codec.decode_response(c.recv_into(buf), ApiKey.PRODUCE, PRODUCE_V)
            err = r.body["responses"][0]["partition_responses"][0]["error_code"]
            if err:
                raise RuntimeError(f"raw produce failed with error code {err}")
            received += 1
        while received < sent:
            c.recv_into(buf)
            received += 1
        elapsed = time.perf_counter() - start
    finally:
        c.close()
    cpu = meter.stop()
    return {"records": received * 990, "bytes": received * per_batch_payload, "log_bytes": received * len(batch),
            "seconds": elapsed, "mb_s": received * per_batch_payload / elapsed / MB,
            "records_s": received * 990 / elapsed, "batch_bytes": len(batch), "cpu": cpu}


# =========================================================================== fetch
def _fetch_body(topic: str, offset: int, max_bytes: int) -> dict[str, Any]:
    return {"replica_id": -1, "max_wait_ms": 0, "min_bytes": 0, "max_bytes": max_bytes, "isolation_level": 0,
            "session_id": 0, "session_epoch": -1, "topics": [{"topic": topic, "partitions": [
                {"partition": 0, "current_leader_epoch": -1, "fetch_offset": offset, "log_start_offset": -1,
                 "partition_max_bytes": max_bytes}]}], "forgotten_topics_data": [], "rack_id": ""}


def next_offset(records: memoryview, fallback: int) -> int:
    """Offset after the last whole batch of a partition's records (walks the 61-byte headers only)."""
    pos, end, nxt = 0, len(records), fallback
    while end - pos >= HEADER_SIZE:
        h = read_header(records, pos)
        if pos + h.size > end:
            break
        nxt = h.next_offset
        pos += h.size
    return nxt


def raw_fetch(broker: Any, topic: str, end: int, max_bytes: int, *, port: int | None = None,
              tls: ssl.SSLContext | None = None) -> dict[str, Any]:
    c = Raw(port or broker.port, tls)
    buf = bytearray(max_bytes + MiB)
    offset = total = requests = 0
    meter = CpuMeter(broker.pid).start()
    start = time.perf_counter()
    try:
        while offset < end:
            c.send(ApiKey.FETCH, FETCH_V, _fetch_body(topic, offset, max_bytes))
            r = codec.decode_response(c.recv_into(buf), ApiKey.FETCH, FETCH_V)
            part = r.body["responses"][0]["partitions"][0]
            if part["error_code"]:
                raise RuntimeError(f"fetch error {part['error_code']} at offset {offset}")
            records = part["records"]
            total += len(records)
            requests += 1
            nxt = next_offset(memoryview(records), offset)
            if nxt <= offset:
                raise RuntimeError(f"fetch made no progress at offset {offset}")
            offset = nxt
        elapsed = time.perf_counter() - start
    finally:
        c.close()
    cpu = meter.stop()
    return {"bytes": total, "seconds": elapsed, "mb_s": total / elapsed / MB, "requests": requests, "cpu": cpu}


def _consumer_worker(bootstrap: str, topic: str, end: int, seconds: float, results: Any) -> None:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "limits-bench", "enable.auto.commit": False,
                  "fetch.max.bytes": 64 * MiB, "max.partition.fetch.bytes": 32 * MiB,
                  "queued.max.messages.kbytes": 256 * 1024, "fetch.wait.max.ms": 100})
    c.assign([TopicPartition(topic, 0, 0)])
    n = nbytes = 0
    t0 = time.monotonic()
    deadline = t0 + seconds
    while n < end and time.monotonic() < deadline:
        msgs = c.consume(num_messages=10000, timeout=0.5)
        for m in msgs:
            nbytes += len(m)
        n += len(msgs)
    elapsed = time.monotonic() - t0
    c.close()
    results.put({"records": n, "bytes": nbytes, "seconds": elapsed})


def confluent_fetch(broker: Any, topic: str, end: int, seconds: float) -> dict[str, Any]:
    results = CTX.Queue()
    proc = CTX.Process(target=_consumer_worker, args=(broker.bootstrap, topic, end, seconds, results), daemon=True)
    meter = CpuMeter(broker.pid).start()
    proc.start()
    try:
        out = results.get(timeout=seconds + 60)
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
    cpu = meter.stop()
    return {**out, "mb_s": out["bytes"] / out["seconds"] / MB, "records_s": out["records"] / out["seconds"],
            "cpu": cpu}


# =========================================================================== latency
def _latency_producer(bootstrap: str, topic: str, rate: int, seconds: float, linger_ms: float, go: Any,
                      results: Any) -> None:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": linger_ms,
                  "compression.type": "none"})
    p.list_topics(topic, timeout=15)
    pad = os.urandom(1000 - 8)
    go.wait(60)
    sent = 0
    t0 = time.monotonic()
    total = int(rate * seconds)
    while sent < total:
        due = min(total, int((time.monotonic() - t0) * rate) + 1)
        while sent < due:
            p.produce(topic, struct.pack(">q", time.time_ns()) + pad)
            sent += 1
        p.poll(0)
        time.sleep(0.0005)
    left = p.flush(30)
    results.put({"sent": sent, "unflushed": left, "seconds": time.monotonic() - t0})


def _latency_consumer(bootstrap: str, topic: str, expect: int, seconds: float, ready: Any, results: Any) -> None:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "limits-latency", "enable.auto.commit": False,
                  "fetch.wait.max.ms": 100})
    c.assign([TopicPartition(topic, 0, 0)])
    c.consume(num_messages=1, timeout=1.0)  # connect and fetch once before the producer starts
    ready.set()
    lat: list[int] = []
    deadline = time.monotonic() + seconds
    poll = c.poll
    while len(lat) < expect and time.monotonic() < deadline:
        # poll, not consume(num_messages=N): consume waits until N messages are there (or timeout),
        # which would add up to N / rate to every latency.
        m = poll(0.2)
        value = m.value() if m is not None and m.error() is None else None
        if value is not None:
            lat.append(time.time_ns() - struct.unpack_from(">q", value)[0])
    c.close()
    results.put(lat)


def latency(broker: Any, rate: int, seconds: float, linger_ms: float) -> dict[str, Any]:
    topic = "latency"
    create_topic(broker.port, topic, 1)
    settle_disk()  # an fsync's latency must not include the earlier runs' writeback
    waited, slowest, calm = settle_fsync(broker.data_dir)  # nor the stalls that follow their deletions
    print(f"  (fsyncs in the data directory {'calm after' if calm else 'still not calm after'} {waited:.1f} s; "
          f"slowest while waiting {slowest:.0f} ms)")
    results_p, results_c, go = CTX.Queue(), CTX.Queue(), CTX.Event()
    total = int(rate * seconds)
    cons = CTX.Process(target=_latency_consumer, args=(broker.bootstrap, topic, total, seconds + 30, go, results_c),
                       daemon=True)
    prod = CTX.Process(target=_latency_producer, args=(broker.bootstrap, topic, rate, seconds, linger_ms, go,
                                                       results_p), daemon=True)
    cons.start()
    prod.start()
    try:
        if not go.wait(60):
            raise RuntimeError("latency consumer did not start")
        meter = CpuMeter(broker.pid).start()
        pout = results_p.get(timeout=seconds + 60)
        cpu = meter.stop()
        lat = results_c.get(timeout=60)
    finally:
        for proc in (prod, cons):
            proc.join(10)
            if proc.is_alive():
                proc.kill()
    skip = min(len(lat) // 10, int(rate * 0.5))  # the first 0.5 s: connection set-up, warm-up
    ms = sorted(x / 1e6 for x in lat[skip:])
    return {"sent": pout["sent"], "received": len(lat), "measured": len(ms), "rate": rate,
            "p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99), "p999_ms": percentile(ms, 99.9),
            "max_ms": ms[-1] if ms else float("nan"), "cpu": cpu, "fsync_settle_s": waited, "fsync_calm": calm,
            "fsync_settle_slowest_ms": slowest,
            "mb_s": pout["sent"] * 1000 / pout["seconds"] / MB}


# =========================================================================== profiling (py-spy)
def pyspy_path() -> str | None:
    exe = Path(sys.executable).with_name("py-spy")
    return str(exe) if exe.exists() else shutil.which("py-spy")


def start_pyspy(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    """py-spy with native frames (it pauses the broker for each sample: profiled runs are slower)."""
    exe = pyspy_path()
    if exe is None:
        print("  (py-spy not installed: .venv/bin/pip install py-spy)")
        return None
    return subprocess.Popen([exe, "record", "--pid", str(pid), "--duration", str(round(seconds)),
                             "--rate", "200", "--native", "--format", "raw", "--output", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


_WAIT_MARKS = ("pthread_cond_timedwait", "pthread_cond_wait", "PyThread_acquire_lock_timed", "sem_wait",
               "sem_clockwait", "take_gil")


def _name(frame: str) -> str:
    return frame.split(" (", 1)[0]


def _short(frame: str) -> str:
    """"function (path/to/module.py:123)" -> "function (dir/module.py)"."""
    name, _, where = frame.partition(" (")
    if not where:
        return frame
    file = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(file).parts
    return f"{name} ({'/'.join(parts[-2:]) if len(parts) >= 2 else file})"


def summarize_profile(path: Path, top: int = 16) -> dict[str, Any]:
    """From py-spy's collapsed stacks: % of samples per (nearest Python function, native leaf).

    A sample whose native part waits on a lock or condition (the GIL, the flusher's condition) is
    counted as "waiting", not work; fsync is I/O wait on the flusher thread, not loop CPU.
    """
    if not path.exists():
        return {}
    spots: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = waits = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        py = [i for i, f in enumerate(frames) if ".py:" in f]
        nearest = _short(frames[py[-1]]) if py else "?"
        native = [_name(f) for f in frames[(py[-1] + 1 if py else 0):]]
        thread = "flusher thread" if any("GroupCommitter._run" in f for f in frames) else "event loop thread"
        threads[thread] += n
        if any(any(mark in f for mark in _WAIT_MARKS) for f in native):
            kind = "waiting for a lock/GIL"
            waits += n
        elif native and native[-1] in ("epoll_pwait", "epoll_wait"):
            kind = "epoll_wait (idle)"
            waits += n
        elif native and native[-1] in ("fsync", "fdatasync"):
            waits += n
            kind = "fsync"
        elif native:
            named = [f for f in native if not f.startswith("0x") and f not in ("Py_DECREF", "Py_XDECREF")]
            kind = " > ".join(named[-2:]) if named else "libc (unresolved, e.g. memcpy)"
            if native[-1].startswith("0x"):
                kind += " > libc"
        else:
            kind = "python"
        spots[f"{nearest} :: {kind}"] += n
        for f in {_short(frames[i]) for i in py}:
            incl[f] += n
    if not total:
        return {}
    skip = ("click/", "cli.py", "app.py", "runners.py", "threading.py", "uvloop/", "<module>")
    inclusive = [(f, 100 * c / total) for f, c in incl.most_common() if not any(s in f for s in skip)][:top]
    return {"samples": total, "work_pct": 100 * (total - waits) / total,
            "threads": {k: 100 * v / total for k, v in threads.items()},
            "hot": [(f, 100 * c / total) for f, c in spots.most_common(top)], "inclusive": inclusive}


def print_profile(title: str, prof: dict[str, Any]) -> None:
    if not prof:
        print(f"  {title}: no samples (py-spy could not attach? it needs ptrace)")
        return
    th = ", ".join(f"{k} {v:.0f}%" for k, v in prof["threads"].items())
    print(f"  {title}: {prof['samples']} samples ({th}); {prof['work_pct']:.0f}% of them on CPU, the rest "
          f"waiting (GIL/locks, idle epoll, fsync I/O)")
    print("    hot spots, % of all samples (nearest Python function :: what it was doing below it):")
    for f, pct in prof["hot"]:
        print(f"      {pct:5.1f}%  {f}")
    print("    inclusive (Python function and everything below it):")
    for f, pct in prof["inclusive"]:
        print(f"      {pct:5.1f}%  {f}")


# =========================================================================== report
def fmt_cpu(cpu: CpuSample, nbytes: int) -> str:
    return (f"broker CPU {cpu.core_pct:4.0f}% of a core, {cpu.per_gb(nbytes):5.2f} s/GB; "
            f"machine busy {100 * cpu.machine_busy:3.0f}%, load {cpu.load1:.1f}")


def client_per_gb(r: dict[str, Any]) -> float:
    """The producer processes' own CPU seconds per GB they sent (all their threads)."""
    return float(r["client_cpu_s"] / (r["bytes"] / 1e9)) if r.get("bytes") else float("nan")


def fmt_client(r: dict[str, Any]) -> str:
    return f"; producers {client_per_gb(r):5.2f} s/GB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", default=None, help="parent of the temporary data dir (default: system temp)")
    parser.add_argument("--json", default=None, help="also write the results as JSON here")
    parser.add_argument("--quick", action="store_true", help="short smoke run (about a minute)")
    parser.add_argument("--producers", default="1,2",
                        help="confluent-kafka producer process counts to try per ingest figure (best is reported)")
    parser.add_argument("--partitions", type=int, default=1, help="partitions of each ingest topic")
    parser.add_argument("--seconds", type=float, default=None, help="length of each ingest run")
    parser.add_argument("--fill-mb", type=int, default=None, help="MB written for the fetch test")
    parser.add_argument("--fetch-max-mib", type=int, default=32, help="raw fetcher max_bytes (MiB)")
    parser.add_argument("--latency-linger-ms", type=float, default=1.0, help="producer linger.ms in the latency run")
    parser.add_argument("--profile", action="store_true", help="also profile the broker with py-spy (+40 s)")
    parser.add_argument("--cluster", action="store_true",
                        help="also one broker against three with ZooKeeper on this machine, and one Kafka "
                             "node against three (1 KB ingest, 3 partitions; about 7 minutes more; "
                             "bench/limits_cluster.py)")
    parser.add_argument("--no-kafka", action="store_true",
                        help="skip the Apache Kafka runs and the Kafka perf tools (logbroker only)")
    args = parser.parse_args()

    quick = args.quick
    # The whole run is bounded: past this the brokers are stopped. Kafka's cluster runs add about 5 minutes.
    budget_s = (480 if quick else 900) + (420 if args.cluster and not args.no_kafka else 0)

    def out_of_time(_sig: int, _frame: Any) -> None:
        raise TimeoutError(f"limits.py ran past its {budget_s} s budget; stopping")

    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(budget_s)
    nprocs = [int(x) for x in args.producers.split(",") if x.strip()]
    ingest_s = args.seconds or (2.0 if quick else 8.0)
    raw_s = 0.7 if quick else 1.5
    raw_cap = (256 if quick else 1024) * MiB
    fill = (args.fill_mb or (200 if quick else 1000)) * MB
    rounds = 1 if quick else 3
    fetch_repeats = 1 if quick else 3
    lat_s = 3.0 if quick else 10.0
    t_start = time.monotonic()
    res: dict[str, Any] = {"machine": machine_line(), "quick": quick, "flush_policy": POLICY,
                           "loadavg_start": loadavg(), "producers": nprocs, "partitions": args.partitions}
    print(f"machine: {res['machine']}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in res['loadavg_start'])} "
          f"(other work on this machine skews every figure; see 'machine busy' and 'load' per run)")
    others = busy_processes()
    res["busy_processes_start"] = others
    print("other processes busy at start: " + ("; ".join(f"{c} (pid {p}) {pct:.0f}%" for c, p, pct in others)
                                                or "none above 5% of a core"))
    print(f"broker flush policy: {POLICY} (the default; topic config logbroker.flush.policy). MB = 10^6 bytes")
    print("broker CPU = psutil cpu_times of the broker pid (all threads); page-cache writeback done by kernel "
          "threads instead of the broker's fsync is not in it")

    scratch_root = Path(tempfile.mkdtemp(dir=args.dir, prefix="logbroker-limits-"))
    os_ingest: list[dict[str, Any]] = []
    perf: dict[str, dict[str, Any]] = {}
    kafka_res: dict[str, Any] = {}
    perf_records = 50_000 if quick else 500_000
    broker = Broker(scratch_root / "data")
    raws: dict[str, list[float]] = {k: [] for k in RAW_KEYS}
    write_cpu: list[float] = []  # the plain raw write's CPU s/GB, per round
    profiles: dict[str, Any] = {}
    try:
        sendfile_path = scratch_root / "sendfile.bin"
        with open(sendfile_path, "wb") as f:
            chunk = os.urandom(MiB)
            for _ in range(raw_cap // MiB):
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())  # no dirty pages left to slow the raw write runs

        def do_raw_round(label: str) -> None:
            r = raw_round(scratch_root, sendfile_path, raw_s, raw_cap, ingest_s, write_cpu)
            for k, v in r.items():
                raws[k].append(v)
            print(f"  raw round {label}: " + ", ".join(f"{k} {v:,.0f}" for k, v in r.items()) + f" MB/s "
                  f"(load {loadavg()[0]:.1f})")

        print("\n== raw limits (rounds interleaved with the logbroker runs; ratios use the median) ==")
        do_raw_round("1 (before ingest)")
        broker.start()
        print(f"broker pid {broker.pid} on {broker.bootstrap}, data dir {broker.data_dir}")

        # ------------------------------------------------------------------ ingest
        print(f"\n== ingest: confluent-kafka producers in {'/'.join(map(str, nprocs))} process(es), "
              f"{args.partitions} partition(s) per topic, linger.ms=5 batch.size=1MiB compression=none, "
              f"{ingest_s:.0f} s per run ==")
        ingest: list[dict[str, Any]] = []
        for value_size in (1000, 100):
            for acks in ("1", "all"):
                for n in nprocs:
                    topic = f"ingest-{value_size}-{acks}-{n}p"
                    r = run_producers(broker, topic, args.partitions, n, value_size, acks, ingest_s)
                    retire_topic(broker, topic)
                    r.update(value_size=value_size, acks=acks, producers=n, policy=POLICY_NOTE[acks])
                    ingest.append(r)
                    ok = "" if r["landed"] == r["records"] and not r["errors"] else \
                        f"  !! landed {r['landed']} of {r['records']}, {r['errors']} errors"
                    print(f"  {value_size:>4} B acks={acks:<3} {n} producer(s): {r['mb_s']:7.1f} MB/s "
                          f"{r['records_s']:11,.0f} rec/s  {fmt_cpu(r['cpu'], r['bytes'])}{fmt_client(r)}{ok}")
        print(f"  raw producer (logbroker's codec, pre-built batches of 990 x 1 KB records, {RAW_PRODUCE_WINDOW} "
              "requests in flight, 1 partition; shows the broker without the client limit):")
        room = disk_room(scratch_root, 0.2)
        rawp = raw_produce(broker, "rawp-1", room, acks=1, window=RAW_PRODUCE_WINDOW, seconds=ingest_s)
        retire_topic(broker, "rawp-1")
        rawp.update(policy=POLICY_NOTE["1"])
        print(f"  1000 B acks=1  : {rawp['mb_s']:7.1f} MB/s {rawp['records_s']:11,.0f} rec/s  "
              f"{fmt_cpu(rawp['cpu'], rawp['bytes'])}")
        rawp_all = raw_produce(broker, "rawp-all", room, acks=-1, window=RAW_PRODUCE_WINDOW, seconds=ingest_s)
        retire_topic(broker, "rawp-all")
        rawp_all.update(policy=POLICY_NOTE["all"])
        print(f"  1000 B acks=all: {rawp_all['mb_s']:7.1f} MB/s {rawp_all['records_s']:11,.0f} rec/s  "
              f"{fmt_cpu(rawp_all['cpu'], rawp_all['bytes'])}")

        filled = raw_produce(broker, "fetch", fill, acks=1)  # the fetch topic (raw producer, not a figure)

        if rounds > 1:
            do_raw_round("2 (between ingest and fetch)")

        # ------------------------------------------------------------------ fetch
        end = end_offsets(broker.port, "fetch", 1)[0]
        print(f"\n== fetch from offset 0 of 'fetch' ({filled['log_bytes'] / MB:,.0f} MB on disk, {end:,} records, "
              f"page-cached, written with flush={POLICY}) ==")
        fetches = []
        for i in range(fetch_repeats):
            r = raw_fetch(broker, "fetch", end, args.fetch_max_mib * MiB)
            fetches.append(r)
            print(f"  raw fetcher run {i + 1}: {r['mb_s']:7.1f} MB/s ({r['requests']} requests, max_bytes "
                  f"{args.fetch_max_mib} MiB, 1 in flight)  {fmt_cpu(r['cpu'], r['bytes'])}")
        cf = confluent_fetch(broker, "fetch", end, 6.0 if quick else 10.0)
        print(f"  confluent consumer: {cf['mb_s']:7.1f} MB/s {cf['records_s']:11,.0f} rec/s "
              f"({cf['records']:,} records in {cf['seconds']:.1f} s)  {fmt_cpu(cf['cpu'], cf['bytes'])}")

        # ------------------------------------------------------------------ latency
        print(f"\n== end-to-end latency: 10 MB/s of 1 KB records, acks=all, linger.ms={args.latency_linger_ms:g}, "
              f"{lat_s:.0f} s, 1 partition, consumer polls one message at a time ==")
        lat = latency(broker, 10_000, lat_s, args.latency_linger_ms)
        print(f"  p50 {lat['p50_ms']:.2f} ms  p99 {lat['p99_ms']:.2f} ms  p99.9 {lat['p999_ms']:.2f} ms  "
              f"max {lat['max_ms']:.2f} ms  ({lat['measured']:,} of {lat['received']:,} received / "
              f"{lat['sent']:,} sent; first 0.5 s dropped)")
        print(f"  {fmt_cpu(lat['cpu'], lat['sent'] * 1000)}; {POLICY_NOTE['all']}")

        # ------------------------------------------------------------------ flush os, perf tools
        peer_n = nprocs[0]
        print(f"\n== logbroker with flush policy os (Kafka's behaviour: acks=all answered from the page cache), "
              f"{peer_n} producer process(es) ==")
        for value_size in (1000, 100):
            for acks in ("1", "all"):
                r = run_producers(broker, f"os-{value_size}-{acks}", args.partitions, peer_n, value_size, acks,
                                  ingest_s, topic_configs={"logbroker.flush.policy": "os"})
                retire_topic(broker, f"os-{value_size}-{acks}")
                r.update(value_size=value_size, acks=acks, producers=peer_n, policy="flush=os")
                os_ingest.append(r)
                print(f"  {value_size:>4} B acks={acks:<3}: {r['mb_s']:7.1f} MB/s {r['records_s']:11,.0f} rec/s  "
                      f"{fmt_cpu(r['cpu'], r['bytes'])}{fmt_client(r)}")
        if not args.no_kafka:
            perf["logbroker"] = perf_tools(broker, perf_records)

        if rounds > 2:
            do_raw_round("3 (after latency)")

        # ------------------------------------------------------------------ profile
        if args.profile:
            print("\n== py-spy profiles of the broker (separate runs, slowed by sampling; not in the figures) ==")
            prof_dir = scratch_root / "profiles"
            prof_dir.mkdir()
            best_n = max(nprocs)
            for value_size, acks in ((1000, "1"), (100, "all")):
                out = prof_dir / f"ingest-{value_size}-{acks}.txt"
                spy: list[subprocess.Popen[bytes] | None] = []

                def attach(o: Path = out, s: list[subprocess.Popen[bytes] | None] = spy) -> None:
                    s.append(start_pyspy(broker.pid, ingest_s, o))

                r = run_producers(broker, f"prof-{value_size}-{acks}", args.partitions, best_n, value_size,
                                  acks, ingest_s + 1, during=attach)
                if spy and spy[0] is not None:
                    spy[0].wait(ingest_s + 60)
                prof = summarize_profile(out)
                profiles[f"ingest {value_size} B acks={acks}"] = prof
                print_profile(f"ingest {value_size} B acks={acks}, {best_n} producers "
                              f"({r['mb_s']:.0f} MB/s while profiled)", prof)
            out = prof_dir / "fetch.txt"
            spy_f = start_pyspy(broker.pid, 4, out)
            t_end = time.monotonic() + 4.5
            passes = 0
            while time.monotonic() < t_end:
                raw_fetch(broker, "fetch", end, args.fetch_max_mib * MiB)
                passes += 1
            if spy_f is not None:
                spy_f.wait(60)
            prof = summarize_profile(out)
            profiles["raw fetch"] = prof
            print_profile(f"raw fetch ({passes} passes over the topic)", prof)
    finally:
        broker.stop()
        if args.no_kafka:
            signal.alarm(0)

    # ---------------------------------------------------------------------- several brokers
    cluster_rows: list[dict[str, Any]] = []
    try:
        if args.cluster:
            if args.no_kafka:
                signal.alarm(300)  # the run's budget was lifted with the single broker's runs: bound this part
            try:
                cluster_rows = limits_cluster.cluster_runs(scratch_root, max(nprocs), ingest_s, run_producers,
                                                           fmt_cpu, kafka=not args.no_kafka)
            finally:
                if args.no_kafka:
                    signal.alarm(0)

        # ------------------------------------------------------------------ Apache Kafka
        if not args.no_kafka:
            kafka_res = kafka_runs(scratch_root, nprocs[0], args.partitions, ingest_s, fill, fetch_repeats,
                                   args.fetch_max_mib, lat_s, args.latency_linger_ms, quick, perf_records, perf)
    finally:
        signal.alarm(0)
        shutil.rmtree(scratch_root, ignore_errors=True)

    # ---------------------------------------------------------------------- summary
    raw = {k: median(v) for k, v in raws.items()}
    print(f"\n== summary (raw limits: median of {len(raws['tcp'])} round(s); every figure with flush policy "
          f"{POLICY}) ==")
    for k in RAW_KEYS:
        print(f"  raw {RAW_LABELS[k]:<42} {raw[k]:8,.0f} MB/s  (runs: "
              f"{', '.join(f'{v:,.0f}' for v in raws[k])}; spread {spread(raws[k]):.0%})")
        if k == "write":
            print(f"      its writing thread: {median(write_cpu):.2f} CPU s/GB (runs: "
                  f"{', '.join(f'{v:.2f}' for v in write_cpu)})")
    print("  ingest vs: TCP = loopback TCP; write = write without fsync (acks=1) or with the fsync-loop thread "
          "(acks=all); sock>file = loopback TCP received into a file (without / with the fsync loop)")
    print(f"  {'figure':<40} {'MB/s':>7} {'records/s':>11} {'vs TCP':>7} {'vs write':>8} {'sock>file':>9} "
          f"{'CPU%core':>8} {'CPU s/GB':>8} {'busy':>4}  flush policy")
    rows: list[dict[str, Any]] = []

    def row(label: str, r: dict[str, Any], acks: str) -> None:
        cpu: CpuSample = r["cpu"]
        disk = raw["write"] if acks == "1" else raw["write_gfsync"]
        sock_file = raw["tcp_write"] if acks == "1" else raw["tcp_write_gfsync"]
        print(f"  {label:<40} {r['mb_s']:7.1f} {r['records_s']:11,.0f} {r['mb_s'] / raw['tcp']:7.1%} "
              f"{r['mb_s'] / disk:8.1%} {r['mb_s'] / sock_file:9.1%} {cpu.core_pct:8.0f} {cpu.per_gb(r['bytes']):8.2f} "
              f"{100 * cpu.machine_busy:3.0f}%  {POLICY_NOTE[acks]}")
        rows.append({"figure": label, "mb_s": r["mb_s"], "records_s": r["records_s"],
                     "vs_tcp": r["mb_s"] / raw["tcp"], "vs_disk": r["mb_s"] / disk,
                     "vs_socket_file": r["mb_s"] / sock_file,
                     "disk_limit": "write" if acks == "1" else "write_gfsync",
                     "broker_cpu_core_pct": cpu.core_pct, "broker_cpu_s_per_gb": cpu.per_gb(r["bytes"]),
                     "machine_busy": cpu.machine_busy, "policy": POLICY_NOTE[acks]})

    best: dict[tuple[int, str], dict[str, Any]] = {}
    for r in ingest:
        key = (r["value_size"], r["acks"])
        if key not in best or r["records_s"] > best[key]["records_s"]:
            best[key] = r
    for r in ingest:
        mark = "*" if best[(r["value_size"], r["acks"])] is r and len(nprocs) > 1 else " "
        row(f"{mark}confluent {r['value_size']} B acks={r['acks']}, {r['producers']} proc", r, r["acks"])
    row(" raw producer 1000 B acks=1", rawp, "1")
    row(" raw producer 1000 B acks=all", rawp_all, "all")
    if len(nprocs) > 1:
        print("  (* the better producer-process count for that figure; used for the targets)")
    budget = cpu_budget(raw, best)
    fetch_mb = median([f["mb_s"] for f in fetches])
    mid_fetch = sorted(fetches, key=lambda f: f["mb_s"])[len(fetches) // 2]
    print(f"  {'fetch':<40} {'MB/s':>7} {'vs sendfile':>11} {'vs TCP':>7} {'CPU%core':>8} {'CPU s/GB':>8} {'busy':>4}")
    fetch_rows = []
    for label, r in ((f" raw fetcher (median of {len(fetches)})", mid_fetch), (" confluent consumer", cf)):
        cpu = r["cpu"]
        print(f"  {label:<40} {r['mb_s']:7.1f} {r['mb_s'] / raw['sendfile']:11.1%} {r['mb_s'] / raw['tcp']:7.1%} "
              f"{cpu.core_pct:8.0f} {cpu.per_gb(r['bytes']):8.2f} {100 * cpu.machine_busy:3.0f}%  "
              f"data written with flush={POLICY}")
        fetch_rows.append({"figure": label.strip(), "mb_s": r["mb_s"], "vs_sendfile": r["mb_s"] / raw["sendfile"],
                           "broker_cpu_core_pct": cpu.core_pct, "broker_cpu_s_per_gb": cpu.per_gb(r["bytes"]),
                           "machine_busy": cpu.machine_busy})
    print(f"  latency at {lat['mb_s']:.1f} MB/s: p50 {lat['p50_ms']:.2f} ms, p99 {lat['p99_ms']:.2f} ms, "
          f"p99.9 {lat['p999_ms']:.2f} ms; broker CPU {lat['cpu'].core_pct:.0f}% of a core; {POLICY_NOTE['all']}")

    if cluster_rows:
        print(f"  one broker against {limits_cluster.BROKERS} on this machine (1 KB, {limits_cluster.PARTITIONS} "
              f"partitions, {max(nprocs)} producer process(es); CPU summed over the brokers):")
        limits_cluster.print_summary(cluster_rows)

    versus = kafka_table(raw, best, rawp, rawp_all, mid_fetch, cf, lat, os_ingest, kafka_res, perf) \
        if kafka_res else []

    targets = [
        ("ingest 1 KB records >= 300 MB/s (confluent, acks=1)", best[(1000, "1")]["mb_s"], 300, "MB/s"),
        ("ingest 1 KB records >= 300 MB/s (confluent, acks=all)", best[(1000, "all")]["mb_s"], 300, "MB/s"),
        ("ingest 100 B records >= 1,000,000 rec/s (confluent, acks=1)", best[(100, "1")]["records_s"],
         1_000_000, "rec/s"),
        ("ingest 100 B records >= 1,000,000 rec/s (confluent, acks=all)", best[(100, "all")]["records_s"],
         1_000_000, "rec/s"),
        ("fetch >= 1 GB/s (raw fetcher, median)", fetch_mb, 1000, "MB/s"),
        ("p99 end-to-end < 10 ms at 10 MB/s (acks=all)", lat["p99_ms"], 10, "ms"),
        ("ingest 1 KB acks=1 >= 90% of raw write (confluent)", best[(1000, "1")]["mb_s"] / raw["write"], 0.9,
         "of limit"),
        ("ingest 1 KB acks=all, fsync >= 80% of write+fsync loop (confluent)",
         best[(1000, "all")]["mb_s"] / raw["write_gfsync"], 0.8, "of limit"),
    ]
    for v in versus:
        if v["figure"].startswith("ingest 1000 B") and v.get("kafka_cpu_s_per_gb", 0) > 0:
            targets.append((f"broker CPU s/GB <= Kafka's, {v['figure']} (flush group)",
                            v["group_cpu_s_per_gb"] / v["kafka_cpu_s_per_gb"], 1.0, "x Kafka"))
    print(f"\n== issue targets (flush policy {POLICY}) ==")
    target_rows = []
    for name, value, goal, unit in targets:
        met = value < goal if unit == "ms" else value <= goal if unit == "x Kafka" else value >= goal
        shown = f"{value:.1%} {unit}" if unit == "of limit" else f"{value:,.2f} {unit}" if unit == "x Kafka" \
            else f"{value:,.1f} {unit}"
        print(f"  {'MET    ' if met else 'NOT MET'}  {name}: {shown}")
        target_rows.append({"target": name, "value": value, "goal": goal, "unit": unit, "met": met})
    # What receiving alone costs: a process that only reads loopback TCP and writes it to a file (no
    # protocol, no validation, no client work) against the same two raw write limits.
    ceilings = {"acks=1": raw["tcp_write"] / raw["write"], "acks=all": raw["tcp_write_gfsync"] / raw["write_gfsync"]}
    print(f"  (socket-to-file limit: {ceilings['acks=1']:.1%} of raw write, {ceilings['acks=all']:.1%} of the "
          "write+fsync loop)")
    res["socket_file_ceilings"] = ceilings
    res["loadavg_end"] = loadavg()
    res["elapsed_s"] = time.monotonic() - t_start
    all_cpu = [r["cpu"] for r in ingest] + [rawp["cpu"], rawp_all["cpu"], cf["cpu"], lat["cpu"]] + \
        [f["cpu"] for f in fetches]
    print(f"\nnoise: load average {' '.join(f'{x:.2f}' for x in res['loadavg_start'])} at start, "
          f"{' '.join(f'{x:.2f}' for x in res['loadavg_end'])} at end; machine busy during the logbroker runs "
          f"{100 * min(c.machine_busy for c in all_cpu):.0f}-{100 * max(c.machine_busy for c in all_cpu):.0f}% "
          f"(2 cores: broker + clients alone can fill both); raw limit spread "
          + ", ".join(f"{k} {spread(v):.0%}" for k, v in raws.items()))
    print(f"whole run {res['elapsed_s']:.0f} s")

    if args.json:
        def clean(r: dict[str, Any]) -> dict[str, Any]:
            out = {k: v for k, v in r.items() if k != "cpu"}
            cpu = r["cpu"]
            out.update(broker_cpu_s=cpu.cpu_s, broker_cpu_core_pct=cpu.core_pct,
                       broker_cpu_s_per_gb=cpu.per_gb(r.get("bytes", r.get("sent", 0) * 1000)),
                       machine_busy=cpu.machine_busy, load1=cpu.load1)
            return out

        res.update(raw_runs=raws, raw_median=raw, raw_write_thread_cpu_s_per_gb_runs=write_cpu,
                   ingest=[clean(r) for r in ingest],
                   raw_produce={"acks_1": clean(rawp), "acks_all": clean(rawp_all)},
                   fetch_raw=[clean(f) for f in fetches], fetch_confluent=clean(cf), latency=clean(lat),
                   summary=rows, fetch_summary=fetch_rows, targets=target_rows, profiles=profiles, cpu_budget=budget,
                   flush_os_ingest=[clean(r) for r in os_ingest], versus_kafka=versus,
                   cluster=[clean(r) for r in cluster_rows],
                   perf_tools={b: {k: clean(v) for k, v in d.items()} for b, d in perf.items()},
                   kafka={k: ([clean(x) for x in v] if isinstance(v, list) else clean(v))
                          for k, v in kafka_res.items() if k != "version"})
        Path(args.json).write_text(json.dumps(res, indent=2, default=str))
        print(f"results written to {args.json}")


def perf_tools(broker: Any, records: int) -> dict[str, Any]:
    """Kafka's own producer and consumer perf tools against ``broker`` (1 KB records, 1 partition)."""
    out: dict[str, Any] = {}
    for acks in ("1", "all"):
        topic = f"perf-{acks}"
        create_topic(broker.port, topic, 1)
        try:
            r = limits_peer.producer_perf(broker, topic, records, 1000, acks)
        except (RuntimeError, subprocess.SubprocessError) as exc:
            print(f"  kafka-producer-perf-test acks={acks} failed: {exc}")
            continue
        out[f"producer acks={acks}"] = r
        print(f"  kafka-producer-perf-test 1000 B acks={acks:<3}: {r['mb_s']:7.1f} MB/s {r['records_s']:11,.0f} rec/s, "
              f"avg {r['avg_ms']:.0f} ms p99 {r['p99_ms']:.0f} ms  {fmt_cpu(r['cpu'], r['bytes'])}")
    if "producer acks=1" in out:
        try:
            r = limits_peer.consumer_perf(broker, "perf-1", records)
            out["consumer"] = r
            print(f"  kafka-consumer-perf-test          : {r['mb_s']:7.1f} MB/s {r['records_s']:11,.0f} rec/s  "
                  f"{fmt_cpu(r['cpu'], r['bytes'])}")
        except (RuntimeError, subprocess.SubprocessError) as exc:
            print(f"  kafka-consumer-perf-test failed: {exc}")
    return out


def kafka_runs(scratch: Path, nproc: int, partitions: int, ingest_s: float, fill: int, fetch_repeats: int,
               fetch_max_mib: int, lat_s: float, linger_ms: float, quick: bool, perf_records: int,
               perf: dict[str, Any]) -> dict[str, Any]:
    """The same ingest, fetch and latency runs against Apache Kafka, then Kafka's perf tools against it."""
    reason = compare_kafka.unavailable_reason()
    if reason is not None:
        print(f"\n== Apache Kafka skipped: {reason} ==")
        return {}
    node, kb = limits_peer.start_kafka(scratch)
    res: dict[str, Any] = {"version": node.version, "ingest": []}
    try:
        print(f"\n== Apache Kafka {node.version} (pid {kb.pid}, {' '.join(compare_kafka.JVM_OPTS)}, shipped "
              f"defaults: acks=all answered without fsync; deleted topics' files removed at once) on {kb.bootstrap} ==")
        warm = run_producers(kb, "warmup", partitions, 1, 1000, "1", 2.0 if quick else 5.0)
        retire_topic(kb, "warmup")
        print(f"  warm-up (not counted): {warm['mb_s']:.0f} MB/s")
        for value_size in (1000, 100):
            for acks in ("1", "all"):
                r = run_producers(kb, f"ingest-{value_size}-{acks}", partitions, nproc, value_size, acks, ingest_s)
                retire_topic(kb, f"ingest-{value_size}-{acks}")
                r.update(value_size=value_size, acks=acks, producers=nproc, policy="Kafka defaults")
                res["ingest"].append(r)
                print(f"  {value_size:>4} B acks={acks:<3}: {r['mb_s']:7.1f} MB/s {r['records_s']:11,.0f} rec/s  "
                      f"{fmt_cpu(r['cpu'], r['bytes'])}{fmt_client(r)}")
        rawp = raw_produce(kb, "rawp-1", disk_room(scratch, 0.2), acks=1, window=RAW_PRODUCE_WINDOW,
                           seconds=ingest_s)
        retire_topic(kb, "rawp-1")
        res["raw_produce"] = rawp
        print(f"  raw producer 1000 B acks=1: {rawp['mb_s']:7.1f} MB/s  {fmt_cpu(rawp['cpu'], rawp['bytes'])}")
        raw_produce(kb, "fetch", fill, acks=1)  # the fetch topic
        end = end_offsets(kb.port, "fetch", 1)[0]
        fetches = []
        for i in range(fetch_repeats):
            r = raw_fetch(kb, "fetch", end, fetch_max_mib * MiB)
            fetches.append(r)
            print(f"  raw fetcher run {i + 1}: {r['mb_s']:7.1f} MB/s  {fmt_cpu(r['cpu'], r['bytes'])}")
        res["fetch_raw"] = sorted(fetches, key=lambda f: f["mb_s"])[len(fetches) // 2]
        cf = confluent_fetch(kb, "fetch", end, 6.0 if quick else 10.0)
        res["fetch_confluent"] = cf
        print(f"  confluent consumer: {cf['mb_s']:7.1f} MB/s  {fmt_cpu(cf['cpu'], cf['bytes'])}")
        lat = latency(kb, 10_000, lat_s, linger_ms)
        res["latency"] = lat
        print(f"  latency at 10 MB/s, acks=all: p50 {lat['p50_ms']:.2f} ms p99 {lat['p99_ms']:.2f} ms "
              f"p99.9 {lat['p999_ms']:.2f} ms  {fmt_cpu(lat['cpu'], lat['sent'] * 1000)}")
        perf["kafka"] = perf_tools(kb, perf_records)
    except (RuntimeError, OSError, TimeoutError, AssertionError) as exc:
        print(f"  Apache Kafka runs stopped: {type(exc).__name__}: {exc}")
    finally:
        node.__exit__(None, None, None)
    return res


def cpu_budget(raw: dict[str, float], best: dict[tuple[int, str], dict[str, Any]]) -> list[dict[str, Any]]:
    """What 1 KB ingest costs per GB on this machine (broker, producers, the whole machine), and the
    ceilings that follow for all cores: at the broker's and the producers' cost, and at the whole
    machine's. Each is also given as a share of the raw limit the ingest goal divides by. Printed and
    returned."""
    cores = os.cpu_count() or 1
    out = []
    for acks in ("1", "all"):
        r = best.get((1000, acks))
        limit = raw["write"] if acks == "1" else raw["write_gfsync"]
        if r is None or not r["bytes"] or not limit:
            continue
        cpu: CpuSample = r["cpu"]
        gb = r["bytes"] / 1e9
        broker, client = cpu.per_gb(r["bytes"]), client_per_gb(r)
        machine = cpu.machine_busy * cores * cpu.wall_s / gb
        both = cores / (broker + client) * 1000
        whole = cores / machine * 1000 if machine else float("nan")
        limit_name = "raw write" if acks == "1" else "write+fsync loop"
        print(f"  CPU per GB of 1 KB ingest, acks={acks} (best run): broker {broker:.2f} + producers {client:.2f} = "
              f"{broker + client:.2f} s (the whole machine {machine:.2f}); {cores} cores at the broker's and the "
              f"producers' cost carry at most {both:,.0f} MB/s = {both / limit:.0%} of the {limit_name}, at the "
              f"whole machine's {whole:,.0f} MB/s = {whole / limit:.0%}")
        out.append({"acks": acks, "cores": cores, "limit": limit_name, "broker_cpu_s_per_gb": broker,
                    "producers_cpu_s_per_gb": client, "machine_cpu_s_per_gb": machine,
                    "ceiling_mb_s": both, "ceiling_vs_limit": both / limit,
                    "machine_ceiling_mb_s": whole, "machine_ceiling_vs_limit": whole / limit})
    return out


def kafka_table(raw: dict[str, float], best: dict[tuple[int, str], dict[str, Any]], rawp: dict[str, Any],
                rawp_all: dict[str, Any], mid_fetch: dict[str, Any], cf: dict[str, Any], lat: dict[str, Any],
                os_ingest: list[dict[str, Any]], kafka: dict[str, Any], perf: dict[str, Any]) -> list[dict[str, Any]]:
    """logbroker (flush group, flush os) beside Apache Kafka, with ratios and CPU s/GB, printed and returned."""
    out: list[dict[str, Any]] = []

    def gb(r: dict[str, Any]) -> float:
        return float(r["cpu"].per_gb(r.get("bytes", r.get("sent", 0) * 1000)))

    def add(figure: str, limit: str, group: dict[str, Any] | None, osr: dict[str, Any] | None,
            k: dict[str, Any] | None, key: str = "mb_s") -> None:
        lim = raw.get(limit, float("nan")) if limit else float("nan")
        row: dict[str, Any] = {"figure": figure, "limit": limit, "limit_mb_s": lim}
        for name, r in (("group", group), ("os", osr), ("kafka", k)):
            row[name] = r[key] if r else float("nan")
            row[f"{name}_vs_limit"] = r[key] / lim if r and limit else float("nan")
            row[f"{name}_cpu_s_per_gb"] = gb(r) if r else float("nan")
        for name in ("group", "os"):
            row[f"{name}_vs_kafka"] = row[name] / row["kafka"] if k and row["kafka"] else float("nan")
        out.append(row)

    kin = {(r["value_size"], r["acks"]): r for r in kafka.get("ingest", [])}
    oin = {(r["value_size"], r["acks"]): r for r in os_ingest}
    for vs in (1000, 100):
        for acks in ("1", "all"):
            limit = "write" if acks == "1" else "write_gfsync"
            add(f"ingest {vs} B acks={acks} (confluent)", limit, best.get((vs, acks)), oin.get((vs, acks)),
                kin.get((vs, acks)))
    add("raw producer 1000 B acks=1", "write", rawp, None, kafka.get("raw_produce"))
    add("fetch, raw fetcher", "sendfile", mid_fetch, None, kafka.get("fetch_raw"))
    add("fetch, confluent consumer", "sendfile", cf, None, kafka.get("fetch_confluent"))
    for name in ("producer acks=1", "producer acks=all", "consumer"):
        lb, kk = perf.get("logbroker", {}).get(name), perf.get("kafka", {}).get(name)
        if lb or kk:
            limit = "sendfile" if name == "consumer" else "write" if name.endswith("=1") else "write_gfsync"
            add(f"kafka-{name.split()[0]}-perf-test 1000 B{' ' + name.split()[1] if ' ' in name else ''}", limit,
                lb, None, kk)
    print("\n== logbroker versus Apache Kafka (same run; 'group' = logbroker's default flush policy, fsync group "
          "commit; 'os' = flush policy os, as Kafka: no fsync before the answer) ==")
    print(f"  {'figure':<44} {'group MB/s':>10} {'os MB/s':>8} {'Kafka MB/s':>10} {'group/K':>8} {'os/K':>6} "
          f"{'K vs limit':>10} {'CPU s/GB g/os/K':>18}")
    def f(x: float, spec: str) -> str:
        return "-" if x != x else format(x, spec)

    for r in out:
        print(f"  {r['figure']:<44} {f(r['group'], '10.1f'):>10} {f(r['os'], '8.1f'):>8} {f(r['kafka'], '10.1f'):>10} "
              f"{f(r['group_vs_kafka'], '7.2f'):>7}x {f(r['os_vs_kafka'], '5.2f'):>5}x "
              f"{f(r['kafka_vs_limit'], '10.1%'):>10} {f(r['group_cpu_s_per_gb'], '.2f')}/"
              f"{f(r['os_cpu_s_per_gb'], '.2f')}/{f(r['kafka_cpu_s_per_gb'], '.2f')}")
    kl = kafka.get("latency")
    if kl:
        print(f"  latency at 10 MB/s acks=all: logbroker (group) p99 {lat['p99_ms']:.2f} ms, Kafka p99 "
              f"{kl['p99_ms']:.2f} ms (p50 {lat['p50_ms']:.2f} / {kl['p50_ms']:.2f} ms)")
        out.append({"figure": "latency p99 ms at 10 MB/s acks=all", "group": lat["p99_ms"], "kafka": kl["p99_ms"],
                    "group_p50": lat["p50_ms"], "kafka_p50": kl["p50_ms"]})
    return out


if __name__ == "__main__":
    main()
