"""Micro-benchmark of the Kafka wire codec (logbroker/kafka/codec.py).

Measures, in operations per second on this machine:
  - decode_request of a Produce v9 request (flexible) with 1 and 10 partitions, 1 KiB of records each
  - decode_request of a Produce v7 request (classic) with 1 partition
  - encode_response of a Fetch v12 response with 10 partitions whose records are file-range parts
  - encode_response of a Fetch v12 response with 10 partitions whose records are 1 KiB bytes

Run: .venv/bin/python bench/codec_bench.py
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from logbroker.kafka.codec import decode_request, encode_request, encode_response

RECORDS = bytes(1024)


@dataclass(frozen=True, slots=True)
class FileRange:
    """Stand-in for the server's sendfile range (implements RecordsPart)."""

    fd: int
    offset: int
    nbytes: int


def produce_frame(version: int, partitions: int) -> bytes:
    body = {
        "transactional_id": None,
        "acks": -1,
        "timeout_ms": 30000,
        "topic_data": [
            {"name": "bench-topic", "partition_data": [{"index": p, "records": RECORDS} for p in range(partitions)]}
        ],
    }
    return encode_request(0, version, 1, "bench-client", body)[4:]


def fetch_body(records: object) -> dict[str, object]:
    return {
        "throttle_time_ms": 0,
        "error_code": 0,
        "session_id": 0,
        "responses": [
            {
                "topic": "bench-topic",
                "partitions": [
                    {
                        "partition_index": p,
                        "error_code": 0,
                        "high_watermark": 1000,
                        "last_stable_offset": 1000,
                        "log_start_offset": 0,
                        "aborted_transactions": None,
                        "records": records,
                    }
                    for p in range(10)
                ],
            }
        ],
    }


def measure(name: str, fn: Callable[[], object], seconds: float = 1.0) -> float:
    fn()
    n = 0
    batch = 200
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(batch):
            fn()
        n += batch
        now = time.perf_counter()
        if now >= deadline:
            break
    rate = n / (now - start)
    print(f"{name:<58} {rate:>12,.0f} ops/s  {1e6 / rate:8.2f} us/op")
    return rate


def main() -> None:
    f1 = produce_frame(9, 1)
    f10 = produce_frame(9, 10)
    f1_v7 = produce_frame(7, 1)
    measure("decode_request Produce v9, 1 partition", lambda: decode_request(f1))
    measure("decode_request Produce v9, 10 partitions", lambda: decode_request(f10))
    measure("decode_request Produce v7, 1 partition", lambda: decode_request(f1_v7))
    file_body = fetch_body(FileRange(3, 0, 1024 * 1024))
    bytes_body = fetch_body(RECORDS)
    measure("encode_response Fetch v12, 10 partitions, file ranges", lambda: encode_response(1, 12, 1, file_body))
    measure("encode_response Fetch v12, 10 partitions, 1 KiB bytes", lambda: encode_response(1, 12, 1, bytes_body))


if __name__ == "__main__":
    main()
