"""Topic changes made through several brokers at once: every broker's view of the cluster keeps up.

Broker 3 grows a topic one partition at a time without pause while brokers 1 and 2 create topics at the
same moment. Each of broker 3's own changes lands during its view passes (a pass reads ZooKeeper for
tens of milliseconds), so a pass that threw its whole view away on any local change would never apply
the other brokers' topics while the growth goes on; a pass that sets aside only the topic it changed
shows them within a bound. Once the growth stops, every broker's Metadata agrees with ZooKeeper.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from kazoo.client import KazooClient

from logbroker.kafka.api_keys import ApiKey
from tests.cluster.conftest import Cluster, wait_until
from tests.interop.rawclient import RawClient

pytestmark = pytest.mark.logbroker_only("logbroker's ZooKeeper cluster mode (Kafka 4 has no ZooKeeper mode)")

GROWN = "grown"
CREATED = 6  # topics created through each of brokers 1 and 2
MAX_PARTITIONS = 400  # the growth's cap: it stops earlier once broker 3 has seen every new topic
SEEN_BOUND_S = 15.0  # from the last creation until broker 3 lists every new topic with its leaders
CONVERGED_BOUND_S = 30.0  # from the end of the growth until every broker agrees with ZooKeeper


def _created(c: RawClient, name: str, partitions: int) -> None:
    answer = c.call(ApiKey.CREATE_TOPICS, 7, {"topics": [
        {"name": name, "num_partitions": partitions, "replication_factor": 2, "assignments": [], "configs": []}],
        "timeout_ms": 30000, "validate_only": False})["topics"][0]
    assert answer["error_code"] == 0, answer


def _metadata(port: int) -> dict[str, list[int]]:
    """Topic -> each partition's leader (-1 where Metadata names none), as the broker answers."""
    with RawClient(port) as c:
        meta = c.call(ApiKey.METADATA, 12, {"topics": None, "allow_auto_topic_creation": False,
                                            "include_topic_authorized_operations": False})
    return {t["name"]: [p["leader_id"] if p["error_code"] == 0 else -1
                        for p in sorted(t["partitions"], key=lambda p: p["partition_index"])]
            for t in meta["topics"] if t["error_code"] == 0 and not t["name"].startswith("__")}


def _lists_with_leaders(port: int, names: list[str]) -> bool:
    shown = _metadata(port)
    return all(name in shown and shown[name] and min(shown[name]) >= 0 for name in names)


def _zookeeper_view(zk: KazooClient) -> dict[str, list[int]]:
    view: dict[str, list[int]] = {}
    for name in zk.get_children("/brokers/topics"):
        if name.startswith("__"):
            continue
        partitions = json.loads(zk.get(f"/brokers/topics/{name}")[0])["partitions"]
        view[name] = [json.loads(zk.get(f"/brokers/topics/{name}/partitions/{p}/state")[0])["leader"]
                      for p in range(len(partitions))]
    return view


def test_topics_made_on_two_brokers_while_a_third_grows_one_reach_every_broker(
        cluster: Cluster, zk_client: KazooClient) -> None:
    one, two, three = (cluster.brokers[i] for i in (1, 2, 3))
    with RawClient(three.port) as c:
        _created(c, GROWN, 1)
    names = {port: [f"made-on-{port}-{i}" for i in range(CREATED)] for port in (one.port, two.port)}
    every_name = [n for ns in names.values() for n in ns]
    seen = threading.Event()
    growth: dict[str, Any] = {"partitions": 1}

    def grow() -> None:
        with RawClient(three.port) as c:
            c.sock.settimeout(60)
            while not seen.is_set() and growth["partitions"] < MAX_PARTITIONS:
                count = growth["partitions"] + 1
                answer = c.call(ApiKey.CREATE_PARTITIONS, 3, {"topics": [
                    {"name": GROWN, "count": count, "assignments": None}], "timeout_ms": 30000,
                    "validate_only": False})["results"][0]
                assert answer["error_code"] == 0, answer
                growth["partitions"] = count

    def create(port: int) -> float:
        with RawClient(port) as c:
            c.sock.settimeout(60)
            for name in names[port]:
                _created(c, name, 2)
        return time.monotonic()

    with ThreadPoolExecutor(3) as pool:
        grower = pool.submit(grow)
        time.sleep(1.0)  # the growth under way first
        creators = [pool.submit(create, port) for port in names]
        created_at = max(f.result(timeout=120) for f in creators)
        try:
            wait_until(lambda: _lists_with_leaders(three.port, every_name), SEEN_BOUND_S,
                       "broker 3 listing every topic made on brokers 1 and 2 while it grows its own")
            seen_after = time.monotonic() - created_at
            still_growing = not grower.done()
        finally:
            seen.set()
            grower.result(timeout=120)
    assert still_growing, f"the growth stopped (at {growth['partitions']} partitions) before broker 3 saw them"
    assert growth["partitions"] > 2, growth

    # Growth over: every broker lists what ZooKeeper holds, with the same leaders.
    def agreed() -> bool:
        truth = _zookeeper_view(zk_client)
        return len(truth[GROWN]) == growth["partitions"] and all(
            _metadata(b.port) == truth for b in (one, two, three))

    wait_until(agreed, CONVERGED_BOUND_S, "every broker's Metadata equal to ZooKeeper's topics and leaders")
    print(f"broker 3 listed the {len(every_name)} new topics {seen_after:.2f}s after the last was created, "
          f"while growing {GROWN} to {growth['partitions']} partitions")
    for b in (one, two, three):
        assert "Traceback" not in b.log_path.read_text(), b.log_path
