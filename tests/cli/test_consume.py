"""``logbroker consume`` against a real broker process: positions, formats, patterns, limits, Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.cli.runner import assert_clean_error, run_cli
from tests.conftest import ROOT, BrokerProcess, free_port


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    d = tmp_path_factory.mktemp("cli-consume")
    b = BrokerProcess(data_dir=d / "data", log_path=d / "broker.log").start()
    for topic, partitions in (("c-main", 2), ("c-single", 1), ("c-orders.eu", 1), ("c-orders.us", 1), ("c-other", 1)):
        assert run_cli("topics", "create", topic, "--partitions", str(partitions), "--bootstrap-server",
                       b.bootstrap).code == 0
    lines = b"".join(b"k%d=v%d\n" % (i % 3, i) for i in range(10))
    assert run_cli("produce", "c-main", "--bootstrap-server", b.bootstrap, "--key-separator", "=",
                   "--header", "h=x", input=lines).code == 0
    assert run_cli("produce", "c-single", "--bootstrap-server", b.bootstrap, input=b"a\nb\nc\nd\n").code == 0
    for topic in ("c-orders.eu", "c-orders.us", "c-other"):
        assert run_cli("produce", topic, "--bootstrap-server", b.bootstrap, input=f"{topic}\n".encode()).code == 0
    yield b
    b.stop()


def consume(broker: BrokerProcess, *args: str) -> tuple[int, list[str], str]:
    result = run_cli("consume", *args, "--bootstrap-server", broker.bootstrap)
    return result.code, result.lines, result.stderr


def test_from_beginning_text_with_every_field(shared: BrokerProcess) -> None:
    code, lines, err = consume(shared, "c-main", "--from-beginning", "--max-messages", "10", "--print-key",
                               "--print-partition", "--print-offset", "--print-timestamp", "--print-headers")
    assert code == 0 and len(lines) == 10
    assert "Processed a total of 10 messages" in err
    for line in lines:
        ts, part, off, headers, key, value = line.split("\t")
        assert ts.startswith("CreateTime:") and int(ts.split(":")[1]) > 0
        assert part in ("Partition:0", "Partition:1") and off.startswith("Offset:")
        assert headers == "h:x" and key == f"k{int(value[1:]) % 3}"
    assert sorted(int(line.split("\t")[-1][1:]) for line in lines) == list(range(10))


def test_json_format(shared: BrokerProcess) -> None:
    code, lines, _ = consume(shared, "c-main", "--from-beginning", "--timeout-ms", "1500", "--format", "json")
    assert code == 0 and len(lines) == 10
    docs = [json.loads(line) for line in lines]
    assert {d["topic"] for d in docs} == {"c-main"}
    assert set(docs[0]) == {"topic", "partition", "offset", "timestamp", "timestamp_type", "key", "value", "headers"}
    assert all(d["headers"] == [["h", "x"]] for d in docs)


def test_partition_and_exact_offset(shared: BrokerProcess) -> None:
    code, lines, _ = consume(shared, "c-single", "--partition", "0", "--offset", "earliest", "--timeout-ms", "1500",
                             "--print-offset")
    assert code == 0 and lines == ["Offset:0\ta", "Offset:1\tb", "Offset:2\tc", "Offset:3\td"]
    code, tail, _ = consume(shared, "c-single", "--partition", "0", "--offset", "2", "--max-messages", "1")
    assert code == 0 and tail == ["c"]


def test_latest_sees_nothing_old_and_idle_timeout_ends_it(shared: BrokerProcess) -> None:
    started = time.monotonic()
    code, lines, err = consume(shared, "c-main", "--timeout-ms", "800")
    assert code == 0 and lines == [] and "Processed a total of 0 messages" in err
    assert time.monotonic() - started < 10


def test_pattern_matches_whole_names(shared: BrokerProcess) -> None:
    code, lines, _ = consume(shared, "--pattern", r"c-orders\..*", "--from-beginning", "--timeout-ms", "1500")
    assert code == 0 and sorted(lines) == ["c-orders.eu", "c-orders.us"]
    assert_clean_error(run_cli("consume", "--pattern", "c-orders", "--bootstrap-server", shared.bootstrap),
                       "no topic matches --pattern 'c-orders'")


def test_sigint_stops_with_a_summary(shared: BrokerProcess) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "logbroker.cli", "consume", "c-main", "--from-beginning",
                             "--bootstrap-server", shared.bootstrap], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        seen = [proc.stdout.readline() for _ in range(10)]  # every record is out; the consumer now waits
        assert all(seen)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0, err
    assert out == b""
    assert b"Processed a total of 10 messages" in err and b"Traceback" not in err


def test_usage_errors(shared: BrokerProcess) -> None:
    b = ("--bootstrap-server", shared.bootstrap)
    assert_clean_error(run_cli("consume", "nope", *b), "unknown topic 'nope'")
    assert_clean_error(run_cli("consume", "c-main", "--offset", "3", *b), "--offset N needs --partition")
    assert_clean_error(run_cli("consume", "c-main", "--partition", "7", *b), "no partition 7")
    assert_clean_error(run_cli("consume", "c-single", "--partition", "0", "--offset", "99", *b),
                       "outside c-single-0's log")
    assert_clean_error(run_cli("consume", *b), "either topic names or --pattern")
    assert_clean_error(run_cli("consume", "c-main", "--group", "g", "--partition", "0", *b), "--group")


def test_unreachable_broker() -> None:
    result = run_cli("consume", "t", "--bootstrap-server", f"127.0.0.1:{free_port()}", "--command-timeout-ms", "500")
    assert_clean_error(result, "cannot reach a broker")


@pytest.mark.slow
@pytest.mark.parametrize("group", [None, "restart-group"])
def test_keeps_consuming_across_a_broker_restart(broker_factory, group: str | None) -> None:  # type: ignore[no-untyped-def]
    """Kafka's console consumer rides out a broker restart; so does this one: SIGTERM the broker,
    start it again on the same port and data directory, and records produced afterwards still arrive."""
    broker: BrokerProcess = broker_factory(group_initial_rebalance_delay_ms="0")
    b = ("--bootstrap-server", broker.bootstrap)
    assert run_cli("topics", "create", "c-restart", "--partitions", "2", *b).code == 0
    assert run_cli("produce", "c-restart", "--partition", "0", *b, input=b"before-1\nbefore-2\n").code == 0
    grouping = ["--group", group] if group else []
    proc = subprocess.Popen([sys.executable, "-m", "logbroker.cli", "consume", "--topic", "c-restart", *grouping,
                             "--from-beginning", "--max-messages", "4", "--timeout-ms", "60000", *b],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert [proc.stdout.readline() for _ in range(2)] == [b"before-1\n", b"before-2\n"]
        assert broker.stop(signal.SIGTERM) == 0
        time.sleep(1.0)  # the consumer now meets refused connections
        assert proc.poll() is None, "the consumer gave up while the broker was down"
        broker.start(same_ports=True)
        assert run_cli("produce", "c-restart", "--partition", "1", *b, input=b"after-1\nafter-2\n").code == 0
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0, err
    assert out == b"after-1\nafter-2\n"
    assert b"Processed a total of 4 messages" in err and b"Traceback" not in err
