"""``logbroker topics`` against a real broker process: the describe table, JSON, alter, delete, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.cli.runner import assert_clean_error, run_cli
from tests.conftest import BrokerProcess, free_port


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    d = tmp_path_factory.mktemp("cli-topics")
    b = BrokerProcess(data_dir=d / "data", log_path=d / "broker.log").start()
    yield b
    b.stop()


def topics(broker: BrokerProcess, *args: str, input: bytes | None = None):  # type: ignore[no-untyped-def]
    return run_cli("topics", *args, "--bootstrap-server", broker.bootstrap, input=input)


def test_create_list_describe_alter_delete(shared: BrokerProcess) -> None:
    r = topics(shared, "create", "t-life", "--partitions", "3", "--config", "retention.ms=3600000",
               "--config", "cleanup.policy=delete")
    assert r.code == 0 and r.stdout == "Created topic t-life.\n"
    assert run_cli("produce", "t-life", "--partition", "2", "--bootstrap-server", shared.bootstrap,
                   input=b"a\nb\nc\n").code == 0

    assert "t-life" in topics(shared, "list").lines
    assert "t-life" in json.loads(topics(shared, "list", "--format", "json").stdout)

    r = topics(shared, "describe", "t-life")
    assert r.code == 0, r
    head, header, *rows = r.lines
    assert head.startswith("Topic: t-life\tTopicId: ") and "PartitionCount: 3" in head
    assert "Configs: cleanup.policy=delete,retention.ms=3600000" in head
    assert header.split() == ["PARTITION", "LEADER", "REPLICAS", "ISR", "LOG-START-OFFSET", "LOG-END-OFFSET",
                              "RECORDS"]
    assert [row.split() for row in rows] == [["0", "0", "0", "0", "0", "0", "0"], ["1", "0", "0", "0", "0", "0", "0"],
                                             ["2", "0", "0", "0", "0", "3", "3"]]

    doc = json.loads(topics(shared, "describe", "t-life", "--format", "json").stdout)
    assert doc[0]["topic"] == "t-life" and doc[0]["partition_count"] == 3
    assert doc[0]["partitions"][2] == {"partition": 2, "leader": 0, "replicas": [0], "isr": [0],
                                       "log_start_offset": 0, "log_end_offset": 3}
    assert doc[0]["configs"] == {"cleanup.policy": "delete", "retention.ms": "3600000"}
    full = json.loads(topics(shared, "describe", "t-life", "--all-configs", "--format", "json").stdout)
    assert full[0]["configs"]["segment.bytes"] and full[0]["configs"]["retention.ms"] == "3600000"

    r = topics(shared, "alter", "t-life", "--set", "retention.ms=7200000", "--delete", "cleanup.policy",
               "--partitions", "5")
    assert r.code == 0, r
    assert r.stdout == "Altered topic t-life: set retention.ms=7200000; deleted cleanup.policy; partitions 3 -> 5.\n"
    doc = json.loads(topics(shared, "describe", "t-life", "--format", "json").stdout)
    assert doc[0]["configs"] == {"retention.ms": "7200000"} and doc[0]["partition_count"] == 5

    r = topics(shared, "delete", "t-life")
    assert r.code == 0 and r.stdout == "Deleted topic t-life.\n"
    assert "t-life" not in topics(shared, "list").lines


def test_describe_all_topics_and_create_if_not_exists(shared: BrokerProcess) -> None:
    assert topics(shared, "create", "t-a").code == 0
    assert topics(shared, "create", "t-b", "--partitions", "2").code == 0
    r = topics(shared, "create", "t-a", "--if-not-exists")
    assert r.code == 0 and r.stdout == "Topic t-a already exists.\n"
    names = [d["topic"] for d in json.loads(topics(shared, "describe", "--format", "json").stdout)]
    assert {"t-a", "t-b"} <= set(names) and names == sorted(names)


def test_errors_are_one_line(shared: BrokerProcess) -> None:
    assert topics(shared, "create", "t-dup").code == 0
    assert_clean_error(topics(shared, "create", "t-dup"), "topic 't-dup' already exists")
    assert_clean_error(topics(shared, "describe", "t-missing"), "unknown topic 't-missing'")
    assert_clean_error(topics(shared, "delete", "t-missing"), "unknown topic 't-missing'")
    assert topics(shared, "delete", "t-missing", "--if-exists").code == 0
    assert_clean_error(topics(shared, "alter", "t-missing", "--set", "retention.ms=1"), "unknown topic 't-missing'")
    assert_clean_error(topics(shared, "alter", "t-dup", "--set", "no.such.config=1"), "cannot alter topic 't-dup'")
    assert_clean_error(topics(shared, "alter", "t-dup", "--partitions", "1"), "can only grow")
    assert_clean_error(topics(shared, "alter", "t-dup"), "nothing to alter")
    assert_clean_error(topics(shared, "create", "t-bad", "--config", "retention.ms=banana"), "cannot create topic")
    bad = topics(shared, "create", "t-x", "--config", "novalue")
    assert bad.code == 2 and "KEY=VALUE" in bad.stderr


def test_unreachable_broker() -> None:
    r = run_cli("topics", "list", "--bootstrap-server", f"127.0.0.1:{free_port()}", "--command-timeout-ms", "500")
    assert_clean_error(r, "cannot reach a broker")
