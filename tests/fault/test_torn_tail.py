"""A torn or corrupted segment tail after kill -9 is cut on start-up; acknowledged records stay.

Each round sends records with acks=all, kills the broker, damages the end of the active segment the
way a crash or a bad disk would, restarts it and reads everything back. The damages:

    damage          what is appended to the active .log
    torn-batch      the first part of a copy of the last batch (a write cut short)
    bad-crc         a whole copy of the last batch, next offset, one record byte flipped
    garbage         random bytes
    zeros           a run of zero bytes (blocks allocated, never written)

Rounds: 4 (one per damage), times ``LOGBROKER_FAULT_SCALE``, with random lengths.
"""

from __future__ import annotations

import os
import random
import signal
import struct
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BrokerProcess
from tests.fault.figures import record, scale
from tests.interop.expected import check_round_trip, make_records
from tests.interop.test_confluent import consume_all, produce

DAMAGES = ("torn-batch", "bad-crc", "garbage", "zeros")
_PREFIX = struct.Struct(">qi")  # baseOffset, batchLength (segments/batch.py)


def _active_segment(data_dir: Path) -> Path:
    return max((data_dir / "tails-0").glob("*.log"))


def _last_batch(data: bytes) -> tuple[int, bytes]:
    pos, last = 0, (0, b"")
    while pos + _PREFIX.size <= len(data):
        base, length = _PREFIX.unpack_from(data, pos)
        end = pos + _PREFIX.size + length
        if length <= 0 or end > len(data):
            break
        last = (base, data[pos:end])
        pos = end
    return last


def _damage(path: Path, kind: str, rng: random.Random) -> int:
    """Append the damage to the segment; returns the bytes appended."""
    data = path.read_bytes()
    base, batch = _last_batch(data)
    if kind == "torn-batch":
        tail = batch[: rng.randrange(1, len(batch))]
    elif kind == "bad-crc":
        copy = bytearray(batch)
        count = struct.unpack_from(">i", copy, 57)[0]  # records count: the copy claims the next offsets
        struct.pack_into(">q", copy, 0, base + count)
        flip = rng.randrange(61, len(copy))
        copy[flip] ^= 0xFF
        tail = bytes(copy)
    elif kind == "garbage":
        tail = rng.randbytes(rng.randrange(1, 5000))
    else:
        tail = bytes(rng.randrange(1, 8192))
    with open(path, "ab") as f:
        f.write(tail)
        f.flush()
        os.fsync(f.fileno())
    return len(tail)


@pytest.mark.slow
def test_damaged_tails_are_cut_and_acknowledged_records_kept(broker_factory) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(1129)
    broker: BrokerProcess = broker_factory(num_partitions="1")
    rounds = len(DAMAGES) * scale()
    sent: list[Any] = []
    damaged_bytes = 0
    for r in range(rounds):
        batch = make_records(300, "tails", start=len(sent))
        acks = produce(broker.bootstrap, "tails", batch, rng.choice(["none", "lz4", "zstd"]))
        assert len(acks) == len(batch)
        sent += batch
        broker.stop(signal.SIGKILL)
        damaged_bytes += _damage(_active_segment(broker.data_dir), DAMAGES[r % len(DAMAGES)], rng)
        broker.start()
        got = consume_all(broker.bootstrap, "tails", 1, len(sent), timeout_s=30)
        check_round_trip(sent, got)
        assert [g.offset for g in got] == list(range(len(sent)))  # the cut left no hole, nothing extra
    record("torn_and_corrupted_tails", rounds=rounds, damages=list(DAMAGES), bytes_of_damage=damaged_bytes,
           records_acknowledged=len(sent), lost=0, duplicated=0)
    assert "recover" in broker.log_text().lower()
