"""``GET`` / ``PATCH /groups/{group}/configs`` against a real broker: the same group configs a Kafka
client describes and alters, obeyed by the group's HTTP members, refused out of bounds, and kept
across a restart."""

from __future__ import annotations

import signal
from pathlib import Path

from logbroker.kafka.api_keys import ApiKey
from tests.http.http_api import Api, assert_error, start_http_broker
from tests.interop.rawclient import RawClient


def _configs(api: Api, group: str) -> dict[str, tuple[str, str, str]]:
    reply = api.get(f"/groups/{group}/configs")
    assert reply.status == 200, reply.body
    assert reply.body["group_id"] == group
    return {c["name"]: (c["value"], c["default"], c["source"]) for c in reply.body["configs"]}


def _kafka_described(port: int, group: str, name: str) -> tuple[str, int]:
    with RawClient(port) as c:
        result = c.call(ApiKey.DESCRIBE_CONFIGS, 4, {"resources": [
            {"resource_type": 32, "resource_name": group, "configuration_keys": [name]}],
            "include_synonyms": False, "include_documentation": False})["results"][0]
    entry = result["configs"][0]
    return entry["value"], entry["config_source"]


def test_group_configs_over_http(tmp_path: Path) -> None:
    broker = start_http_broker(tmp_path, group_initial_rebalance_delay_ms="0")
    try:
        api = Api(broker.http_port)
        before = _configs(api, "billing")
        assert before["consumer.heartbeat.interval.ms"] == ("5000", "5000", "DEFAULT_CONFIG")
        assert {source for _, _, source in before.values()} == {"DEFAULT_CONFIG"}
        assert {value == default for value, default, _ in before.values()} == {True}

        changed = api.patch("/groups/billing/configs", {"set": {"consumer.heartbeat.interval.ms": 7000,
                                                                "share.auto.offset.reset": "earliest"}})
        assert changed.status == 200, changed.body
        assert changed.body["validate_only"] is False
        now = {c["name"]: (c["value"], c["source"]) for c in changed.body["configs"]}
        assert now["consumer.heartbeat.interval.ms"] == ("7000", "GROUP_CONFIG")
        assert now["share.auto.offset.reset"] == ("earliest", "GROUP_CONFIG")
        # The Kafka front describes the same config (source 8: the group's own).
        assert _kafka_described(broker.port, "billing", "consumer.heartbeat.interval.ms") == ("7000", 8)

        # The group's HTTP members are told the group's interval.
        api.create_topic("orders")
        joined = api.post("/groups/billing/members", {"topics": ["orders"]})
        assert joined.status == 200, joined.body
        assert joined.body["heartbeat_interval_ms"] == 7000

        # Refused: out of bounds, unknown, malformed; nothing changes.
        assert_error(api.patch("/groups/billing/configs", {"set": {"consumer.heartbeat.interval.ms": 1}}),
                     400, "INVALID_CONFIG")
        assert_error(api.patch("/groups/billing/configs", {"set": {"no.such.config": "1"}}), 400, "INVALID_CONFIG")
        assert_error(api.patch("/groups/billing/configs", {"delete": "consumer.heartbeat.interval.ms"}),
                     400, "BAD_REQUEST")
        assert_error(api.patch("/groups/billing/configs", {"set": {"share.delivery.count.limit": 2**31}}),
                     400, "INVALID_CONFIG")
        # A name both set and deleted is deleted, but its set value is still checked, not dropped unseen.
        assert_error(api.patch("/groups/billing/configs", {"set": {"consumer.heartbeat.interval.ms": 1},
                                                           "delete": ["consumer.heartbeat.interval.ms"]}),
                     400, "INVALID_CONFIG")
        assert api.patch("/groups/billing/configs", {}).status == 200  # nothing named, nothing changed
        checked = api.patch("/groups/billing/configs", {"delete": ["consumer.heartbeat.interval.ms"],
                                                        "validate_only": True})
        assert checked.status == 200 and checked.body["validate_only"] is True
        assert _configs(api, "billing")["consumer.heartbeat.interval.ms"] == ("7000", "5000", "GROUP_CONFIG")

        # Kept across a restart (a single broker keeps them in __share_group_state).
        broker.stop(signal.SIGKILL)
        broker.start()
        api = Api(broker.http_port)
        kept = _configs(api, "billing")
        assert kept["consumer.heartbeat.interval.ms"] == ("7000", "5000", "GROUP_CONFIG")
        assert kept["share.auto.offset.reset"] == ("earliest", "latest", "GROUP_CONFIG")

        deleted = api.patch("/groups/billing/configs", {"delete": ["consumer.heartbeat.interval.ms"]})
        assert deleted.status == 200, deleted.body
        assert _configs(api, "billing")["consumer.heartbeat.interval.ms"] == ("5000", "5000", "DEFAULT_CONFIG")
        assert "Traceback" not in broker.log_text()
    finally:
        broker.stop()


def test_a_share_join_on_a_consumer_groups_id_leaves_its_configs(tmp_path: Path) -> None:
    """A share join's ``auto_offset_reset`` would set the group's ``share.auto.offset.reset``; on an
    id a consumer group holds the join is refused first, and the configs stay as they were."""
    broker = start_http_broker(tmp_path, group_initial_rebalance_delay_ms="0")
    try:
        api = Api(broker.http_port)
        api.create_topic("jobs")
        joined = api.post("/groups/mixed/members", {"topics": ["jobs"]})
        assert joined.status == 200, joined.body
        refused = api.post("/share-groups/mixed/members", {"topics": ["jobs"], "auto_offset_reset": "earliest"})
        assert_error(refused, 404, "GROUP_ID_NOT_FOUND")
        assert _configs(api, "mixed")["share.auto.offset.reset"] == ("latest", "latest", "DEFAULT_CONFIG")
    finally:
        broker.stop()
