"""Connections that claim huge requests and never send them cannot take the broker's memory.

Each of 1,000 connections sends a 4-byte size prefix claiming a 100 MiB request (the largest
``socket.request.max.bytes`` allows) and 5 bytes of it, then stalls. The broker must stay under a
few hundred MB of resident memory and keep serving a well-behaved client with low latency, then
close the stalled connections at ``request.receive.timeout.ms``.
"""

from __future__ import annotations

import resource
import socket
import struct
import time

import psutil
import pytest

from tests.conftest import BrokerProcess
from tests.fault.figures import record
from tests.interop.expected import check_round_trip, make_records
from tests.interop.test_confluent import consume_all, produce

CONNECTIONS = 1000
CLAIMED = 100 * 1024 * 1024
RSS_LIMIT = 300 * 1024 * 1024


def _raise_nofile(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"needs {needed} open files, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def _rss(broker: BrokerProcess) -> int:
    assert broker.proc is not None
    return int(psutil.Process(broker.proc.pid).memory_info().rss)


@pytest.mark.slow
def test_stalled_huge_requests_hold_no_memory_and_others_are_served(broker_factory) -> None:  # type: ignore[no-untyped-def]
    _raise_nofile(CONNECTIONS * 2 + 512)  # our sockets and the broker's (it inherits the limit)
    broker: BrokerProcess = broker_factory(request_receive_timeout_ms="8000")
    warm = make_records(200, "flood")
    produce(broker.bootstrap, "flood", warm, "none")
    before = _rss(broker)

    stalled: list[socket.socket] = []
    try:
        for _ in range(CONNECTIONS):
            s = socket.create_connection(("127.0.0.1", broker.port), timeout=10)
            s.sendall(struct.pack(">i", CLAIMED) + b"\x00\x03\x00\x0c\x00")
            stalled.append(s)
        time.sleep(1.0)
        peak = _rss(broker)

        # A well-behaved client meanwhile: produce and fetch 2,000 records, timed.
        records = make_records(2000, "flood", start=len(warm))
        t0 = time.monotonic()
        produce(broker.bootstrap, "flood", records, "lz4")
        got = consume_all(broker.bootstrap, "flood", 1, len(warm) + len(records), timeout_s=30)
        served_s = time.monotonic() - t0
        check_round_trip(warm + records, got)
        peak = max(peak, _rss(broker))

        # The stalled connections are closed at the deadline, freeing what they held.
        deadline = time.monotonic() + 30
        closed = 0
        for s in stalled:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                if s.recv(1) == b"":
                    closed += 1
            except OSError:
                closed += 1
    finally:
        for s in stalled:
            s.close()

    record("connection_flood", connections=CONNECTIONS, claimed_bytes_each=CLAIMED,
           rss_before_mb=round(before / 2**20, 1), rss_peak_mb=round(peak / 2**20, 1),
           served_records=len(records), served_seconds=round(served_s, 2), closed_at_deadline=closed)
    assert peak < RSS_LIMIT, f"broker RSS {peak / 2**20:.0f} MB with {CONNECTIONS} stalled requests"
    assert served_s < 15, f"a normal client took {served_s:.1f}s to produce and fetch 2,000 records"
    assert closed == CONNECTIONS
    assert "request incomplete after" in broker.log_text()
