"""A Kafka Streams application (tests/java WordCount: a repartition topic and a state store with a
changelog, at-least-once) run to completion against a real `logbroker serve`."""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from tests.conftest import BrokerProcess
from tests.interop.kafka_java import Java, checks, kafka_java, write_lines  # noqa: F401 - the fixture

pytestmark = [pytest.mark.interop, pytest.mark.java]

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]


def test_word_count_with_repartition_and_changelog(broker_factory, kafka_java: Java,  # type: ignore[no-untyped-def]  # noqa: F811
                                                   tmp_path: Path) -> None:
    b: BrokerProcess = broker_factory(group_initial_rebalance_delay_ms="0")
    rng = random.Random(7)
    lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12))) for _ in range(400)]
    expected = Counter(w for line in lines for w in re.findall(r"\w+", line.lower()))

    proc = kafka_java.run("logbroker.interop.WordCount", b.bootstrap, "wc", str(tmp_path / "state"),
                          str(write_lines(tmp_path / "lines.txt", lines)), timeout=300)
    out = checks(proc.stdout)
    assert "done" in out, proc.stderr[-3000:]
    assert "streams_exception" not in out, out["streams_exception"]
    streams = out["streams"]
    assert streams["ok"], streams
    assert "RUNNING" in streams["states"]
    assert streams["closed"] is True and streams["final_state"] == "NOT_RUNNING", streams

    counts = out["counts"]
    assert counts["words"] == sum(expected.values())
    assert counts["counts"] == dict(expected)

    internal = out["internal_topics"]["topics"]
    assert internal == ["wc-by-word-repartition", "wc-word-counts-changelog"]
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    resources = [ConfigResource(ConfigResource.Type.TOPIC, t) for t in internal]
    policies = {r.name: f.result(30)["cleanup.policy"].value
                for r, f in admin.describe_configs(resources, request_timeout=30).items()}
    assert policies == {"wc-by-word-repartition": "delete", "wc-word-counts-changelog": "compact"}
