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

The RF=1 runs use the limits runs' producers, which are not idempotent. The RF=3 run's producers
are (``enable.idempotence``): on two cores a follower starved of CPU can fall behind for
``replica.lag.time.max.ms`` and leave the ISR, and the batches waiting for it are answered
NOT_ENOUGH_REPLICAS_AFTER_APPEND, which librdkafka retries. Without idempotence each retried batch
the leader had already appended lands twice (12-30% of the records did in runs here), so the run measured
overload rather than replication; with it the leader drops the retried copies, and the "landed"
check holds. An idempotent librdkafka producer keeps one request per partition in flight and spends
more CPU per GB than a plain one (on Kafka as on logbroker), so the RF=3 run is set beside one broker
taking the same idempotent producers. The MB/s count each record once, as sent.

Each run's topic is deleted after it and the next run waits until no broker holds its files, as in
the single-broker runs of ``limits.py`` (whose docstring says why: a run writing after others kept
gigabytes wrote into slower, fresh page cache here, 195 MB/s against 469 on a fresh broker).

Broker CPU is summed over the brokers (psutil, all threads of each process), per GB of record
values taken. ZooKeeper's CPU is not in it.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import compare_kafka
import limits_peer
from harness import Broker, free_port, wait_until_gone
from kafka_cluster import KafkaCluster

PARTITIONS = 3
BROKERS = 3


@dataclass
class BrokerSet:
    """What ``limits.run_producers`` needs of several brokers: one bootstrap, their pids, and the
    records that landed (read through a client, which asks each partition's leader)."""

    brokers: list[Any]  # each with ``bootstrap``, ``port``, ``pid``, ``data_dir``: harness.Broker, a Kafka node

    @property
    def bootstrap(self) -> str:
        return ",".join(b.bootstrap for b in self.brokers)

    @property
    def port(self) -> int:
        return int(self.brokers[0].port)

    @property
    def pids(self) -> list[int]:
        return [b.pid for b in self.brokers]

    def retire(self, topic: str, timeout_s: float = 120.0) -> None:
        """Delete a finished run's topic and wait until no broker holds its files, as
        ``limits.retire_topic`` does for one broker: the next run then writes into freed page cache,
        as every run of the single-broker part does."""
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 2})
        try:
            admin.delete_topics([topic], operation_timeout=30)[topic].result(60)
        except Exception as exc:  # the run's figure stands; the next run's start is what suffers
            print(f"  (deleting {topic} failed: {exc}; its data stays)")
            return
        wait_until_gone([b.data_dir for b in self.brokers], topic, timeout_s)

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


def cluster_runs(scratch: Path, nproc: int, ingest_s: float, run_producers: Runner, fmt_cpu: Callable[..., str],
                 kafka: bool = True) -> list[dict[str, Any]]:
    """The single-broker and three-broker ingest runs (see the module docstring), on logbroker and,
    unless ``kafka`` is false or Kafka cannot run here, on Apache Kafka in the same invocation."""
    from logbroker.cluster.zkserver import available

    rows: list[dict[str, Any]] = []

    def run(target: Any, broker: str, setup: str, rf: int, acks: str, idempotent: bool = False) -> None:
        topic = f"cluster-{setup.replace(' ', '-')}-rf{rf}-{acks}{'-idem' if idempotent else ''}"
        configs = {"min.insync.replicas": str(min(rf, 2))}
        leaders = create_topic(target.bootstrap, topic, rf, configs)
        extra = {"enable.idempotence": True} if idempotent else None
        target_run = run_producers(target, topic, PARTITIONS, nproc, 1000, acks, ingest_s, extra=extra)
        target_run.update(broker=broker, setup=setup, rf=rf, acks=acks, brokers=len(target.pids), leaders=leaders,
                          producers=nproc, value_size=1000, idempotent=idempotent)
        rows.append(target_run)
        target.retire(topic)
        ok = "" if target_run["landed"] == target_run["records"] and not target_run["errors"] else \
            f"  !! landed {target_run['landed']} of {target_run['records']}, {target_run['errors']} errors"
        print(f"  {setup:<13} RF={rf} acks={acks:<3}{' idempotent' if idempotent else ''}: "
              f"{target_run['mb_s']:7.1f} MB/s "
              f"{target_run['records_s']:11,.0f} rec/s  leaders {leaders}  "
              f"{fmt_cpu(target_run['cpu'], target_run['bytes'])} (summed over {len(target.pids)} broker(s)){ok}")

    def runs(target: BrokerSet, broker: str, setup: str, last_rf: int) -> None:
        """acks=1 and acks=all at RF=1, then acks=all with idempotent producers at ``last_rf`` (RF=3 on
        the cluster; at RF=1 on one broker, what the RF=3 run is set beside)."""
        for acks in ("1", "all"):
            run(target, broker, setup, 1, acks)
        run(target, broker, setup, last_rf, "all", idempotent=True)

    missing = available()
    if missing:
        print(f"\n== cluster runs skipped: {missing} ==")
        return rows
    root = scratch / "cluster"
    root.mkdir(parents=True, exist_ok=True)
    try:
        print(f"\n== one broker, then {BROKERS} brokers with ZooKeeper on this machine: 1 KB records, "
              f"{nproc} confluent producer process(es), {PARTITIONS} partitions, {ingest_s:.0f} s per run ==")
        single = Broker(root / "single")
        single.start()
        try:
            runs(BrokerSet([single]), "logbroker", "1 broker", 1)
        finally:
            single.stop()
        with _logbroker_cluster(root) as brokers:
            runs(BrokerSet(brokers), "logbroker", f"{BROKERS} brokers", 3)
        reason = compare_kafka.unavailable_reason() if kafka else "not asked for"
        if reason is not None:
            print(f"\n== Apache Kafka cluster runs skipped: {reason} ==")
            return rows
        print(f"\n== the same on Apache Kafka {compare_kafka.ref.KAFKA_VERSION}: one node, then {BROKERS} "
              f"KRaft nodes (broker and controller in each; bench/kafka_cluster.py) ==")
        node, peer = limits_peer.start_kafka(root)
        try:
            runs(BrokerSet([peer]), "Apache Kafka", "Kafka 1 node", 1)
        finally:
            node.__exit__(None, None, None)
        kafka_cluster = KafkaCluster(root)
        try:
            kafka_cluster.start()
            runs(BrokerSet(list(kafka_cluster.nodes)), "Apache Kafka", f"Kafka {BROKERS} nodes", 3)
        except BaseException:
            _print_log_tails(list(kafka_cluster.nodes))
            raise
        finally:
            kafka_cluster.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return rows


@contextmanager
def _logbroker_cluster(root: Path) -> Iterator[list[Broker]]:
    """ZooKeeper and three brokers, all registered; stopped (by pid) on the way out."""
    from kazoo.client import KazooClient

    from logbroker.cluster.zkserver import LocalZooKeeper

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
        yield brokers
    except BaseException:
        _print_log_tails(brokers)
        raise
    finally:
        for b in brokers:
            b.stop()
        zk.stop()
        zk.close()
        zookeeper.stop()


def _print_log_tails(brokers: Sequence[Any], lines: int = 15) -> None:
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
    """Each three-broker figure beside one broker of the same kind at the same acks (and idempotence),
    and each logbroker figure beside Apache Kafka's in the same setup, when Kafka ran."""
    if not rows:
        return

    def kind(r: dict[str, Any]) -> tuple[Any, ...]:
        return r["acks"], r.get("idempotent", False)

    alone = {(r.get("broker", "logbroker"), *kind(r)): r for r in rows if r["brokers"] == 1}
    kafka = {(r["brokers"], r["rf"], *kind(r)): r for r in rows if r.get("broker") == "Apache Kafka"}
    print(f"  {'setup':<38} {'MB/s':>7} {'vs 1 broker':>11} {'vs Kafka':>8} {'CPU%core':>8} {'CPU s/GB':>8} "
          f"{'(Kafka)':>8} {'busy':>4}")
    for r in rows:
        cpu = r["cpu"]
        base = alone.get((r.get("broker", "logbroker"), *kind(r)))
        ratio = f"{r['mb_s'] / base['mb_s']:10.2f}x" if base is not None and base is not r else f"{'':>11}"
        peer = kafka.get((r["brokers"], r["rf"], *kind(r)))
        versus, peer_cpu = f"{'':>8}", f"{'':>8}"
        if peer is not None and peer is not r:
            versus = f"{r['mb_s'] / peer['mb_s']:7.2f}x"
            peer_cpu = f"{peer['cpu'].per_gb(peer['bytes']):8.2f}"
        label = f"{r['setup']} RF={r['rf']} acks={r['acks']}{' idem.' if r.get('idempotent') else ''}"
        print(f"  {label:<38} {r['mb_s']:7.1f} {ratio} {versus} "
              f"{cpu.core_pct:8.0f} {cpu.per_gb(r['bytes']):8.2f} {peer_cpu} {100 * cpu.machine_busy:3.0f}%")
