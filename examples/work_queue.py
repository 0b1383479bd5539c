"""A work queue: one consumer group, several workers, manual commits.

Tasks go to a topic with several partitions; the workers join one group, so the group coordinator
gives each worker its own partitions and every task is done by one worker. A worker commits a
task's offset only after finishing it, so a crash means the task is redelivered, never lost.
One worker is slow: it falls behind on its own partitions only, while the others finish theirs.
(Skew is the price of the log way: a slow consumer holds back its partitions, not the queue.)

    python examples/work_queue.py --bootstrap-server localhost:9092
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from collections import Counter

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

WORKERS = 3
PARTITIONS = 6
TASKS = 30
SLOW_WORKER = 0
SLOW_SECONDS = 0.1  # per task, for the slow worker; the others take no time


class Board:
    """What the workers report: who did which task and when each worker ran out of work."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done: dict[int, int] = {}
        self.redelivered = 0
        self.finished_at: dict[int, float] = {}

    def record(self, worker: int, task: int) -> None:
        with self.lock:
            if task in self.done:
                self.redelivered += 1
            self.done[task] = worker

    def complete(self) -> bool:
        with self.lock:
            return len(self.done) >= TASKS


def worker(n: int, bootstrap: str, topic: str, group: str, board: Board, start: float, stop: threading.Event) -> None:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, client_id=f"worker-{n}",
                             enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=5)
    try:
        while not stop.is_set():
            batch = consumer.poll(timeout_ms=200)
            for tp, records in batch.items():
                for record in records:
                    if n == SLOW_WORKER:
                        time.sleep(SLOW_SECONDS)
                    board.record(n, int(record.value))
                    # Commit this task only: the next offset to read on this partition (-1: no leader epoch).
                    next_offset = OffsetAndMetadata(record.offset + 1, "", -1)
                    consumer.commit({TopicPartition(tp.topic, tp.partition): next_offset})
            if batch:
                board.finished_at[n] = time.monotonic() - start
    finally:
        consumer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-server", default="localhost:9092")
    args = parser.parse_args()
    suffix = uuid.uuid4().hex[:8]
    topic, group = f"tasks-{suffix}", f"workers-{suffix}"

    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap_server)
    admin.create_topics({topic: {"num_partitions": PARTITIONS}})
    board, stop = Board(), threading.Event()
    start = time.monotonic()
    threads = [threading.Thread(target=worker, args=(n, args.bootstrap_server, topic, group, board, start, stop))
               for n in range(WORKERS)]
    try:
        for t in threads:
            t.start()
        producer = KafkaProducer(bootstrap_servers=args.bootstrap_server)
        for task in range(TASKS):
            producer.send(topic, value=str(task).encode(), partition=task % PARTITIONS)
        producer.close()
        print(f"queued {TASKS} tasks on {PARTITIONS} partitions for {WORKERS} workers (worker {SLOW_WORKER} is slow)")

        deadline = time.monotonic() + 60
        while not board.complete() and time.monotonic() < deadline and any(t.is_alive() for t in threads):
            time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(20)
        admin.delete_topics([topic])
        admin.delete_groups([group])
        admin.close()

    if not board.complete():
        raise SystemExit(f"only {len(board.done)} of {TASKS} tasks were done")
    per_worker = Counter(board.done.values())
    for n in range(WORKERS):
        finished = board.finished_at.get(n)
        when = f"last task at {finished:.1f} s" if finished is not None else "no partitions"
        print(f"worker {n}: {per_worker.get(n, 0):2d} tasks, {when}{'  (slow)' if n == SLOW_WORKER else ''}")
    print(f"done: {TASKS} tasks, each by one worker; {board.redelivered} redelivered after a rebalance")


if __name__ == "__main__":
    main()
