"""Wire-level behaviour against a real broker: idempotence, version negotiation, long poll, pipelining.

The module's tests share one broker (each on its own topics); the two that restart it get their own."""

from __future__ import annotations

import signal
import struct
import threading
import time
from typing import Any

import pytest

from logbroker.kafka import codec
from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from segments.records import RecordInput, build_batch
from tests.conftest import BrokerFactory, BrokerHandle
from tests.interop.rawclient import RawClient, wait_for_leaders

PRODUCE_V = 9
FETCH_V = 12


@pytest.fixture(scope="module")
def broker(module_broker_factory: BrokerFactory) -> BrokerHandle:
    """One broker of the kind under test for the whole module."""
    return module_broker_factory()


def batch(pid: int = -1, epoch: int = -1, seq: int = -1, n: int = 3, tag: bytes = b"v",
          timestamp: int | None = None) -> bytes:
    # Timestamps of now by default: Kafka drops, when it loads a log, producers whose last batch is
    # older than producer.id.expiration.ms (a day), and the restart test needs the producer remembered.
    base = int(time.time() * 1000) if timestamp is None else timestamp
    records = [RecordInput(key=b"k", value=tag + b"%d" % i, timestamp=base + i) for i in range(n)]
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
    wait_for_leaders(c, topic, partitions)


def end_offset(c: RawClient, topic: str) -> int:
    body = c.call(ApiKey.LIST_OFFSETS, 5, {"replica_id": -1, "isolation_level": 0, "topics": [
        {"name": topic, "partitions": [{"partition_index": 0, "current_leader_epoch": -1, "timestamp": -1}]}]})
    return int(body["topics"][0]["partitions"][0]["offset"])


# Errors a client retries: Kafka answers these while its internal topics and coordinators load.
RETRIABLE = {ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.NOT_COORDINATOR}


def init_pid(c: RawClient, pid: int = -1, epoch: int = -1, timeout_s: float = 20) -> tuple[int, int]:
    deadline = time.monotonic() + timeout_s
    while True:
        body = c.call(ApiKey.INIT_PRODUCER_ID, 4, {"transactional_id": None, "transaction_timeout_ms": 60000,
                                                   "producer_id": pid, "producer_epoch": epoch})
        if body["error_code"] not in RETRIABLE or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert body["error_code"] == 0, body
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
        # An idempotent producer bumps its own epoch (KIP-360): the new epoch starts at sequence 0 ...
        assert produce(c, "idem", batch(pid, epoch + 1, 3))["error_code"] == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
        bumped = produce(c, "idem", batch(pid, epoch + 1, 0))
        assert bumped["error_code"] == 0 and bumped["base_offset"] == 6
        # ... and fences the old one.
        fenced = produce(c, "idem", batch(pid, epoch, 6))
        assert fenced["error_code"] == ErrorCode.INVALID_PRODUCER_EPOCH
        other_pid, _ = init_pid(c)
        assert other_pid != pid


def test_offset_for_leader_epoch_of_an_epoch_the_log_never_had(broker: BrokerHandle) -> None:
    """A single node leads under epoch 0: that epoch ends at the log end; a newer epoch, or an
    undefined one, has no end the log can name (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET), with no error."""
    with RawClient(broker.port) as c:
        create_topic(c, "epochs")
        assert produce(c, "epochs", batch(n=4))["error_code"] == 0

        def ask(epoch: int) -> dict[str, Any]:
            r = c.call(ApiKey.OFFSET_FOR_LEADER_EPOCH, 4, {"replica_id": -1, "topics": [
                {"topic": "epochs", "partitions": [{"partition": 0, "current_leader_epoch": -1,
                                                    "leader_epoch": epoch}]}]})
            return dict(r["topics"][0]["partitions"][0])

        assert (ask(0)["error_code"], ask(0)["leader_epoch"], ask(0)["end_offset"]) == (0, 0, 4)
        for epoch in (1, 7, -1):
            part = ask(epoch)
            assert (part["error_code"], part["leader_epoch"], part["end_offset"]) == (0, -1, -1), (epoch, part)


def test_init_producer_id_without_transactional_id_gives_a_new_id(broker: BrokerHandle) -> None:
    with RawClient(broker.port) as c:
        create_topic(c, "reinit")
        pid, epoch = init_pid(c)
        assert produce(c, "reinit", batch(pid, epoch, 0))["error_code"] == 0
        new_pid, new_epoch = init_pid(c, pid, epoch)
        assert new_pid != pid and new_epoch == 0
        still = produce(c, "reinit", batch(pid, epoch, 3))
        assert still["error_code"] == 0 and still["base_offset"] == 3
        fresh = produce(c, "reinit", batch(new_pid, new_epoch, 0))
        assert fresh["error_code"] == 0 and fresh["base_offset"] == 6


@pytest.mark.slow
def test_producer_state_survives_restart(broker_factory: BrokerFactory) -> None:
    broker = broker_factory()
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


def api_versions_too_new(c: RawClient) -> codec.Response:
    """ApiVersions at a version newer than any broker knows: header v2 layout, body unknown."""
    c.correlation = 77
    payload = struct.pack(">hhi", ApiKey.API_VERSIONS, 9, 77) + struct.pack(">h", 4) + b"test" + b"\x00"
    c.sock.sendall(struct.pack(">i", len(payload)) + payload)
    return c.recv(ApiKey.API_VERSIONS, 0)


def api_versions(c: RawClient) -> dict[int, tuple[int, int]]:
    body = c.call(ApiKey.API_VERSIONS, 3, {"client_software_name": "raw", "client_software_version": "1"})
    assert body["error_code"] == 0
    return {k["api_key"]: (k["min_version"], k["max_version"]) for k in body["api_keys"]}


@pytest.mark.slow
def test_producer_idle_past_expiration_is_forgotten_at_restart(broker_factory: BrokerFactory) -> None:
    broker = broker_factory()
    week_ago = int(time.time() * 1000) - 7 * 86_400_000
    with RawClient(broker.port) as c:
        create_topic(c, "expired-producer")
        pid, epoch = init_pid(c)
        assert produce(c, "expired-producer", batch(pid, epoch, 0, timestamp=week_ago))["base_offset"] == 0
    broker.restart()
    with RawClient(broker.port) as c:
        wait_for_leaders(c, "expired-producer", 1)
        again = produce(c, "expired-producer", batch(pid, epoch, 0, timestamp=week_ago))
        assert again["error_code"] == 0 and again["base_offset"] == 3  # not recognised as a duplicate


def test_api_versions_unsupported_version_answers_v0_error_35(broker: BrokerHandle) -> None:
    with RawClient(broker.port) as c:
        response = api_versions_too_new(c)
        assert response.correlation_id == 77
        assert response.body["error_code"] == ErrorCode.UNSUPPORTED_VERSION
        keys = {k["api_key"] for k in response.body["api_keys"]}
        assert ApiKey.API_VERSIONS in keys  # what the client needs to retry with a version both know
        versions = api_versions(c)  # the connection stays usable
        assert ApiKey.METADATA in versions and versions[ApiKey.FETCH][0] == 4


def test_bytes_after_a_request_body_are_ignored(broker: BrokerHandle) -> None:
    # librdkafka 2.16's Metadata v13 carries three bytes after its body; Kafka answers it, and so must we.
    with RawClient(broker.port) as c:
        create_topic(c, "trailing")
        frame = codec.encode_request(ApiKey.METADATA, 13, 41, "rdkafka", {
            "topics": [{"name": "trailing"}], "allow_auto_topic_creation": False,
            "include_topic_authorized_operations": False})
        payload = frame[4:] + b"\x00\x00\x00"
        c.sock.sendall(struct.pack(">i", len(payload)) + payload)
        response = c.recv(ApiKey.METADATA, 13)
        assert response.correlation_id == 41
        assert [t["name"] for t in response.body["topics"]] == ["trailing"]
        c.correlation = 41
        assert c.call(ApiKey.METADATA, 13, {"topics": None, "allow_auto_topic_creation": False,
                                            "include_topic_authorized_operations": False})["topics"]


def test_api_versions_error_lists_only_api_versions(broker: BrokerHandle) -> None:
    with RawClient(broker.port) as c:
        response = api_versions_too_new(c)
        listed = {k["api_key"]: (k["min_version"], k["max_version"]) for k in response.body["api_keys"]}
        assert listed == {ApiKey.API_VERSIONS: api_versions(c)[ApiKey.API_VERSIONS]}


def test_api_versions_lowest_versions_are_kafka_4s(broker: BrokerHandle) -> None:
    with RawClient(broker.port) as c:
        versions = api_versions(c)
        assert versions[ApiKey.PRODUCE][0] == 0 and versions[ApiKey.FETCH][0] == 4


def test_produce_v0_to_v2_are_advertised_but_refused(broker: BrokerHandle) -> None:
    # Kafka 4 lists Produce from v0 for old librdkafka (KAFKA-18659) but closes a connection that sends it.
    with RawClient(broker.port) as old, RawClient(broker.port) as good:
        payload = struct.pack(">hhi", ApiKey.PRODUCE, 2, 1) + struct.pack(">h", -1) + struct.pack(">hii", 1, 1000, 0)
        old.sock.sendall(struct.pack(">i", len(payload)) + payload)
        assert old.is_closed_by_peer()
        create_topic(good, "after-old-produce")


def test_unknown_api_key_closes_only_that_connection(broker: BrokerHandle) -> None:
    with RawClient(broker.port) as bad, RawClient(broker.port) as good:
        payload = struct.pack(">hhi", 9999, 0, 1) + struct.pack(">h", -1)
        bad.sock.sendall(struct.pack(">i", len(payload)) + payload)
        assert bad.is_closed_by_peer()
        create_topic(good, "still-serving")


def test_fetch_long_poll_is_woken_by_an_append(broker: BrokerHandle) -> None:
    with RawClient(broker.port) as c:
        create_topic(c, "poll")

        fetch_sent = threading.Event()

        def later() -> None:
            fetch_sent.wait(10)
            time.sleep(0.5)  # the append comes 0.5 s into the long poll
            with RawClient(broker.port) as p:
                produce(p, "poll", batch(n=2), acks=1)

        threading.Thread(target=later, daemon=True).start()
        start = time.monotonic()
        corr = c.send(ApiKey.FETCH, FETCH_V, {
            "replica_id": -1, "max_wait_ms": 10000, "min_bytes": 1, "max_bytes": 1 << 20, "isolation_level": 0,
            "session_id": 0, "session_epoch": -1, "topics": [{"topic": "poll", "partitions": [
                {"partition": 0, "current_leader_epoch": -1, "fetch_offset": 0, "log_start_offset": -1,
                 "partition_max_bytes": 1 << 20}]}], "forgotten_topics_data": [], "rack_id": ""})
        fetch_sent.set()
        response = c.recv(ApiKey.FETCH, FETCH_V)
        assert response.correlation_id == corr
        body = response.body
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
        assert beyond["error_code"] == ErrorCode.OFFSET_OUT_OF_RANGE


def test_fetch_out_of_range_carries_no_watermarks(broker: BrokerHandle) -> None:
    with RawClient(broker.port) as c:
        create_topic(c, "beyond")
        produce(c, "beyond", batch(n=5), acks=1)
        body = c.call(ApiKey.FETCH, FETCH_V, {
            "replica_id": -1, "max_wait_ms": 0, "min_bytes": 0, "max_bytes": 1 << 20, "isolation_level": 0,
            "session_id": 0, "session_epoch": -1, "topics": [{"topic": "beyond", "partitions": [
                {"partition": 0, "current_leader_epoch": -1, "fetch_offset": 50, "log_start_offset": -1,
                 "partition_max_bytes": 1 << 20}]}], "forgotten_topics_data": [], "rack_id": ""})
        part = body["responses"][0]["partitions"][0]
        assert part["error_code"] == ErrorCode.OFFSET_OUT_OF_RANGE
        assert (part["high_watermark"], part["log_start_offset"]) == (-1, -1)


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


def test_segment_bytes_below_one_mib_is_refused(broker: BrokerHandle) -> None:
    with RawClient(broker.port) as c:
        body = c.call(ApiKey.CREATE_TOPICS, 5, {"topics": [{"name": "tiny-segments", "num_partitions": 1,
                                                            "replication_factor": 1, "assignments": [],
                                                            "configs": [{"name": "segment.bytes", "value": "2000"}]}],
                                                "timeout_ms": 5000, "validate_only": False})
        assert body["topics"][0]["error_code"] == ErrorCode.INVALID_CONFIG
        create_topic(c, "mib-segments")
        altered = c.call(ApiKey.INCREMENTAL_ALTER_CONFIGS, 1, {"resources": [
            {"resource_type": 2, "resource_name": "mib-segments",
             "configs": [{"name": "segment.bytes", "config_operation": 0, "value": "1048575"}]}],
            "validate_only": False})
        assert altered["responses"][0]["error_code"] == ErrorCode.INVALID_CONFIG


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

        def described(name: str, value: str | None = None) -> dict[str, Any]:
            """The config entry; with ``value``, once it shows (Kafka applies an alteration on the
            controller, and the broker that answers DescribeConfigs sees it a moment later)."""
            deadline = time.monotonic() + 10
            while True:
                r = c.call(ApiKey.DESCRIBE_CONFIGS, 4, {"resources": [
                    {"resource_type": 2, "resource_name": "inc", "configuration_keys": [name]}],
                    "include_synonyms": True, "include_documentation": True})
                entry = dict(r["results"][0]["configs"][0])
                if value is None or entry["value"] == value or time.monotonic() > deadline:
                    return entry
                time.sleep(0.02)

        assert described("cleanup.policy")["value"] == "delete"
        assert described("cleanup.policy")["config_source"] == 5  # DEFAULT_CONFIG
        assert described("cleanup.policy")["documentation"]
        assert incremental(2, "cleanup.policy", "compact") == 0  # APPEND
        entry = described("cleanup.policy", "delete,compact")
        assert entry["value"] == "delete,compact" and entry["config_source"] == 1  # DYNAMIC_TOPIC_CONFIG
        assert incremental(3, "cleanup.policy", "delete") == 0  # SUBTRACT
        assert described("cleanup.policy", "compact")["value"] == "compact"
        assert incremental(0, "retention.ms", "-5") == ErrorCode.INVALID_CONFIG
        assert incremental(1, "cleanup.policy", None) == 0  # DELETE restores the default
        entry = described("cleanup.policy", "delete")
        assert entry["value"] == "delete" and entry["config_source"] == 5

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
