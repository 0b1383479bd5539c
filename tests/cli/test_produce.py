"""``logbroker produce`` against a real broker process: keys, headers, partitions, acks, codecs, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.runner import assert_clean_error, run_cli
from tests.conftest import BrokerProcess


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    d = tmp_path_factory.mktemp("cli-produce")
    b = BrokerProcess(data_dir=d / "data", log_path=d / "broker.log").start()
    yield b
    b.stop()


def read_all(broker: BrokerProcess, topic: str, n: int) -> list[dict[str, object]]:
    result = run_cli("consume", topic, "--bootstrap-server", broker.bootstrap, "--from-beginning",
                     "--max-messages", str(n), "--timeout-ms", "5000", "--format", "json")
    assert result.code == 0, result
    return [json.loads(line) for line in result.lines]


def test_lines_become_records_with_keys_and_headers(shared: BrokerProcess) -> None:
    run_cli("topics", "create", "p-keys", "--partitions", "3", "--bootstrap-server", shared.bootstrap)
    lines = b"user1:login\nuser2:view\r\nuser1:logout\nuser3:a:b\n"
    result = run_cli("produce", "p-keys", "--bootstrap-server", shared.bootstrap, "--key-separator", ":",
                     "--header", "source=cli", "--header", "source=again", input=lines)
    assert result.code == 0, result
    assert result.stdout == ""
    assert "produced 4 records" in result.stderr and "to p-keys" in result.stderr
    assert "\r" not in result.stderr  # piped: no progress meter
    got = read_all(shared, "p-keys", 4)
    assert sorted((r["key"], r["value"]) for r in got) == [
        ("user1", "login"), ("user1", "logout"), ("user2", "view"), ("user3", "a:b")]
    assert all(r["headers"] == [["source", "cli"], ["source", "again"]] for r in got)
    # Same key, same partition (the default partitioner hashes the key).
    by_key = {(r["key"], r["partition"]) for r in got}
    assert len({p for k, p in by_key if k == "user1"}) == 1


def test_partition_acks_and_file_input(shared: BrokerProcess, tmp_path: Path) -> None:
    run_cli("topics", "create", "p-part", "--partitions", "2", "--bootstrap-server", shared.bootstrap)
    src = tmp_path / "in.txt"
    src.write_bytes(b"".join(b"line-%d\n" % i for i in range(50)))
    for acks in ("0", "1", "all"):
        result = run_cli("produce", "p-part", "--bootstrap-server", shared.bootstrap, "--partition", "1",
                         "--acks", acks, "--file", str(src))
        assert result.code == 0, result
        assert "produced 50 records (340 bytes) to p-part partitions [1]" in result.stderr
    got = read_all(shared, "p-part", 150)
    assert len(got) == 150 and {r["partition"] for r in got} == {1}


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_every_compression(shared: BrokerProcess, codec: str) -> None:
    topic = f"p-{codec}"
    data = b"".join(b"%s record %d\n" % (codec.encode(), i) for i in range(200))
    result = run_cli("produce", topic, "--bootstrap-server", shared.bootstrap, "--compression", codec, input=data)
    assert result.code == 0, result
    got = read_all(shared, topic, 200)
    assert [r["value"] for r in got] == [f"{codec} record {i}" for i in range(200)]


def test_missing_key_separator_names_the_line(shared: BrokerProcess) -> None:
    result = run_cli("produce", "p-nosep", "--bootstrap-server", shared.bootstrap, "--key-separator", "=",
                     input=b"a=1\nno separator here\n")
    assert_clean_error(result, "no key separator '=' on line 2")


def test_partition_out_of_range(shared: BrokerProcess) -> None:
    run_cli("topics", "create", "p-small", "--partitions", "2", "--bootstrap-server", shared.bootstrap)
    result = run_cli("produce", "p-small", "--bootstrap-server", shared.bootstrap, "--partition", "5", input=b"x\n")
    assert_clean_error(result, "no partition 5")


def test_unknown_topic_when_auto_create_is_off(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker: BrokerProcess = broker_factory(auto_create_topics_enable="false")
    result = run_cli("produce", "absent", "--bootstrap-server", broker.bootstrap, input=b"x\n")
    assert_clean_error(result, "unknown topic 'absent'", "topics create absent")


def test_unreachable_broker() -> None:
    from tests.conftest import free_port

    result = run_cli("produce", "t", "--bootstrap-server", f"127.0.0.1:{free_port()}", "--command-timeout-ms",
                     "500", input=b"x\n")
    assert_clean_error(result, "cannot reach a broker at 127.0.0.1:")
