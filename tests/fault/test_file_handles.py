"""A broker under a low open-file limit (ulimit -n 1024) keeps serving a 1,000-partition topic.

Every partition's descriptors go through one bounded open-segment cache sized from the limit, a
topic with more partitions than that budget is refused up front with a 400, and the descriptors
kept in reserve let the broker accept connections and answer health checks throughout.
"""

from __future__ import annotations

import json
import resource
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psutil
import pytest

from tests.conftest import BrokerProcess, wait_for_port
from tests.fault.figures import record
from tests.interop.expected import check_round_trip, make_records
from tests.interop.test_confluent import consume_all, produce

LIMIT = 1024
WIDE = 1000


def _http(broker: BrokerProcess, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{broker.http_port}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


@contextmanager
def _nofile(limit: int) -> Iterator[None]:
    """Lower this process's soft open-file limit while a broker is started (the child inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.slow
def test_a_wide_topic_under_a_low_open_file_limit(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker: BrokerProcess = broker_factory()
    assert broker.proc is not None
    wait_for_port(broker.http_port, broker.proc)
    status, _ = _http(broker, "POST", "/topics", {"name": "wide", "partitions": WIDE})
    assert status == 201
    broker.stop()

    with _nofile(LIMIT):
        broker.start()
    assert broker.proc is not None
    wait_for_port(broker.http_port, broker.proc)
    proc = psutil.Process(broker.proc.pid)
    assert proc.rlimit(psutil.RLIMIT_NOFILE)[0] == LIMIT

    status, described = _http(broker, "GET", "/topics/wide")
    assert status == 200 and len(described["partitions"]) == WIDE
    fds_after_describe = proc.num_fds()

    # Records to every partition over Kafka, then read back: active segments are evicted and reopened.
    records = make_records(3000, "wide")
    produce(broker.bootstrap, "wide", records, "none")
    got = consume_all(broker.bootstrap, "wide", WIDE, len(records), timeout_s=120)
    check_round_trip(records, got)
    peak_fds = max(fds_after_describe, proc.num_fds())

    for i in range(5):
        status, _ = _http(broker, "POST", "/topics", {"name": f"more-{i}", "partitions": 4})
        assert status == 201, status
    status, refused = _http(broker, "POST", "/topics", {"name": "wider", "partitions": WIDE})
    assert status == 400 and "file handle budget" in json.dumps(refused), refused
    status, refused_huge = _http(broker, "POST", "/topics", {"name": "huge", "partitions": 100_000})
    assert status == 400, refused_huge
    assert _http(broker, "GET", "/health")[0] == 200
    status, _ = _http(broker, "GET", "/topics/wider")
    assert status == 404

    log = broker.log_text()
    assert "accept failed" not in log and "Too many open files" not in log
    record("file_handles", open_file_limit=LIMIT, partitions=WIDE, records=len(records),
           peak_open_fds=peak_fds, refused_partitions=WIDE, creates_after=5)
    assert peak_fds < LIMIT
