"""Every program in ``examples/`` runs to completion against a real broker on its defaults and exits 0."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import ROOT, BrokerProcess

# example -> a line its output must contain
EXAMPLES = {
    "hello_world.py": "done: the log kept the records",
    "work_queue.py": "done: 30 tasks, each by one worker",
    "pub_sub.py": "done: each group read the whole log",
    "routing.py": "done: keys pick partitions, names pick topics",
    "request_reply.py": "done: every request got its reply",
}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    d = tmp_path_factory.mktemp("examples")
    # The broker's defaults, as `make run` starts it (group.initial.rebalance.delay.ms stays 3 s).
    b = BrokerProcess(data_dir=d / "data", log_path=d / "broker.log").start()
    yield b
    b.stop()


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_runs_and_exits_zero(shared: BrokerProcess, name: str) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / name), "--bootstrap-server", shared.bootstrap],
                          capture_output=True, cwd=ROOT, timeout=60, check=False)
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 0, f"{name} exited {proc.returncode}\n{out}\n{err}"
    assert EXAMPLES[name] in out, out
    assert "Traceback" not in err, err


def test_work_queue_with_a_share_group(broker_factory) -> None:  # type: ignore[no-untyped-def]
    """``work_queue_share.py`` kills a worker: its group can be deleted only once that member's
    session timed out, so this broker times sessions out in 3 s instead of 45 s, and its tasks come
    back when their locks expire, so the group's locks last 2 s instead of 15 s (the minimums lowered
    with them, as Kafka requires)."""
    b: BrokerProcess = broker_factory(group_share_session_timeout_ms="3000", group_share_min_session_timeout_ms="1000",
                                      group_share_heartbeat_interval_ms="500",
                                      group_share_min_heartbeat_interval_ms="500",
                                      group_share_min_record_lock_duration_ms="1000")
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "work_queue_share.py"), "--bootstrap-server",
                           b.bootstrap, "--lock-ms", "2000"], capture_output=True, cwd=ROOT, timeout=90, check=False)
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 0, f"exited {proc.returncode}\n{out}\n{err}"
    assert "done: 38 tasks acknowledged once each, 2 dead-lettered" in out, out
    assert "redelivered after the kill: tasks []" not in out, out
    assert "Traceback" not in err, err


def test_examples_clean_up_after_themselves(shared: BrokerProcess) -> None:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=shared.bootstrap)
    try:
        leftovers = [t for t in admin.list_topics() if not t.startswith("__")]
        groups = [g["group_id"] for g in admin.list_groups()]
    finally:
        admin.close()
    assert leftovers == [] and groups == []
