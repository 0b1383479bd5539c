"""Metadata right after CreateTopics answers, on both brokers: the new topic is either not listed yet
(a topic-level error, no partitions) or listed with all its partitions, each with a leader; never a
listed partition without a leader, and never only some of the partitions. librdkafka keeps a
leaderless partition in its metadata cache as a permanent error and does not ask about it again, and
fails at once the records a producer sent to a partition left out
(``tests/cluster/integration/test_metadata_after_create.py`` drives that case through a three-broker
cluster)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from logbroker.kafka.api_keys import ApiKey
from tests.conftest import BrokerHandle, launch_broker
from tests.interop.rawclient import RawClient, leaderless_after_create

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, broker_kind: str) -> Iterator[BrokerHandle]:
    base = tmp_path_factory.mktemp("after-create")
    b = launch_broker(broker_kind, base / "data", base / "broker.log", {})
    yield b
    b.stop()


def test_metadata_never_lists_a_new_partition_without_its_leader(broker: BrokerHandle) -> None:
    with RawClient(broker.port) as admin, RawClient(broker.port) as asker:
        for _ in range(3):
            name = f"fresh-{uuid.uuid4().hex[:8]}"
            seen = leaderless_after_create(admin, asker, name, partitions=6, seconds=1.0)
            assert seen.leaderless == [], seen.leaderless[:3]
            assert seen.partial == [], seen.partial[:3]
            assert seen.complete, f"{name}: never listed with all six partitions led"
            admin.call(ApiKey.DELETE_TOPICS, 6, {"topics": [{"name": name, "topic_id": None}], "timeout_ms": 10000})
