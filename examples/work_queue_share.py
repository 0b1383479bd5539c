"""A work queue with a share group (KIP-932): per-task acknowledgement, like RabbitMQ's manual acks.

Four workers share ONE partition (a consumer group could give it to one worker only). Each task is
acquired by one worker with a time lock and acknowledged when done (ACCEPT). Worker 0 is killed
(SIGKILL) in the middle of its first task: its tasks were never acknowledged, so when their locks
expire the broker redelivers them to the other workers. "Poison" tasks always fail: the worker
RELEASEs them for another try until the delivery limit, then REJECTs them and forwards them to a
dead-letter topic. Compare ``work_queue.py``, the consumer-group version, where a slow worker holds
back its partitions.

    python examples/work_queue_share.py --bootstrap-server localhost:9092
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import subprocess
import sys
import time
import uuid

from confluent_kafka import AcknowledgeType, KafkaError, KafkaException, Producer, ShareConsumer
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    ResourceType,
)

WORKERS = 4
TASKS = 40
POISON = {7, 23}  # tasks that always fail
DELIVERY_LIMIT = 3  # share.delivery.count.limit of the group
# share.record.lock.duration.ms of the group: how soon a dead worker's tasks come back. 15 s is the
# least a group may set under the broker's default group.share.min.record.lock.duration.ms.
LOCK_MS = 15_000
VICTIM = 0  # the worker killed mid-task


def worker(n: int, bootstrap: str, topic: str, group: str) -> None:
    """One worker process: prints `done <task> <delivery count>` or `dead <task>` per task."""
    consumer = ShareConsumer({"bootstrap.servers": bootstrap, "group.id": group, "client.id": f"worker-{n}",
                              "share.acknowledgement.mode": "explicit", "max.poll.records": 3})
    dlq = Producer({"bootstrap.servers": bootstrap})
    consumer.subscribe([topic])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # leave the group on the way out
    print("ready", flush=True)
    try:
        while True:
            for msg in consumer.poll(0.5):
                if msg.error() is not None:
                    continue
                task = int(msg.value())
                if n == VICTIM and task not in POISON:
                    print(f"working {task}", flush=True)
                    time.sleep(60)  # killed in here: no acknowledgement will ever come
                if task in POISON:
                    if (msg.delivery_count() or 1) >= DELIVERY_LIMIT:
                        dlq.produce(f"{topic}-dead-letters", value=msg.value())
                        dlq.flush(10)
                        consumer.acknowledge(msg, AcknowledgeType.REJECT)
                        print(f"dead {task}", flush=True)
                    else:
                        consumer.acknowledge(msg, AcknowledgeType.RELEASE)  # try again, maybe elsewhere
                    continue
                time.sleep(0.05)  # the work
                consumer.acknowledge(msg, AcknowledgeType.ACCEPT)
                print(f"done {task} {msg.delivery_count()}", flush=True)
            consumer.commit_async()
    finally:
        consumer.close()


def configure(admin: AdminClient, topic: str, group: str, lock_ms: int) -> None:
    admin.create_topics([NewTopic(topic, 1), NewTopic(f"{topic}-dead-letters", 1)])[topic].result(20)
    configs = {"share.auto.offset.reset": "earliest", "share.delivery.count.limit": str(DELIVERY_LIMIT),
               "share.record.lock.duration.ms": str(lock_ms)}
    resource = ConfigResource(ResourceType.GROUP, group, incremental_configs=[
        ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in configs.items()])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(20)


def delete_group(admin: AdminClient, group: str) -> None:
    """Delete the group once it is empty: the killed worker stays a member until its session times
    out (``group.share.session.timeout.ms``, 45 s by default), as with Kafka."""
    deadline = time.monotonic() + 90
    print("waiting for the killed worker's session to time out, then deleting the group")
    while True:
        try:
            for future in admin.delete_consumer_groups([group]).values():  # type: ignore[attr-defined]
                future.result(20)
            return
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.NON_EMPTY_GROUP or time.monotonic() > deadline:
                raise
            time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-server", default="localhost:9092")
    parser.add_argument("--lock-ms", type=int, default=LOCK_MS,
                        help="the group's share.record.lock.duration.ms (at least the broker's "
                             "group.share.min.record.lock.duration.ms, 15000 by default)")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    parser.add_argument("--group", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker, args.bootstrap_server, args.topic, args.group)
        return
    suffix = uuid.uuid4().hex[:8]
    topic, group = f"tasks-{suffix}", f"share-workers-{suffix}"
    admin = AdminClient({"bootstrap.servers": args.bootstrap_server})
    configure(admin, topic, group, args.lock_ms)
    procs = [subprocess.Popen([sys.executable, __file__, "--bootstrap-server", args.bootstrap_server,
                               "--worker", str(n), "--topic", topic, "--group", group],
                              stdout=subprocess.PIPE, text=True) for n in range(WORKERS)]
    done: dict[int, tuple[int, int]] = {}  # task -> (worker, delivery count)
    dead: set[int] = set()
    killed: int | None = None
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        producer = Producer({"bootstrap.servers": args.bootstrap_server})
        for task in range(TASKS):
            producer.produce(topic, value=str(task).encode())
        producer.flush(20)
        print(f"queued {TASKS} tasks on 1 partition for {WORKERS} workers sharing it")
        deadline = time.monotonic() + 60
        while len(done) + len(dead) < TASKS and time.monotonic() < deadline:
            live = {p.stdout: n for n, p in enumerate(procs) if p.poll() is None and p.stdout is not None}
            readable, _, _ = select.select(list(live), [], [], 0.5)
            for out in readable:
                line = out.readline().split()
                n = live[out]
                if line and line[0] == "working" and killed is None:
                    os.kill(procs[n].pid, signal.SIGKILL)
                    killed = int(line[1])
                    print(f"worker {n} killed while working on task {killed}")
                elif line and line[0] == "done":
                    done[int(line[1])] = (n, int(line[2]))
                elif line and line[0] == "dead":
                    dead.add(int(line[1]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        for future in admin.delete_topics([topic, f"{topic}-dead-letters"]).values():
            future.result(20)
        delete_group(admin, group)

    if len(done) + len(dead) < TASKS:
        raise SystemExit(f"only {len(done)} tasks done and {len(dead)} dead-lettered of {TASKS}")
    per_worker = {n: sum(1 for w, _ in done.values() if w == n) for n in range(WORKERS)}
    for n in range(WORKERS):
        note = "  (killed mid-task)" if n == VICTIM else ""
        print(f"worker {n}: {per_worker[n]:2d} tasks{note}")
    redelivered = sorted(t for t, (_, count) in done.items() if count > 1)
    print(f"redelivered after the kill: tasks {redelivered}")
    print(f"dead-lettered after {DELIVERY_LIMIT} deliveries: tasks {sorted(dead)}")
    if killed is None or killed not in redelivered or dead != POISON:
        raise SystemExit("the killed worker's task was not redelivered, or the poison tasks were not dead-lettered")
    print(f"done: {TASKS - len(POISON)} tasks acknowledged once each, {len(POISON)} dead-lettered")


if __name__ == "__main__":
    main()
