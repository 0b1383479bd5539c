"""kill -9 while a producer sends with acks=all: every acknowledged record survives, none twice.

Each round kills the broker at a random moment of a stream of idempotent acks=all sends, restarts
it on the same data directory and reads every partition back. A record counts as acknowledged only
when its delivery report came back without error; it is lost if it cannot be read back after the
restart, duplicated if its value is read more than once. Two cases (``CASES``): small records
(3 rounds) and large batches (2 rounds), each times ``LOGBROKER_FAULT_SCALE``.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from tests.conftest import BrokerProcess
from tests.fault.figures import record, scale

PARTITIONS = 3
ROUNDS = 3


def _send_until_killed(broker: BrokerProcess, tag: str, kill_after_s: float, *, pad: bytes = b"",
                       settings: dict[str, object] | None = None) -> tuple[set[bytes], int]:
    """Send until the broker is killed (and a little after); returns (acknowledged values, values sent).
    ``pad`` is appended to every value; ``settings`` override the producer's."""
    assert broker.proc is not None
    victim = broker.proc
    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "enable.idempotence": True,
                         "linger.ms": 2, "message.timeout.ms": 3000, "retry.backoff.ms": 50,
                         "reconnect.backoff.max.ms": 200, "log_level": 0, **(settings or {})})
    acked: set[bytes] = set()
    reported = 0

    def on_delivery(err: KafkaError | None, msg: object) -> None:
        nonlocal reported
        reported += 1
        if err is None:
            acked.add(msg.value())  # type: ignore[attr-defined]

    # Connected and the topic known before the clock starts, so every round has acknowledged records.
    producer.produce("acked", key=b"warm", value=f"{tag}:warm".encode(), on_delivery=on_delivery)
    assert producer.flush(30) == 0

    killer = threading.Timer(kill_after_s, victim.send_signal, (signal.SIGKILL,))
    killer.start()
    sent = 1
    stop_at = time.monotonic() + kill_after_s + 0.3
    try:
        while time.monotonic() < stop_at:
            try:
                producer.produce("acked", key=b"k%d" % (sent % 17), value=f"{tag}:{sent}".encode() + pad,
                                 on_delivery=on_delivery)
                sent += 1
            except BufferError:
                producer.poll(0.01)
            # At most a few thousand unreported sends, so the kill lands among acknowledgements.
            producer.poll(0.002 if sent - reported > 2000 else 0)
        producer.flush(5)
    finally:
        killer.join()
    victim.wait(10)
    return acked, sent


def _read_back(broker: BrokerProcess) -> list[bytes]:
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "kill9-check",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    tps = [TopicPartition("acked", p, 0) for p in range(PARTITIONS)]
    ends = {p: consumer.get_watermark_offsets(TopicPartition("acked", p), timeout=10)[1] for p in range(PARTITIONS)}
    consumer.assign(tps)
    values: list[bytes] = []
    positions = dict.fromkeys(range(PARTITIONS), 0)
    deadline = time.monotonic() + 60
    while any(positions[p] < ends[p] for p in positions) and time.monotonic() < deadline:
        for m in consumer.consume(num_messages=5000, timeout=0.5):
            assert m.error() is None, m.error()
            value, partition, offset = m.value(), m.partition(), m.offset()
            assert value is not None and partition is not None and offset is not None
            values.append(value)
            positions[partition] = offset + 1
    consumer.close()
    return values


@dataclass(frozen=True, slots=True)
class Case:
    """One kill -9 scenario: the producer's batches, how many rounds and when in each the kill lands."""

    figure: str  # the key of its figures in docs/reliability-figures.json
    seed: int
    rounds_per_scale: int  # rounds at LOGBROKER_FAULT_SCALE=1
    kill_after_s: tuple[float, float]  # the kill lands uniformly in this window after the warm-up send
    pad: bytes = b""
    settings: dict[str, object] = field(default_factory=dict)
    broker: dict[str, str] = field(default_factory=dict)  # broker properties, underscores for dots


CASES = {
    # Small records: the appends are written inline on the event loop.
    "small_records": Case("kill9_acks_all", 20261129, ROUNDS, (0.3, 1.2)),
    # Batches of up to 1 MiB of 1 KB records, every append of 256 KiB or more written by the append
    # writer thread after ``Log.append`` returned (``segments/writer.py``; the default sends only
    # appends of 2 MiB or more there), so the kill lands among writes in flight; acks=all is answered
    # only after the write and its group-commit fsync.
    "large_batches": Case("kill9_acks_all_large_batches", 20261130, 2, (0.5, 1.2), pad=b"x" * 1000,
                          settings={"linger.ms": 100, "batch.size": 1 << 20, "message.timeout.ms": 5000},
                          broker={"logbroker_append_writer_min_bytes": str(256 * 1024)}),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_acknowledged_records_survive_kill9_exactly_once(broker_factory, case: Case) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(case.seed)
    broker: BrokerProcess = broker_factory(num_partitions=str(PARTITIONS), **case.broker)
    rounds = case.rounds_per_scale * scale()
    acked_all: set[bytes] = set()
    sent_all = 0
    for r in range(rounds):
        acked, sent = _send_until_killed(broker, f"r{r}", rng.uniform(*case.kill_after_s), pad=case.pad,
                                         settings=case.settings)
        acked_all |= acked
        sent_all += sent
        broker.proc = None
        broker.start()
    counts = Counter(_read_back(broker))
    lost = sorted(acked_all - counts.keys())
    duplicated = sorted(v for v, n in counts.items() if n > 1)
    record(case.figure, rounds=rounds, records_sent=sent_all, records_acknowledged=len(acked_all),
           records_read_back=sum(counts.values()), lost=len(lost), duplicated=len(duplicated))
    assert acked_all, "no record was acknowledged before the kills"
    assert not lost, f"{len(lost)} acknowledged records lost, e.g. {[v[:20] for v in lost[:5]]}"
    assert not duplicated, f"{len(duplicated)} records read more than once, e.g. {[v[:20] for v in duplicated[:5]]}"
