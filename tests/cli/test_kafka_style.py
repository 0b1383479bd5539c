"""The console tools driven with Kafka's own flags, as a kafka-topics.sh / kafka-console-*.sh /
kafka-consumer-groups.sh script types them, against a real broker process."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.cli.runner import Result, assert_clean_error, run_cli
from tests.conftest import BrokerProcess


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    d = tmp_path_factory.mktemp("cli-kafka-style")
    b = BrokerProcess(data_dir=d / "data", log_path=d / "broker.log",
                      overrides={"group.initial.rebalance.delay.ms": "0"}).start()
    yield b
    b.stop()


def kafka_style(broker: BrokerProcess, tool: str, *args: str, input: bytes | None = None) -> Result:
    """``logbroker TOOL --bootstrap-server B ARGS...``: the server first, as Kafka's docs write it."""
    return run_cli(tool, "--bootstrap-server", broker.bootstrap, *args, input=input)


def test_kafka_topics_flags(shared: BrokerProcess) -> None:
    r = kafka_style(shared, "topics", "--create", "--topic", "ks-t", "--partitions", "3",
                    "--config", "retention.ms=3600000")
    assert r.code == 0 and r.stdout == "Created topic ks-t.\n", r
    r = kafka_style(shared, "topics", "--list")
    assert r.code == 0 and "ks-t" in r.lines, r
    r = kafka_style(shared, "topics", "--list", "--topic", "ks-.*")
    assert r.code == 0 and r.lines == ["ks-t"], r
    r = kafka_style(shared, "topics", "--describe", "--topic", "ks-t")
    assert r.code == 0, r
    assert r.lines[0].startswith("Topic: ks-t\t") and "PartitionCount: 3" in r.lines[0]
    assert "retention.ms=3600000" in r.lines[0]
    r = kafka_style(shared, "topics", "--describe")
    assert r.code == 0 and any(line.startswith("Topic: ks-t\t") for line in r.lines), r
    r = kafka_style(shared, "topics", "--alter", "--topic", "ks-t", "--partitions", "6")
    assert r.code == 0 and r.stdout == "Altered topic ks-t: partitions 3 -> 6.\n", r
    doc = json.loads(kafka_style(shared, "topics", "--describe", "--topic", "ks-t", "--format", "json").stdout)
    assert doc[0]["partition_count"] == 6
    r = kafka_style(shared, "topics", "--delete", "--topic", "ks-t")
    assert r.code == 0 and r.stdout == "Deleted topic ks-t.\n", r
    assert "ks-t" not in kafka_style(shared, "topics", "--list").lines


def test_kafka_topics_errors(shared: BrokerProcess) -> None:
    assert kafka_style(shared, "topics", "--create", "--topic", "ks-dup").code == 0
    # The broker's own message and Kafka's error name, not the client library's request dump.
    r = kafka_style(shared, "topics", "--create", "--topic", "ks-dup")
    assert_clean_error(r, "cannot create topic 'ks-dup'", "already exists", "(TOPIC_ALREADY_EXISTS)")
    assert "CreateTopicsRequest" not in r.stderr and r.stderr.count("\n") == 1
    r = kafka_style(shared, "topics", "--create", "--topic", "ks-bad", "--config", "retention.ms=banana")
    assert_clean_error(r, "invalid value 'banana' for configuration retention.ms", "(INVALID_CONFIG)")
    assert "Request" not in r.stderr
    assert kafka_style(shared, "topics", "--create", "--topic", "ks-dup", "--if-not-exists").code == 0
    # Kafka configs the broker does not honour are refused by name, on create and on alter.
    r = kafka_style(shared, "topics", "--create", "--topic", "ks-gz", "--config", "compression.type=gzip")
    assert_clean_error(r, "configuration compression.type: only 'producer' is supported", "(INVALID_CONFIG)")
    r = kafka_style(shared, "topics", "--alter", "--topic", "ks-dup", "--config", "preallocate=true")
    assert_clean_error(r, "cannot alter topic 'ks-dup'", "configuration preallocate", "(INVALID_CONFIG)")
    assert_clean_error(kafka_style(shared, "topics", "--delete", "--topic", "ks-none"), "unknown topic 'ks-none'")
    assert kafka_style(shared, "topics", "--delete", "--topic", "ks-none", "--if-exists").code == 0
    # Kafka-style without an action, or with two, is a usage error (exit 2) naming the actions.
    r = kafka_style(shared, "topics", "--topic", "ks-dup")
    assert r.code == 2 and "give exactly one of --list, --describe, --create, --alter, --delete" in r.stderr
    r = kafka_style(shared, "topics", "--list", "--describe")
    assert r.code == 2 and "(got --list, --describe)" in r.stderr
    assert "Traceback" not in r.stderr


def test_console_producer_and_consumer_properties(shared: BrokerProcess) -> None:
    assert kafka_style(shared, "topics", "--create", "--topic", "ks-kv").code == 0
    r = kafka_style(shared, "produce", "--topic", "ks-kv", "--property", "parse.key=true",
                    "--property", "key.separator=:", input=b"alice:login\nbob:view\n")
    assert r.code == 0 and "produced 2 records" in r.stderr, r
    r = kafka_style(shared, "consume", "--topic", "ks-kv", "--group", "ks-g", "--from-beginning",
                    "--property", "print.key=true", "--max-messages", "2", "--timeout-ms", "10000")
    assert r.code == 0 and r.lines == ["alice\tlogin", "bob\tview"], r
    assert "Processed a total of 2 messages" in r.stderr
    r = kafka_style(shared, "consume", "--topic", "ks-kv", "--from-beginning", "--property", "print.key=true",
                    "--property", "key.separator= => ", "--property", "print.offset=true",
                    "--property", "print.value=false", "--max-messages", "2")
    assert r.code == 0 and r.lines == ["Offset:0 => alice", "Offset:1 => bob"], r
    r = kafka_style(shared, "produce", "--topic", "ks-kv", "--property", "parse.headers=true",
                    "--property", "parse.key=true", "--property", "null.marker=NULL", input=b"src:web\tNULL\tv\n")
    assert r.code == 0, r
    r = kafka_style(shared, "consume", "--topic", "ks-kv", "--partition", "0", "--offset", "2",
                    "--property", "print.headers=true", "--property", "print.key=true", "--max-messages", "1")
    assert r.code == 0 and r.lines == ["src:web\tnull\tv"], r
    assert_clean_error(kafka_style(shared, "consume", "--topic", "ks-kv", "--property", "print.colour=true"),
                       "unknown console consumer property 'print.colour'")


def test_console_consumer_writes_raw_bytes(shared: BrokerProcess) -> None:
    assert kafka_style(shared, "topics", "--create", "--topic", "ks-bin").code == 0
    binary = b"\xff\xfe\x00\x80 not utf-8 \xc3\x28"
    assert kafka_style(shared, "produce", "--topic", "ks-bin", input=binary + b"\n").code == 0
    r = run_cli_bytes(shared, "consume", "--topic", "ks-bin", "--from-beginning", "--max-messages", "1")
    assert r == binary + b"\n"


def run_cli_bytes(broker: BrokerProcess, *args: str) -> bytes:
    import subprocess
    import sys

    from tests.conftest import ROOT
    proc = subprocess.run([sys.executable, "-m", "logbroker.cli", *args, "--bootstrap-server", broker.bootstrap],
                          capture_output=True, cwd=ROOT, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_kafka_consumer_groups_flags(shared: BrokerProcess) -> None:
    assert kafka_style(shared, "topics", "--create", "--topic", "ks-grp", "--partitions", "2").code == 0
    for p in (0, 1):
        lines = b"".join(b"r%d\n" % i for i in range(3 * p, 3 * p + 3))
        assert kafka_style(shared, "produce", "--topic", "ks-grp", "--partition", str(p), input=lines).code == 0
    r = kafka_style(shared, "consume", "--topic", "ks-grp", "--group", "ks-readers", "--from-beginning",
                    "--max-messages", "6", "--timeout-ms", "10000")
    assert r.code == 0 and sorted(r.lines) == [f"r{i}" for i in range(6)], r

    r = kafka_style(shared, "groups", "--list")
    assert r.code == 0 and "ks-readers" in r.lines and "GROUP" not in r.stdout, r  # bare ids, as Kafka prints
    r = kafka_style(shared, "groups", "--list", "--state")
    assert r.code == 0 and r.lines[0].split()[:2] == ["GROUP", "STATE"], r
    assert ["ks-readers", "Empty"] in [line.split()[:2] for line in r.lines[1:]]
    r = kafka_style(shared, "groups", "--describe", "--group", "ks-readers")
    assert r.code == 0 and r.lines[0].startswith("Consumer group 'ks-readers'"), r
    rows = [line.split() for line in r.lines[2:]]
    assert sum(int(row[3]) for row in rows) == 6 and all(row[5] == "0" for row in rows)

    # Like kafka-consumer-groups, a reset needs a scope: --topic or --all-topics.
    assert_clean_error(kafka_style(shared, "groups", "--reset-offsets", "--group", "ks-readers", "--to-earliest",
                                   "--execute"), "--all-topics")
    r = kafka_style(shared, "groups", "--reset-offsets", "--group", "ks-readers", "--all-topics", "--to-earliest",
                    "--dry-run")
    assert r.code == 0 and "Dry run" in r.stderr, r
    r = kafka_style(shared, "groups", "--reset-offsets", "--group", "ks-readers", "--topic", "ks-grp",
                    "--to-earliest", "--execute")
    assert r.code == 0 and "Dry run" not in r.stderr, r
    assert [row.split()[-1] for row in r.lines[1:]] == ["0", "0"]
    r = kafka_style(shared, "groups", "--describe", "--group", "ks-readers", "--offsets")
    assert r.code == 0 and all(line.split()[5] == "3" for line in r.lines[2:]), r  # lag back to the whole log
    r = kafka_style(shared, "groups", "--reset-offsets", "--group", "ks-readers", "--all-topics", "--to-offset",
                    "1", "--execute")
    assert r.code == 0 and [row.split()[-1] for row in r.lines[1:]] == ["1", "1"], r

    r = kafka_style(shared, "groups", "--delete", "--group", "ks-readers")
    assert r.code == 0 and r.stdout == "Deleted consumer group ks-readers.\n", r
    assert_clean_error(kafka_style(shared, "groups", "--describe", "--group", "ks-readers"), "does not exist")
    r = kafka_style(shared, "groups", "--reset-offsets", "--group", "g", "--to-earliest", "--execute", "--dry-run")
    assert r.code == 2 and "exclusive" in r.stderr


@pytest.mark.parametrize(("tool", "flags"), [
    ("topics", ["--list", "--describe", "--create", "--alter", "--delete", "--topic", "--partitions", "--config"]),
    ("groups", ["--list", "--describe", "--reset-offsets", "--delete", "--group", "--to-earliest", "--execute",
                "--dry-run"]),
    ("consume", ["--topic", "--group", "--from-beginning", "--property", "--max-messages", "--timeout-ms",
                 "print.key", "key.separator"]),
    ("produce", ["--topic", "--property", "parse.key", "key.separator"]),
])
def test_help_lists_kafkas_flags(tool: str, flags: list[str]) -> None:
    r = run_cli(tool, "--help")
    assert r.code == 0, r
    for flag in flags:
        assert flag in r.stdout, (tool, flag)
