"""The workload of a fault run and the history it leaves for the checker.

Two idempotent ``acks=all`` confluent-kafka producers send numbered values round-robin over the
topic's partitions at a bounded rate; one consumer in a group reads, commits every second and reads
its committed offsets back. Every send, acknowledgement (with its time), consumed record and
committed offset goes into a ``checker.History``. ``unavailability`` turns the acknowledgement times
into the window a fault left a partition unable to take a write.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from tests.cluster.fault.checker import NO_OFFSET, Ack, Consumed, History, Send

GROUP = "fault-checker"


@dataclass
class Workload:
    bootstrap: str
    topic: str
    partitions: int
    producers: int = 2
    rate_per_producer: int = 150  # values a second
    history: History = field(default_factory=History)
    send_times: dict[bytes, float] = field(default_factory=dict)
    # partition -> (send time, acknowledgement time) of each acknowledged value
    ack_times: dict[int, list[tuple[float, float]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Workload:
        for n in range(self.producers):
            self._threads.append(threading.Thread(target=self._produce, args=(f"p{n}",), daemon=True))
        self._threads.append(threading.Thread(target=self._consume, daemon=True))
        for t in self._threads:
            t.start()
        return self

    def stop(self, timeout: float = 90) -> None:
        """Stop sending, wait (bounded) for outstanding acknowledgements, stop the consumer."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout)
        alive = [t.name for t in self._threads if t.is_alive()]
        assert not alive, f"workload threads still running: {alive}"

    # Producers ----------------------------------------------------------------------------------

    def _produce(self, name: str) -> None:
        p = Producer({"bootstrap.servers": self.bootstrap, "enable.idempotence": True, "acks": "all",
                      "linger.ms": 5, "message.timeout.ms": 120000, "request.timeout.ms": 5000,
                      "retry.backoff.ms": 100, "retry.backoff.max.ms": 500, "reconnect.backoff.max.ms": 500,
                      "topic.metadata.refresh.interval.ms": 1000, "socket.connection.setup.timeout.ms": 3000,
                      "log_level": 3})

        def done(err: KafkaError | None, msg: Message) -> None:
            now = time.monotonic()
            value = msg.value()
            assert value is not None
            with self._lock:
                if err is not None:
                    self.errors.append(f"{value!r}: {err}")
                    return
                partition, offset = msg.partition(), msg.offset()
                if partition is None:
                    self.errors.append(f"{value!r}: acknowledged without a partition")
                    return
                if offset is None or offset < 0:
                    # librdkafka's implicit acknowledgement (see checker.py): written, offset never
                    # told. The checker still finds it lost or duplicated; only its position is unknown.
                    offset = NO_OFFSET
                self.history.acks.append(Ack(value, partition, offset))
                self.ack_times.setdefault(partition, []).append((self.send_times[value], now))

        seq = 0
        period = 1.0 / self.rate_per_producer
        next_at = time.monotonic()
        while not self._stop.is_set():
            partition = seq % self.partitions
            value = f"{name}-{seq}".encode()
            with self._lock:
                self.history.sends.append(Send(value, partition, name, seq))
                self.send_times[value] = time.monotonic()
            while True:
                try:
                    p.produce(self.topic, value, partition=partition, on_delivery=done)
                    break
                except BufferError:
                    p.poll(0.05)
            seq += 1
            next_at += period
            p.poll(max(0.0, next_at - time.monotonic()))
        remaining = p.flush(60)
        if remaining:
            with self._lock:
                self.errors.append(f"{name}: {remaining} values never answered")

    # Consumer -----------------------------------------------------------------------------------

    def _consume(self) -> None:
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": GROUP, "enable.auto.commit": False,
                      "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
                      "heartbeat.interval.ms": 1000, "topic.metadata.refresh.interval.ms": 1000,
                      "log_level": 3})
        c.subscribe([self.topic])
        last_commit = time.monotonic()
        try:
            while not self._stop.is_set():
                for m in c.consume(num_messages=500, timeout=0.2):
                    if m.error() is not None:
                        continue
                    partition, offset, value = m.partition(), m.offset(), m.value()
                    assert partition is not None and offset is not None and value is not None
                    with self._lock:
                        self.history.consumed.append(Consumed(partition, offset, value))
                if time.monotonic() - last_commit >= 1.0:
                    last_commit = time.monotonic()
                    self._commit(c)
        finally:
            c.close()

    def _commit(self, c: Consumer) -> None:
        try:
            committed = c.commit(asynchronous=False) or []
            read_back = c.committed(c.assignment(), timeout=5)
        except KafkaException:
            return  # nothing to commit yet, or the coordinator is moving: the next pass tries again
        with self._lock:
            for tp in [*committed, *read_back]:
                if tp.error is None and tp.offset >= 0:
                    self.history.commits.setdefault(tp.partition, []).append(tp.offset)

    # Figures ------------------------------------------------------------------------------------

    def unavailability(self, since: float) -> float | None:
        """Seconds from ``since`` until every partition acknowledged a value sent at or after it (the
        longest wait of any partition), or None when some partition never did."""
        worst = 0.0
        with self._lock:
            for partition in range(self.partitions):
                acked = [a for s, a in self.ack_times.get(partition, []) if s >= since]
                if not acked:
                    return None
                worst = max(worst, min(acked) - since)
        return worst


def read_all(bootstrap: str, topic: str, partitions: int, timeout: float = 60) -> dict[int, list[tuple[int, bytes]]]:
    """Every partition's whole log, from offset 0 to its high watermark, as (offset, value)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{GROUP}-final", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "log_level": 3})
    try:
        ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions)}
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        out: dict[int, list[tuple[int, bytes]]] = {p: [] for p in range(partitions)}
        position = dict.fromkeys(range(partitions), 0)
        deadline = time.monotonic() + timeout
        while any(position[p] < ends[p] for p in position):
            assert time.monotonic() < deadline, f"final read incomplete: at {position} of {ends}"
            for m in c.consume(num_messages=5000, timeout=0.5):
                if m.error() is not None:
                    continue
                partition, offset, value = m.partition(), m.offset(), m.value()
                assert partition is not None and offset is not None and value is not None
                if offset < ends[partition]:
                    out[partition].append((offset, value))
                    position[partition] = offset + 1
        return out
    finally:
        c.close()
