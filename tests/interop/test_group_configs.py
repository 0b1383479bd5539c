"""Group configs (ConfigResource type 32, KIP-848/KIP-932) over DescribeConfigs and
IncrementalAlterConfigs, on logbroker and on Apache Kafka 4.1 alike: each config's type and
synonym, and that configuring a group id no group holds makes no group. Driven with raw requests so
``config_type`` and the group listings are visible as sent; the share-group behaviour these configs
steer is tested in test_share_protocol.py."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from tests.cli.runner import assert_clean_error, run_cli
from tests.conftest import BrokerFactory, BrokerHandle
from tests.interop.rawclient import RawClient
from tests.interop.share_member import (
    GROUP_RESOURCE,
    RETRIABLE,
    ShareMember,
    find_coordinator,
    kafka_uuid,
    set_group_config,
)
from tests.interop.test_protocol_edges import create_topic

pytestmark = pytest.mark.interop

STRING, INT = 2, 3  # DescribeConfigs ConfigType
DEFAULT_CONFIG, GROUP_CONFIG = 5, 8  # DescribeConfigs ConfigSource
SHARE_CONFIGS = ["share.auto.offset.reset", "share.record.lock.duration.ms", "share.isolation.level"]


def describe(c: RawClient, group: str, keys: list[str]) -> dict[str, dict[str, Any]]:
    body = c.call(ApiKey.DESCRIBE_CONFIGS, 4, {"resources": [
        {"resource_type": GROUP_RESOURCE, "resource_name": group, "configuration_keys": keys}],
        "include_synonyms": True, "include_documentation": False})["results"][0]
    assert body["error_code"] == 0, body
    return {e["name"]: e for e in body["configs"]}


def row(entry: dict[str, Any]) -> tuple[str, int, int, list[tuple[str, str, int]]]:
    return (entry["value"], entry["config_type"], entry["config_source"],
            [(s["name"], s["value"], s["source"]) for s in entry["synonyms"]])


@pytest.fixture(scope="module")
def served(module_broker_factory: BrokerFactory) -> BrokerHandle:
    return module_broker_factory()


def test_group_configs_are_described_with_their_types(served: BrokerHandle) -> None:
    """Kafka 4.1 types share.auto.offset.reset and share.isolation.level as STRING and
    share.record.lock.duration.ms as INT; each row's one synonym is the row itself, the group default
    until the group sets its own. share.isolation.level takes read_committed or read_uncommitted."""
    with RawClient(served.port) as c:
        before = describe(c, "typed", SHARE_CONFIGS)
        assert {n: row(e) for n, e in before.items()} == {
            "share.auto.offset.reset": ("latest", STRING, DEFAULT_CONFIG,
                                        [("share.auto.offset.reset", "latest", DEFAULT_CONFIG)]),
            "share.record.lock.duration.ms": ("30000", INT, DEFAULT_CONFIG,
                                              [("share.record.lock.duration.ms", "30000", DEFAULT_CONFIG)]),
            "share.isolation.level": ("read_uncommitted", STRING, DEFAULT_CONFIG,
                                      [("share.isolation.level", "read_uncommitted", DEFAULT_CONFIG)]),
        }
        set_group_config(c, "typed", "share.record.lock.duration.ms", "20000")
        set_group_config(c, "typed", "share.isolation.level", "read_committed")
        refused = c.call(ApiKey.INCREMENTAL_ALTER_CONFIGS, 1, {"resources": [
            {"resource_type": GROUP_RESOURCE, "resource_name": "typed",
             "configs": [{"name": "share.isolation.level", "config_operation": 0, "value": "committed"}]}],
            "validate_only": False})["responses"][0]
        after = describe(c, "typed", ["share.record.lock.duration.ms", "share.isolation.level"])
    assert row(after["share.record.lock.duration.ms"]) == (
        "20000", INT, GROUP_CONFIG, [("share.record.lock.duration.ms", "20000", GROUP_CONFIG)])
    assert row(after["share.isolation.level"]) == (
        "read_committed", STRING, GROUP_CONFIG, [("share.isolation.level", "read_committed", GROUP_CONFIG)])
    assert (refused["error_code"], refused["error_message"]) == (
        ErrorCode.INVALID_CONFIG, "Invalid value committed for configuration share.isolation.level: String must be "
                                  "one of: read_committed, read_uncommitted")


def test_configuring_an_unknown_group_makes_no_group(served: BrokerHandle) -> None:
    """Kafka 4.1 keeps group configs apart from groups: after IncrementalAlterConfigs on a group id
    no group holds, ListGroups does not list it, DescribeGroups, ShareGroupDescribe and DeleteGroups
    answer GROUP_ID_NOT_FOUND, and the config is still there for a group made later."""
    with RawClient(served.port) as c:
        set_group_config(c, "configured-only", "share.auto.offset.reset", "earliest")
        deadline = time.monotonic() + 30
        find_coordinator(c, "configured-only", deadline)
        # Kafka answers NOT_COORDINATOR a moment longer, while it loads __consumer_offsets.
        while (described := c.call(ApiKey.DESCRIBE_GROUPS, 6, {"groups": ["configured-only"],
                                                               "include_authorized_operations": False})["groups"][0]
               )["error_code"] in RETRIABLE:
            assert time.monotonic() < deadline, described
            time.sleep(0.2)
        shared = c.call(ApiKey.SHARE_GROUP_DESCRIBE, 1, {"group_ids": ["configured-only"],
                                                         "include_authorized_operations": False})["groups"][0]
        listed = c.call(ApiKey.LIST_GROUPS, 5, {"states_filter": [], "types_filter": []})
        deleted = c.call(ApiKey.DELETE_GROUPS, 2, {"groups_names": ["configured-only"]})["results"][0]
        kept = describe(c, "configured-only", ["share.auto.offset.reset"])
    assert (described["error_code"], described["group_state"]) == (ErrorCode.GROUP_ID_NOT_FOUND, "Dead")
    assert shared["error_code"] == ErrorCode.GROUP_ID_NOT_FOUND, shared
    assert listed["error_code"] == 0 and "configured-only" not in {g["group_id"] for g in listed["groups"]}, listed
    assert deleted["error_code"] == ErrorCode.GROUP_ID_NOT_FOUND, deleted
    assert row(kept["share.auto.offset.reset"])[:3] == ("earliest", STRING, GROUP_CONFIG)


def _alter(c: RawClient, group: str, name: str, value: str) -> int:
    body = c.call(ApiKey.INCREMENTAL_ALTER_CONFIGS, 1, {"resources": [
        {"resource_type": GROUP_RESOURCE, "resource_name": group,
         "configs": [{"name": name, "config_operation": 0, "value": value}]}], "validate_only": False})
    return int(body["responses"][0]["error_code"])


def set_bounded_timing(c: RawClient, group: str, protocol: str) -> None:
    """``<protocol>.session.timeout.ms`` and ``.heartbeat.interval.ms`` of ``group``: INT, the broker
    defaults (45000, 5000) until set; a value outside the default bounds (45-60 s, 5-15 s) is
    INVALID_CONFIG; then the group sets 50000 and 7000 and DescribeConfigs says they are its own."""
    session, interval = f"{protocol}.session.timeout.ms", f"{protocol}.heartbeat.interval.ms"
    before = describe(c, group, [session, interval])
    refused = {(n, v): _alter(c, group, n, v)
               for n, v in [(session, "44999"), (session, "60001"), (interval, "4999"), (interval, "15001")]}
    set_group_config(c, group, interval, "7000")
    set_group_config(c, group, session, "50000")
    after = describe(c, group, [session, interval])
    assert {n: row(e)[:3] for n, e in before.items()} == {session: ("45000", INT, DEFAULT_CONFIG),
                                                          interval: ("5000", INT, DEFAULT_CONFIG)}
    assert set(refused.values()) == {ErrorCode.INVALID_CONFIG}, refused
    assert {n: row(e)[:3] for n, e in after.items()} == {session: ("50000", INT, GROUP_CONFIG),
                                                         interval: ("7000", INT, GROUP_CONFIG)}


def test_share_session_timeout_and_heartbeat_interval_are_bounded_group_configs(served: BrokerHandle) -> None:
    """share.session.timeout.ms and share.heartbeat.interval.ms are INT group configs defaulting to
    the broker's group.share.* values; a value outside group.share.min/max.* (45-60 s, 5-15 s by
    default) is refused with INVALID_CONFIG, and a group's own interval is the one its members'
    ShareGroupHeartbeat answers carry."""
    with RawClient(served.port) as c:
        set_bounded_timing(c, "bounded", "share")
        create_topic(c, "bounded-jobs")
    member = ShareMember(served.port, "bounded", ["bounded-jobs"])
    try:
        find_coordinator(member.client, "bounded", time.monotonic() + 30)
        deadline = time.monotonic() + 30
        while (answer := member.heartbeat())["error_code"] in RETRIABLE:
            assert time.monotonic() < deadline, answer
            time.sleep(0.2)
    finally:
        member.close()
    assert (answer["error_code"], answer["heartbeat_interval_ms"]) == (0, 7000), answer


def _consumer_heartbeat(c: RawClient, group: str, topics: list[str]) -> dict[str, Any]:
    return dict(c.call(ApiKey.CONSUMER_GROUP_HEARTBEAT, 1, {
        "group_id": group, "member_id": kafka_uuid(), "member_epoch": 0, "instance_id": None, "rack_id": None,
        "rebalance_timeout_ms": 30000, "subscribed_topic_names": topics, "subscribed_topic_regex": None,
        "server_assignor": None, "topic_partitions": []}))


def test_a_consumer_groups_own_session_timeout_and_heartbeat_interval(served: BrokerHandle) -> None:
    """consumer.session.timeout.ms and consumer.heartbeat.interval.ms (KIP-848 groups) are INT group
    configs defaulting to the broker's group.consumer.* values, bounded by
    group.consumer.min/max.* (45-60 s, 5-15 s by default); they can be set on the id of a live
    consumer group, and the group's interval is the one its members' ConsumerGroupHeartbeat answers
    carry from then on."""
    with RawClient(served.port) as c:
        create_topic(c, "steered-orders")
        find_coordinator(c, "steered", time.monotonic() + 30)
        deadline = time.monotonic() + 30
        while (first := _consumer_heartbeat(c, "steered", ["steered-orders"]))["error_code"] in RETRIABLE:
            assert time.monotonic() < deadline, first
            time.sleep(0.2)
        set_bounded_timing(c, "steered", "consumer")
        second = _consumer_heartbeat(c, "steered", ["steered-orders"])
    assert (first["error_code"], first["heartbeat_interval_ms"]) == (0, 5000), first
    assert (second["error_code"], second["heartbeat_interval_ms"]) == (0, 7000), second


def _cli_configs(served: BrokerHandle, group: str) -> dict[str, tuple[str, str]]:
    r = run_cli("groups", "configs", group, "--format", "json", "--bootstrap-server", served.bootstrap)
    assert r.code == 0, r
    return {row["name"]: (row["value"], row["source"]) for row in json.loads(r.stdout)}


def test_the_cli_shows_and_changes_a_groups_configs(served: BrokerHandle) -> None:
    """``logbroker groups configs`` (kafka-configs --entity-type groups) against both brokers: --set
    and --delete change one config each, the listing says which values are the group's own, and a
    value out of bounds is a clean error naming the bound."""
    altered = run_cli("groups", "configs", "cli-configured", "--set", "consumer.heartbeat.interval.ms=6000",
                      "--set", "share.auto.offset.reset=earliest", "--bootstrap-server", served.bootstrap)
    assert altered.code == 0, altered
    assert altered.stdout.strip() == ("Altered the configs of group cli-configured: set "
                                      "consumer.heartbeat.interval.ms=6000; set share.auto.offset.reset=earliest.")
    deadline = time.monotonic() + 10  # Kafka applies an alteration a moment after answering
    while (shown := _cli_configs(served, "cli-configured"))["consumer.heartbeat.interval.ms"][1] != "group":
        assert time.monotonic() < deadline, shown
        time.sleep(0.1)
    assert {k: shown[k] for k in ("consumer.heartbeat.interval.ms", "share.auto.offset.reset",
                                  "consumer.session.timeout.ms")} == {
        "consumer.heartbeat.interval.ms": ("6000", "group"), "share.auto.offset.reset": ("earliest", "group"),
        "consumer.session.timeout.ms": ("45000", "default")}

    deleted = run_cli("groups", "configs", "cli-configured", "--delete", "consumer.heartbeat.interval.ms",
                      "--bootstrap-server", served.bootstrap)
    assert deleted.code == 0, deleted
    while (shown := _cli_configs(served, "cli-configured"))["consumer.heartbeat.interval.ms"][1] != "default":
        assert time.monotonic() < deadline + 10, shown
        time.sleep(0.1)
    assert shown["consumer.heartbeat.interval.ms"] == ("5000", "default")
    assert shown["share.auto.offset.reset"] == ("earliest", "group")

    refused = run_cli("groups", "configs", "cli-configured", "--set", "consumer.heartbeat.interval.ms=1",
                      "--bootstrap-server", served.bootstrap)
    assert_clean_error(refused, "consumer.heartbeat.interval.ms", "group.consumer.min.heartbeat.interval.ms")


def test_a_groups_session_timeout_must_outlast_its_heartbeat_interval(broker_factory: BrokerFactory) -> None:
    """Each value within its bounds is not enough: the group's configs as they would be (its own over
    the broker's defaults, here a 10 s session) must keep the session longer than the heartbeat
    interval, else INVALID_CONFIG and nothing changes."""
    served = broker_factory(group_consumer_min_session_timeout_ms="1000", group_consumer_session_timeout_ms="10000",
                            group_consumer_max_heartbeat_interval_ms="30000")
    with RawClient(served.port) as c:
        def alter(changes: list[tuple[str, str]]) -> tuple[int, str | None]:
            body = c.call(ApiKey.INCREMENTAL_ALTER_CONFIGS, 1, {"resources": [
                {"resource_type": GROUP_RESOURCE, "resource_name": "paced",
                 "configs": [{"name": n, "config_operation": 0, "value": v} for n, v in changes]}],
                "validate_only": False})["responses"][0]
            return body["error_code"], body["error_message"]

        too_slow = alter([("consumer.heartbeat.interval.ms", "12000")])  # past the broker's 10 s session
        equal = alter([("consumer.session.timeout.ms", "5000"), ("consumer.heartbeat.interval.ms", "5000")])
        shorter = alter([("consumer.session.timeout.ms", "8000")])
        deadline = time.monotonic() + 10  # Kafka applies an alteration a moment after answering
        while (kept := describe(c, "paced", ["consumer.session.timeout.ms", "consumer.heartbeat.interval.ms"])
               )["consumer.session.timeout.ms"]["value"] != "8000" and time.monotonic() < deadline:
            time.sleep(0.05)
    rule = "consumer.session.timeout.ms must be greater than consumer.heartbeat.interval.ms"
    assert too_slow == (ErrorCode.INVALID_CONFIG, rule)
    assert equal == (ErrorCode.INVALID_CONFIG, rule)
    assert shorter == (0, None)
    assert {n: e["value"] for n, e in kept.items()} == {"consumer.session.timeout.ms": "8000",
                                                        "consumer.heartbeat.interval.ms": "5000"}


def test_a_groups_record_lock_duration_is_bounded_by_the_broker(served: BrokerHandle) -> None:
    """share.record.lock.duration.ms of a group lies within group.share.min/max.record.lock.duration.ms
    (15-60 s by default): a value past either bound is INVALID_CONFIG naming that bound; the bounds
    themselves are taken."""
    with RawClient(served.port) as c:
        def alter(value: str) -> tuple[int, str | None]:
            body = c.call(ApiKey.INCREMENTAL_ALTER_CONFIGS, 1, {"resources": [
                {"resource_type": GROUP_RESOURCE, "resource_name": "locked",
                 "configs": [{"name": "share.record.lock.duration.ms", "config_operation": 0, "value": value}]}],
                "validate_only": False})["responses"][0]
            return body["error_code"], body["error_message"]

        answers = {v: alter(v) for v in ("14999", "60001", "15000", "60000")}
    for value, bound in (("14999", "group.share.min.record.lock.duration.ms"),
                         ("60001", "group.share.max.record.lock.duration.ms")):
        code, message = answers[value]
        assert code == ErrorCode.INVALID_CONFIG and message is not None, answers
        assert "share.record.lock.duration.ms" in message and bound in message, answers
    assert answers["15000"][0] == answers["60000"][0] == 0, answers


@pytest.mark.parametrize("props, rule", [
    ({"group_consumer_session_timeout_ms": "3000"},
     "group.consumer.session.timeout.ms must be greater than or equal to group.consumer.min.session.timeout.ms"),
    ({"group_consumer_heartbeat_interval_ms": "20000"},
     "group.consumer.heartbeat.interval.ms must be less than or equal to group.consumer.max.heartbeat.interval.ms"),
    ({"group_share_min_heartbeat_interval_ms": "9000", "group_share_max_heartbeat_interval_ms": "8000"},
     "group.share.max.heartbeat.interval.ms must be greater than or equal to group.share.min.heartbeat.interval.ms"),
    ({"group_share_session_timeout_ms": "50000", "group_share_heartbeat_interval_ms": "50000",
      "group_share_max_heartbeat_interval_ms": "60000"},
     "group.share.heartbeat.interval.ms must be less than group.share.session.timeout.ms"),
    ({"group_share_record_lock_duration_ms": "120000"},
     "group.share.max.record.lock.duration.ms must be greater than or equal to group.share.record.lock.duration.ms"),
], ids=["session-below-min", "interval-above-max", "min-above-max", "interval-not-below-session",
        "lock-above-max"])
def test_group_timings_out_of_their_bounds_stop_the_broker_starting(
        broker_factory: BrokerFactory, tmp_path: Path, props: dict[str, str], rule: str) -> None:
    """A broker started with a group timing outside its bounds, bounds the wrong way round, or a
    heartbeat interval not shorter than its session refuses to start, naming the rule it broke, as
    Kafka does."""
    with pytest.raises(RuntimeError) as refused:
        broker_factory(**props)
    log = tmp_path / "broker0.log"
    said = str(refused.value) + (log.read_text(errors="replace") if log.exists() else "")
    assert rule in said, said[-3000:]
