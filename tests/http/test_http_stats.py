"""The routes a management view needs (routes_stats.py) and the reset-offsets dry run, on a real broker."""

from __future__ import annotations

import time

from tests.http.http_api import Api, assert_error


def _wait(predicate, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_stats_has_identity_disk_rates_and_latency(api: Api) -> None:
    api.create_topic("stats-rates", partitions=2)
    reply = api.post("/topics/stats-rates/records", {"records": [{"value": "x" * 100} for _ in range(50)]})
    assert reply.status == 200
    body = api.get("/stats").body
    assert body["node_id"] == 0 and body["topics"] >= 1 and body["partitions"] >= 2
    assert body["disk"]["log_bytes"] > 0 and body["disk"]["total_bytes"] >= body["disk"]["free_bytes"] > 0
    produce = [row for row in body["latency"]
               if row["front"] == "http" and row["name"] == "POST /topics/{topic}/records"]
    assert produce and produce[0]["count"] >= 1 and 0 < produce[0]["p50_ms"] <= produce[0]["p99_ms"]

    def with_traffic() -> list[dict[str, float]]:
        return [s for s in api.get("/stats").body["rates"]["samples"] if s["records_in"] > 0]

    api.post("/topics/stats-rates/records", {"records": [{"value": "y"} for _ in range(20)]})
    assert _wait(with_traffic), "no rate sample saw the records appended"


def test_topic_stats_page_filter_and_sort(api: Api) -> None:
    for name, n in (("tstat-a", 1), ("tstat-b", 3), ("tstat-c", 2)):
        api.create_topic(name, partitions=n)
    api.post("/topics/tstat-c/records", {"records": [{"value": "v", "partition": 1} for _ in range(7)]})
    body = api.get("/stats/topics?filter=tstat-&sort=partitions&order=desc&limit=2").body
    assert body["total"] == 3 and [t["name"] for t in body["topics"]] == ["tstat-b", "tstat-c"]
    body = api.get("/stats/topics?filter=tstat-c").body
    row = body["topics"][0]
    assert row["records"] == 7 and row["size_bytes"] > 0 and row["retention_ms"] == 604_800_000
    assert row["cleanup_policy"] == "delete"
    assert api.get("/stats/topics?internal=false").body["total"] == \
        len([t for t in api.get("/topics").body["topics"] if not t["internal"]])
    assert_error(api.get("/stats/topics?sort=colour"), 400, "BAD_REQUEST")


def test_partitions_are_paginated_and_can_be_added(api: Api) -> None:
    api.create_topic("wide", partitions=250)
    api.post("/topics/wide/records", {"records": [{"value": "v", "partition": 201}]})
    body = api.get("/topics/wide/partitions?offset=200&limit=10").body
    assert body["total"] == 250 and [p["partition"] for p in body["partitions"]] == list(range(200, 210))
    p201 = body["partitions"][1]
    assert p201["log_end_offset"] == 1 and p201["segments"] == 1 and p201["replicas"] == [0] == p201["isr"]
    assert len(api.get("/topics/wide/partitions?offset=240").body["partitions"]) == 10
    assert api.post("/topics/wide/partitions", {"count": 260, "validate_only": True}).body["partitions"] == 260
    assert api.get("/topics/wide").body["partitions"][-1]["partition"] == 249
    assert api.post("/topics/wide/partitions", {"count": 260}).body == {
        "name": "wide", "partitions": 260, "validate_only": False}
    assert api.get("/topics/wide/partitions?offset=255").body["total"] == 260
    assert_error(api.post("/topics/wide/partitions", {"count": 10}), 400, "INVALID_PARTITIONS")
    assert_error(api.post("/topics/nope/partitions", {"count": 10}), 404, "UNKNOWN_TOPIC_OR_PARTITION")
    assert_error(api.get("/topics/wide/partitions?limit=0"), 400)


def test_group_stats_lag_history_and_reset_dry_run(api: Api) -> None:
    api.create_topic("lagged", partitions=2)
    api.post("/topics/lagged/records", {"records": [{"value": str(i), "partition": i % 2} for i in range(10)]})
    joined = api.post("/groups/lagging/members", {"topics": ["lagged"], "auto_offset_reset": "earliest"}).body
    member = f"/groups/lagging/members/{joined['member_id']}"
    api.post(f"{member}/poll?max_records=3")
    api.post(f"{member}/commit", {"offsets": [{"topic": "lagged", "partition": 0, "offset": 2}]})
    rows = api.get("/stats/groups?filter=lagging").body["groups"]
    assert rows == [{"group_id": "lagging", "state": rows[0]["state"], "group_type": "consumer",
                     "protocol_type": "consumer", "members": 1, "topics": ["lagged"], "total_lag": 3}]

    def sampled() -> list[dict[str, object]]:
        samples: list[dict[str, object]] = api.get("/groups/lagging/lag-history").body["samples"]
        return samples

    samples = _wait(sampled)
    assert samples and samples[-1]["total"] == 3
    history = api.get("/groups/lagging/lag-history").body
    assert {"topic": "lagged", "partition": 0} in history["partitions"]

    # Refused while active, dry run included (as kafka-consumer-groups --dry-run).
    assert_error(api.post("/groups/lagging/reset-offsets", {"strategy": "earliest", "dry_run": True}), 409,
                 "NON_EMPTY_GROUP")
    api.delete(member)
    dry = api.post("/groups/lagging/reset-offsets", {"strategy": "offset", "offset": 4, "dry_run": True}).body
    assert dry["dry_run"] is True
    assert [(o["partition"], o["offset"], o["committed_offset"]) for o in dry["offsets"]] == [(0, 4, 2), (1, 4, None)]
    committed = {o["partition"]: o["committed_offset"] for o in api.get("/groups/lagging").body["offsets"]}
    assert committed[0] == 2  # nothing committed by the dry run
    done = api.post("/groups/lagging/reset-offsets", {"strategy": "offset", "offset": 99}).body
    assert [o["offset"] for o in done["offsets"]] == [5, 5]  # kept within the log
    assert_error(api.get("/groups/nobody/lag-history"), 404, "GROUP_ID_NOT_FOUND")


def test_console_page_and_assets(api: Api) -> None:
    page = api.get("/")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert b"console.js" in page.raw
    script = api.get("/console/console.js")
    assert script.status == 200 and script.headers["Content-Type"].startswith("text/javascript")
    assert api.get("/console/nope.js").status == 404
    assert api.get("/console/..%2Fapp.py").status == 404
