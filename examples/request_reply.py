"""Request/reply over two topics: requests carry a ``reply-to`` topic and a ``correlation-id``
header; the service answers on the reply topic with the same correlation id, and the client
matches answers to questions by it (they may come back in any order).

Both sides read by assigning partitions directly, so no consumer group is involved.

    python examples/request_reply.py --bootstrap-server localhost:9092
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition


def serve(bootstrap: str, requests: str, ready: threading.Event, stop: threading.Event) -> None:
    """The service: uppercase each request's text and answer where the request asked."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    tp = TopicPartition(requests, 0)
    consumer.assign([tp])
    consumer.seek_to_end(tp)
    consumer.position(tp)  # resolve "end" now, so no request sent after ready.set() is skipped
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    ready.set()
    while not stop.is_set():
        for record in consumer.poll(timeout_ms=200).get(tp, []):
            headers = dict(record.headers)
            reply_to = headers["reply-to"].decode()
            answer = record.value.decode().upper()
            producer.send(reply_to, value=answer.encode(), headers=[("correlation-id", headers["correlation-id"])])
            print(f"  service: {record.value.decode()!r} -> {answer!r}")
        producer.flush()
    producer.close()
    consumer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-server", default="localhost:9092")
    args = parser.parse_args()
    suffix = uuid.uuid4().hex[:8]
    requests, replies = f"requests-{suffix}", f"replies-{suffix}"

    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap_server)
    admin.create_topics({requests: {"num_partitions": 1}, replies: {"num_partitions": 1}})
    ready, stop = threading.Event(), threading.Event()
    service = threading.Thread(target=serve, args=(args.bootstrap_server, requests, ready, stop), daemon=True)
    service.start()
    try:
        if not ready.wait(15):
            raise SystemExit("the service did not start")
        inbox = KafkaConsumer(bootstrap_servers=args.bootstrap_server, group_id=None)
        reply_tp = TopicPartition(replies, 0)
        inbox.assign([reply_tp])
        inbox.seek_to_end(reply_tp)
        inbox.position(reply_tp)

        producer = KafkaProducer(bootstrap_servers=args.bootstrap_server)
        pending: dict[str, str] = {}
        for question in ("ping", "hello service", "what time is it"):
            correlation_id = uuid.uuid4().hex
            pending[correlation_id] = question
            producer.send(requests, value=question.encode(),
                          headers=[("reply-to", replies.encode()), ("correlation-id", correlation_id.encode())])
            print(f"client: asked {question!r} (correlation-id {correlation_id[:8]})")
        producer.flush()

        deadline = time.monotonic() + 15
        while pending and time.monotonic() < deadline:
            for record in inbox.poll(timeout_ms=200).get(reply_tp, []):
                correlation_id = dict(record.headers)["correlation-id"].decode()
                asked = pending.pop(correlation_id, "")
                if asked:
                    print(f"client: {asked!r} was answered {record.value.decode()!r}")
        producer.close()
        inbox.close()
        if pending:
            raise SystemExit(f"no reply to {sorted(pending.values())}")
        print("done: every request got its reply, matched by correlation id")
    finally:
        stop.set()
        service.join(10)
        admin.delete_topics([requests, replies])
        admin.close()


if __name__ == "__main__":
    main()
