"""Several broker processes on one machine in ``bench/limits.py --cluster``: does a cluster take more?

One logbroker process carries its event loop on one core. ``--cluster`` asks what three brokers of
a ZooKeeper cluster on this same machine take of the same ingest, in the same invocation as the
single-broker figures: confluent-kafka producers of 1 KB records (the limits runs' settings) into a
topic of 3 partitions, first on one broker alone (3 partitions, so the comparison is like with
like), then on three brokers with ZooKeeper, the partitions' leaders spread one per broker:

- RF=1, acks=1 and acks=all: each broker leads one partition and replicates nothing, so this
  measures how ingest scales with broker processes;
- RF=3, acks=all, ``min.insync.replicas`` 2: every byte is also fetched by two followers and
  written three times, for comparison beside it.

The producers are not idempotent, as in the other limits runs, so a batch the producer retries
after the broker had appended it lands twice, which the "landed" check prints; the MB/s count each
record once, as sent. With RF=3 on two cores this happens: a follower starved of CPU falls behind
for ``replica.lag.time.max.ms`` and leaves the ISR, and the batches waiting for it are answered
NOT_ENOUGH_REPLICAS_AFTER_APPEND, which librdkafka retries (as against Kafka).

Broker CPU is summed over the brokers (psutil, all threads of each process), per GB of record
values taken. ZooKeeper's CPU is not in it.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import Broker, free_port

PARTITIONS = 3
BROKERS = 3


@dataclass
class BrokerSet:
    """What ``limits.run_producers`` needs of several brokers: one bootstrap, their pids, and the
    records that landed (read through a client, which asks each partition's leader)."""

    brokers: list[Broker]

    @property
    def bootstrap(self) -> str:
        return ",".join(b.bootstrap for b in self.brokers)

    @property
    def port(self) -> int:
        return int(self.brokers[0].port)

    @property
    def pids(self) -> list[int]:
        return [b.pid for b in self.brokers]

    def landed(self, topic: str, partitions: int) -> int:
        from confluent_kafka import Consumer, TopicPartition

        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "limits-landed", "log_level": 2})
        try:
            return sum(c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in range(partitions))
        finally:
            c.close()


def create_topic(bootstrap: str, topic: str, rf: int, configs: dict[str, str]) -> list[int]:
    """Create ``topic`` (3 partitions) and wait until every partition has a leader; its leaders."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 2})
    admin.create_topics([NewTopic(topic, PARTITIONS, rf, config=configs)], operation_timeout=30)[topic].result(60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        meta = admin.list_topics(topic, timeout=10).topics.get(topic)
        if meta is not None and len(meta.partitions) == PARTITIONS and \
                all(p.leader >= 0 and len(p.isrs) == rf for p in meta.partitions.values()):
            return [meta.partitions[p].leader for p in range(PARTITIONS)]
        time.sleep(0.1)
    raise RuntimeError(f"{topic}: not every partition has a leader and a full ISR after 60 s")


Runner = Callable[..., dict[str, Any]]


def cluster_runs(scratch: Path, nproc: int, ingest_s: float, run_producers: Runner, fmt_cpu: Callable[..., str]
                 ) -> list[dict[str, Any]]:
    """The single-broker and three-broker ingest runs (see the module docstring)."""
    from kazoo.client import KazooClient

    from logbroker.cluster.zkserver import LocalZooKeeper, available

    rows: list[dict[str, Any]] = []

    def run(target: Any, setup: str, rf: int, acks: str) -> None:
        topic = f"cluster-{setup.replace(' ', '-')}-rf{rf}-{acks}"
        configs = {"min.insync.replicas": str(min(rf, 2))}
        leaders = create_topic(target.bootstrap, topic, rf, configs)
        target_run = run_producers(target, topic, PARTITIONS, nproc, 1000, acks, ingest_s)
        target_run.update(setup=setup, rf=rf, acks=acks, brokers=len(target.pids), leaders=leaders,
                          producers=nproc, value_size=1000)
        rows.append(target_run)
        ok = "" if target_run["landed"] == target_run["records"] and not target_run["errors"] else \
            f"  !! landed {target_run['landed']} of {target_run['records']}, {target_run['errors']} errors"
        print(f"  {setup:<10} RF={rf} acks={acks:<3}: {target_run['mb_s']:7.1f} MB/s "
              f"{target_run['records_s']:11,.0f} rec/s  leaders {leaders}  "
              f"{fmt_cpu(target_run['cpu'], target_run['bytes'])} (summed over {len(target.pids)} broker(s)){ok}")

    missing = available()
    if missing:
        print(f"\n== cluster runs skipped: {missing} ==")
        return rows
    root = scratch / "cluster"
    root.mkdir(parents=True, exist_ok=True)
    print(f"\n== one broker, then {BROKERS} brokers with ZooKeeper on this machine: 1 KB records, "
          f"{nproc} confluent producer process(es), {PARTITIONS} partitions, {ingest_s:.0f} s per run ==")
    single = Broker(root / "single")
    single.start()
    try:
        one = BrokerSet([single])
        for acks in ("1", "all"):
            run(one, "1 broker", 1, acks)
    finally:
        single.stop()
    zookeeper = LocalZooKeeper(root / "zookeeper", free_port()).start()
    brokers: list[Broker] = []
    zk = KazooClient(hosts=zookeeper.connect, timeout=10)
    try:
        zk.start(timeout=10)
        for i in range(1, BROKERS + 1):
            brokers.append(Broker(root / f"broker{i}", overrides={
                "zookeeper.connect": zookeeper.connect, "node.id": str(i),
                "zookeeper.session.timeout.ms": "6000", "replica.lag.time.max.ms": "10000"}).start())
        deadline = time.monotonic() + 30
        while len(zk.get_children("/brokers/ids")) < BROKERS:
            if time.monotonic() > deadline:
                raise RuntimeError("the brokers did not all register within 30 s")
            time.sleep(0.1)
        three = BrokerSet(brokers)
        for acks in ("1", "all"):
            run(three, f"{BROKERS} brokers", 1, acks)
        run(three, f"{BROKERS} brokers", 3, "all")
    except BaseException:
        _print_log_tails(brokers)
        raise
    finally:
        for b in brokers:
            b.stop()
        zk.stop()
        zk.close()
        zookeeper.stop()
        shutil.rmtree(root, ignore_errors=True)
    return rows


def _print_log_tails(brokers: list[Broker], lines: int = 15) -> None:
    """What each broker logged last (its data is removed on the way out): the first thing to read
    when a cluster run fails."""
    for i, broker in enumerate(brokers, 1):
        path = broker.log_path
        if path is None or not path.exists():
            continue
        tail = path.read_text(errors="replace").splitlines()[-lines:]
        print(f"  -- the last {len(tail)} lines of broker {i}'s log ({path.name}):")
        for line in tail:
            print(f"     {line}")


def print_summary(rows: list[dict[str, Any]]) -> None:
    """Each three-broker figure beside the one broker's at the same acks."""
    if not rows:
        return
    alone = {r["acks"]: r for r in rows if r["brokers"] == 1}
    print(f"  {'setup':<28} {'MB/s':>7} {'vs 1 broker':>11} {'CPU%core':>8} {'CPU s/GB':>8} {'busy':>4}")
    for r in rows:
        cpu = r["cpu"]
        base = alone.get(r["acks"])
        ratio = f"{r['mb_s'] / base['mb_s']:10.2f}x" if base is not None and base is not r else f"{'':>11}"
        label = f"{r['setup']} RF={r['rf']} acks={r['acks']}"
        print(f"  {label:<28} {r['mb_s']:7.1f} {ratio} "
              f"{cpu.core_pct:8.0f} {cpu.per_gb(r['bytes']):8.2f} {100 * cpu.machine_busy:3.0f}%")
