"""Producer and consumer processes for ``bench/compare.py``, one pair per broker/client.

Every message is ``size`` bytes: an 8-byte sequence number, an 8-byte send timestamp
(``time.time_ns()`` taken just before the client is handed the message) and padding. Consumers
return every sequence number they processed and the end-to-end latency of each (processing time
minus send timestamp), so the parent can count duplicates and losses and compute percentiles.

A run: the parent starts the four consumers, waits until each is ready (for a Kafka consumer group:
until each member holds one partition), then releases the producer. Consumers publish how many
messages they have processed in a shared array; the parent sets ``stop`` once all arrived (or the
run's deadline passed). Client libraries are imported inside the workers, so the parent stays light.
"""

from __future__ import annotations

import http.client
import json
import os
import struct
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgpack

STAMP = struct.Struct(">qq")  # sequence number, send time in ns since the epoch
HTTP_BATCH = 1000  # records per HTTP produce request
RABBIT_PREFETCH = 100
RABBIT_CONFIRM_BATCH = 100
RABBIT_CHUNK = 1000  # messages published per I/O-loop turn without confirms
KAFKA_PYTHON_PRODUCER = {"acks": "all", "linger_ms": 5, "batch_size": 128 * 1024}
CONFLUENT_PRODUCER = {"acks": "all", "linger.ms": 5}
STATS_INTERVAL_MS = 50  # --client-stats: librdkafka statistics windows (a run lasts about half a second)
LOG_APPEND_TIME = 1  # kafka-python's ConsumerRecord.timestamp_type for a broker-stamped record
LOG_APPEND_TIME_CONFLUENT = 2  # confluent_kafka.TIMESTAMP_LOG_APPEND_TIME


@dataclass(frozen=True)
class RunSpec:
    """Everything a worker process needs to know about one run (picklable)."""

    config: str  # a key of compare.CONFIGS
    driver: str  # kafka-python | confluent | confluent-share | http | rabbit
    messages: int
    size: int
    consumers: int
    topic: str  # Kafka topic or RabbitMQ queue
    partitions: int = 4
    bootstrap: str = ""
    http_port: int = 0
    amqp_port: int = 0
    group: bool = True  # Kafka: consumer group (subscribe) or one assign()ed partition per consumer
    persistent: bool = True  # RabbitMQ delivery mode 2
    confirms: bool = False  # RabbitMQ publisher confirms, RABBIT_CONFIRM_BATCH at a time
    timeout_s: float = 120.0
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Shared:
    """Process-shared state of one run (multiprocessing primitives from the parent's context)."""

    progress: Any  # Array('q', consumers): messages processed per consumer
    assigned: Any  # Array('q', consumers): partitions held (Kafka), 1 once ready otherwise
    go: Any  # Event: the producer may start
    stop: Any  # Event: consumers finish up and report
    results: Any  # Queue of result dicts


def message(seq: int, pad: bytes) -> bytes:
    return STAMP.pack(seq, time.time_ns()) + pad


class Tally:
    """What one consumer saw: sequence numbers, latencies (ms), first and last processing time.

    ``append_ms`` (Kafka clients on a topic with ``message.timestamp.type=LogAppendTime``): the broker's
    append time of each record, so a latency splits into send-to-append and append-to-processing."""

    def __init__(self, idx: int, shared: Shared) -> None:
        self.idx = idx
        self.shared = shared
        self.seqs = array("q")
        self.lat_ms = array("f")
        self.to_append_ms = array("f")  # send -> the broker's append (only for records carrying it)
        self.first = 0.0
        self.last = 0.0
        self.errors = 0

    def see(self, value: bytes, append_ms: int = 0) -> None:
        now = time.time_ns()
        seq, sent = STAMP.unpack_from(value)
        self.seqs.append(seq)
        self.lat_ms.append((now - sent) / 1e6)
        if append_ms > 0:
            self.to_append_ms.append(append_ms - sent / 1e6)
        if not self.first:
            self.first = now / 1e9
        self.last = now / 1e9

    def publish(self) -> None:
        self.shared.progress[self.idx] = len(self.seqs)

    def report(self, **extra: Any) -> None:
        self.publish()
        self.shared.results.put({"kind": "consumer", "idx": self.idx, "seqs": self.seqs.tobytes(),
                                 "lat_ms": self.lat_ms.tobytes(),
                                 "to_append_ms": self.to_append_ms.tobytes(), "first": self.first, "last": self.last,
                                 "errors": self.errors, **extra})


def _deadline(spec: RunSpec) -> float:
    return time.monotonic() + spec.timeout_s


def _producer_report(shared: Shared, t_first: float, t_done: float, sent: int, errors: int, **extra: Any) -> None:
    shared.results.put({"kind": "producer", "t_first": t_first, "t_done": t_done, "sent": sent, "errors": errors,
                        **extra})


def _wait_go(shared: Shared) -> None:
    if not shared.go.wait(180):
        raise RuntimeError("the producer was never released")


# ================================================================================== kafka-python
def kafka_python_producer(spec: RunSpec, shared: Shared) -> None:
    from kafka import KafkaProducer

    p = KafkaProducer(bootstrap_servers=spec.bootstrap, **KAFKA_PYTHON_PRODUCER)
    p.partitions_for(spec.topic)  # metadata before the clock starts
    pad = os.urandom(spec.size - STAMP.size)
    errors = [0]

    def failed(_exc: BaseException) -> None:
        errors[0] += 1

    _wait_go(shared)
    t_first = time.time()
    send, parts = p.send, spec.partitions
    for seq in range(spec.messages):
        send(spec.topic, value=message(seq, pad), partition=seq % parts).add_errback(failed)
    t_handed = time.time()
    p.flush(timeout=spec.timeout_s)
    t_done = time.time()
    p.close(timeout=10)
    _producer_report(shared, t_first, t_done, spec.messages, errors[0], handed_s=t_handed - t_first)


def kafka_python_consumer(spec: RunSpec, idx: int, shared: Shared) -> None:
    from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition

    from logbroker.tools.clients import subscribe_group

    tally = Tally(idx, shared)
    c = KafkaConsumer(bootstrap_servers=spec.bootstrap, group_id=f"{spec.topic}-group", auto_offset_reset="earliest",
                      enable_auto_commit=True)

    class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
        def on_partitions_revoked(self, revoked: Any) -> None:
            shared.assigned[idx] = 0

        def on_partitions_assigned(self, assigned: Any) -> None:
            shared.assigned[idx] = len(assigned)

    if spec.group:
        subscribe_group(c, [spec.topic], Listener())
    else:
        c.assign([TopicPartition(spec.topic, idx % spec.partitions)])
        shared.assigned[idx] = 1
    deadline = _deadline(spec)
    stop = shared.stop
    while not stop.is_set() and time.monotonic() < deadline:
        batches = c.poll(timeout_ms=20)
        for records in batches.values():
            for r in records:
                tally.see(r.value, r.timestamp if r.timestamp_type == LOG_APPEND_TIME else 0)
        if batches:
            tally.publish()
    c.close(autocommit=spec.group)
    tally.report()


# ================================================================================== confluent-kafka
class ClientStats:
    """librdkafka's own statistics of one producer (``--client-stats``), one window each
    ``STATS_INTERVAL_MS``: how long records waited in the client before a request took them
    (``int_latency``) and the produce round trip (``rtt``), from the entries of the brokers it produced to."""

    queue_p50_us: list[tuple[int, int]]  # (window p50, records in the window)
    queue_p99_us: list[int]
    rtt_p50_us: list[tuple[int, int]]

    def __init__(self) -> None:
        self.windows = 0  # statistics callbacks served, empty ones included
        self.clear()

    def clear(self) -> None:
        """Forget the windows before the clock starts (the metadata requests' round trips)."""
        self.queue_p50_us, self.queue_p99_us, self.rtt_p50_us = [], [], []

    @property
    def config(self) -> dict[str, Any]:
        return {"statistics.interval.ms": STATS_INTERVAL_MS, "stats_cb": self.add}

    def add(self, text: str) -> None:
        self.windows += 1
        for b in json.loads(text).get("brokers", {}).values():
            if b.get("nodeid", -1) < 0:  # a bootstrap entry
                continue
            queue, rtt = b["int_latency"], b["rtt"]
            if queue["cnt"]:
                self.queue_p50_us.append((queue["p50"], queue["cnt"]))
                self.queue_p99_us.append(queue["p99"])
            if rtt["cnt"]:
                self.rtt_p50_us.append((rtt["p50"], rtt["cnt"]))

    def summary(self) -> dict[str, float]:
        """The count-weighted median of the windows' p50s, and the largest window p99 (an upper bound
        of the run's p99; librdkafka keeps no histogram across windows)."""
        if not self.queue_p50_us:
            return {}
        out = {"client_queue_p50_ms": _weighted_median(self.queue_p50_us) / 1000,
               "client_queue_p99_ms": max(self.queue_p99_us) / 1000}
        if self.rtt_p50_us:
            out["client_rtt_p50_ms"] = _weighted_median(self.rtt_p50_us) / 1000
        return out

    def take_last_window(self, poll: Callable[[float], Any]) -> None:
        """Serve the window that holds the run's last records (after the clock stopped): a short run
        ends inside one window, which would otherwise never be reported."""
        seen = self.windows
        deadline = time.monotonic() + 2 * STATS_INTERVAL_MS / 1000
        while self.windows == seen and time.monotonic() < deadline:
            poll(0.01)


def _weighted_median(values: list[tuple[int, int]]) -> float:
    ordered = sorted(values)
    half = sum(n for _, n in ordered) / 2
    seen = 0
    for value, n in ordered:
        seen += n
        if seen >= half:
            return float(value)
    return float(ordered[-1][0])


def confluent_producer(spec: RunSpec, shared: Shared) -> None:
    from confluent_kafka import Producer

    errors = [0]

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            errors[0] += 1

    stats = ClientStats() if spec.options.get("client_stats") else None
    p = Producer({"bootstrap.servers": spec.bootstrap, **CONFLUENT_PRODUCER, "on_delivery": on_delivery,
                  "delivery.report.only.error": True, **(stats.config if stats else {})})
    p.list_topics(spec.topic, timeout=15)
    pad = os.urandom(spec.size - STAMP.size)
    _wait_go(shared)
    if stats is not None:
        p.poll(0)  # serves a window the statistics still hold from before the clock started
        stats.clear()
    t_first = time.time()
    produce, poll, topic, parts = p.produce, p.poll, spec.topic, spec.partitions
    for seq in range(spec.messages):
        value = message(seq, pad)
        while True:
            try:
                produce(topic, value, partition=seq % parts)
                break
            except BufferError:
                poll(0.001)
        if not seq & 1023:
            poll(0)
    t_handed = time.time()
    left = p.flush(spec.timeout_s)
    t_done = time.time()
    if stats is not None:
        stats.take_last_window(p.poll)
    _producer_report(shared, t_first, t_done, spec.messages, errors[0] + left, handed_s=t_handed - t_first,
                     **(stats.summary() if stats else {}))


def confluent_consumer(spec: RunSpec, idx: int, shared: Shared) -> None:
    from confluent_kafka import Consumer, TopicPartition

    tally = Tally(idx, shared)
    c = Consumer({"bootstrap.servers": spec.bootstrap, "group.id": f"{spec.topic}-group",
                  "auto.offset.reset": "earliest", "enable.auto.commit": spec.group})

    def on_assign(_c: Any, parts: list[Any]) -> None:
        shared.assigned[idx] = len(parts)

    def on_revoke(_c: Any, _parts: list[Any]) -> None:
        shared.assigned[idx] = 0

    if spec.group:
        c.subscribe([spec.topic], on_assign=on_assign, on_revoke=on_revoke)
    else:
        c.assign([TopicPartition(spec.topic, idx % spec.partitions, 0)])
        shared.assigned[idx] = 1
    deadline = _deadline(spec)
    stop = shared.stop
    while not stop.is_set() and time.monotonic() < deadline:
        # A short timeout: consume(n) waits for n messages or the timeout, which would show as latency.
        msgs = c.consume(num_messages=1000, timeout=0.02)
        for m in msgs:
            if m.error() is not None:
                tally.errors += 1
                continue
            kind, stamp = m.timestamp()
            tally.see(m.value() or b"", stamp if kind == LOG_APPEND_TIME_CONFLUENT else 0)
        if msgs:
            tally.publish()
    c.close()
    tally.report()


def confluent_share_consumer(spec: RunSpec, idx: int, shared: Shared) -> None:
    """A member of one share group (KIP-932): every consumer reads every partition, and each message
    is acknowledged on its own (ACCEPT), like a RabbitMQ consumer's manual acks."""
    from confluent_kafka import AcknowledgeType, ShareConsumer
    from confluent_kafka.admin import (
        AdminClient,
        AlterConfigOpType,
        ConfigEntry,
        ConfigResource,
        ResourceType,
    )

    group = f"{spec.topic}-share"
    admin = AdminClient({"bootstrap.servers": spec.bootstrap})
    resource = ConfigResource(ResourceType.GROUP, group, incremental_configs=[
        ConfigEntry("share.auto.offset.reset", "earliest", incremental_operation=AlterConfigOpType.SET)])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(30)
    tally = Tally(idx, shared)
    c = ShareConsumer({"bootstrap.servers": spec.bootstrap, "group.id": group,
                       "share.acknowledgement.mode": "explicit", "max.poll.records": 1000})
    c.subscribe([spec.topic])
    c.poll(0.5)  # joins the group and opens the share session
    shared.assigned[idx] = 1
    deadline = _deadline(spec)
    stop = shared.stop
    while not stop.is_set() and time.monotonic() < deadline:
        msgs = c.poll(0.02)
        for m in msgs:
            if m.error() is not None:
                tally.errors += 1
                continue
            kind, stamp = m.timestamp()
            tally.see(m.value() or b"", stamp if kind == LOG_APPEND_TIME_CONFLUENT else 0)
            c.acknowledge(m, AcknowledgeType.ACCEPT)  # sent with the next poll's ShareFetch
        if msgs:
            tally.publish()
    c.commit_sync(10)
    c.close()
    tally.report()


# ================================================================================== HTTP API
def http_producer(spec: RunSpec, shared: Shared) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", spec.http_port, timeout=60)
    headers = {"Content-Type": "application/msgpack", "Accept": "application/msgpack"}
    path = f"/topics/{spec.topic}/records?acks=all"
    pad = os.urandom(spec.size - STAMP.size)
    errors = 0
    _wait_go(shared)
    t_first = time.time()
    parts = spec.partitions
    for start in range(0, spec.messages, HTTP_BATCH):
        records = [{"value": message(seq, pad), "partition": seq % parts}
                   for seq in range(start, min(start + HTTP_BATCH, spec.messages))]
        conn.request("POST", path, body=msgpack.packb({"records": records}, use_bin_type=True), headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            errors += len(records)
            if errors <= HTTP_BATCH:
                print(f"HTTP produce answered {resp.status}: {body[:200]!r}", flush=True)
    t_done = time.time()
    conn.close()
    _producer_report(shared, t_first, t_done, spec.messages, errors)


def http_consumer(spec: RunSpec, idx: int, shared: Shared) -> None:
    """Reads partition ``idx`` from offset 0 (the HTTP API has no consumer-group reads)."""
    tally = Tally(idx, shared)
    conn = http.client.HTTPConnection("127.0.0.1", spec.http_port, timeout=60)
    headers = {"Accept": "application/msgpack"}
    partition = idx % spec.partitions
    offset = 0
    shared.assigned[idx] = 1
    deadline = _deadline(spec)
    stop = shared.stop
    while not stop.is_set() and time.monotonic() < deadline:
        conn.request("GET", f"/topics/{spec.topic}/partitions/{partition}/records?offset={offset}"
                     f"&limit=10000&max_bytes=4194304&wait_ms=50", headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            tally.errors += 1
            time.sleep(0.05)
            continue
        answer = msgpack.unpackb(body, raw=False)
        for r in answer["records"]:
            tally.see(r["value"])
        if answer["records"]:
            tally.publish()
        offset = int(answer["next_offset"])
    conn.close()
    tally.report()


# ================================================================================== RabbitMQ (pika)
def _rabbit_params(spec: RunSpec) -> Any:
    import pika

    return pika.ConnectionParameters("127.0.0.1", spec.amqp_port, heartbeat=0, blocked_connection_timeout=60)


def rabbit_producer(spec: RunSpec, shared: Shared) -> None:
    """Asynchronous publishing on pika's ``SelectConnection`` (its fast path; ``BlockingConnection``
    flushes the socket after every publish). With confirms: publish RABBIT_CONFIRM_BATCH messages, wait
    until the broker confirmed all of them, publish the next batch. Without: publish in chunks of
    RABBIT_CHUNK, letting the I/O loop write between chunks, then close the connection; the producer is
    done when the broker answered the close, i.e. has read every publish before it."""
    import pika
    from pika.spec import Basic

    props = pika.BasicProperties(delivery_mode=2 if spec.persistent else 1)
    pad = os.urandom(spec.size - STAMP.size)
    chunk = RABBIT_CONFIRM_BATCH if spec.confirms else RABBIT_CHUNK
    state: dict[str, Any] = {"next": 0, "tag": 0, "pending": set(), "nacks": 0, "t_first": 0.0, "t_done": 0.0,
                             "channel": None, "error": None}

    def publish_chunk() -> None:
        ch = state["channel"]
        end = min(state["next"] + chunk, spec.messages)
        publish, queue, pending = ch.basic_publish, spec.topic, state["pending"]
        for seq in range(state["next"], end):
            publish(exchange="", routing_key=queue, body=message(seq, pad), properties=props)
            if spec.confirms:
                state["tag"] += 1
                pending.add(state["tag"])
        state["next"] = end
        if not spec.confirms:
            if end < spec.messages:
                conn.ioloop.call_later(0, publish_chunk)
            else:
                conn.close()

    def on_confirm(frame: Any) -> None:
        method = frame.method
        tag = method.delivery_tag
        if isinstance(method, Basic.Nack):
            state["nacks"] += len([t for t in state["pending"] if t <= tag]) if method.multiple else 1
        if method.multiple:
            state["pending"] = {t for t in state["pending"] if t > tag}
        else:
            state["pending"].discard(tag)
        if not state["pending"]:
            if state["next"] < spec.messages:
                publish_chunk()
            else:
                conn.close()

    def on_channel(ch: Any) -> None:
        state["channel"] = ch
        if spec.confirms:
            ch.confirm_delivery(on_confirm)
        _wait_go(shared)
        state["t_first"] = time.time()
        publish_chunk()

    def on_open(c: Any) -> None:
        c.channel(on_open_callback=on_channel)

    def on_open_error(_c: Any, err: Any) -> None:
        state["error"] = err
        conn.ioloop.stop()

    def on_closed(_c: Any, _reason: Any) -> None:
        state["t_done"] = time.time()
        conn.ioloop.stop()

    conn = pika.SelectConnection(_rabbit_params(spec), on_open_callback=on_open,
                                 on_open_error_callback=on_open_error, on_close_callback=on_closed)
    conn.ioloop.call_later(spec.timeout_s, lambda: conn.close() if conn.is_open else conn.ioloop.stop())
    conn.ioloop.start()
    if state["error"] is not None:
        raise RuntimeError(f"cannot connect to RabbitMQ: {state['error']}")
    unconfirmed = spec.messages - state["next"] + len(state["pending"])
    _producer_report(shared, state["t_first"], state["t_done"] or time.time(), state["next"],
                     state["nacks"] + unconfirmed)


def rabbit_consumer(spec: RunSpec, idx: int, shared: Shared) -> None:
    import pika

    tally = Tally(idx, shared)
    conn = pika.BlockingConnection(_rabbit_params(spec))
    ch = conn.channel()
    ch.basic_qos(prefetch_count=RABBIT_PREFETCH)
    see, ack = tally.see, ch.basic_ack
    count = [0]

    def on_message(_ch: Any, method: Any, _props: Any, body: bytes) -> None:
        see(body)
        ack(method.delivery_tag)
        count[0] += 1
        if not count[0] & 255:
            tally.publish()

    ch.basic_consume(spec.topic, on_message, auto_ack=False)
    shared.assigned[idx] = 1
    deadline = _deadline(spec)
    stop = shared.stop
    while not stop.is_set() and time.monotonic() < deadline:
        conn.process_data_events(time_limit=0.02)
        tally.publish()
    conn.close()
    tally.report()


PRODUCERS: dict[str, Any] = {"kafka-python": kafka_python_producer, "confluent": confluent_producer,
                             "http": http_producer, "rabbit": rabbit_producer, "confluent-share": confluent_producer}
CONSUMERS: dict[str, Any] = {"kafka-python": kafka_python_consumer, "confluent": confluent_consumer,
                             "http": http_consumer, "rabbit": rabbit_consumer,
                             "confluent-share": confluent_share_consumer}


def _nats_drivers() -> None:
    import compare_nats  # imports this module: registered on first use

    PRODUCERS["nats"] = compare_nats.nats_producer
    CONSUMERS["nats"] = compare_nats.nats_consumer


def run_producer(spec: RunSpec, shared: Shared) -> None:
    try:
        if spec.driver == "nats":
            _nats_drivers()
        PRODUCERS[spec.driver](spec, shared)
    except BaseException as exc:
        shared.results.put({"kind": "producer", "failed": f"{type(exc).__name__}: {exc}"})
        raise


def run_consumer(spec: RunSpec, idx: int, shared: Shared) -> None:
    try:
        if spec.driver == "nats":
            _nats_drivers()
        CONSUMERS[spec.driver](spec, idx, shared)
    except BaseException as exc:
        shared.results.put({"kind": "consumer", "idx": idx, "failed": f"{type(exc).__name__}: {exc}"})
        raise
