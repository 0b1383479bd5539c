"""Apache Kafka in ``bench/limits.py``: the same runs against Kafka 4.1.1 and Kafka's own perf tools.

``kafka-producer-perf-test`` and ``kafka-consumer-perf-test`` are run as their classes
(``org.apache.kafka.tools.ProducerPerformance`` / ``ConsumerPerformance``) from the jars
``make kafka-jars`` caches, against logbroker and against Kafka, with the same arguments. Kafka runs
with its shipped JVM options (``compare_kafka.JVM_OPTS``: 1 GB heap, G1) and defaults.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import compare_kafka
from harness import MB, CpuMeter, settle_disk


@dataclass
class PeerBroker:
    """What the limits runs need of a broker: Kafka port, bootstrap, pid and the directory of its logs."""

    port: int
    pid: int
    data_dir: Path

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


def start_kafka(parent: Path) -> tuple[compare_kafka.KafkaNode, PeerBroker]:
    """Kafka with its defaults, except that a deleted topic's files go at once
    (``log.segment.delete.delay.ms`` 0, where Kafka waits a minute): ``limits.retire_topic`` waits
    for them, as it does on logbroker, which removes them at once."""
    node = compare_kafka.KafkaNode(parent, {"log.segment.delete.delay.ms": "0"})
    node.__enter__()
    assert node.pid is not None
    return node, PeerBroker(node.broker.port, node.pid, node.broker.data_dir / "kraft-logs")


def _tool(main: str, *args: str, timeout: float) -> str:
    java, _ = compare_kafka.ref.java_and_maven()
    jars = compare_kafka.ref.jar_dir()
    cmd = [java, "-Xmx512M", "-XX:+UseG1GC", "-Dlog4j2.level=WARN", "-cp", f"{jars}/*", main, *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{main.rsplit('.', 1)[-1]} failed ({out.returncode}): {out.stderr.strip()[-400:]}")
    return out.stdout


# "100000 records sent, 95238.1 records/sec (90.83 MB/sec), 250.1 ms avg latency, 400.0 ms max latency, ..."
_PRODUCER_LINE = re.compile(r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency,"
                            r" ([\d.]+) ms max latency(?:, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th)?")


def producer_perf(broker: Any, topic: str, records: int, size: int, acks: str, timeout: float = 120) -> dict[str, Any]:
    """kafka-producer-perf-test: ``records`` records of ``size`` bytes, no throttle; Kafka's producer defaults
    except acks (and linger.ms=5, batch.size=1 MiB as our confluent runs)."""
    settle_disk()
    meter = CpuMeter(broker.pid).start()
    text = _tool("org.apache.kafka.tools.ProducerPerformance", "--topic", topic, "--num-records", str(records),
                 "--record-size", str(size), "--throughput", "-1", "--producer-props",
                 f"bootstrap.servers={broker.bootstrap}", f"acks={acks}", "linger.ms=5", "batch.size=1048576",
                 timeout=timeout)
    cpu = meter.stop()
    matches = list(_PRODUCER_LINE.finditer(text))
    if not matches:
        raise RuntimeError(f"no summary in ProducerPerformance output: {text[-300:]}")
    m = matches[-1]
    nbytes = int(m.group(1)) * size
    # MB/s from the tool is MiB/s; recomputed as 10^6 bytes from its records/s.
    return {"records": int(m.group(1)), "records_s": float(m.group(2)), "mb_s": float(m.group(2)) * size / MB,
            "avg_ms": float(m.group(4)), "max_ms": float(m.group(5)),
            "p99_ms": float(m.group(8)) if m.group(8) else float("nan"), "bytes": nbytes, "cpu": cpu}


def consumer_perf(broker: Any, topic: str, records: int, timeout: float = 120) -> dict[str, Any]:
    """kafka-consumer-perf-test: read ``records`` from the start of ``topic`` (one consumer, group)."""
    meter = CpuMeter(broker.pid).start()
    text = _tool("org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server", broker.bootstrap, "--topic",
                 topic, "--messages", str(records), "--timeout", "30000", "--group", f"perf-{topic}",
                 timeout=timeout)
    cpu = meter.stop()
    # start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms,
    # fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
    rows = [ln.split(",") for ln in text.splitlines() if ln.count(",") >= 9 and ln[:1].isdigit()]
    if not rows:
        raise RuntimeError(f"no summary in ConsumerPerformance output: {text[-300:]}")
    f = [x.strip() for x in rows[-1]]
    mib, n, fetch_ms = float(f[2]), int(f[4]), float(f[7])
    nbytes = int(mib * 1024 * 1024)
    secs = fetch_ms / 1000 if fetch_ms > 0 else float("nan")
    return {"records": n, "bytes": nbytes, "seconds": secs, "mb_s": nbytes / secs / MB,
            "records_s": n / secs, "cpu": cpu}
