"""A three-broker cluster against one broker: acks=all throughput and latency with RF=1 and RF=3,
and failover time over bounded leader kills.

    .venv/bin/python bench/cluster.py [--messages 50000] [--size 100] [--kills 5] [--write-readme]

All on 127.0.0.1: a ZooKeeper (Debian's package, ``logbroker.cluster.zkserver``) and three
``logbroker serve`` brokers with ``zookeeper.connect``, and, in the same run, one broker alone.
For each setup, one confluent-kafka producer (idempotent, ``acks=all``, ``linger.ms=5``) on a topic of
3 partitions:

- throughput: ``--messages`` values of ``--size`` bytes sent as fast as the producer goes, until all
  are acknowledged; records/s and MB/s;
- latency: ``--rate`` values a second for ``--seconds``; p50/p99 of send -> acknowledgement.

Failover: a 1-partition RF=3 topic, a producer sending ``--rate`` values a second; ``--kills`` times
the leader gets SIGKILL; the failover time is from the kill until a value sent after it is
acknowledged (new leader elected, client redirected), and is dominated by
``zookeeper.session.timeout.ms`` (``--session-timeout-ms``). The killed broker restarts and the
next kill waits for a full ISR. Every wait is bounded.

``--write-readme`` replaces the section between the ``cluster:start``/``cluster:end`` markers of
bench/README.md; the JSON goes to bench/results/cluster.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from harness import ROOT, Broker, free_port, loadavg, machine_line, percentile
from kazoo.client import KazooClient

sys.path.insert(0, str(ROOT))
from logbroker.cluster.zkserver import LocalZooKeeper, available

START, END = "<!-- cluster:start -->", "<!-- cluster:end -->"
PARTITIONS = 3


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception:  # not there yet
            pass
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")


def create_topic(bootstrap: str, topic: str, partitions: int, rf: int, config: dict[str, str]) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, partitions, rf, config=config)], operation_timeout=10)[topic].result(30)


def producer(bootstrap: str) -> Producer:
    return Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5,
                     "message.timeout.ms": 60000, "request.timeout.ms": 5000, "retry.backoff.ms": 50,
                     "reconnect.backoff.max.ms": 200, "topic.metadata.refresh.interval.ms": 500,
                     "log_level": 2})


def throughput(bootstrap: str, topic: str, messages: int, size: int) -> dict[str, float]:
    p = producer(bootstrap)
    payload = b"x" * size
    failed: list[KafkaError] = []

    def done(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            failed.append(err)

    p.produce(topic, payload, on_delivery=done)  # connected, metadata known
    p.flush(30)
    start = time.perf_counter()
    for _ in range(messages):
        while True:
            try:
                p.produce(topic, payload, on_delivery=done)
                break
            except BufferError:
                p.poll(0.01)
        p.poll(0)
    left = p.flush(120)
    elapsed = time.perf_counter() - start
    if left or failed:
        raise RuntimeError(f"{left} unacknowledged, {len(failed)} failed: {failed[:1]}")
    return {"records_per_s": round(messages / elapsed), "mb_per_s": round(messages * size / elapsed / 1e6, 2)}


def latency(bootstrap: str, topic: str, rate: int, seconds: float, size: int) -> dict[str, float]:
    p = producer(bootstrap)
    payload = b"y" * size
    latencies: list[float] = []

    def stamp(sent: float) -> Any:
        def done(err: KafkaError | None, _msg: Message) -> None:
            if err is None:
                latencies.append(time.perf_counter() - sent)
        return done

    p.produce(topic, payload)
    p.flush(30)
    period, n = 1.0 / rate, int(rate * seconds)
    start = time.perf_counter()
    for i in range(n):
        p.produce(topic, payload, on_delivery=stamp(time.perf_counter()))
        p.poll(max(0.0, start + (i + 1) * period - time.perf_counter()))
    p.flush(60)
    ordered = sorted(latencies)
    return {"sent": n, "p50_ms": round(percentile(ordered, 50) * 1000, 2),
            "p99_ms": round(percentile(ordered, 99) * 1000, 2)}


def failover(brokers: dict[int, Broker], zk: KazooClient, bootstrap: str, kills: int, rate: int) -> list[float]:
    topic = "failover"
    create_topic(bootstrap, topic, 1, 3, {"min.insync.replicas": "2"})
    state_path = f"/brokers/topics/{topic}/partitions/0/state"

    def state() -> dict[str, Any]:
        return dict(json.loads(zk.get(state_path)[0]))

    wait_for(lambda: len(state()["isr"]) == 3, 60, "a full ISR")
    acks: list[tuple[float, float]] = []  # (sent, acknowledged)
    stop = threading.Event()

    def stamp(sent: float) -> Any:
        def done(err: KafkaError | None, _msg: Message) -> None:
            if err is None:
                acks.append((sent, time.monotonic()))
        return done

    def send() -> None:
        p = producer(bootstrap)
        period = 1.0 / rate
        while not stop.is_set():
            p.produce(topic, b"f", on_delivery=stamp(time.monotonic()))
            p.poll(period)
        p.flush(60)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    times: list[float] = []
    try:
        for _ in range(kills):
            wait_for(lambda: len(state()["isr"]) == 3, 60, "a full ISR")
            time.sleep(1)
            leader = int(state()["leader"])
            victim = brokers[leader]
            assert victim.proc is not None
            t0 = time.monotonic()
            victim.proc.send_signal(signal.SIGKILL)
            victim.proc.wait(10)
            victim.proc = None
            first = wait_for(lambda t=t0: min((a for s, a in list(acks) if s >= t), default=None), 60,
                             "an acknowledgement after the kill")
            times.append(first - t0)
            victim.start()
    finally:
        stop.set()
        sender.join(90)
    return times


def measure(bootstrap: str, label: str, rf: int, args: argparse.Namespace) -> dict[str, Any]:
    topic = f"bench-rf{rf}-{label.replace(' ', '-')}"
    create_topic(bootstrap, topic, PARTITIONS, rf, {"min.insync.replicas": str(min(rf, 2))})
    time.sleep(2)  # leaders elected and followers fetching
    result: dict[str, Any] = {"setup": label, "rf": rf}
    result.update(throughput(bootstrap, topic, args.messages, args.size))
    result.update(latency(bootstrap, topic, args.rate, args.seconds, args.size))
    print(f"{label:>12} RF={rf}: {result}", flush=True)
    return result


def run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    load_before = loadavg()
    rows: list[dict[str, Any]] = []
    single = Broker(root / "single", overrides={"num.partitions": str(PARTITIONS)}).start()
    try:
        rows.append(measure(single.bootstrap, "single node", 1, args))
    finally:
        single.stop()
    zookeeper = LocalZooKeeper(root / "zookeeper", free_port()).start()
    brokers: dict[int, Broker] = {}
    zk = KazooClient(hosts=zookeeper.connect, timeout=10)
    try:
        zk.start(timeout=10)
        for i in (1, 2, 3):
            brokers[i] = Broker(root / f"broker{i}", overrides={
                "zookeeper.connect": zookeeper.connect, "node.id": str(i),
                "zookeeper.session.timeout.ms": str(args.session_timeout_ms), "replica.lag.time.max.ms": "3000",
                "group.initial.rebalance.delay.ms": "0"}).start()
        wait_for(lambda: len(zk.get_children("/brokers/ids")) == 3, 30, "three registered brokers")
        bootstrap = ",".join(b.bootstrap for b in brokers.values())
        rows.append(measure(bootstrap, "3 brokers", 1, args))
        rows.append(measure(bootstrap, "3 brokers", 3, args))
        times = failover(brokers, zk, bootstrap, args.kills, args.rate)
    finally:
        for b in brokers.values():
            b.stop()
        zk.stop()
        zk.close()
        zookeeper.stop()
    ordered = sorted(times)
    fail = {"kills": len(times), "p50_ms": round(percentile(ordered, 50) * 1000),
            "p99_ms": round(percentile(ordered, 99) * 1000), "max_ms": round(ordered[-1] * 1000),
            "session_timeout_ms": args.session_timeout_ms}
    print(f"failover: {fail}", flush=True)
    return {"measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine_line(),
            "load_before": [round(x, 1) for x in load_before], "load_after": [round(x, 1) for x in loadavg()],
            "messages": args.messages, "size": args.size, "rate": args.rate, "seconds": args.seconds,
            "rows": rows, "failover": fail}


def render(r: dict[str, Any]) -> str:
    lines = [f"Measured {r['measured_at']} on {r['machine']}; load average {r['load_before'][0]} before, "
             f"{r['load_after'][0]} after (1 min).", "",
             f"Throughput: {r['messages']:,} records of {r['size']} B, as fast as one producer goes. Latency: "
             f"{r['rate']} records/s for {r['seconds']} s, send to acknowledgement. Idempotent, `acks=all`, "
             f"3 partitions, `min.insync.replicas` 2 where RF=3.", "",
             "| setup | RF | records/s | MB/s | latency p50 ms | p99 ms |", "|---|---|---|---|---|---|"]
    for row in r["rows"]:
        lines.append(f"| {row['setup']} | {row['rf']} | {row['records_per_s']:,} | {row['mb_per_s']} | "
                     f"{row['p50_ms']} | {row['p99_ms']} |")
    f = r["failover"]
    lines += ["", f"Failover (SIGKILL of the leader of a 1-partition RF=3 topic, {f['kills']} kills, "
              f"`zookeeper.session.timeout.ms={f['session_timeout_ms']}`; time from the kill until a record "
              f"sent after it is acknowledged): p50 {f['p50_ms']} ms, p99 {f['p99_ms']} ms, "
              f"max {f['max_ms']} ms.", ""]
    return "\n".join(lines)


def write_readme(text: str) -> None:
    path = ROOT / "bench" / "README.md"
    page = path.read_text()
    head, rest = page.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{START}\n{text}\n{END}{tail}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=50_000)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--rate", type=int, default=500, help="records/s of the latency and failover producers")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--session-timeout-ms", type=int, default=3000)
    ap.add_argument("--quick", action="store_true", help="10,000 records, 2 s of latency, 2 kills")
    ap.add_argument("--write-readme", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.messages, args.seconds, args.kills = 10_000, 2.0, 2
    missing = available()
    if missing:
        print(f"cannot run: {missing}", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    try:
        result = run(args, tmp)
    except BaseException:
        print(f"failed; broker logs kept in {tmp}", file=sys.stderr)
        raise
    shutil.rmtree(tmp)
    out = ROOT / "bench" / "results" / "cluster.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    text = render(result)
    print(text)
    if args.write_readme:
        write_readme(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
