"""Wire-level behaviour against a real broker: idempotence, version negotiation, long poll, pipelining."""

from __future__ import annotations

import signal
import struct
import threading
import time
from typing import Any

from logbroker.kafka import codec
from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from segments.records import RecordInput, build_batch
from tests.conftest import BrokerHandle
from tests.interop.rawclient import RawClient

PRODUCE_V = 9
FETCH_V = 12


def batch(pid: int = -1, epoch: int = -1, seq: int = -1, n: int = 3, tag: bytes = b"v") -> bytes:
    records = [RecordInput(key=b"k", value=tag + b"%d" % i, timestamp=1_700_000_000_000 + i) for i in range(n)]
    return build_batch(records, producer_id=pid, producer_epoch=epoch, base_sequence=seq)


def produce(c: RawClient, topic: str, records: bytes, acks: int = -1) -> dict[str, Any]:
    body = c.call(ApiKey.PRODUCE, PRODUCE_V, {"acks": acks, "timeout_ms": 10000, "topic_data": [
        {"name": topic, "partition_data": [{"index": 0, "records": records}]}]})
    return dict(body["responses"][0]["partition_responses"][0])


def create_topic(c: RawClient, topic: str, partitions: int = 1) -> None:
    body = c.call(ApiKey.CREATE_TOPICS, 5, {"topics": [{"name": topic, "num_partitions": partitions,
                                                        "replication_factor": 1, "assignments": [], "configs": []}],
                                            "timeout_ms": 5000, "validate_only": False})
    assert body["topics"][0]["error_code"] == 0, body


def end_offset(c: RawClient, topic: str) -> int:
    body = c.call(ApiKey.LIST_OFFSETS, 5, {"replica_id": -1, "isolation_level": 0, "topics": [
        {"name": topic, "partitions": [{"partition_index": 0, "current_leader_epoch": -1, "timestamp": -1}]}]})
    return int(body["topics"][0]["partitions"][0]["offset"])


def init_pid(c: RawClient, pid: int = -1, epoch: int = -1) -> tuple[int, int]:
    body = c.call(ApiKey.INIT_PRODUCER_ID, 4, {"transactional_id": None, "transaction_timeout_ms": 60000,
                                               "producer_id": pid, "producer_epoch": epoch})
    assert body["error_code"] == 0
    return body["producer_id"], body["producer_epoch"]


def test_idempotent_duplicates_sequences_and_epochs(broker: BrokerHandle) -> None:
    with RawClient(broker.port) as c:
        create_topic(c, "idem")
        pid, epoch = init_pid(c)
        first = produce(c, "idem", batch(pid, epoch, 0))
        assert first["error_code"] == 0 and first["base_offset"] == 0
        again = produce(c, "idem", batch(pid, epoch, 0))  # a retry of an acknowledged batch
        assert again["error_code"] == 0 and again["base_offset"] == 0
        assert end_offset(c, "idem") == 3
        gap = produce(c, "idem", batch(pid, epoch, 7))
        assert gap["error_code"] == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
        nxt = produce(c, "idem", batch(pid, epoch, 3))
        assert nxt["error_code"] == 0 and nxt["base_offset"] == 3
        same_pid, new_epoch = init_pid(c, pid, epoch)
        assert same_pid == pid and new_epoch == epoch + 1
        fenced = produce(c, "idem", batch(pid, epoch, 6))
        assert fenced["error_code"] == ErrorCode.INVALID_PRODUCER_EPOCH
        bumped = produce(c, "idem", batch(pid, new_epoch, 0))
        assert bumped["error_code"] == 0 and bumped["base_offset"] == 6
        other_pid, _ = init_pid(c)
        assert other_pid != pid


def test_producer_state_survives_restart(broker: BrokerHandle) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with RawClient(broker.port) as c:
            create_topic(c, f"idem-{sig}")
            pid, epoch = init_pid(c)
            assert produce(c, f"idem-{sig}", batch(pid, epoch, 0))["base_offset"] == 0
            assert produce(c, f"idem-{sig}", batch(pid, epoch, 3))["base_offset"] == 3
        broker.restart(sig)
        with RawClient(broker.port) as c:
            dup = produce(c, f"idem-{sig}", batch(pid, epoch, 3))
            assert dup["error_code"] == 0 and dup["base_offset"] == 3, dup
            assert end_offset(c, f"idem-{sig}") == 6
            gap = produce(c, f"idem-{sig}", batch(pid, epoch, 9))
            assert gap["error_code"] == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
            new_pid, _ = init_pid(c)
            assert new_pid > pid  # ids are never reused across restarts


def test_api_versions_unsupported_version_answers_v0_error_35(broker: BrokerHandle) -> None:
    with RawClient(broker.port) as c:
        # A version newer than any this broker knows: header v2 layout, body unknown.
        c.correlation = 77
        payload = struct.pack(">hhi", ApiKey.API_VERSIONS, 9, 77) + struct.pack(">h", 4) + b"test" + b"\x00"
        c.sock.sendall(struct.pack(">i", len(payload)) + payload)
        response = c.recv(ApiKey.API_VERSIONS, 0)
        assert response.correlation_id == 77
        assert response.body["error_code"] == ErrorCode.UNSUPPORTED_VERSION
        keys = {k["api_key"]: (k["min_version"], k["max_version"]) for k in response.body["api_keys"]}
        assert keys[ApiKey.PRODUCE][0] == 3 and keys[ApiKey.FETCH][0] == 4
        body = c.call(ApiKey.API_VERSIONS, 3, {"client_software_name": "raw", "client_software_version": "1"})
        assert body["error_code"] == 0 and ApiKey.METADATA in {k["api_key"] for k in body["api_keys"]}


def test_unknown_api_key_closes_only_that_connection(broker: BrokerHandle) -> None:
    with RawClient(broker.port) as bad, RawClient(broker.port) as good:
        payload = struct.pack(">hhi", 9999, 0, 1) + struct.pack(">h", -1)
        bad.sock.sendall(struct.pack(">i", len(payload)) + payload)
        assert bad.is_closed_by_peer()
        create_topic(good, "still-serving")


def test_fetch_long_poll_is_woken_by_an_append(broker: BrokerHandle) -> None:
    with RawClient(broker.port) as c:
        create_topic(c, "poll")

        def later() -> None:
            time.sleep(0.5)
            with RawClient(broker.port) as p:
                produce(p, "poll", batch(n=2), acks=1)

        threading.Thread(target=later, daemon=True).start()
        start = time.monotonic()
        body = c.call(ApiKey.FETCH, FETCH_V, {
            "replica_id": -1, "max_wait_ms": 10000, "min_bytes": 1, "max_bytes": 1 << 20, "isolation_level": 0,
            "session_id": 0, "session_epoch": -1, "topics": [{"topic": "poll", "partitions": [
                {"partition": 0, "current_leader_epoch": -1, "fetch_offset": 0, "log_start_offset": -1,
                 "partition_max_bytes": 1 << 20}]}], "forgotten_topics_data": [], "rack_id": ""})
        elapsed = time.monotonic() - start
        part = body["responses"][0]["partitions"][0]
        assert part["error_code"] == 0 and part["high_watermark"] == 2
        assert len(part["records"]) > 0
        assert 0.4 < elapsed < 5, elapsed  # woken by the append, not by max_wait_ms


def test_fetch_out_of_range_and_empty_records(broker: BrokerHandle) -> None:
    with RawClient(broker.port) as c:
        create_topic(c, "ranges")
        produce(c, "ranges", batch(n=5), acks=1)

        def fetch(offset: int) -> dict[str, Any]:
            body = c.call(ApiKey.FETCH, FETCH_V, {
                "replica_id": -1, "max_wait_ms": 0, "min_bytes": 0, "max_bytes": 1 << 20, "isolation_level": 0,
                "session_id": 0, "session_epoch": -1, "topics": [{"topic": "ranges", "partitions": [
                    {"partition": 0, "current_leader_epoch": -1, "fetch_offset": offset, "log_start_offset": -1,
                     "partition_max_bytes": 1 << 20}]}], "forgotten_topics_data": [], "rack_id": ""})
            return dict(body["responses"][0]["partitions"][0])

        inside = fetch(2)  # an offset inside the batch returns the whole batch
        assert inside["error_code"] == 0 and len(inside["records"]) == len(batch(n=5))
        at_end = fetch(5)
        assert at_end["error_code"] == 0 and at_end["records"] == b""
        beyond = fetch(50)
        assert beyond["error_code"] == ErrorCode.OFFSET_OUT_OF_RANGE and beyond["high_watermark"] == 5


def test_pipelined_requests_are_answered_in_order(broker: BrokerHandle) -> None:
    with RawClient(broker.port) as c:
        create_topic(c, "pipe")
        sent = []
        for i in range(50):
            api = (ApiKey.PRODUCE, PRODUCE_V) if i % 2 else (ApiKey.METADATA, 9)
            body: dict[str, Any] = ({"acks": 1, "timeout_ms": 5000, "topic_data": [
                {"name": "pipe", "partition_data": [{"index": 0, "records": batch(n=1, tag=b"p%d-" % i)}]}]}
                if i % 2 else {"topics": None, "allow_auto_topic_creation": False})
            sent.append((c.send(api[0], api[1], body), api))
        offsets = []
        for corr, (key, version) in sent:
            response = codec.decode_response(c.recv_frame(), key, version)
            assert response.correlation_id == corr
            if key == ApiKey.PRODUCE:
                offsets.append(response.body["responses"][0]["partition_responses"][0]["base_offset"])
        assert offsets == list(range(25))


def test_admin_apis_on_the_wire(broker: BrokerHandle) -> None:
    with RawClient(broker.port) as c:
        body = c.call(ApiKey.CREATE_TOPICS, 5, {"topics": [{"name": "validated", "num_partitions": 3,
                                                            "replication_factor": 1, "assignments": [],
                                                            "configs": [{"name": "cleanup.policy",
                                                                         "value": "delete"}]}],
                                                "timeout_ms": 5000, "validate_only": True})
        assert body["topics"][0]["error_code"] == 0
        meta = c.call(ApiKey.METADATA, 12, {"topics": [{"name": "validated", "topic_id": None}],
                                            "allow_auto_topic_creation": False,
                                            "include_topic_authorized_operations": False})
        assert meta["topics"][0]["error_code"] == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION  # validate_only made nothing
        bad = c.call(ApiKey.CREATE_TOPICS, 5, {"topics": [{"name": "bad-config", "num_partitions": 1,
                                                           "replication_factor": 1, "assignments": [],
                                                           "configs": [{"name": "retention.ms", "value": "soon"}]}],
                                               "timeout_ms": 5000, "validate_only": False})
        assert bad["topics"][0]["error_code"] == ErrorCode.INVALID_CONFIG and bad["topics"][0]["error_message"]
        invalid_name = c.call(ApiKey.CREATE_TOPICS, 5, {"topics": [{"name": "no/slashes", "num_partitions": 1,
                                                                    "replication_factor": 1, "assignments": [],
                                                                    "configs": []}],
                                                        "timeout_ms": 5000, "validate_only": False})
        assert invalid_name["topics"][0]["error_code"] == ErrorCode.INVALID_TOPIC_EXCEPTION
        create_topic(c, "inc", partitions=2)

        def incremental(op: int, name: str, value: str | None) -> int:
            r = c.call(ApiKey.INCREMENTAL_ALTER_CONFIGS, 1, {"resources": [
                {"resource_type": 2, "resource_name": "inc",
                 "configs": [{"name": name, "config_operation": op, "value": value}]}], "validate_only": False})
            return int(r["responses"][0]["error_code"])

        def described(name: str) -> dict[str, Any]:
            r = c.call(ApiKey.DESCRIBE_CONFIGS, 4, {"resources": [
                {"resource_type": 2, "resource_name": "inc", "configuration_keys": [name]}],
                "include_synonyms": True, "include_documentation": True})
            return dict(r["results"][0]["configs"][0])

        assert described("cleanup.policy")["value"] == "delete"
        assert described("cleanup.policy")["config_source"] == 5  # DEFAULT_CONFIG
        assert described("cleanup.policy")["documentation"]
        assert incremental(2, "cleanup.policy", "compact") == 0  # APPEND
        entry = described("cleanup.policy")
        assert entry["value"] == "delete,compact" and entry["config_source"] == 1  # DYNAMIC_TOPIC_CONFIG
        assert incremental(3, "cleanup.policy", "delete") == 0  # SUBTRACT
        assert described("cleanup.policy")["value"] == "compact"
        assert incremental(0, "retention.ms", "-5") == ErrorCode.INVALID_CONFIG
        assert incremental(1, "cleanup.policy", None) == 0  # DELETE restores the default
        assert described("cleanup.policy")["value"] == "delete"

        cluster = c.call(ApiKey.DESCRIBE_CLUSTER, 1, {"include_cluster_authorized_operations": False,
                                                      "endpoint_type": 1})
        assert cluster["error_code"] == 0 and cluster["brokers"][0]["port"] == broker.port

        produce(c, "inc", batch(n=4), acks=1)
        epochs = c.call(ApiKey.OFFSET_FOR_LEADER_EPOCH, 4, {"replica_id": -1, "topics": [
            {"topic": "inc", "partitions": [{"partition": 0, "current_leader_epoch": 0, "leader_epoch": 0}]}]})
        part = epochs["topics"][0]["partitions"][0]
        assert part["error_code"] == 0 and part["end_offset"] == 4 and part["leader_epoch"] == 0

        gone = c.call(ApiKey.DELETE_TOPICS, 6, {"topics": [{"name": "inc", "topic_id": None}], "timeout_ms": 5000})
        assert gone["responses"][0]["error_code"] == 0
        again = c.call(ApiKey.DELETE_TOPICS, 6, {"topics": [{"name": "inc", "topic_id": None}], "timeout_ms": 5000})
        assert again["responses"][0]["error_code"] == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
