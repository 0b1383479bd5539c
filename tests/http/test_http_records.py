"""Produce and read over HTTP against a real broker: formats, partitioning, acks, long poll, errors,
and interoperability with kafka-python in both directions."""

from __future__ import annotations

import base64
import threading
import time
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.partitioner.default import murmur2 as kafka_murmur2

from tests.conftest import BrokerProcess
from tests.http.http_api import Api, assert_error, start_http_broker


def kafka_partition(key: bytes, partitions: int) -> int:
    """kafka-python's DefaultPartitioner for a keyed record."""
    return int(kafka_murmur2(key) & 0x7FFFFFFF) % partitions


def test_text_round_trip_with_headers_timestamps_and_partitions(api: Api) -> None:
    api.create_topic("text", partitions=3)
    other = (kafka_partition(b"k1", 3) + 1) % 3
    records = [{"key": "k1", "value": "héllo", "headers": [{"key": "h", "value": "v"}, {"key": "n", "value": None}],
                "timestamp": 1_700_000_000_000},
               {"key": None, "value": None, "partition": other},
               {"value": "third", "partition": other}]
    produced = api.post("/topics/text/records", {"records": records})
    assert produced.status == 200, produced.body
    placed = produced.body["records"]
    assert placed[0]["partition"] == kafka_partition(b"k1", 3)
    assert placed[1] == {"partition": other, "offset": 0} and placed[2] == {"partition": other, "offset": 1}

    p0 = placed[0]["partition"]
    read = api.get(f"/topics/text/partitions/{p0}/records?offset={placed[0]['offset']}").body
    first = read["records"][0]
    assert first["key"] == "k1" and first["value"] == "héllo"
    assert first["headers"] == [{"key": "h", "value": "v"}, {"key": "n", "value": None}]
    assert first["timestamp"] == 1_700_000_000_000 and first["timestamp_type"] == "CreateTime"

    two = api.get(f"/topics/text/partitions/{other}/records").body
    assert [(r["offset"], r["value"]) for r in two["records"]] == [(0, None), (1, "third")]
    assert two["next_offset"] == 2 and two["high_watermark"] == 2 and two["log_start_offset"] == 0
    assert api.get(f"/topics/text/partitions/{other}/records?offset=1").body["records"][0]["value"] == "third"
    limited = api.get(f"/topics/text/partitions/{other}/records?offset=0&limit=1").body
    assert [r["offset"] for r in limited["records"]] == [0] and limited["next_offset"] == 1
    at_end = api.get(f"/topics/text/partitions/{other}/records?offset=2").body
    assert at_end["records"] == [] and at_end["next_offset"] == 2


def test_read_by_timestamp(api: Api) -> None:
    api.create_topic("times")
    recs = [{"value": str(i), "timestamp": 1_000 * (i + 1)} for i in range(5)]
    assert api.post("/topics/times/records", {"records": recs}).status == 200
    got = api.get("/topics/times/partitions/0/records?timestamp=2500").body
    assert [r["value"] for r in got["records"]] == ["2", "3", "4"]
    assert api.get("/topics/times/partitions/0/records?timestamp=99999").body["records"] == []
    both = api.get("/topics/times/partitions/0/records?timestamp=2500&offset=3").body  # the later of the two
    assert [r["value"] for r in both["records"]] == ["3", "4"]
    assert [r["value"] for r in api.get("/topics/times/partitions/0/records?timestamp=4500&offset=1")
            .body["records"]] == ["4"]


def test_json_and_base64_formats(api: Api) -> None:
    api.create_topic("formats")
    doc = {"a": [1, 2, {"b": None}], "s": "ü"}
    produced = api.post("/topics/formats/records",
                        {"value_format": "json", "records": [{"key": "user-1", "value": doc}]})
    assert produced.status == 200, produced.body
    blob = bytes(range(256))
    api.post("/topics/formats/records", {"value_format": "base64", "records": [
        {"key": base64.b64encode(b"\x00\xff").decode(), "value": base64.b64encode(blob).decode(),
         "headers": [{"key": "bin", "value": base64.b64encode(b"\x01").decode()}]}]})
    as_json = api.get("/topics/formats/partitions/0/records?offset=0&limit=1&value_format=json").body["records"][0]
    assert as_json["value"] == doc and as_json["key"] == "user-1"  # JSON values come with text keys
    as_b64 = api.get("/topics/formats/partitions/0/records?offset=1&value_format=base64").body["records"][0]
    assert base64.b64decode(as_b64["value"]) == blob and base64.b64decode(as_b64["key"]) == b"\x00\xff"
    assert base64.b64decode(as_b64["headers"][0]["value"]) == b"\x01"


def test_a_range_mixing_text_and_binary_reads_whole_marked_per_record(api: Api) -> None:
    api.create_topic("mixed")
    blob = b"\xff\x00\xfe"
    api.post("/topics/mixed/records", {"records": [{"key": "a", "value": "plain"}]})
    api.post("/topics/mixed/records", {"value_format": "base64", "records": [
        {"key": base64.b64encode(b"\x80").decode(), "value": base64.b64encode(blob).decode(),
         "headers": [{"key": "h", "value": base64.b64encode(b"\xc3").decode()}]}]})
    api.post("/topics/mixed/records", {"records": [{"key": "c", "value": "{\"n\": 1}"}]})
    read = api.get("/topics/mixed/partitions/0/records")
    assert read.status == 200, read.body
    first, second, third = read.body["records"]
    assert first["value"] == "plain" and "value_format" not in first and "key_format" not in first
    assert second["value_format"] == "base64" and base64.b64decode(second["value"]) == blob
    assert second["key_format"] == "base64" and base64.b64decode(second["key"]) == b"\x80"
    assert second["headers"] == [{"key": "h", "value": base64.b64encode(b"\xc3").decode(), "value_format": "base64"}]
    assert third["value"] == "{\"n\": 1}"
    as_json = api.get("/topics/mixed/partitions/0/records?value_format=json").body["records"]
    assert as_json[0]["value_format"] == "base64" and base64.b64decode(as_json[0]["value"]) == b"plain"
    assert as_json[2]["value"] == {"n": 1} and "value_format" not in as_json[2]


def test_many_small_records_are_split_into_batches_that_fit(api: Api) -> None:
    api.create_topic("split")  # max.message.bytes: Kafka's default, 1 MiB and a bit
    records = [{"key": f"k{i}", "value": "x" * 1000} for i in range(2000)]
    produced = api.post("/topics/split/records", {"records": [{**r, "partition": 0} for r in records]})
    assert produced.status == 200, produced.body
    assert [p["offset"] for p in produced.body["records"]] == list(range(2000))
    seen: list[str] = []
    offset = 0
    while offset < 2000:
        page = api.get(f"/topics/split/partitions/0/records?offset={offset}&limit=10000&max_bytes=4000000").body
        seen += [r["key"] for r in page["records"]]
        offset = page["next_offset"]
    assert seen == [f"k{i}" for i in range(2000)]
    one_too_big = api.post("/topics/split/records", {"records": [{"value": "y" * 1_100_000}]})
    assert_error(one_too_big, 413, "MESSAGE_TOO_LARGE")
    assert api.get("/topics/split/partitions/0/records?offset=2000").body["records"] == []


def test_msgpack_raw_bytes(api: Api) -> None:
    api.create_topic("packed-records", partitions=2)
    blob = bytes(range(256)) * 4
    produced = api.post("/topics/packed-records/records", {"records": [
        {"key": b"\x00key", "value": blob, "headers": [{"key": "h", "value": b"\xff"}]},
        {"key": "text-key", "value": "text value"}]}, use_msgpack=True)
    assert produced.status == 200, produced.body
    assert produced.headers["Content-Type"].startswith("application/msgpack")
    first, second = produced.body["records"]
    assert first["partition"] == kafka_partition(b"\x00key", 2)
    got = api.get(f"/topics/packed-records/partitions/{first['partition']}/records?offset={first['offset']}",
                  accept="application/msgpack").body["records"][0]
    assert got["key"] == b"\x00key" and got["value"] == blob and got["headers"] == [{"key": "h", "value": b"\xff"}]
    got2 = api.get(f"/topics/packed-records/partitions/{second['partition']}/records?offset={second['offset']}",
                   use_msgpack=True).body["records"][0]
    assert got2["key"] == b"text-key" and got2["value"] == b"text value"


@pytest.mark.parametrize("acks", ["0", "1", "all", "-1"])
def test_acks(api: Api, acks: str) -> None:
    topic = f"acks-{acks}"
    api.create_topic(topic)
    produced = api.post(f"/topics/{topic}/records?acks={acks}", {"records": [{"value": "v"}]})
    assert produced.status == 200 and produced.body["records"] == [{"partition": 0, "offset": 0}]
    assert api.get(f"/topics/{topic}/partitions/0/records").body["records"][0]["value"] == "v"


def test_null_keys_go_round_robin(api: Api) -> None:
    api.create_topic("spread", partitions=4)
    produced = api.post("/topics/spread/records", {"records": [{"value": str(i)} for i in range(8)]})
    counts = [0] * 4
    for r in produced.body["records"]:
        counts[r["partition"]] += 1
    assert counts == [2, 2, 2, 2]
    # One request, one batch per partition: offsets are consecutive within each partition.
    assert sorted(r["offset"] for r in produced.body["records"] if r["partition"] == 0) == [0, 1]


def test_long_poll_wakes_on_append(api: Api) -> None:
    api.create_topic("poll")
    timer = threading.Timer(0.3, lambda: api.post("/topics/poll/records", {"records": [{"value": "late"}]}))
    started = time.monotonic()
    timer.start()
    try:
        got = api.get("/topics/poll/partitions/0/records?offset=0&wait_ms=10000").body
    finally:
        timer.join()
    elapsed = time.monotonic() - started
    assert [r["value"] for r in got["records"]] == ["late"]
    assert elapsed < 5
    started = time.monotonic()
    empty = api.get("/topics/poll/partitions/0/records?offset=1&wait_ms=200").body
    assert empty["records"] == [] and 0.15 < time.monotonic() - started < 5


def test_max_bytes_bounds_a_read(api: Api) -> None:
    api.create_topic("big")
    for _ in range(5):
        api.post("/topics/big/records", {"records": [{"value": "x" * 10_000}]})
    small = api.get("/topics/big/partitions/0/records?max_bytes=1").body
    assert len(small["records"]) == 1 and small["next_offset"] == 1  # at least one whole batch
    some = api.get("/topics/big/partitions/0/records?max_bytes=25000").body
    assert 1 <= len(some["records"]) < 5
    assert len(api.get("/topics/big/partitions/0/records").body["records"]) == 5


def test_produce_and_read_errors(api: Api) -> None:
    api.create_topic("errs", partitions=2)
    records = "/topics/errs/records"
    assert_error(api.post("/topics/missing/records", {"records": [{"value": "v"}]}), 404, "UNKNOWN_TOPIC_OR_PARTITION")
    assert_error(api.post(records, {"records": [{"value": "v", "partition": 2}]}), 404, "UNKNOWN_TOPIC_OR_PARTITION")
    assert_error(api.post(records, raw=b"{"), 400, "BAD_REQUEST")
    assert_error(api.post(records, {"records": []}), 400)
    assert_error(api.post(records, {"records": "v"}), 400)
    assert_error(api.post(records, {"records": [5]}), 400)
    assert_error(api.post(records, {"records": [{"value": 5}]}), 400)
    assert_error(api.post(records, {"records": [{"value": "v", "partition": "0"}]}), 400)
    assert_error(api.post(records, {"records": [{"value": "v", "timestamp": -5}]}), 400)
    assert_error(api.post(records, {"records": [{"value": "v", "headers": {"a": "b"}}]}), 400)
    assert_error(api.post(records, {"records": [{"value": "v", "headers": [{"value": "b"}]}]}), 400)
    assert_error(api.post(records, {"value_format": "base64", "records": [{"value": "***"}]}), 400)
    assert_error(api.post(records, {"value_format": "yaml", "records": [{"value": "v"}]}), 400)
    assert_error(api.post(records + "?acks=2", {"records": [{"value": "v"}]}), 400)
    assert_error(api.post("/topics/__consumer_offsets/records", {"records": [{"value": "v"}]}), 404)
    read = "/topics/errs/partitions"
    assert_error(api.get(f"{read}/5/records"), 404, "UNKNOWN_TOPIC_OR_PARTITION")
    assert_error(api.get(f"{read}/x/records"), 400, "BAD_REQUEST")
    assert_error(api.get(f"{read}/-1/records"), 404)
    assert_error(api.get(f"{read}/0/records?offset=7"), 416, "OFFSET_OUT_OF_RANGE")
    assert_error(api.get(f"{read}/0/records?offset=abc"), 400, "BAD_REQUEST")
    assert_error(api.get(f"{read}/0/records?offset=-1"), 400, "BAD_REQUEST")
    assert_error(api.get(f"{read}/0/records?limit=0"), 400, "BAD_REQUEST")
    assert_error(api.get(f"{read}/0/records?wait_ms=9999999"), 400, "BAD_REQUEST")
    assert_error(api.get(f"{read}/0/records?value_format=xml"), 400, "BAD_REQUEST")
    assert_error(api.get("/topics/missing/partitions/0/records"), 404, "UNKNOWN_TOPIC_OR_PARTITION")
    assert [p["log_end_offset"] for p in api.get("/topics/errs").body["partitions"]] == [0, 0]


def test_size_limits(tmp_path: Path) -> None:
    b = start_http_broker(tmp_path, **{"socket.request.max.bytes": "20000"})
    try:
        api = Api(b.http_port)
        api.create_topic("limits", partitions=2, configs={"max.message.bytes": "2000"})
        too_big = api.post("/topics/limits/records", {"records": [{"value": "x" * 30_000}]})
        assert_error(too_big, 413, "REQUEST_TOO_LARGE")
        # Fits the request limit, but the batch for partition 1 is over max.message.bytes: nothing is written.
        mixed = {"records": [{"value": "small", "partition": 0}, {"value": "y" * 5_000, "partition": 1}]}
        assert_error(api.post("/topics/limits/records", mixed), 413, "MESSAGE_TOO_LARGE")
        assert [p["log_end_offset"] for p in api.get("/topics/limits").body["partitions"]] == [0, 0]
        assert api.post("/topics/limits/records", {"records": [{"value": "z" * 1_000}]}).status == 200
        assert "Traceback" not in b.log_text()
    finally:
        b.stop()


def test_http_records_are_read_by_kafka_python(api: Api, http_broker: BrokerProcess) -> None:
    api.create_topic("interop", partitions=4)
    keys = [f"key-{i}".encode() for i in range(40)]
    produced = api.post("/topics/interop/records", {"value_format": "base64", "records": [
        {"key": base64.b64encode(k).decode(), "value": base64.b64encode(b"v-" + k).decode(),
         "headers": [{"key": "h", "value": base64.b64encode(k).decode()}]} for k in keys]}).body["records"]
    for key, placed in zip(keys, produced, strict=True):
        assert placed["partition"] == kafka_partition(key, 4)
    consumer = KafkaConsumer(bootstrap_servers=http_broker.bootstrap, enable_auto_commit=False, group_id=None)
    consumer.assign([TopicPartition("interop", p) for p in range(4)])
    consumer.seek_to_beginning()
    got: dict[bytes, tuple[int, int, bytes, list[tuple[str, bytes]]]] = {}
    deadline = time.monotonic() + 20
    while len(got) < len(keys) and time.monotonic() < deadline:
        for tp, msgs in consumer.poll(timeout_ms=500).items():
            for m in msgs:
                got[m.key] = (tp.partition, m.offset, m.value, list(m.headers))
    consumer.close()
    assert len(got) == len(keys)
    for key, placed in zip(keys, produced, strict=True):
        assert got[key] == (placed["partition"], placed["offset"], b"v-" + key, [("h", key)])


def test_kafka_python_records_are_read_over_http(api: Api, http_broker: BrokerProcess) -> None:
    api.create_topic("from-kafka", partitions=3)
    producer = KafkaProducer(bootstrap_servers=http_broker.bootstrap, acks="all")
    sent = [(f"k{i}".encode(), producer.send("from-kafka", key=f"k{i}".encode(), value=f"v{i}".encode()))
            for i in range(20)]
    producer.flush(20)
    meta = {key: fut.get(10) for key, fut in sent}
    producer.close(5)
    by_http: dict[str, tuple[int, int, str]] = {}
    for p in range(3):
        for r in api.get(f"/topics/from-kafka/partitions/{p}/records").body["records"]:
            by_http[r["key"]] = (p, r["offset"], r["value"])
    for key, m in meta.items():
        assert by_http[key.decode()] == (m.partition, m.offset, "v" + key.decode()[1:])
        assert m.partition == kafka_partition(key, 3)
