"""logbroker versus Apache Kafka, NATS JetStream and RabbitMQ: one producer, four competing consumers.

Configurations (each broker started here on 127.0.0.1 with its own temporary data):

- logbroker + confluent-kafka (librdkafka) and + kafka-python (pure Python): producer acks=all,
  linger 5 ms, records spread round-robin over a 4-partition topic; four consumer processes in one
  consumer group (``--assign``: each consumer assign()s one partition instead); ``confluent-os``: the
  same on a topic with ``logbroker.flush.policy=os`` (no fsync before the answer, as Kafka);
  ``confluent-flush1`` (asked for by name only): the default policy on a broker with
  ``logbroker.flush.threads=1`` (the partitions' fsyncs one after the other instead of four at once);
  ``confluent-shared`` (by name only): one logbroker serves all its runs, a fresh topic per run, as
  the Apache Kafka node does (every other logbroker configuration starts a fresh broker per run);
- Apache Kafka 4.1.1 (``compare_kafka``: single-node KRaft, Kafka's shipped JVM options with a 1 GB heap
  and its defaults) with the same two clients and settings, one broker for the whole comparison, a fresh
  topic per run, one untimed warm-up run per configuration first;
- NATS JetStream (``compare_nats``: Debian's ``nats-server -js``, nats-py): a work-queue stream, one
  durable pull consumer shared by four consumer processes, explicit acks;
- logbroker + confluent-kafka share group (KIP-932): the same producer, to a topic of ONE partition;
  four ``ShareConsumer`` processes in one share group compete for its records, each acknowledging
  every message on its own (ACCEPT, explicit mode): a work queue, the counterpart of RabbitMQ's one
  queue with four consumers, manual acks and prefetch;
- logbroker over its HTTP API: batched msgpack produce (``POST /topics/{t}/records``, acks=all,
  1,000 records a request), four consumers each long-polling one partition
  (``GET /topics/{t}/partitions/{p}/records``);
- RabbitMQ + pika: one durable queue, four competing consumers, manual acks (one per message),
  prefetch 100; messages persistent, persistent with publisher confirms (batches of 100), or transient;
  the producer publishes asynchronously (``SelectConnection``).

A fresh logbroker (own data directory) serves each run; one Kafka, one NATS and one RabbitMQ
server each serve the whole comparison and each run gets a fresh topic, stream or queue, deleted
afterwards. Each run starts after ``sync`` (every dirty page written back), so no broker's
deferred writeback lands in another's run. The broker's CPU seconds (psutil, all threads) from the
first send until the last message was processed are reported per GB of payload. Runs of all
configurations are interleaved (a new order each round and size, shuffled with a fixed seed) so
machine drift hits all alike, and no configuration always follows the same one; each figure is the
median of ``--runs`` runs.

Per run: producer throughput (first send until every message is acknowledged: flush for Kafka
clients, the last answer for HTTP, the last confirm; without confirms, until the broker answered
the connection close that follows the last publish), end-to-end throughput (first send until the
last message was processed by a consumer), per-consumer share, duplicates and losses (every message
carries a unique sequence number), and p50/p99 end-to-end latency (processing time minus the send
timestamp in the message; under full load, so it includes the time a message waits in the backlog).

Results go to ``bench/results/``: compare.md and compare.json (table), compare_<size>B.png (one
plot per message size) and COMPARE.md (the section for bench/README.md). Usage::

    python bench/compare.py [--runs 3] [--sizes 100,500,1000] [--messages 100000] [--quick]
                            [--configs confluent,confluent-os,confluent-share,kafka-confluent,kafka-python,
                                       kafka-python-kafka,http,nats,rabbit,rabbit-confirms,rabbit-transient]
                            [--budget MIN] [--append-time] [--client-stats]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from array import array
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare_drivers as drivers
import compare_kafka
import compare_nats
import compare_rabbit
from harness import MB, ROOT, Broker, CpuMeter, loadavg, machine_line, median, percentile, settle_disk, spread

CTX = mp.get_context("spawn")
RESULTS = Path(__file__).resolve().parent / "results"
PARTITIONS = 4
CONSUMERS = 4
# The clock starts once the group has settled, so the join delay only costs set-up time; 3 s is the default.
BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "500"}
EXTRA_OVERRIDES: dict[str, str] = {}  # --override KEY=VALUE: broker properties of every logbroker run
TOPIC_CONFIGS: dict[str, str] = {}  # --append-time: topic configs of every Kafka-protocol run (both brokers)
APPEND_TIME = {"message.timestamp.type": "LogAppendTime"}
SPLIT_KEYS = ("to_append_p50_ms", "to_append_p99_ms", "after_append_p50_ms", "after_append_p99_ms")
RUN_OPTIONS: dict[str, Any] = {}  # --client-stats: {"client_stats": True}, passed to the drivers of every run
CLIENT_KEYS = ("client_queue_p50_ms", "client_queue_p99_ms", "client_rtt_p50_ms")
GOALS = {"confluent": 20.0, "kafka-python": 3.0}  # x RabbitMQ's best configuration, end-to-end
# logbroker configuration -> the Apache Kafka one with the same client; goal: end-to-end >= 1.0x, p99 no worse.
KAFKA_PEERS = {"confluent": "kafka-confluent", "confluent-os": "kafka-confluent", "confluent-flush1": "kafka-confluent",
               "confluent-flush2": "kafka-confluent", "kafka-python-flush1": "kafka-python-kafka",
               "confluent-shared": "kafka-confluent",
               "kafka-python-flush2": "kafka-python-kafka",
               "kafka-python": "kafka-python-kafka", "kafka-python-os": "kafka-python-kafka"}
# Asked for by name only: not in the default comparison.
EXTRA_CONFIGS = ("kafka-python-os", "confluent-flush1", "confluent-flush2", "kafka-python-flush1",
                 "kafka-python-flush2", "confluent-shared")
KAFKA_GOALS = ("confluent", "confluent-os")


@dataclass(frozen=True)
class Config:
    key: str
    label: str
    broker: str  # logbroker | kafka | rabbit | nats
    driver: str
    persistent: bool = True
    confirms: bool = False
    flush: str = ""  # logbroker: topic config logbroker.flush.policy ("" = the default, group commit)
    partitions: int = PARTITIONS  # of the topic (Kafka brokers); a share group is measured on one
    broker_properties: tuple[tuple[str, str], ...] = ()  # logbroker: properties of this configuration's broker
    shared: bool = False  # logbroker: one broker for the whole comparison (a fresh topic per run), as Kafka


CONFIGS = {c.key: c for c in (
    Config("confluent", "logbroker + confluent-kafka", "logbroker", "confluent"),
    Config("confluent-share", "logbroker + confluent-kafka share group, 1 partition", "logbroker", "confluent-share",
           partitions=1),
    Config("confluent-os", "logbroker (flush os) + confluent-kafka", "logbroker", "confluent", flush="os"),
    Config("confluent-flush1", "logbroker (1 flush thread) + confluent-kafka", "logbroker", "confluent",
           broker_properties=(("logbroker.flush.threads", "1"),)),
    Config("confluent-shared", "logbroker (one broker for the comparison) + confluent-kafka", "logbroker",
           "confluent", shared=True),
    Config("confluent-flush2", "logbroker (2 flush threads) + confluent-kafka", "logbroker", "confluent",
           broker_properties=(("logbroker.flush.threads", "2"),)),
    Config("kafka-confluent", "Apache Kafka + confluent-kafka", "kafka", "confluent"),
    Config("kafka-python", "logbroker + kafka-python", "logbroker", "kafka-python"),
    Config("kafka-python-os", "logbroker (flush os) + kafka-python", "logbroker", "kafka-python", flush="os"),
    Config("kafka-python-flush1", "logbroker (1 flush thread) + kafka-python", "logbroker", "kafka-python",
           broker_properties=(("logbroker.flush.threads", "1"),)),
    Config("kafka-python-flush2", "logbroker (2 flush threads) + kafka-python", "logbroker", "kafka-python",
           broker_properties=(("logbroker.flush.threads", "2"),)),
    Config("kafka-python-kafka", "Apache Kafka + kafka-python", "kafka", "kafka-python"),
    Config("http", "logbroker + HTTP API", "logbroker", "http"),
    Config("nats", "NATS JetStream work queue", "nats", "nats"),
    Config("rabbit", "RabbitMQ persistent", "rabbit", "rabbit"),
    Config("rabbit-confirms", "RabbitMQ persistent + confirms", "rabbit", "rabbit", confirms=True),
    Config("rabbit-transient", "RabbitMQ transient", "rabbit", "rabbit", persistent=False),
)}


def _round_order(configs: list[Config], round_no: int, size: int) -> list[Config]:
    """The configurations in this round's order for this size: shuffled with a seed made of the two, so
    a rerun repeats it. A rotation kept every configuration behind the same neighbour in every round,
    so whatever one run leaves behind (its clients exiting, the kernel's writeback) always fell on the
    same next configuration."""
    order = list(configs)
    random.Random(f"compare-{round_no}-{size}").shuffle(order)
    return order


# ====================================================================================== one run
class RunFailed(RuntimeError):
    pass


def _create_topic(bootstrap: str, topic: str, config: dict[str, str] | None = None,
                  partitions: int = PARTITIONS) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    futures = admin.create_topics([NewTopic(topic, partitions, 1, config=config or {})], operation_timeout=15,
                                  request_timeout=15)
    futures[topic].result(timeout=30)


_SHARED: dict[tuple[tuple[str, str], ...], Broker] = {}  # the shared logbrokers, by their broker properties


def _shared_logbroker(cfg: Config, workdir: Path) -> Broker:
    """The logbroker that serves every run of configurations with ``shared`` and these properties,
    started on first use and stopped by ``_stop_shared`` when the comparison ends."""
    broker = _SHARED.get(cfg.broker_properties)
    if broker is None:
        name = f"shared-{len(_SHARED)}"
        overrides = {**BROKER_OVERRIDES, **dict(cfg.broker_properties), **EXTRA_OVERRIDES}
        broker = Broker(data_dir=workdir / name, log_path=workdir / f"{name}.log", overrides=overrides)
        try:
            broker.start()
        except RuntimeError as exc:
            raise RunFailed(f"logbroker did not start ({exc})") from None
        _SHARED[cfg.broker_properties] = broker
    return broker


def _stop_shared() -> None:
    while _SHARED:
        _, broker = _SHARED.popitem()
        broker.stop()
        shutil.rmtree(broker.data_dir, ignore_errors=True)


def _delete_topic(bootstrap: str, topic: str) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    admin.delete_topics([topic], operation_timeout=15, request_timeout=15)[topic].result(timeout=30)


@contextmanager
def _target(cfg: Config, topic: str, workdir: Path, rabbit: compare_rabbit.RabbitNode | None,
            kafka: compare_kafka.KafkaNode | None, nats: compare_nats.NatsNode | None,
            base: drivers.RunSpec) -> Iterator[tuple[drivers.RunSpec, int | None]]:
    """The broker side of one run and the broker's pid: a fresh logbroker with a 4-partition topic,
    a fresh 4-partition topic on the Apache Kafka node, or a fresh queue."""
    if cfg.broker == "logbroker" and cfg.shared:
        shared = _shared_logbroker(cfg, workdir)
        flush = {"logbroker.flush.policy": cfg.flush} if cfg.flush else {}
        _create_topic(shared.bootstrap, topic, {**TOPIC_CONFIGS, **flush}, cfg.partitions)
        try:
            yield (drivers.RunSpec(**{**asdict(base), "bootstrap": shared.bootstrap, "http_port": shared.http_port}),
                   shared.pid)
        finally:
            _delete_topic(shared.bootstrap, topic)
    elif cfg.broker == "logbroker":
        data = workdir / topic
        log_path = workdir / f"{topic}.log"
        overrides = {**BROKER_OVERRIDES, **dict(cfg.broker_properties), **EXTRA_OVERRIDES}
        broker = Broker(data_dir=data, log_path=log_path, overrides=overrides)
        try:
            broker.start()
        except RuntimeError as exc:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-3:] if log_path.exists() else []
            raise RunFailed(f"logbroker did not start ({exc}): {' | '.join(tail)}") from None
        try:
            flush = {"logbroker.flush.policy": cfg.flush} if cfg.flush else {}
            _create_topic(broker.bootstrap, topic, {**TOPIC_CONFIGS, **flush}, cfg.partitions)
            yield (drivers.RunSpec(**{**asdict(base), "bootstrap": broker.bootstrap, "http_port": broker.http_port}),
                   broker.pid)
        finally:
            code = broker.stop()
            if code not in (0, None):
                tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
                print(f"  logbroker exited with code {code}: {' | '.join(tail)}")
            shutil.rmtree(data, ignore_errors=True)
    elif cfg.broker == "kafka":
        assert kafka is not None
        _create_topic(kafka.bootstrap, topic, TOPIC_CONFIGS)
        try:
            yield drivers.RunSpec(**{**asdict(base), "bootstrap": kafka.bootstrap}), kafka.pid
        finally:
            kafka.delete_topic(topic)
    elif cfg.broker == "nats":
        assert nats is not None
        nats.create_stream(topic)
        try:
            yield drivers.RunSpec(**{**asdict(base), "options": {"nats_port": nats.port}}), nats.pid
        finally:
            nats.delete_stream(topic)
    else:
        assert rabbit is not None
        rabbit.declare_queue(topic)
        try:
            yield drivers.RunSpec(**{**asdict(base), "amqp_port": rabbit.port}), rabbit.pid
        finally:
            rabbit.delete_queue(topic)


def _drain(shared: drivers.Shared, into: list[dict[str, Any]]) -> None:
    while True:
        try:
            into.append(shared.results.get_nowait())
        except queue.Empty:
            return
        if "failed" in into[-1]:
            raise RunFailed(f"{into[-1]['kind']} failed: {into[-1]['failed']}")


def _progress(total: int, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="msg", unit_scale=True, leave=False, dynamic_ncols=True,
                disable=not sys.stderr.isatty(), file=sys.stderr)


def run_once(cfg: Config, size: int, messages: int, run_no: int, workdir: Path,
             rabbit: compare_rabbit.RabbitNode | None, kafka: compare_kafka.KafkaNode | None,
             nats: compare_nats.NatsNode | None, group: bool, timeout_s: float) -> dict[str, Any]:
    topic = f"cmp-{cfg.key}-{size}-{run_no}" if run_no >= 0 else f"cmp-{cfg.key}-warmup"
    base = drivers.RunSpec(config=cfg.key, driver=cfg.driver, messages=messages, size=size, consumers=CONSUMERS,
                           topic=topic, partitions=cfg.partitions, group=group, persistent=cfg.persistent,
                           confirms=cfg.confirms, timeout_s=timeout_s,
                           options=dict(RUN_OPTIONS))
    load_before = loadavg()
    t_setup = time.monotonic()
    meter: CpuMeter | None = None
    with _target(cfg, topic, workdir, rabbit, kafka, nats, base) as (spec, pid):
        shared = drivers.Shared(progress=CTX.Array("q", CONSUMERS, lock=False),
                                assigned=CTX.Array("q", CONSUMERS, lock=False),
                                go=CTX.Event(), stop=CTX.Event(), results=CTX.Queue())
        procs = [CTX.Process(target=drivers.run_consumer, args=(spec, i, shared), daemon=True)
                 for i in range(CONSUMERS)]
        procs.append(CTX.Process(target=drivers.run_producer, args=(spec, shared), daemon=True))
        got: list[dict[str, Any]] = []
        for proc in procs:
            proc.start()
        try:
            _wait_ready(shared, got, spec)
            setup_s = time.monotonic() - t_setup
            settle_disk()  # the previous run's dirty pages are written back now, not during this run
            meter = CpuMeter(pid).start() if pid else None
            shared.go.set()
            _wait_done(shared, got, spec, f"{cfg.key} {size}B #{run_no + 1}")
            if meter is not None:
                meter.stop()
            shared.stop.set()
            deadline = time.monotonic() + 60
            while len(got) < CONSUMERS + 1:
                if time.monotonic() > deadline:
                    raise RunFailed(f"only {len(got)} of {CONSUMERS + 1} workers reported")
                _drain(shared, got)
                time.sleep(0.02)
        finally:
            shared.go.set()
            shared.stop.set()
            _reap(procs, shared)
    result = _measure(cfg, size, messages, run_no, got, load_before)
    result["setup_s"], result["wall_s"] = setup_s, time.monotonic() - t_setup
    # Broker CPU (user + system, all its threads) from the producer's start until the last message was
    # processed, per GB of message payload carried end to end (written once, read once).
    sample = meter.sample if meter is not None else None
    result["broker_cpu_s"] = sample.cpu_s if sample else float("nan")
    result["cpu_s_per_gb"] = sample.per_gb(messages * size) if sample else float("nan")
    return result


def _reap(procs: list[Any], shared: drivers.Shared, timeout: float = 20.0) -> None:
    """Let the workers exit (draining the result queue, which a worker's exit waits on), then kill the rest."""
    deadline = time.monotonic() + timeout
    while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
        with suppress(queue.Empty):
            while True:
                shared.results.get_nowait()
        time.sleep(0.05)
    for proc in procs:
        if proc.is_alive():
            proc.kill()
        proc.join(5)


def _wait_ready(shared: drivers.Shared, got: list[dict[str, Any]], spec: drivers.RunSpec) -> None:
    """Until every consumer holds its share of the partitions (the group has settled) for 0.5 s."""
    deadline = time.monotonic() + 90
    stable_since = 0.0
    while True:
        _drain(shared, got)
        held = list(shared.assigned)
        # Share-group members all read every partition, like a queue's consumers: each only has to be in.
        shared_queue = spec.driver in ("rabbit", "nats", "confluent-share")
        ready = all(h >= 1 for h in held) and (shared_queue or not spec.group or sum(held) == PARTITIONS)
        now = time.monotonic()
        if not ready:
            stable_since = 0.0
        elif not stable_since:
            stable_since = now
        elif now - stable_since >= 0.5:
            return
        if now > deadline:
            raise RunFailed(f"consumers not ready after 90 s (partitions held: {held})")
        time.sleep(0.05)


def _wait_done(shared: drivers.Shared, got: list[dict[str, Any]], spec: drivers.RunSpec, desc: str) -> None:
    """Until the consumers processed every message (plus a short grace for duplicates) or the deadline."""
    deadline = time.monotonic() + spec.timeout_s
    with _progress(spec.messages, desc) as bar:
        while time.monotonic() < deadline:
            _drain(shared, got)
            seen = sum(shared.progress)
            bar.update(seen - bar.n)
            if seen >= spec.messages:
                break
            time.sleep(0.05)
    time.sleep(0.3)


def _measure(cfg: Config, size: int, messages: int, run_no: int, got: list[dict[str, Any]],
             load_before: tuple[float, float, float]) -> dict[str, Any]:
    producer = next(g for g in got if g["kind"] == "producer")
    consumers = sorted((g for g in got if g["kind"] == "consumer"), key=lambda g: g["idx"])
    counts = bytearray(messages)
    received = out_of_range = 0
    per_consumer = []
    latencies = array("f")
    to_append = array("f")  # send -> the broker's append (--append-time)
    after_append = array("f")  # the broker's append -> processed
    for c in consumers:
        seqs = array("q")
        seqs.frombytes(c["seqs"])
        per_consumer.append(len(seqs))
        received += len(seqs)
        for s in seqs:
            if 0 <= s < messages:
                if counts[s] < 255:
                    counts[s] += 1
            else:
                out_of_range += 1
        lat = array("f")
        lat.frombytes(c["lat_ms"])
        latencies.extend(lat)
        before = array("f")
        before.frombytes(c.get("to_append_ms", b""))
        if before and len(before) == len(lat):
            to_append.extend(before)
            after_append.extend(a - b for a, b in zip(lat, before, strict=True))
    unique = messages - counts.count(0)
    lat_sorted = sorted(latencies)
    t_first = producer["t_first"]
    last = max((c["last"] for c in consumers if c["last"]), default=float("nan"))
    prod_s = producer["t_done"] - t_first
    e2e_s = last - t_first
    nbytes = messages * size
    return {
        "config": cfg.key, "label": cfg.label, "size": size, "messages": messages, "run": run_no,
        "producer_s": prod_s, "producer_msg_s": messages / prod_s, "producer_mb_s": nbytes / prod_s / MB,
        "e2e_s": e2e_s, "e2e_msg_s": unique / e2e_s, "e2e_mb_s": unique * size / e2e_s / MB,
        "p50_ms": percentile(lat_sorted, 50), "p99_ms": percentile(lat_sorted, 99),
        **_split_latency(to_append, after_append),
        # The producer's thread handing its last message to the client (the rest of producer_s is the
        # client shipping what it holds), and with --client-stats librdkafka's own figures.
        "handed_s": producer.get("handed_s", float("nan")),
        **{k: producer[k] for k in CLIENT_KEYS if k in producer},
        "received": received, "unique": unique, "duplicates": received - unique + out_of_range,
        "lost": messages - unique, "producer_errors": producer["errors"],
        "consumer_errors": sum(c["errors"] for c in consumers), "per_consumer": per_consumer,
        "loadavg_before": load_before, "loadavg_after": loadavg(),
    }


def _split_latency(to_append: array[float], after_append: array[float]) -> dict[str, float]:
    """Percentiles of the two parts of the latency, when every record carried the broker's append time."""
    if not to_append:
        return {}
    before, after = sorted(to_append), sorted(after_append)
    return {"to_append_p50_ms": percentile(before, 50), "to_append_p99_ms": percentile(before, 99),
            "after_append_p50_ms": percentile(after, 50), "after_append_p99_ms": percentile(after, 99)}


# ====================================================================================== summary
def summarize(runs: list[dict[str, Any]], configs: Sequence[Config], sizes: Sequence[int]) -> list[dict[str, Any]]:
    rows = []
    for size in sizes:
        for cfg in configs:
            rs = [r for r in runs if r["config"] == cfg.key and r["size"] == size]
            if not rs:
                continue
            total = sum(sum(r["per_consumer"]) for r in rs) or 1
            shares = [100 * sum(r["per_consumer"][i] for r in rs) / total for i in range(CONSUMERS)]
            rows.append({
                "config": cfg.key, "label": cfg.label, "size": size, "runs": len(rs),
                **{k: median([r[k] for r in rs]) for k in ("producer_msg_s", "producer_mb_s", "e2e_msg_s",
                                                            "e2e_mb_s", "p50_ms", "p99_ms", "cpu_s_per_gb")},
                "e2e_min": min(r["e2e_msg_s"] for r in rs), "e2e_max": max(r["e2e_msg_s"] for r in rs),
                "e2e_spread": spread([r["e2e_msg_s"] for r in rs]), "shares": shares,
                "duplicates": max(r["duplicates"] for r in rs), "lost": max(r["lost"] for r in rs),
                "errors": max(r["producer_errors"] + r["consumer_errors"] for r in rs),
                **{k: median([r[k] for r in rs]) for k in SPLIT_KEYS + CLIENT_KEYS if all(k in r for r in rs)},
                "handed_s": median([r["handed_s"] for r in rs]),
                "producer_s": median([r["producer_s"] for r in rs]),
            })
    for r in rows:
        peer = next((p for p in rows if p["size"] == r["size"] and p["config"] == KAFKA_PEERS.get(r["config"])), None)
        r["vs_kafka"] = r["e2e_msg_s"] / peer["e2e_msg_s"] if peer else float("nan")
        r["cpu_vs_kafka"] = r["cpu_s_per_gb"] / peer["cpu_s_per_gb"] if peer else float("nan")
    return rows


def goals(rows: list[dict[str, Any]], sizes: Sequence[int]) -> list[dict[str, Any]]:
    out = []
    for size in sizes:
        by = {r["config"]: r for r in rows if r["size"] == size}
        rabbits = [r for r in by.values() if r["config"].startswith("rabbit")]
        if not rabbits:
            continue
        best = max(rabbits, key=lambda r: r["e2e_msg_s"])
        for key, factor in GOALS.items():
            if key not in by:
                continue
            ratio = by[key]["e2e_msg_s"] / best["e2e_msg_s"]
            clean = by[key]["lost"] == 0 and by[key]["duplicates"] == 0
            out.append({"size": size, "config": key, "label": by[key]["label"], "goal": factor, "ratio": ratio,
                        "best_rabbit": best["label"], "best_rabbit_msg_s": best["e2e_msg_s"],
                        "met": ratio >= factor and clean})
    return out


def kafka_goals(rows: list[dict[str, Any]], sizes: Sequence[int],
                runs: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """logbroker + confluent-kafka (each flush policy) against Apache Kafka + confluent-kafka, same run.

    Beside the medians, the rounds are paired: in how many rounds logbroker's p99 was no worse than
    Kafka's in the same round (each round runs every configuration once, interleaved)."""
    out = []
    for size in sizes:
        by = {r["config"]: r for r in rows if r["size"] == size}
        for key in KAFKA_GOALS:
            peer = by.get(KAFKA_PEERS[key])
            if key not in by or peer is None:
                continue
            r = by[key]
            clean = r["lost"] == 0 and r["duplicates"] == 0
            mine = {x["run"]: x["p99_ms"] for x in runs if x["config"] == key and x["size"] == size}
            theirs = {x["run"]: x["p99_ms"] for x in runs if x["config"] == peer["config"] and x["size"] == size}
            paired = sorted(set(mine) & set(theirs))
            out.append({"size": size, "config": key, "label": r["label"], "ratio": r["vs_kafka"],
                        "rounds": len(paired), "p99_rounds_met": sum(mine[i] <= theirs[i] for i in paired),
                        "kafka_msg_s": peer["e2e_msg_s"], "p99_ms": r["p99_ms"], "kafka_p99_ms": peer["p99_ms"],
                        "cpu_s_per_gb": r["cpu_s_per_gb"], "kafka_cpu_s_per_gb": peer["cpu_s_per_gb"],
                        "met": r["vs_kafka"] >= 1.0 and r["p99_ms"] <= peer["p99_ms"] and clean,
                        "cpu_met": r["cpu_s_per_gb"] <= peer["cpu_s_per_gb"]})
    return out


def kafka_goals_table(gs: list[dict[str, Any]]) -> str:
    if not gs:
        return "(not measured: needs runs of logbroker and Apache Kafka with confluent-kafka)"
    lines = ["| size | configuration | end-to-end vs Apache Kafka | p99 ms (Kafka) | goal 1.0x and p99 met | "
             "rounds with p99 no worse | broker CPU s/GB (Kafka) | CPU goal met |",
             "|---:|---|---:|---:|---|---:|---:|---|"]
    for g in gs:
        lines.append(f"| {g['size']} B | {g['label']} | {g['ratio']:.2f}x ({_k(g['kafka_msg_s'])} msg/s) | "
                     f"{g['p99_ms']:,.0f} ({g['kafka_p99_ms']:,.0f}) | {'yes' if g['met'] else '**no**'} | "
                     f"{g.get('p99_rounds_met', 0)} of {g.get('rounds', 0)} | "
                     f"{g['cpu_s_per_gb']:.1f} ({g['kafka_cpu_s_per_gb']:.1f}) | "
                     f"{'yes' if g['cpu_met'] else '**no**'} |")
    return "\n".join(lines)


def _k(x: float) -> str:
    return f"{x / 1000:,.1f}k" if x >= 1000 else f"{x:,.0f}"


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| size | configuration | producer msg/s | producer MB/s | end-to-end msg/s | end-to-end MB/s | "
             "spread | vs Apache Kafka | p50 ms | p99 ms | broker CPU s/GB | consumer shares % | dup | lost |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    for r in rows:
        shares = "/".join(f"{s:.0f}" for s in r["shares"])
        lines.append(f"| {r['size']} B | {r['label']} | {_k(r['producer_msg_s'])} | {r['producer_mb_s']:.2f} | "
                     f"{_k(r['e2e_msg_s'])} | {r['e2e_mb_s']:.2f} | {100 * r['e2e_spread']:.0f}% | "
                     f"{_ratio(r['vs_kafka'])} | {r['p50_ms']:,.0f} | {r['p99_ms']:,.0f} | "
                     f"{r['cpu_s_per_gb']:.1f} | {shares} | {r['duplicates']} | {r['lost']} |")
    return "\n".join(lines)


def split_table(rows: list[dict[str, Any]]) -> str:
    """Where the latency is (``--append-time``): send -> the broker's append, append -> processed."""
    split = [r for r in rows if all(k in r for k in SPLIT_KEYS)]
    if not split:
        return ""
    lines = ["| size | configuration | p50 ms | p99 ms | send -> append p50 / p99 ms | "
             "append -> processed p50 / p99 ms |", "|---:|---|---:|---:|---:|---:|"]
    for r in split:
        lines.append(f"| {r['size']} B | {r['label']} | {r['p50_ms']:,.0f} | {r['p99_ms']:,.0f} | "
                     f"{r['to_append_p50_ms']:,.0f} / {r['to_append_p99_ms']:,.0f} | "
                     f"{r['after_append_p50_ms']:,.0f} / {r['after_append_p99_ms']:,.0f} |")
    return "\n".join(lines)


def client_table(rows: list[dict[str, Any]]) -> str:
    """The producer's side of the latency (``--client-stats``): librdkafka's own figures."""
    measured = [r for r in rows if all(k in r for k in CLIENT_KEYS)]
    if not measured:
        return ""
    lines = ["| size | configuration | p50 ms | p99 ms | messages handed to the client, ms | producer done, ms | "
             "wait in the client p50 / largest window p99, ms | produce round trip p50 ms |",
             "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in measured:
        lines.append(f"| {r['size']} B | {r['label']} | {r['p50_ms']:,.0f} | {r['p99_ms']:,.0f} | "
                     f"{1000 * r['handed_s']:,.0f} | {1000 * r['producer_s']:,.0f} | {r['client_queue_p50_ms']:,.0f} / "
                     f"{r['client_queue_p99_ms']:,.0f} | {r['client_rtt_p50_ms']:,.1f} |")
    return "\n".join(lines)


def _ratio(x: float) -> str:
    return "" if x != x else f"{x:.2f}x"


def goals_table(gs: list[dict[str, Any]]) -> str:
    if not gs:
        return "(goals not measured: they need runs of logbroker with Kafka clients and of RabbitMQ)"
    lines = ["| size | configuration | best RabbitMQ (end-to-end) | ratio | goal | met |",
             "|---:|---|---|---:|---:|---|"]
    for g in gs:
        lines.append(f"| {g['size']} B | {g['label']} | {g['best_rabbit']}: {_k(g['best_rabbit_msg_s'])} msg/s | "
                     f"{g['ratio']:.1f}x | {g['goal']:.0f}x | {'yes' if g['met'] else '**no**'} |")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], size: int, path: Path, subtitle: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rs = [r for r in rows if r["size"] == size]
    fig, ax = plt.subplots(figsize=(10, 5.2))
    xs = range(len(rs))
    width = 0.38
    colors = ["#ff7f0e" if r["config"].startswith("rabbit") else "#2ca02c" if r["config"] in KAFKA_PEERS.values()
              else "#1f77b4" for r in rs]
    ax.bar([x - width / 2 for x in xs], [r["producer_msg_s"] for r in rs], width, color=colors, alpha=0.45,
           label="producer")
    e2e = [r["e2e_msg_s"] for r in rs]
    err = [[v - r["e2e_min"] for v, r in zip(e2e, rs, strict=True)],
           [r["e2e_max"] - v for v, r in zip(e2e, rs, strict=True)]]
    bars = ax.bar([x + width / 2 for x in xs], e2e, width, color=colors, yerr=err, capsize=3, label="end-to-end")
    for bar, r in zip(bars, rs, strict=True):
        ax.annotate(f"{_k(r['e2e_msg_s'])}\n{r['e2e_mb_s']:.1f} MB/s", (bar.get_x() + bar.get_width() / 2,
                    max(bar.get_height(), r["e2e_max"])), ha="center", va="bottom", fontsize=8, xytext=(0, 2),
                    textcoords="offset points")
    ax.set_yscale("log")
    values = [v for r in rs for v in (r["producer_msg_s"], r["e2e_max"]) if v > 0]
    if values:
        ax.set_ylim(min(values) / 2, max(values) * 4)
    ax.set_ylabel("messages per second (log scale)")
    ax.set_xticks(list(xs))
    ax.set_xticklabels([textwrap.fill(r["label"].replace(" + ", " +\u00a0"), 18) for r in rs], fontsize=8)
    ax.set_title(f"{size}-byte messages: 1 producer, {CONSUMERS} consumers\n{subtitle}", fontsize=10)
    ax.legend(["producer (light)", "end-to-end (whiskers: min-max of runs)"], loc="upper left", fontsize=8)
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ====================================================================================== main
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="runs per configuration and size (median reported)")
    ap.add_argument("--sizes", default="100,500,1000", help="message sizes in bytes, comma-separated (>= 16)")
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--configs", default=",".join(k for k in CONFIGS if k not in EXTRA_CONFIGS),
                    help=f"subset of {','.join(CONFIGS)} (default: all but {','.join(EXTRA_CONFIGS)})")
    ap.add_argument("--quick", action="store_true", help="smoke test: 5,000 messages, 1 run, output in results/quick")
    ap.add_argument("--assign", action="store_true",
                    help="Kafka consumers assign() one partition each instead of joining a consumer group")
    ap.add_argument("--run-timeout", type=float, default=180.0, help="seconds a run may take before it is cut")
    ap.add_argument("--budget", type=float, default=28.0,
                    help="minutes; once passed, the remaining rounds are skipped (and reported)")
    ap.add_argument("--out", type=Path, default=None, help="output directory (default bench/results)")
    ap.add_argument("--dir", type=Path, default=None, help="where temporary broker data goes (default: system tmp)")
    ap.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                    help="a broker property for every logbroker run (repeatable), e.g. to compare one tree "
                         "with and without a feature")
    ap.add_argument("--client-stats", action="store_true",
                    help="confluent-kafka producers report librdkafka's statistics: how long records waited in "
                         "the client before a request took them, and the produce round trip")
    ap.add_argument("--append-time", action="store_true",
                    help="topics stamped by the broker (message.timestamp.type=LogAppendTime, both Kafka brokers): "
                         "each latency splits into send-to-append and append-to-processing")
    args = ap.parse_args(argv)
    if args.append_time:
        TOPIC_CONFIGS.update(APPEND_TIME)
    if args.client_stats:
        RUN_OPTIONS["client_stats"] = True
    for item in args.override:
        key, sep, value = item.partition("=")
        if not sep or not key:
            ap.error(f"--override takes KEY=VALUE, not {item!r}")
        EXTRA_OVERRIDES[key] = value
    if args.quick:
        args.messages = min(args.messages, 5_000)
        args.runs = 1
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    if any(s < drivers.STAMP.size for s in args.sizes):
        ap.error(f"message sizes must be at least {drivers.STAMP.size} bytes")
    keys = [k for k in args.configs.split(",") if k]
    unknown = [k for k in keys if k not in CONFIGS]
    if unknown:
        ap.error(f"unknown configurations {unknown}; choose from {list(CONFIGS)}")
    args.configs = [CONFIGS[k] for k in keys]
    if args.out is None:
        args.out = RESULTS / "quick" if args.quick else RESULTS
    return args


def _on_sigterm(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt  # unwinds like Ctrl-C: brokers and workers are stopped on the way out


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    configs: list[Config] = args.configs
    skipped: dict[str, str] = {}
    started = time.monotonic()
    load_start = loadavg()
    print(f"machine: {machine_line()}; load average at start {load_start[0]:.2f} {load_start[1]:.2f} "
          f"{load_start[2]:.2f}")
    print(f"{args.messages:,} messages x sizes {args.sizes} x {len(configs)} configurations x {args.runs} runs; "
          f"Kafka consumers: {'assign() one partition each' if args.assign else 'one consumer group'}")
    with ExitStack() as stack:
        stack.callback(_stop_shared)
        workdir = Path(tempfile.mkdtemp(prefix="compare-", dir=args.dir))
        stack.callback(shutil.rmtree, workdir, True)
        rabbit: compare_rabbit.RabbitNode | None = None
        rabbit_version = ""
        if any(c.broker == "rabbit" for c in configs):
            reason = compare_rabbit.unavailable_reason()
            if reason is None:
                try:
                    rabbit = stack.enter_context(compare_rabbit.RabbitNode(args.dir))
                    rabbit_version = rabbit.version()
                    print(f"RabbitMQ {rabbit_version} node {rabbit.name} on 127.0.0.1:{rabbit.port}")
                except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                    reason = f"RabbitMQ did not start: {exc}"
            if reason is not None:
                print(reason)
                for c in configs:
                    if c.broker == "rabbit":
                        skipped[c.key] = reason
                configs = [c for c in configs if c.broker != "rabbit"]
        kafka: compare_kafka.KafkaNode | None = None
        if any(c.broker == "kafka" for c in configs):
            reason = compare_kafka.unavailable_reason()
            if reason is None:
                try:
                    kafka = stack.enter_context(compare_kafka.KafkaNode(args.dir))
                    print(f"Apache Kafka {kafka.version} (pid {kafka.pid}) on {kafka.bootstrap}")
                except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                    reason = f"Apache Kafka did not start: {exc}"
            if reason is not None:
                print(reason)
                for c in configs:
                    if c.broker == "kafka":
                        skipped[c.key] = reason
                configs = [c for c in configs if c.broker != "kafka"]
        nats: compare_nats.NatsNode | None = None
        nats_version = ""
        if any(c.broker == "nats" for c in configs):
            reason = compare_nats.unavailable_reason()
            if reason is None:
                try:
                    nats = stack.enter_context(compare_nats.NatsNode(args.dir))
                    nats_version = nats.version()
                    print(f"NATS {nats_version} (pid {nats.pid}) on 127.0.0.1:{nats.port}")
                except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                    reason = f"NATS did not start: {exc}"
            if reason is not None:
                print(f"NATS JetStream skipped: {reason}")
                for c in configs:
                    if c.broker == "nats":
                        skipped[c.key] = reason
                configs = [c for c in configs if c.broker != "nats"]
        runs: list[dict[str, Any]] = []
        failures: list[str] = []
        if kafka is not None or any(c.shared for c in configs):
            # The JVM compiles its hot paths during the first runs: one untimed run per Kafka configuration
            # (5,000 messages) so that the measured runs see a warmed-up broker, as a long-running one would be;
            # a shared logbroker gets one too, so both long-lived brokers start their measured runs alike.
            for cfg in (c for c in configs if c.broker == "kafka" or c.shared):
                try:
                    run_once(cfg, args.sizes[0], 5_000, -1, workdir, rabbit, kafka, nats, not args.assign,
                             args.run_timeout)
                    print(f"{cfg.label}: warm-up run done (not counted)")
                except (RunFailed, RuntimeError, OSError) as exc:
                    print(f"  warm-up of {cfg.key} failed: {exc}")
        for round_no in range(args.runs):
            if round_no and time.monotonic() - started > args.budget * 60:
                failures.append(f"time budget of {args.budget:.0f} min used up: rounds {round_no + 1}.."
                                f"{args.runs} skipped")
                print(failures[-1])
                break
            for size in args.sizes:
                for cfg in _round_order(configs, round_no, size):
                    try:
                        r = run_once(cfg, size, args.messages, round_no, workdir, rabbit, kafka, nats, not args.assign,
                                     args.run_timeout)
                    except (RunFailed, RuntimeError, OSError) as exc:
                        failures.append(f"{cfg.key} {size} B run {round_no + 1}: {exc}")
                        print(f"  FAILED {failures[-1]}")
                        continue
                    runs.append(r)
                    print(f"{cfg.label:32} {size:5} B #{round_no + 1}: producer {_k(r['producer_msg_s']):>7} msg/s, "
                          f"end-to-end {_k(r['e2e_msg_s']):>7} msg/s {r['e2e_mb_s']:6.2f} MB/s, "
                          f"broker {r['cpu_s_per_gb']:.1f} CPU s/GB, "
                          f"p50 {r['p50_ms']:7.1f} ms p99 {r['p99_ms']:7.1f} ms, shares {r['per_consumer']}, "
                          f"dup {r['duplicates']} lost {r['lost']}, load {r['loadavg_after'][0]:.2f}, "
                          f"set-up {r['setup_s']:.1f} s, run {r['wall_s']:.1f} s", flush=True)
    elapsed = time.monotonic() - started
    load_end = loadavg()
    rows = summarize(runs, args.configs, args.sizes)
    gs = goals(rows, args.sizes)
    kgs = kafka_goals(rows, args.sizes, runs)
    meta = {"machine": machine_line(), "python": platform.python_version(), "rabbitmq": rabbit_version,
            "kafka": compare_kafka.ref.KAFKA_VERSION if kafka is not None else "",
            "argv": sys.argv[1:], "kafka_jvm": compare_kafka.JVM_OPTS, "nats": nats_version,
            "kafka_overrides": compare_kafka.OVERRIDES,
            "clients": _client_versions(), "messages": args.messages, "sizes": args.sizes, "runs": args.runs,
            "consumers": CONSUMERS, "partitions": PARTITIONS, "kafka_consumers": "assign" if args.assign else "group",
            "loadavg_start": load_start, "loadavg_end": load_end, "elapsed_s": elapsed, "skipped": skipped,
            "failures": failures, "settings": {
                "kafka-python producer": drivers.KAFKA_PYTHON_PRODUCER,
                "confluent producer": drivers.CONFLUENT_PRODUCER,
                "http batch": drivers.HTTP_BATCH, "rabbit prefetch": drivers.RABBIT_PREFETCH,
                "rabbit confirm batch": drivers.RABBIT_CONFIRM_BATCH}}
    write_outputs(args, rows, gs, kgs, runs, meta)
    print()
    print(markdown_table(rows))
    print()
    print(goals_table(gs))
    print()
    print(kafka_goals_table(kgs))
    for extra in (split_table(rows), client_table(rows)):
        if extra:
            print()
            print(extra)
    for key, reason in skipped.items():
        print(f"skipped {key}: {reason}")
    for f in failures:
        print(f"failed: {f}")
    print(f"load average at end {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}; took {elapsed / 60:.1f} min; "
          f"results in {args.out}")
    clean = all(r["lost"] == 0 and r["duplicates"] == 0 and r["errors"] == 0 for r in rows)
    return 0 if clean and not failures else 1


def _client_versions() -> dict[str, str]:
    out = {}
    try:
        import confluent_kafka

        out["confluent-kafka"] = f"{confluent_kafka.__version__} (librdkafka {confluent_kafka.libversion()[0]})"
    except ImportError:
        pass
    from importlib.metadata import PackageNotFoundError, version

    for name in ("kafka-python", "pika", "nats-py"):
        with suppress(PackageNotFoundError):
            out[name] = version(name)
    return out


def json_ready(value: Any) -> Any:
    """``value`` with every float that is not finite (a figure a configuration has not, e.g. a ratio
    to a peer that did not run) as None, so compare.json is strict JSON (null) for every reader."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def write_outputs(args: argparse.Namespace, rows: list[dict[str, Any]], gs: list[dict[str, Any]],
                  kgs: list[dict[str, Any]], runs: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("compare_*B.png"):
        old.unlink()
    doc = {"meta": meta, "summary": rows, "goals": gs, "kafka_goals": kgs, "runs": runs}
    (out / "compare.json").write_text(json.dumps(json_ready(doc), indent=1, allow_nan=False) + "\n")
    extras = "".join(f"\n{t}\n" for t in (split_table(rows), client_table(rows)) if t)
    (out / "compare.md").write_text(markdown_table(rows) + "\n\n" + goals_table(gs) + "\n\n"
                                    + kafka_goals_table(kgs) + "\n" + extras)
    load = meta["loadavg_start"], meta["loadavg_end"]
    done = max((r["runs"] for r in rows), default=0)
    subtitle = (f"{args.messages:,} messages, median of {done} run(s); load avg {load[0][0]:.1f} -> "
                f"{load[1][0]:.1f} on {os.cpu_count()} cores")
    for size in args.sizes:
        if any(r["size"] == size for r in rows):
            plot(rows, size, out / f"compare_{size}B.png", subtitle)
    (out / "COMPARE.md").write_text(readme_section(args, rows, gs, kgs, meta))


def readme_section(args: argparse.Namespace, rows: list[dict[str, Any]], gs: list[dict[str, Any]],
                   kgs: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    rel = os.path.relpath(args.out, ROOT / "bench")
    plots = "\n".join(f"![{s}-byte messages]({rel}/compare_{s}B.png)" for s in args.sizes
                      if any(r["size"] == s for r in rows))
    clients = ", ".join(f"{k} {v}" for k, v in meta["clients"].items())
    ls, le = meta["loadavg_start"], meta["loadavg_end"]
    consumers = ("each assign()s one partition (--assign)" if meta["kafka_consumers"] == "assign" else
                 "one consumer group, auto-commit")
    met = [g for g in gs if g["met"]]
    verdict = ("all goals met" if gs and len(met) == len(gs) else
               f"{len(met)} of {len(gs)} goals met" if gs else "goals not measured")
    skipped = "".join(f"\n- skipped {k}: {v}" for k, v in meta["skipped"].items())
    failures = "".join(f"\n- failed run: {f}" for f in meta["failures"])
    kmet = [g for g in kgs if g["met"]]
    kverdict = (f"{len(kmet)} of {len(kgs)} met (throughput and p99)" if kgs else "not measured")
    kcpu = [g for g in kgs if g["cpu_met"]]
    return f"""## logbroker versus Apache Kafka and RabbitMQ

The classic experiment: one producer sends {args.messages:,} messages, four consumers share the work
(one consumer group over a 4-partition topic for logbroker and Apache Kafka; one queue with four
competing consumers for RabbitMQ), message sizes {", ".join(f"{s} B" for s in args.sizes)}.

    make bench-compare        # python bench/compare.py: every configuration, about 15 minutes here
    python bench/compare.py --quick    # smoke test: 5,000 messages, 1 run

This run: `python bench/compare.py {" ".join(meta.get("argv", []))}`.

**Machine**: {meta["machine"]}. Apache Kafka {meta["kafka"] or "(not run)"}; NATS {meta.get("nats") or "(not run)"};
RabbitMQ {meta["rabbitmq"] or "(not run)"};
{clients}.
Load average {ls[0]:.2f} at the start, {le[0]:.2f} at the end. The benchmark alone keeps both cores
busy (1 producer, 4 consumers and the broker), so other work on the machine adds noise: see the
spread column ((max - min) / median of the runs). Took {meta["elapsed_s"] / 60:.1f} minutes.

**Method.** Every broker is started by the script on 127.0.0.1 with its own temporary data: a fresh
`logbroker serve` per run, one RabbitMQ node for the whole comparison with a fresh durable queue per
run. Each message carries a sequence number and its send timestamp; consumers report every sequence
number they processed, so duplicates and losses are counted, not assumed. Producer throughput runs
from the first send until every message is acknowledged (Kafka clients: `flush()` with acks=all;
HTTP: the last answer; confirms: the last confirm; RabbitMQ without confirms: the broker's answer to
the connection close after the last publish, which says it read them all, not that they are safe).
End-to-end throughput runs from the first send until the last message is processed. Latency is
processing time minus send time under full load, so it is mostly time spent in the backlog when the
producer outruns the consumers. Median of {max((r["runs"] for r in rows), default=0)} run(s) (of {args.runs}
asked); the runs of all configurations are
interleaved (a new shuffled order each round and size, so no configuration always follows the same
one), and each starts after `sync`, so the pages a broker left for
the kernel to write back are not written during another broker's run.

- logbroker + Kafka clients: acks=all, linger 5 ms (kafka-python batch 128 KiB; librdkafka defaults
  otherwise), records spread round-robin over the partitions; consumers: {consumers}.
  The broker's default flush policy (acks=all answered after the group-commit fsync);
  `group.initial.rebalance.delay.ms=500` (the clock starts once the group has settled).
- logbroker + confluent-kafka share group (KIP-932): the same producer, to a topic of one partition;
  four `ShareConsumer`s in one share group compete for its records (a work queue, as RabbitMQ's one
  queue), each acknowledging every message on its own (explicit ACCEPT, sent with the next
  ShareFetch; acquisitions and acknowledgements durable in `__share_group_state` before they are
  answered): the log's counterpart of RabbitMQ's manual acks and prefetch.
- logbroker (flush os): the same, on a topic with `logbroker.flush.policy=os` (acks=all answered once the
  bytes are in the page cache, as Kafka does on a single node; the fsync is left to the OS).
- Apache Kafka: one single-node KRaft broker (broker and controller in one) for the whole comparison,
  a fresh topic per run; Kafka's shipped JVM options (`{" ".join(meta.get("kafka_jvm", []))}`) and
  broker defaults, except replication factors of 1 (one node) and
  `group.initial.rebalance.delay.ms=500` as for logbroker. Same clients and settings as logbroker.
- NATS JetStream (`nats-server -js`, one server for the comparison; nats-py): a fresh file-backed
  stream per run with work-queue retention, one durable pull consumer shared by the four consumer
  processes (fetch batches of {compare_nats.FETCH_BATCH}, an explicit ack per message, up to
  {compare_nats.MAX_ACK_PENDING:,} unacknowledged); the producer publishes asynchronously and is done when
  every message is acknowledged by JetStream (stored; fsync left to the OS, as Kafka).
- logbroker + HTTP API: msgpack produce of {drivers.HTTP_BATCH:,} records a request with acks=all; four
  consumers each long-poll one partition (the HTTP API reads partitions, not groups).
- RabbitMQ + pika: durable queue, manual acks (one per message), prefetch {drivers.RABBIT_PREFETCH};
  persistent messages; persistent with publisher confirms ({drivers.RABBIT_CONFIRM_BATCH} outstanding,
  then wait for all); transient messages. The producer publishes asynchronously (pika's
  `SelectConnection`; its `BlockingConnection` flushes the socket after every publish and was about
  half as fast here).

{markdown_table(rows)}

"vs Apache Kafka": end-to-end throughput over Apache Kafka's with the same client, same run. "broker
CPU s/GB": the broker process's CPU seconds (user + system, all threads) from the first send until
the last message was processed, per GB of payload carried (each byte written once and read once).

**Goals against Apache Kafka** (logbroker + confluent-kafka at least 1.0x Kafka end-to-end and p99 no
worse, same run): {kverdict}; broker CPU s/GB no more than Kafka's: {len(kcpu)} of {len(kgs)}.

{kafka_goals_table(kgs)}
{_split_section(rows)}
**Goals** (end-to-end, against RabbitMQ's best configuration at the same size, same run): {verdict}.

{goals_table(gs)}
{skipped}{failures}

{plots}
"""


def _split_section(rows: list[dict[str, Any]]) -> str:
    table, client = split_table(rows), client_table(rows)
    text = ""
    if client:
        text += f"""
**The producer's side** (`--client-stats`: librdkafka's statistics of each confluent-kafka producer,
in windows of {drivers.STATS_INTERVAL_MS} ms: the wait of records in the client before a produce
request took them, and the produce round trip; medians of the runs):

{client}
"""
    if not table:
        return text
    return text + f"""
**Where the latency is** (`--append-time`: the topics carry the broker's append time, so each record's
latency splits into send -> append, its wait in the producer's queue and the broker's receive path, and
append -> processed, the consumers' side; medians of the runs' percentiles):

{table}
"""


if __name__ == "__main__":
    sys.exit(main())
