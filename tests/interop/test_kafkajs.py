"""kafkajs, the pure-JavaScript client, against the broker under test (logbroker, or Apache Kafka
with ``--broker=kafka``): admin (create, list, delete topics; group offsets), a producer with
acks=all and a consumer group that commits, through our own script ``js/kafkajs_check.js``.

kafkajs is installed at test setup from npm, at the pinned version, into a cache outside the tree
(``~/.cache/logbroker/node``, or ``$LOGBROKER_NODE_CACHE``). Node.js and npm must exist: under
CI=true a missing one fails (``.ci/run`` installs Debian's ``nodejs`` and ``npm``), elsewhere the
test is skipped with the reason.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BrokerFactory, require_tool
from tests.interop.kafka_java import checks
from tests.locks import exclusive

pytestmark = pytest.mark.interop

KAFKAJS_VERSION = "2.2.4"  # the latest kafkajs release
SCRIPT = Path(__file__).parent / "js" / "kafkajs_check.js"
RECORDS = 30  # kafkajs_check.js RECORDS
PARTITIONS = 3


def node_cache() -> Path:
    override = os.environ.get("LOGBROKER_NODE_CACHE")
    if override:
        return Path(override).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "logbroker" / "node"


@pytest.fixture(scope="session")
def kafkajs() -> tuple[str, Path]:
    """(node, the node_modules holding kafkajs at the pinned version), installed on first use."""
    node = require_tool("node")
    npm = require_tool("npm")
    cache = node_cache()
    package = cache / "node_modules" / "kafkajs" / "package.json"

    def installed() -> bool:
        return package.exists() and f'"version": "{KAFKAJS_VERSION}"' in package.read_text()

    with exclusive(cache / ".install.lock"):  # parallel test processes install once
        if not installed():
            result = subprocess.run([npm, "install", "--prefix", str(cache), "--no-audit", "--no-fund",
                                     f"kafkajs@{KAFKAJS_VERSION}"], capture_output=True, text=True, timeout=300,
                                    check=False)
            assert result.returncode == 0, f"npm could not install kafkajs {KAFKAJS_VERSION}:\n{result.stderr[-3000:]}"
    return node, cache / "node_modules"


@pytest.fixture(scope="module")
def report(module_broker_factory: BrokerFactory, kafkajs: tuple[str, Path]) -> dict[str, dict[str, Any]]:
    node, modules = kafkajs
    b = module_broker_factory(group_initial_rebalance_delay_ms="0", offsets_topic_num_partitions="4")
    proc = subprocess.run([node, str(SCRIPT), b.bootstrap, "kjs"], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "NODE_PATH": str(modules)}, check=False)
    out = checks(proc.stdout)
    assert "done" in out, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return out


def ok(report: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    line = report[name]
    assert line["ok"], f"{name}: {line.get('error')}: {line.get('message')}"
    return line


def test_admin_creates_and_lists_a_topic(report: dict[str, dict[str, Any]]) -> None:
    assert ok(report, "create_topic")["created"] is True
    assert ok(report, "list_topics")["listed"] is True


def test_producer_gets_every_partition_acked(report: dict[str, dict[str, Any]]) -> None:
    line = ok(report, "produce")
    assert line["errors"] == 0 and 1 <= line["partitions"] <= PARTITIONS


def test_group_consumer_reads_everything_and_commits(report: dict[str, dict[str, Any]]) -> None:
    line = ok(report, "consume_group")
    assert (line["records"], line["intact"]) == (RECORDS, True)
    assert ok(report, "committed_offsets")["sum"] == RECORDS
    described = ok(report, "describe_group")
    assert (described["state"], described["members"]) == ("Empty", 0)


def test_admin_deletes_the_topic(report: dict[str, dict[str, Any]]) -> None:
    assert ok(report, "delete_topic")["still_listed"] is False
