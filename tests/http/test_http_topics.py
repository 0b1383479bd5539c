"""Topic routes over a real broker: round trips and every error case."""

from __future__ import annotations

import http.client
import json
from typing import Any

from tests.conftest import BrokerProcess
from tests.http.http_api import Api, assert_error


def test_create_list_describe_alter_delete(api: Api) -> None:
    created = api.post("/topics", {"name": "orders", "partitions": 3, "configs": {"retention.ms": 3600000}})
    assert created.status == 201, created.body
    assert created.body["name"] == "orders"
    assert [p["partition"] for p in created.body["partitions"]] == [0, 1, 2]
    assert api.get("/topics").body["topics"] == [
        {"name": "orders", "topic_id": created.body["topic_id"], "partitions": 3, "internal": False}]

    described = api.get("/topics/orders").body
    assert all(p["log_start_offset"] == 0 and p["log_end_offset"] == 0 for p in described["partitions"])
    configs = {c["name"]: c for c in described["configs"]}
    assert configs["retention.ms"]["value"] == "3600000"
    assert configs["retention.ms"]["source"] == "TOPIC_CONFIG"
    assert configs["segment.bytes"]["source"] == "DEFAULT_CONFIG"

    changed = api.patch("/topics/orders/configs", {"set": {"cleanup.policy": "compact"}, "delete": ["retention.ms"]})
    assert changed.status == 200, changed.body
    configs = {c["name"]: c for c in changed.body["configs"]}
    assert configs["cleanup.policy"] == {**configs["cleanup.policy"], "value": "compact", "source": "TOPIC_CONFIG"}
    assert configs["retention.ms"]["source"] == "DEFAULT_CONFIG"
    persisted = {c["name"]: c["value"] for c in api.get("/topics/orders").body["configs"]}
    assert persisted["cleanup.policy"] == "compact"

    only_checked = api.patch("/topics/orders/configs", {"set": {"retention.ms": "1"}, "validate_only": True})
    assert only_checked.status == 200
    assert {c["name"]: c["value"] for c in api.get("/topics/orders").body["configs"]}["retention.ms"] != "1"

    deleted = api.delete("/topics/orders")
    assert deleted.status == 204
    assert_error(api.get("/topics/orders"), 404, "UNKNOWN_TOPIC_OR_PARTITION")
    assert api.get("/topics").body["topics"] == []


def test_default_partitions_and_validate_only(api: Api) -> None:
    checked = api.post("/topics", {"name": "maybe", "partitions": 2, "validate_only": True})
    assert checked.status == 200 and checked.body["validate_only"] is True
    assert_error(api.get("/topics/maybe"), 404)
    assert api.post("/topics", {"name": "defaults"}).status == 201
    assert len(api.get("/topics/defaults").body["partitions"]) == 1  # num.partitions


def test_msgpack_round_trip(api: Api) -> None:
    created = api.post("/topics", {"name": "packed", "partitions": 2}, use_msgpack=True)
    assert created.status == 201
    assert created.headers["Content-Type"].startswith("application/msgpack")
    assert created.body["name"] == "packed"
    listed = api.get("/topics", accept="application/msgpack")
    assert "packed" in [t["name"] for t in listed.body["topics"]]
    assert_error(api.post("/topics", {"name": "packed"}, use_msgpack=True), 409, "TOPIC_ALREADY_EXISTS")


def test_errors(api: Api) -> None:
    api.create_topic("exists")
    assert_error(api.post("/topics", {"name": "exists"}), 409, "TOPIC_ALREADY_EXISTS")
    assert_error(api.post("/topics", raw=b"{not json"), 400, "BAD_REQUEST")
    assert_error(api.post("/topics", raw=b"\xc1", use_msgpack=True), 400, "BAD_REQUEST")
    assert_error(api.post("/topics", raw=b""), 400, "BAD_REQUEST")
    assert_error(api.post("/topics", ["not", "an", "object"]), 400, "BAD_REQUEST")
    assert_error(api.post("/topics", {"partitions": 1}), 400, "BAD_REQUEST")
    assert_error(api.post("/topics", {"name": 5}), 400, "BAD_REQUEST")
    assert_error(api.post("/topics", {"name": "x1", "partitions": "3"}), 400, "BAD_REQUEST")
    assert_error(api.post("/topics", {"name": "x1", "partitions": True}), 400, "BAD_REQUEST")
    assert_error(api.post("/topics", {"name": "x1", "partitions": 0}), 400, "BAD_REQUEST")
    assert_error(api.post("/topics", {"name": "x1", "timeout_ms": -1}), 400, "BAD_REQUEST")
    assert_error(api.post("/topics", {"name": "x1", "timeout_ms": "soon"}), 400, "BAD_REQUEST")
    assert_error(api.post("/topics/exists/partitions", {"count": 2, "timeout_ms": 300_001}), 400, "BAD_REQUEST")
    assert_error(api.post("/topics", {"name": "x1", "configs": ["a"]}), 400, "BAD_REQUEST")
    assert_error(api.post("/topics", {"name": "x1", "configs": {"retention.ms": {"a": 1}}}), 400, "BAD_REQUEST")
    assert_error(api.post("/topics", {"name": "x1", "configs": {"no.such.config": "1"}}), 400, "INVALID_CONFIG")
    assert_error(api.post("/topics", {"name": "x1", "configs": {"retention.ms": "soon"}}), 400, "INVALID_CONFIG")
    assert_error(api.post("/topics", {"name": "bad name!"}), 400, "INVALID_TOPIC_EXCEPTION")
    assert_error(api.post("/topics", {"name": "x1", "replication_factor": 3}), 400, "INVALID_REPLICATION_FACTOR")
    assert_error(api.post("/topics", {"name": "x1"}, raw=b"name=x1", content_type="application/x-www-form-urlencoded"),
                 415, "UNSUPPORTED_MEDIA_TYPE")
    assert_error(api.get("/topics/nope"), 404, "UNKNOWN_TOPIC_OR_PARTITION")
    assert_error(api.delete("/topics/nope"), 404, "UNKNOWN_TOPIC_OR_PARTITION")
    assert_error(api.patch("/topics/nope/configs", {"set": {}}), 404, "UNKNOWN_TOPIC_OR_PARTITION")
    assert_error(api.patch("/topics/exists/configs", {"set": {"retention.ms": "x"}}), 400, "INVALID_CONFIG")
    assert_error(api.patch("/topics/exists/configs", {"delete": "retention.ms"}), 400, "BAD_REQUEST")
    assert_error(api.patch("/topics/exists/configs", {"delete": ["no.such"]}), 400, "INVALID_CONFIG")
    assert_error(api.get("/no/such/route"), 404, "NOT_FOUND")
    assert_error(api.call("PUT", "/topics"), 405, "METHOD_NOT_ALLOWED")
    assert_error(api.get("/topics/nope", use_msgpack=True), 404, "UNKNOWN_TOPIC_OR_PARTITION")
    assert api.get("/topics/exists").status == 200  # nothing above changed it


def test_error_is_logged(api: Api, http_broker) -> None:  # type: ignore[no-untyped-def]
    assert_error(api.get("/topics/logged-missing"), 404)
    assert "GET /topics/logged-missing -> 404 UNKNOWN_TOPIC_OR_PARTITION" in http_broker.log_text()


def _post_with_content_type(api: Api, path: str, body: bytes, content_type: str | None) -> tuple[int, dict[str, Any]]:
    """A POST with exactly the given Content-Type header (None: no header at all)."""
    conn = http.client.HTTPConnection(api.base.removeprefix("http://"), timeout=30)
    try:
        conn.putrequest("POST", path)
        if content_type is not None:
            conn.putheader("Content-Type", content_type)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


def test_bodies_that_do_not_say_json_get_415(api: Api) -> None:
    body = json.dumps({"name": "ctype"}).encode()
    for ctype in ("text/plain", "", "bogus", "text/plain; charset=utf-8", "application/octet-stream", "/"):
        status, reply = _post_with_content_type(api, "/topics", body, ctype)
        assert (status, reply.get("error_code")) == (415, "UNSUPPORTED_MEDIA_TYPE"), (ctype, reply)
    assert _post_with_content_type(api, "/topics", body, None)[0] == 201
    assert _post_with_content_type(api, "/topics", json.dumps({"name": "ctype2"}).encode(),
                                   "application/vnd.logbroker+json")[0] == 201


def test_fields_documented_as_non_null_refuse_null(api: Api) -> None:
    api.create_topic("nulls")
    assert_error(api.patch("/topics/nulls/configs", {"set": {}, "delete": None}), 400, "BAD_REQUEST")
    assert_error(api.post("/topics", {"name": "nulls2", "configs": None}), 400, "BAD_REQUEST")
    assert_error(api.post("/topics", {"name": "nulls2", "partitions": None}), 400, "BAD_REQUEST")
    assert_error(api.post("/topics/nulls/records", {"value_format": None, "records": [{"value": "v"}]}), 400)
    assert_error(api.post("/topics/nulls/records", {"records": [{"value": "v", "partition": None}]}), 400)
    assert_error(api.post("/topics/nulls/records", {"records": [{"value": "v", "headers": None}]}), 400)
    # Keys, values and header values are documented nullable: null is a null.
    assert api.post("/topics/nulls/records", {"records": [{"key": None, "value": None,
                                                           "headers": [{"key": "h", "value": None}]}]}).status == 200
    assert api.get("/topics/nulls").body["partitions"][0]["log_end_offset"] == 1


def test_topic_creation_runs_off_the_event_loop(api: Api) -> None:
    """A large create writes its files in a worker thread: /health keeps answering meanwhile, and
    racing creates of one name give one 201 and one 409."""
    import threading
    import time

    replies: list[int] = []

    def create(name: str, partitions: int) -> None:
        replies.append(api.post("/topics", {"name": name, "partitions": partitions}, timeout=120).status)

    big = threading.Thread(target=create, args=("big-create", 800))
    big.start()
    health: list[float] = []
    while big.is_alive():
        start = time.monotonic()
        assert api.get("/health").status == 200
        health.append(time.monotonic() - start)
    big.join()
    assert replies == [201]
    assert api.get("/topics/big-create").body["partitions"][799]["partition"] == 799
    racers = [threading.Thread(target=create, args=("raced", 50)) for _ in range(2)]
    for t in racers:
        t.start()
    for t in racers:
        t.join()
    assert sorted(replies[1:]) == [201, 409]


def test_deleted_topic_data_is_removed_off_the_loop_and_the_name_reusable(api: Api, http_broker: BrokerProcess) -> None:
    api.create_topic("doomed", partitions=3)
    assert api.post("/topics/doomed/records", {"records": [{"value": "v" * 1000}] * 50}).status == 200
    assert api.delete("/topics/doomed").status == 204
    data = http_broker.data_dir
    assert not [p for p in data.iterdir() if p.name.startswith("doomed-")]
    api.create_topic("doomed", partitions=1)
    assert api.get("/topics/doomed/partitions/0/records").body["records"] == []
