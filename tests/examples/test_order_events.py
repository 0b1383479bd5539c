"""examples/order_events/run.py end to end on its own broker: 200 orders, a 3 s email outage, every order
handled exactly once by each service. The p99 goal (200 ms) is printed by the run, not asserted here:
latency on a shared 2-core machine is a benchmark figure, not a pass/fail condition."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import ROOT, BrokerProcess
from tests.http.http_api import Api, start_http_broker


@pytest.fixture(scope="module")
def order_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    b = start_http_broker(tmp_path_factory.mktemp("orders"))
    yield b
    b.stop()


def test_orders_survive_an_email_outage_exactly_once(order_broker: BrokerProcess) -> None:
    api = Api(order_broker.http_port)
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "order_events" / "run.py"), "--broker", api.base,
                           "--orders", "200", "--outage", "3", "--cleanup"],
                          capture_output=True, cwd=ROOT, timeout=120, check=False)
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 0, f"{out}\n{err}"
    assert "done: 200 orders, each handled exactly once by email, inventory and analytics" in out, out
    for service in ("email", "inventory", "analytics"):
        assert re.search(rf"{service}: handled 200/200 orders, applied twice 0, missing 0", out), out
    assert "email service stopped" in out and "email service started again" in out
    assert re.search(r"p50 [\d.]+ ms, p99 [\d.]+ ms", out), out
    assert "Traceback" not in err, err
    # --cleanup leaves nothing behind.
    assert [t["name"] for t in api.get("/topics").body["topics"] if not t["internal"]] == []
    assert api.get("/groups").body["groups"] == []
