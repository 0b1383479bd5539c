"""Kafka's command-line tools (the classes behind kafka-topics.sh & co., from kafka-tools 4.x)
against a real `logbroker serve`.

Each tool runs as ``java -cp ... CLASS args`` with a timeout; assertions read what the tool prints
and what the broker then holds, as an operator would.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import BrokerProcess
from tests.interop.kafka_java import Java, kafka_java  # noqa: F401 - the fixture

pytestmark = [pytest.mark.interop, pytest.mark.java]

TOPICS = "org.apache.kafka.tools.TopicCommand"
PRODUCER = "org.apache.kafka.tools.ConsoleProducer"
CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"
GROUPS = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
CONFIGS = "kafka.admin.ConfigCommand"
GET_OFFSETS = "org.apache.kafka.tools.GetOffsetShell"
DELETE_RECORDS = "org.apache.kafka.tools.DeleteRecordsCommand"
PRODUCER_PERF = "org.apache.kafka.tools.ProducerPerformance"
CONSUMER_PERF = "org.apache.kafka.tools.ConsumerPerformance"
LOG_DIRS = "org.apache.kafka.tools.LogDirsCommand"


@dataclass(frozen=True, slots=True)
class Tools:
    java: Java
    bootstrap: str

    def __call__(self, main: str, *args: str, stdin: str | None = None, timeout: float = 90) -> str:
        return self.raw(main, "--bootstrap-server", self.bootstrap, *args, stdin=stdin, timeout=timeout)

    def raw(self, main: str, *args: str, stdin: str | None = None, timeout: float = 90) -> str:
        """A tool's stdout; the tool must exit 0."""
        return self.java.tool(main, *args, stdin=stdin, timeout=timeout).stdout

    def offsets(self, topic: str, time: str = "-1") -> dict[int, int]:
        """partition -> offset, from kafka-get-offsets (-1 latest, -2 earliest)."""
        out = self(GET_OFFSETS, "--topic", topic, "--time", time)
        return {int(p): int(o) for p, o in re.findall(rf"^{re.escape(topic)}:(\d+):(-?\d+)$", out, re.M)}

    def produce(self, topic: str, lines: list[str], *extra: str) -> None:
        self(PRODUCER, "--topic", topic, *extra, stdin="".join(line + "\n" for line in lines))


@pytest.fixture
def tools(broker_factory, kafka_java: Java) -> Tools:  # type: ignore[no-untyped-def]  # noqa: F811
    b: BrokerProcess = broker_factory(group_initial_rebalance_delay_ms="0")
    return Tools(kafka_java, b.bootstrap)


def describe_rows(out: str) -> list[dict[str, str]]:
    """The rows of a whitespace-aligned table (kafka-consumer-groups --describe) as dicts."""
    lines = [line.split() for line in out.splitlines() if line.strip()]
    header = next((i for i, cols in enumerate(lines) if cols and cols[0] == "GROUP"), None)
    if header is None:  # a group with neither members nor offsets prints no table
        return []
    names = lines[header]
    return [dict(zip(names, cols, strict=False)) for cols in lines[header + 1:] if len(cols) == len(names)]


def test_topics_create_list_describe_alter_delete(tools: Tools) -> None:
    assert "Created topic orders." in tools(TOPICS, "--create", "--topic", "orders", "--partitions", "2",
                                            "--config", "retention.ms=86400000", "--config", "cleanup.policy=compact")
    tools(TOPICS, "--create", "--topic", "audit", "--partitions", "1")
    assert {"orders", "audit"} <= set(tools(TOPICS, "--list").split())

    described = tools(TOPICS, "--describe", "--topic", "orders")
    head = described.splitlines()[0]
    assert "PartitionCount: 2" in head and "ReplicationFactor: 1" in head
    assert "cleanup.policy=compact" in head and "retention.ms=86400000" in head
    assert len(re.findall(r"Partition: \d+\s+Leader: \d+", described)) == 2

    tools(TOPICS, "--alter", "--topic", "orders", "--partitions", "5")
    assert "PartitionCount: 5" in tools(TOPICS, "--describe", "--topic", "orders")

    tools(TOPICS, "--delete", "--topic", "audit")
    assert "audit" not in tools(TOPICS, "--list").split()


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_console_producer_and_group_consumer(tools: Tools, protocol: str) -> None:
    tools(TOPICS, "--create", "--topic", "greetings", "--partitions", "3")
    sent = [f"k{i}:value-{i}" for i in range(30)]
    tools.produce("greetings", sent, "--property", "parse.key=true", "--property", "key.separator=:")
    out = tools(CONSUMER, "--topic", "greetings", "--group", "readers", "--from-beginning",
                "--consumer-property", f"group.protocol={protocol}",
                "--property", "print.key=true", "--property", "key.separator=:",
                "--max-messages", "30", "--timeout-ms", "30000")
    assert sorted(out.split()) == sorted(sent)
    # The group committed its position: a second run in the same group reads nothing new.
    rows = describe_rows(tools(GROUPS, "--describe", "--group", "readers"))
    assert len(rows) == 3
    assert all(r["CURRENT-OFFSET"] == r["LOG-END-OFFSET"] and r["LAG"] == "0" for r in rows)
    assert sum(int(r["CURRENT-OFFSET"]) for r in rows) == 30


def test_consumer_groups_describe_reset_delete(tools: Tools) -> None:
    tools(TOPICS, "--create", "--topic", "events", "--partitions", "2")
    tools.produce("events", [f"e{i}" for i in range(20)])
    tools(CONSUMER, "--topic", "events", "--group", "g1", "--from-beginning", "--max-messages", "20",
          "--timeout-ms", "30000")

    assert "g1" in tools(GROUPS, "--list").split()
    rows = describe_rows(tools(GROUPS, "--describe", "--group", "g1"))
    assert sorted(int(r["PARTITION"]) for r in rows) == [0, 1]
    assert sum(int(r["CURRENT-OFFSET"]) for r in rows) == 20
    state = tools(GROUPS, "--describe", "--group", "g1", "--state")
    assert re.search(r"^g1\s.*\bEmpty\s+0\s*$", state, re.M), state

    out = tools(GROUPS, "--reset-offsets", "--group", "g1", "--topic", "events", "--to-earliest", "--execute")
    assert len(re.findall(r"^g1\s+events\s+\d+\s+0\s*$", out, re.M)) == 2, out
    rows = describe_rows(tools(GROUPS, "--describe", "--group", "g1"))
    assert [r["CURRENT-OFFSET"] for r in rows] == ["0", "0"]
    assert sum(int(r["LAG"]) for r in rows) == 20

    # An offset past a partition's end would be clamped to it (as Kafka does): use the fuller one.
    busiest = max(rows, key=lambda r: int(r["LOG-END-OFFSET"]))["PARTITION"]
    other = "1" if busiest == "0" else "0"
    tools(GROUPS, "--reset-offsets", "--group", "g1", "--topic", f"events:{busiest}", "--to-offset", "3", "--execute")
    by_partition = {r["PARTITION"]: r for r in describe_rows(tools(GROUPS, "--describe", "--group", "g1"))}
    assert by_partition[busiest]["CURRENT-OFFSET"] == "3" and by_partition[other]["CURRENT-OFFSET"] == "0"

    assert "successful" in tools(GROUPS, "--delete", "--group", "g1")
    assert "g1" not in tools(GROUPS, "--list").split()


def test_configs_alter_describe_delete(tools: Tools) -> None:
    tools(TOPICS, "--create", "--topic", "conf", "--partitions", "1")
    base = ["--entity-type", "topics", "--entity-name", "conf"]
    tools(CONFIGS, *base, "--alter", "--add-config", "retention.ms=5000000,max.message.bytes=200000")
    out = tools(CONFIGS, *base, "--describe")
    assert re.search(r"^\s*retention\.ms=5000000 ", out, re.M), out
    assert re.search(r"^\s*max\.message\.bytes=200000 ", out, re.M), out

    tools(CONFIGS, *base, "--alter", "--delete-config", "max.message.bytes")
    out = tools(CONFIGS, *base, "--describe")
    assert "max.message.bytes" not in out and "retention.ms=5000000" in out

    # --all lists the defaults too.
    out = tools(CONFIGS, *base, "--describe", "--all")
    assert re.search(r"^\s*cleanup\.policy=delete ", out, re.M)
    assert re.search(r"^\s*max\.message\.bytes=\d+ ", out, re.M)


def test_get_offsets_and_delete_records(tools: Tools, tmp_path: Path) -> None:
    tools(TOPICS, "--create", "--topic", "ledger", "--partitions", "2")
    tools.produce("ledger", [f"r{i}" for i in range(10)])
    tools.produce("ledger", [f"{'a' if i % 2 else 'b'}:r{i}" for i in range(10)], "--property", "parse.key=true",
                  "--property", "key.separator=:")
    latest = tools.offsets("ledger")
    assert sum(latest.values()) == 20
    assert tools.offsets("ledger", "-2") == {0: 0, 1: 0}

    busiest = max(latest, key=lambda p: latest[p])
    plan = tmp_path / "delete.json"
    plan.write_text(json.dumps({"version": 1, "partitions": [{"topic": "ledger", "partition": busiest, "offset": 4}]}))
    out = tools(DELETE_RECORDS, "--offset-json-file", str(plan))
    assert re.search(rf"partition: ledger-{busiest}\s+low_watermark: 4", out), out
    earliest = tools.offsets("ledger", "-2")
    assert earliest[busiest] == 4 and earliest[1 - busiest] == 0
    assert tools.offsets("ledger") == latest


@pytest.mark.timeout(600)
def test_producer_and_consumer_perf_tests(tools: Tools) -> None:
    n = 20_000
    out = tools.raw(PRODUCER_PERF, "--topic", "perf", "--num-records", str(n), "--record-size", "200",
                    "--throughput", "-1", "--producer-props", f"bootstrap.servers={tools.bootstrap}", "acks=all",
                    timeout=180)
    assert re.search(rf"^{n} records sent, ", out, re.M), out
    assert sum(tools.offsets("perf").values()) == n

    out = tools(CONSUMER_PERF, "--topic", "perf", "--messages", str(n), "--timeout", "60000", timeout=180)
    values = out.strip().splitlines()[-1].split(", ")
    header = out.strip().splitlines()[-2].split(", ")
    row = dict(zip(header, values, strict=True))
    assert int(row["data.consumed.in.nMsg"]) == n


def test_log_dirs(tools: Tools) -> None:
    tools(TOPICS, "--create", "--topic", "dirs", "--partitions", "1")
    out = tools(LOG_DIRS, "--describe", "--topic-list", "dirs")
    assert '"partition":"dirs-0"' in out


def test_configs_describe_all_groups(tools: Tools) -> None:
    tools(CONFIGS, "--entity-type", "groups", "--describe")


def test_console_consumer_at_partition_offset_reads_compressed_batches(tools: Tools) -> None:
    tools(TOPICS, "--create", "--topic", "numbers", "--partitions", "1")
    tools.produce("numbers", [str(i) for i in range(1, 11)], "--compression-codec", "zstd",
                  "--producer-property", "acks=all")
    out = tools(CONSUMER, "--topic", "numbers", "--partition", "0", "--offset", "4", "--max-messages", "3",
                "--timeout-ms", "30000", "--property", "print.offset=true")
    # An offset inside a compressed batch: the consumer skips the records before it.
    assert re.findall(r"Offset:(\d+)\s+(\S+)", out) == [("4", "5"), ("5", "6"), ("6", "7")]


def test_consumer_group_offset_resets_and_delete_offsets(tools: Tools) -> None:
    tools(TOPICS, "--create", "--topic", "resets", "--partitions", "1")
    tools.produce("resets", [f"r{i}" for i in range(10)])
    tools(CONSUMER, "--topic", "resets", "--group", "gr", "--from-beginning", "--max-messages", "10",
          "--timeout-ms", "30000")

    def committed() -> str:
        rows = describe_rows(tools(GROUPS, "--describe", "--group", "gr"))
        assert len(rows) == 1, rows
        return rows[0]["CURRENT-OFFSET"]

    def reset(*how: str) -> str:
        out = tools(GROUPS, "--reset-offsets", "--group", "gr", "--topic", "resets", *how)
        found = re.findall(r"^gr\s+resets\s+0\s+(\d+)\s*$", out, re.M)
        assert len(found) == 1, out
        return str(found[0])

    assert committed() == "10"
    assert reset("--shift-by", "-3", "--execute") == "7" and committed() == "7"
    # A time before every record resets to the earliest offset; --dry-run only shows it.
    assert reset("--to-datetime", "2020-01-01T00:00:00.000", "--dry-run") == "0" and committed() == "7"
    assert reset("--to-latest", "--execute") == "10" and committed() == "10"

    out = tools(GROUPS, "--delete-offsets", "--group", "gr", "--topic", "resets")
    assert re.search(r"^resets\s+0\s+Successful\s*$", out, re.M), out
    assert describe_rows(tools(GROUPS, "--describe", "--group", "gr")) == []
