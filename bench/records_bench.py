"""Records/s of ``segments.records`` against kafka-python's DefaultRecordBatchBuilder/DefaultRecordBatch.

Guards the choice made in ``segments/records.py`` (own codec rather than kafka-python's): one batch
of 1000 records, 10-byte keys and 100-byte values of text-like bytes (so codecs have something to
do), built and decoded with every codec. Each figure is the best of ``--repeat`` runs.

kafka-python needs python-snappy for snappy, which logbroker does not depend on; for a comparison
the benchmark installs a cramjam-backed stand-in as ``kafka.codec.snappy`` (same raw snappy).

Run: ``.venv/bin/python bench/records_bench.py [--records N] [--value-size B] [--repeat R]``
"""

from __future__ import annotations

import argparse
import functools
import random
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import cramjam
import kafka.codec
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from segments.compression import CODEC_NAMES
from segments.records import RecordInput, build_batch, decode_batch


def install_snappy_shim() -> None:
    """Let kafka-python's codec module use cramjam's raw snappy as if python-snappy were installed."""
    if kafka.codec.snappy is None:
        kafka.codec.snappy = types.SimpleNamespace(
            compress=lambda data: bytes(cramjam.snappy.compress_raw(data)),
            decompress=lambda data: bytes(cramjam.snappy.decompress_raw(data)),
        )


def make_records(count: int, value_size: int) -> list[RecordInput]:
    rng = random.Random(42)
    words = [f"{rng.getrandbits(32):08x}" for _ in range(200)]
    now = 1_700_000_000_000
    out = []
    for i in range(count):
        text = " ".join(rng.choice(words) for _ in range(value_size // 8 + 1)).encode()[:value_size]
        out.append(RecordInput(key=b"key-%06d" % i, value=text, timestamp=now + i))
    return out


def kafka_python_build(records: list[RecordInput], codec: int) -> bytes:
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=codec,
        is_transactional=False,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 30,
    )
    for i, r in enumerate(records):
        builder.append(i, timestamp=r.timestamp, key=r.key, value=r.value, headers=list(r.headers))
    return bytes(builder.build())


def kafka_python_decode(buf: bytes) -> int:
    return len(list(DefaultRecordBatch(buf)))


def best_rate(fn: Callable[[], object], records: int, repeat: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return records / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--value-size", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    install_snappy_shim()
    records = make_records(args.records, args.value_size)
    n = args.records
    print(f"{n} records, {args.value_size}-byte values; records/s, best of {args.repeat}")
    columns = ("build ours", "build k-p", "decode ours", "decode k-p")
    print(f"{'codec':8} " + " ".join(f"{c:>12}" for c in columns) + f" {'bytes':>8}")
    for codec, name in CODEC_NAMES.items():
        ours = build_batch(records, compression=codec)
        theirs = kafka_python_build(records, codec)
        # Cross-check before timing: each side reads the other's batch.
        assert [r.value for r in decode_batch(theirs)] == [r.value for r in records]
        assert [r.value for r in DefaultRecordBatch(ours)] == [r.value for r in records]
        rates = (
            best_rate(functools.partial(build_batch, records, compression=codec), n, args.repeat),
            best_rate(functools.partial(kafka_python_build, records, codec), n, args.repeat),
            best_rate(functools.partial(decode_batch, ours), n, args.repeat),
            best_rate(functools.partial(kafka_python_decode, theirs), n, args.repeat),
        )
        print(f"{name:8} " + " ".join(f"{r / 1e6:10.2f} M" for r in rates) + f" {len(ours):8}")


if __name__ == "__main__":
    main()
