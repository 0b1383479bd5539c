"""Operations routes, the OpenAPI document kept true to the routes, and a schemathesis fuzz run."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from kafka import KafkaConsumer

from logbroker.broker import Broker
from logbroker.http.app import build_app
from logbroker.http.context import HttpContext
from logbroker.http.openapi import document
from logbroker.http.partitioner import murmur2, partition_for_key
from tests.conftest import BrokerProcess
from tests.http.http_api import Api, assert_error, start_http_broker

METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}


def test_health(api: Api) -> None:
    reply = api.get("/health")
    assert reply.status == 200 and reply.body["status"] == "ok" and reply.body["node_id"] == 0


def _sample(page: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = "^" + re.escape(name) + (r"\{" + re.escape(want) + r"\}" if want else "") + r" (\S+)$"
    match = re.search(pattern, page, re.MULTILINE)
    assert match, f"no sample {name}{{{want}}}"
    return float(match.group(1))


def test_metrics(api: Api, http_broker: BrokerProcess) -> None:
    api.create_topic("metered", partitions=2)
    kafka_consumer = KafkaConsumer(bootstrap_servers=http_broker.bootstrap, group_id=None)
    assert kafka_consumer.partitions_for_topic("metered") == {0, 1}  # Kafka Metadata requests
    kafka_consumer.close()
    api.post("/topics/metered/records", {"records": [{"value": "abc", "partition": 1}, {"value": "d", "partition": 1}]})
    api.get("/topics/metered/partitions/1/records")
    reply = api.get("/metrics")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    page = reply.raw.decode()
    assert _sample(page, "logbroker_topic_records_in_total", topic="metered") == 2
    assert _sample(page, "logbroker_topic_bytes_in_total", topic="metered") > 0
    assert _sample(page, "logbroker_topic_bytes_out_total", topic="metered") > 0
    assert _sample(page, "logbroker_http_records_out_total", topic="metered") == 2
    assert _sample(page, "logbroker_log_end_offset", topic="metered", partition="1") == 2
    assert _sample(page, "logbroker_log_size_bytes", topic="metered", partition="1") > 0
    assert _sample(page, "logbroker_http_requests_total", route="/topics/{topic}/records", method="POST",
                   status="200") >= 1
    assert _sample(page, "logbroker_http_request_duration_seconds_count", route="/topics/{topic}/records",
                   method="POST") >= 1
    assert _sample(page, "logbroker_http_request_duration_seconds_bucket", route="/topics/{topic}/records",
                   method="POST", le="+Inf") >= 1
    assert _sample(page, "logbroker_http_connections") >= 1
    assert _sample(page, "logbroker_kafka_connections_open") >= 0
    assert _sample(page, "logbroker_kafka_request_duration_seconds_count", api="Metadata") >= 1
    assert _sample(page, "logbroker_kafka_request_duration_seconds_bucket", api="Metadata", le="+Inf") >= 1
    # Every sample line parses: name{labels} value.
    for line in page.splitlines():
        if line and not line.startswith("#"):
            assert re.fullmatch(r'[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_]+="[^"]*",?)*\})? \S+', line), line


def _stub_app_routes() -> set[tuple[str, str]]:
    """(method, path template) of every route the application registers."""
    broker = SimpleNamespace(config=SimpleNamespace(get_int=lambda name: 1024, get_str=lambda name: "",
                                                    get_bool=lambda name: False), credentials=None,
                             data_dir=None, password_checks=None, token_revocations=None)
    app = build_app(HttpContext(cast(Broker, broker)))
    routes = set()
    for route in app.router.routes():
        resource = route.resource
        assert resource is not None
        routes.add((route.method.lower(), resource.canonical))
    return routes


def test_openapi_matches_routes(api: Api) -> None:
    doc = api.get("/openapi.json").body
    assert doc == json.loads(json.dumps(document()))
    assert doc["openapi"].startswith("3.")
    documented = {(method, path) for path, item in doc["paths"].items() for method in item if method in METHODS}
    routed = _stub_app_routes()
    assert routed - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routed == set(), "documented operations without a route"
    for path, item in doc["paths"].items():
        names = set(re.findall(r"\{(\w+)\}", path))
        params = {p["name"] for p in item.get("parameters", []) if p["in"] == "path"}
        assert names == params, path


def test_unknown_group(api: Api) -> None:
    assert_error(api.get("/groups/no-such-group"), 404, "GROUP_ID_NOT_FOUND")
    assert_error(api.delete("/groups/no-such-group"), 404, "GROUP_ID_NOT_FOUND")
    assert_error(api.post("/groups/no-such-group/reset-offsets", {"strategy": "earliest"}), 404)


def test_partitioner_matches_kafka_python() -> None:
    from kafka.partitioner.default import murmur2 as kafka_murmur2

    for n in range(64):
        data = bytes((i * 37 + n) & 0xFF for i in range(n))
        assert murmur2(data) == kafka_murmur2(data) & 0xFFFFFFFF
        assert partition_for_key(data, 7) == (kafka_murmur2(data) & 0x7FFFFFFF) % 7
    # Java's Utils.murmur2("21") is -973932308 (from Kafka's UtilsTest).
    assert murmur2(b"21") == -973932308 & 0xFFFFFFFF


def _bounded(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with small partition counts (so the fuzzer does not create 100,000 partition dirs),
    and examples of path parameters naming an existing and a missing topic, so requests reach past the
    404s (enums would make the fuzzer's "invalid" names valid topics).

    ``timeout_ms`` is left out: acks=all with timeout_ms=1 rightly answers 504 when the group commit's
    fsync takes longer than a millisecond, a server-side condition, not bad input. Config values are
    narrowed to a few configs and values they take (which values a config takes is its own rule,
    beyond what the document says: retention.ms "soon" is a string, and a 400)."""
    schemas = doc["components"]["schemas"]
    schemas["CreateTopic"]["properties"]["partitions"]["maximum"] = 4
    schemas["AddPartitions"]["properties"]["count"]["maximum"] = 8
    schemas["ConfigValues"]["properties"] = {
        "retention.ms": {"type": "integer", "minimum": -1},
        "cleanup.policy": {"type": "string", "enum": ["delete", "compact"]},
        "min.compaction.lag.ms": {"type": "integer", "minimum": 0}}
    schemas["AlterConfigs"]["properties"]["delete"]["items"]["enum"] = ["retention.ms", "cleanup.policy"]
    for item in doc["paths"].values():
        if "post" in item:
            item["post"]["parameters"] = [p for p in item["post"].get("parameters", []) if p["name"] != "timeout_ms"]
        # wait_ms is left out too: a long poll on an empty partition rightly waits up to 30 s, past the
        # fuzzer's 10 s request timeout, which would report a correct wait as a network error.
        for operation in item.values():
            if isinstance(operation, dict) and "parameters" in operation:
                operation["parameters"] = [p for p in operation["parameters"] if p["name"] != "wait_ms"]
        operation_params = [p for op in item.values() if isinstance(op, dict) for p in op.get("parameters", [])]
        for param in [*item.get("parameters", []), *operation_params]:
            if param["name"] == "topic":
                param["examples"] = {"existing": {"value": "fuzzed"}, "missing": {"value": "missing"}}
            elif param["name"] == "partition":
                param["examples"] = {"first": {"value": 0}, "second": {"value": 1}, "missing": {"value": 7}}
    return doc


def _schemathesis(api: Api, tmp_path: Path, checks: str, max_examples: int,
                  *extra: str) -> subprocess.CompletedProcess[str]:
    """schemathesis against the live API from its own /openapi.json (bounded), seeded so CI is repeatable."""
    schema = tmp_path / "openapi.json"
    schema.write_text(json.dumps(_bounded(api.get("/openapi.json").body)))
    config = tmp_path / "schemathesis.toml"
    # 416: an offset the schema allows can be outside the log (Kafka's OFFSET_OUT_OF_RANGE), as documented.
    config.write_text('[checks.positive_data_acceptance]\n'
                      'expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "416", "429", "5xx"]\n')
    cmd = [str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(config), "run", str(schema),
           "--url", api.base,
           "--checks", checks, "--max-examples", str(max_examples), "--phases", "examples,coverage,fuzzing",
           "--workers", "1", "--request-timeout", "10", "--seed", "1", "--generation-deterministic",
           "--suppress-health-check", "all", "--header", "Accept: application/json", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240)


def _fuzzed_topic(api: Api) -> None:
    if api.get("/topics/fuzzed").status == 404:
        api.create_topic("fuzzed", partitions=2)
        api.post("/topics/fuzzed/records", {"records": [{"key": "k", "value": "v"}]})


@pytest.mark.slow
def test_schemathesis_finds_no_server_errors(api: Api, http_broker: BrokerProcess, tmp_path: Path) -> None:
    _fuzzed_topic(api)
    result = _schemathesis(api, tmp_path, "not_a_server_error", 30)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Traceback" not in http_broker.log_text()
    assert api.get("/health").status == 200


@pytest.fixture
def fresh_http_broker(tmp_path: Path) -> Iterator[BrokerProcess]:
    """A broker of its own: the other fuzzer leaves topics (compacted ones among them) and groups behind,
    and a schema-valid record is rightly refused by a compacted topic, a rule of state the document
    cannot express."""
    (tmp_path / "broker").mkdir()
    b = start_http_broker(tmp_path / "broker")
    yield b
    b.stop()


@pytest.mark.slow
def test_the_api_matches_its_openapi_document(fresh_http_broker: BrokerProcess, tmp_path: Path) -> None:
    """Every schemathesis check: statuses and bodies as documented, schema-valid requests accepted,
    schema-violating ones refused, content types as documented."""
    http_broker = fresh_http_broker
    api = Api(http_broker.http_port)
    _fuzzed_topic(api)
    result = _schemathesis(api, tmp_path, "all", 30, "--exclude-operation-id", "createTopic",
                           "--exclude-operation-id", "addPartitions")
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    # Adding partitions: a count the schema allows is refused (400 INVALID_PARTITIONS) when it is not
    # above the topic's current count, a rule of the topic's state the document cannot express.
    result = _schemathesis(api, tmp_path, "all", 30, "--include-operation-id", "addPartitions",
                           "--exclude-checks", "positive_data_acceptance")
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    # Topic creation: the partition count is capped at 4 here (not the document's 100,000), so 5 is no
    # "invalid" input; test_http_topics checks the refusal of bad partition counts.
    result = _schemathesis(api, tmp_path, "all", 30, "--include-operation-id", "createTopic",
                           "--exclude-checks", "negative_data_rejection")
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert "Traceback" not in http_broker.log_text()
