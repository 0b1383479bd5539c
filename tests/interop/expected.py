"""The records interop tests produce, and the checks applied to what a client consumed back."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
BASE_TS = 1_700_000_000_000


@dataclass(frozen=True, slots=True)
class Sent:
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    timestamp: int


@dataclass(frozen=True, slots=True)
class Got:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    timestamp: int


def make_records(n: int, tag: str, start: int = 0) -> list[Sent]:
    """``n`` keyed records with headers; values carry their index so order can be checked."""
    return [
        Sent(key=f"key-{i % 101}".encode(), value=f"{tag}:{i:06d}:".encode() + b"x" * (i % 50),
             headers=(("idx", str(i).encode()), ("tag", tag.encode())), timestamp=BASE_TS + i)
        for i in range(start, start + n)
    ]


def check_round_trip(sent: list[Sent], got: list[Got], *, check_timestamps: bool = True,
                     check_headers: bool = True) -> None:
    """Every sent record came back once with the same key, value, headers and timestamp; per-partition
    offsets increase with the send order; a key always lands in one partition."""
    by_value = {s.value: s for s in sent}
    seen: set[bytes] = set()
    for g in got:
        assert g.value is not None
        assert g.value in by_value, f"unexpected record {g.value[:40]!r}"
        assert g.value not in seen, f"record {g.value[:40]!r} consumed twice"
        seen.add(g.value)
        s = by_value[g.value]
        assert g.key == s.key
        if check_headers:
            assert tuple(g.headers) == s.headers, (g.headers, s.headers)
        if check_timestamps:
            assert g.timestamp == s.timestamp
    missing = len(sent) - len(seen)
    assert missing == 0, f"{missing} of {len(sent)} records were not consumed"
    partitions_of_key: dict[bytes | None, set[int]] = defaultdict(set)
    per_partition: dict[int, list[Got]] = defaultdict(list)
    for g in got:
        partitions_of_key[g.key].add(g.partition)
        per_partition[g.partition].append(g)
    assert all(len(p) == 1 for p in partitions_of_key.values()), "a key was spread over partitions"
    for records in per_partition.values():
        records.sort(key=lambda r: r.offset)
        indexes = [int(r.value.split(b":")[1]) for r in records if r.value is not None]
        assert indexes == sorted(indexes), "records of a partition are out of send order"
        offsets = [r.offset for r in records]
        assert len(set(offsets)) == len(offsets)
