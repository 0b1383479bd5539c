"""Kafka's Java client (KafkaProducer, KafkaConsumer with both group protocols, Admin) against a
real broker (logbroker, or Apache Kafka with ``--broker=kafka``), through our ``ClientsCheck`` program
(tests/java).

The program runs once per module against one broker and prints one JSON line per check; each test
below asserts one check's outcome as Apache Kafka would give it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import BrokerFactory
from tests.interop.kafka_java import Java, checks, kafka_java  # noqa: F401 - the fixture

pytestmark = [pytest.mark.interop, pytest.mark.java]

RECORDS = 300  # ClientsCheck.RECORDS
PARTITIONS = 3


@pytest.fixture(scope="module")
def report(module_broker_factory: BrokerFactory, kafka_java: Java) -> dict[str, dict[str, Any]]:  # noqa: F811
    # DEBUG: logbroker logs one line per fetch session created and per incremental fetch.
    b = module_broker_factory(log_level="DEBUG", group_initial_rebalance_delay_ms="0")
    proc = kafka_java.run("logbroker.interop.ClientsCheck", b.bootstrap, "jc", timeout=240)
    out = checks(proc.stdout)
    assert "done" in out, proc.stderr[-3000:]
    out["broker"] = {"kind": b.kind, "log": b.log_text()}
    return out


def ok(report: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    line = report[name]
    assert line["ok"], f"{name}: {line.get('error')}: {line.get('message')}"
    return line


def test_describe_cluster(report: dict[str, dict[str, Any]]) -> None:
    line = ok(report, "describe_cluster")
    assert line["nodes"] == 1
    assert line["controller"] == line["node_id"]
    assert line["cluster_id"]


def test_create_list_describe_topics(report: dict[str, dict[str, Any]]) -> None:
    ok(report, "create_topics")
    assert {"jc-records", "jc-compressed", "jc-scratch"} <= set(ok(report, "list_topics")["names"])
    described = ok(report, "describe_topics")
    assert described["partitions"] == PARTITIONS
    assert described["internal"] is False
    assert len(set(described["leaders"])) == 1 and described["leaders"][0] >= 0


def test_idempotent_producer_acks_every_record(report: dict[str, dict[str, Any]]) -> None:
    line = ok(report, "produce")
    assert line["acked"] == RECORDS
    # Offsets are dense from 0 in each partition: the highest offset is the count minus one.
    assert sum(int(v) + 1 for v in line["max_offset_by_partition"].values()) == RECORDS


def test_compressed_batches_of_every_codec(report: dict[str, dict[str, Any]]) -> None:
    assert ok(report, "produce_compressed")["acked"] == {"gzip": 10, "lz4": 10, "snappy": 10, "zstd": 10}
    got = ok(report, "consume_compressed")
    assert got["records"] == 40 and got["distinct"] == 40


@pytest.mark.parametrize("check", ["consume_classic", "consume_consumer_protocol"])
def test_group_consumer_reads_everything_once(report: dict[str, dict[str, Any]], check: str) -> None:
    line = ok(report, check)
    assert line["records"] == RECORDS, line
    assert line["distinct"] == RECORDS
    assert line["with_header"] == RECORDS  # headers arrive intact
    assert line["assignment"] == PARTITIONS  # the only member gets every partition
    assert sum(line["by_partition"].values()) == RECORDS


def test_consumer_reads_while_a_producer_writes(report: dict[str, dict[str, Any]]) -> None:
    """Fetches during steady production are incremental and list only some partitions; nothing is
    lost, repeated or reordered."""
    assert ok(report, "consume_while_producing") == {"check": "consume_while_producing", "ok": True,
                                                     "distinct": 1200, "duplicates": 0, "out_of_order": 0}


def test_consumers_fetch_incrementally_in_sessions(report: dict[str, dict[str, Any]]) -> None:
    """The Java consumer opens a fetch session (KIP-227) and then sends incremental fetches, and
    still reads every record (test_group_consumer_reads_everything_once)."""
    if report["broker"]["kind"] != "logbroker":
        pytest.skip("logbroker's own log lines show the sessions; Kafka logs them at DEBUG, which the reference "
                    "broker does not enable")
    log = report["broker"]["log"]
    assert re.search(r"created fetch session \d+ for client consumer-jc-classic-", log)
    assert re.search(r"created fetch session \d+ for client consumer-jc-consumer-", log)
    incremental = re.findall(r"incremental fetch in session \d+ \(epoch (\d+), \d+ partitions\)", log)
    assert len(incremental) >= 10  # consume_while_producing alone sends dozens
    assert max(int(e) for e in incremental) >= 2  # a session carried on past its first incremental fetch


def test_groups_listed_and_described_by_type(report: dict[str, dict[str, Any]]) -> None:
    listed = ok(report, "list_groups")["groups"]
    assert listed["jc-classic"] == "Classic"
    assert listed["jc-consumer"] == "Consumer"
    described = ok(report, "describe_groups")["groups"]
    assert described["jc-classic"] == {"state": "Empty", "members": 0, "type": "Classic"}
    assert described["jc-consumer"] == {"state": "Empty", "members": 0, "type": "Consumer"}


def test_committed_offsets(report: dict[str, dict[str, Any]]) -> None:
    groups = ok(report, "list_group_offsets")["groups"]
    for group in ("jc-classic", "jc-consumer"):
        assert groups[group] == {"partitions": PARTITIONS, "sum": RECORDS}


def test_list_offsets(report: dict[str, dict[str, Any]]) -> None:
    line = ok(report, "list_offsets")
    produced = ok(report, "produce")["max_offset_by_partition"]
    assert line["earliest"] == [0] * PARTITIONS
    assert line["latest"] == [int(produced[str(p)]) + 1 for p in range(PARTITIONS)]
    assert all(0 <= m < end for m, end in zip(line["max_timestamp"], line["latest"], strict=True))


def test_alter_and_delete_group_offsets_and_groups(report: dict[str, dict[str, Any]]) -> None:
    assert ok(report, "alter_group_offsets")["offset"] == 1
    deleted = ok(report, "delete_group_offsets")
    assert deleted == {**deleted, "has_partition": False, "partitions": PARTITIONS - 1}
    gone = ok(report, "delete_groups")
    assert gone["classic_left"] is False and gone["consumer_left"] is False


def test_configs(report: dict[str, dict[str, Any]]) -> None:
    described = ok(report, "describe_configs")
    assert described["cleanup.policy"] == "delete"
    assert described["retention.ms"] == "604800000"
    assert ok(report, "describe_broker_configs")["entries"] > 0
    assert ok(report, "incremental_alter_configs")["retention.ms"] == "123456789"


def test_delete_records(report: dict[str, dict[str, Any]]) -> None:
    line = ok(report, "delete_records")
    assert line["low_watermark"] == 5 and line["earliest"] == 5


def test_create_partitions_and_delete_topics(report: dict[str, dict[str, Any]]) -> None:
    assert ok(report, "create_partitions")["partitions"] == PARTITIONS + 1
    assert ok(report, "delete_topics")["still_listed"] is False


def test_describe_log_dirs(report: dict[str, dict[str, Any]]) -> None:
    line = ok(report, "describe_log_dirs")
    assert line["dirs"] == 1 and line["replicas"] >= PARTITIONS
