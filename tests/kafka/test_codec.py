"""Tests for logbroker/kafka/codec.py: cross-checked against kafka-python 3's own protocol classes."""

from __future__ import annotations

import ast
import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from feeding import frames_three_ways
from kafka_python_bridge import (
    first_difference,
    from_kafka_python,
    kafka_python_classes,
    project,
    random_body,
    to_kafka_python,
)

from logbroker.kafka import codec
from logbroker.kafka.codec import (
    KAFKA_VALID_VERSIONS,
    SUPPORTED,
    ApiKey,
    EncodeError,
    MalformedRequest,
    ProtocolError,
    UnsupportedVersion,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
    frame_size,
)
from logbroker.kafka.schema import FieldSpec, load_catalog

CATALOG = load_catalog()
KP = kafka_python_classes()
SEEDS = range(4)

NEEDED = {
    ApiKey.PRODUCE, ApiKey.FETCH, ApiKey.LIST_OFFSETS, ApiKey.METADATA, ApiKey.OFFSET_COMMIT,
    ApiKey.OFFSET_FETCH, ApiKey.FIND_COORDINATOR, ApiKey.JOIN_GROUP, ApiKey.HEARTBEAT,
    ApiKey.LEAVE_GROUP, ApiKey.SYNC_GROUP, ApiKey.DESCRIBE_GROUPS, ApiKey.LIST_GROUPS,
    ApiKey.API_VERSIONS, ApiKey.CREATE_TOPICS, ApiKey.DELETE_TOPICS, ApiKey.DELETE_RECORDS,
    ApiKey.INIT_PRODUCER_ID, ApiKey.OFFSET_FOR_LEADER_EPOCH, ApiKey.DESCRIBE_CONFIGS,
    ApiKey.ALTER_CONFIGS, ApiKey.CREATE_PARTITIONS, ApiKey.DELETE_GROUPS,
    ApiKey.INCREMENTAL_ALTER_CONFIGS, ApiKey.OFFSET_DELETE, ApiKey.DESCRIBE_CLUSTER,
    ApiKey.SASL_HANDSHAKE,
}  # fmt: skip
# kafka-python ships no definitions (or classes) for the KIP-848 APIs; logbroker's own definitions of
# them are checked in tests/kafka/test_consumer_group_messages.py instead of against kafka-python.
NOT_IN_KAFKA_PYTHON = {ApiKey.CONSUMER_GROUP_HEARTBEAT, ApiKey.CONSUMER_GROUP_DESCRIBE,
                       # share groups (KIP-932): checked in test_share_messages.py instead
                       ApiKey.SHARE_GROUP_HEARTBEAT, ApiKey.SHARE_GROUP_DESCRIBE, ApiKey.SHARE_FETCH,
                       ApiKey.SHARE_ACKNOWLEDGE, ApiKey.DESCRIBE_SHARE_GROUP_OFFSETS,
                       ApiKey.ALTER_SHARE_GROUP_OFFSETS, ApiKey.DELETE_SHARE_GROUP_OFFSETS,
                       ApiKey.INITIALIZE_SHARE_GROUP_STATE, ApiKey.READ_SHARE_GROUP_STATE,
                       ApiKey.WRITE_SHARE_GROUP_STATE, ApiKey.DELETE_SHARE_GROUP_STATE,
                       ApiKey.READ_SHARE_GROUP_STATE_SUMMARY}

# kafka-python decodes these int32 bitfields into Python sets; compared through our own decoder.
KP_BITFIELDS = {"cluster_authorized_operations", "topic_authorized_operations", "authorized_operations"}


def _versions() -> list[tuple[int, int]]:
    return [(k, v) for k, (lo, hi) in SUPPORTED.items() if k not in NOT_IN_KAFKA_PYTHON for v in range(lo, hi + 1)]


def _strip(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _strip(v) for k, v in data.items() if k not in KP_BITFIELDS}
    if isinstance(data, list):
        return [_strip(v) for v in data]
    return data


def test_needed_apis_are_supported() -> None:
    assert set(SUPPORTED) >= NEEDED
    assert set(SUPPORTED) >= NOT_IN_KAFKA_PYTHON
    assert {"RequestHeader", "ResponseHeader"} <= set(CATALOG.headers)
    for key in NEEDED:
        assert KAFKA_VALID_VERSIONS[key][1] == SUPPORTED[key][1]
        assert SUPPORTED[key][0] == 0


@pytest.mark.parametrize(("api_key", "version"), _versions())
def test_request_from_kafka_python(api_key: int, version: int) -> None:
    """kafka-python encodes (header + body, framed); we decode, fed three ways."""
    spec = CATALOG.requests[api_key]
    kp_cls = KP[(api_key, "request")]
    for seed in SEEDS:
        rng = random.Random(seed * 1000 + api_key * 50 + version)
        body = random_body(spec.fields, version, rng)
        obj = to_kafka_python(kp_cls._struct, body, version, kp_cls)
        obj.with_header(correlation_id=seed + 17, client_id=f"client-{seed}")
        wire = obj.encode(header=True, framed=True)
        expected = project(spec.fields, body, version)
        for frames in frames_three_ways(wire):
            assert len(frames) == 1
            req = decode_request(frames[0])
            assert (req.api_key, req.api_version) == (api_key, version)
            assert req.correlation_id == seed + 17
            assert req.client_id == f"client-{seed}"
            got = project(spec.fields, req.body, version)
            assert got == expected, first_difference(got, expected)


@pytest.mark.parametrize(("api_key", "version"), _versions())
def test_response_to_kafka_python(api_key: int, version: int) -> None:
    """We encode; kafka-python decodes (header included) and agrees field by field."""
    spec = CATALOG.responses[api_key]
    kp_cls = KP[(api_key, "response")]
    for seed in SEEDS:
        rng = random.Random(seed * 1000 + api_key * 50 + version + 7)
        body = random_body(spec.fields, version, rng)
        if api_key == ApiKey.API_VERSIONS:
            body["error_code"] = 0  # a non-zero code switches the body to v0 (tested separately)
        chunks = encode_response(api_key, version, 4242, body)
        wire = b"".join(bytes(c) for c in chunks)  # type: ignore[arg-type]
        assert frame_size(chunks) == len(wire) == int.from_bytes(wire[:4], "big") + 4
        expected = project(spec.fields, body, version)
        obj = kp_cls.decode(wire[4:], version=version, header=True)
        assert obj.header.correlation_id == 4242
        theirs = _strip(project(spec.fields, from_kafka_python(kp_cls._struct, obj, version), version))
        assert theirs == _strip(expected), first_difference(theirs, _strip(expected))
        for frames in frames_three_ways(wire):
            resp = decode_response(frames[0], api_key, version)
            assert resp.correlation_id == 4242
            got = project(spec.fields, resp.body, version)
            assert got == expected, first_difference(got, expected)


@pytest.mark.parametrize(("api_key", "version"), _versions())
def test_request_roundtrip_and_kafka_python_reads_ours(api_key: int, version: int) -> None:
    spec = CATALOG.requests[api_key]
    kp_cls = KP[(api_key, "request")]
    rng = random.Random(api_key * 100 + version)
    body = random_body(spec.fields, version, rng)
    header_tags = {3: b"x"} if version in spec.flexible else None
    wire = encode_request(api_key, version, 5, None, body, tagged_fields=header_tags)
    req = decode_request(wire[4:])
    assert req.client_id is None
    if version in spec.flexible:
        assert req.tagged_fields == {3: b"x"}
        return  # kafka-python's header decoder does not read request header tagged fields
    expected = project(spec.fields, body, version)
    assert project(spec.fields, req.body, version) == expected
    obj = kp_cls.decode(wire[4:], version=version, header=True)
    theirs = project(spec.fields, from_kafka_python(kp_cls._struct, obj, version), version)
    assert _strip(theirs) == _strip(expected)


def test_decoded_body_has_defaults_for_absent_fields() -> None:
    wire = encode_request(ApiKey.FETCH, 3, 1, "c", {"max_wait_ms": 500, "min_bytes": 1, "topics": []})
    body = decode_request(wire[4:]).body
    assert body["isolation_level"] == 0  # not on the wire before v4
    assert body["session_epoch"] == -1
    assert body["max_bytes"] == 0x7FFFFFFF
    assert body["cluster_id"] is None
    assert body["replica_state"] == {"replica_id": -1, "replica_epoch": -1}


def test_encode_uses_defaults_and_ignores_fields_the_version_cannot_carry() -> None:
    # preferred_read_replica (v11+, ignorable=false) and topic_id (v13+) silently dropped at v10.
    body = {
        "responses": [
            {
                "topic": "t",
                "topic_id": uuid.uuid4(),
                "partitions": [{"partition_index": 0, "preferred_read_replica": 7, "records": b"abc"}],
            }
        ],
    }
    chunks = encode_response(ApiKey.FETCH, 10, 3, body)
    resp = decode_response(b"".join(bytes(c) for c in chunks)[4:], ApiKey.FETCH, 10)  # type: ignore[arg-type]
    part = resp.body["responses"][0]["partitions"][0]
    assert part["preferred_read_replica"] == -1
    assert part["last_stable_offset"] == -1  # schema default
    assert bytes(part["records"]) == b"abc"


def test_encode_rejects_null_for_non_nullable() -> None:
    with pytest.raises(EncodeError):
        encode_response(ApiKey.METADATA, 1, 1, {"brokers": [{"node_id": 1, "host": None, "port": 1}]})
    with pytest.raises(EncodeError):
        encode_response(ApiKey.METADATA, 1, 1, {"brokers": "not a list of dicts"})


def test_produce_records_are_zero_copy_views() -> None:
    batch = bytes(range(256)) * 4
    topic = {"name": "t", "partition_data": [{"index": 0, "records": batch}]}
    body = {"acks": 1, "timeout_ms": 1000, "topic_data": [topic]}
    for version in (3, 8, 9, 12):
        frame = encode_request(ApiKey.PRODUCE, version, 1, "c", body)[4:]
        req = decode_request(frame)
        records = req.body["topic_data"][0]["partition_data"][0]["records"]
        assert isinstance(records, memoryview)
        assert records.obj is frame
        assert records == batch


@dataclass(frozen=True, slots=True)
class FileRange:
    fd: int
    offset: int
    nbytes: int


def _fetch_body(records: Any) -> dict[str, Any]:
    return {
        "responses": [
            {
                "topic": "t",
                "partitions": [{"partition_index": p, "high_watermark": 5, "records": records} for p in range(3)],
            }
        ]
    }


@pytest.mark.parametrize("version", [4, 11, 12, 16])
def test_fetch_response_with_records_parts(version: int) -> None:
    part = FileRange(fd=9, offset=100, nbytes=300)
    chunks = encode_response(ApiKey.FETCH, version, 77, _fetch_body(part))
    assert [c for c in chunks if c is part] == [part, part, part]
    assert all(isinstance(c, bytes) for c in chunks if c is not part)
    size = frame_size(chunks)
    assert int.from_bytes(bytes(chunks[0][:4]), "big") == size - 4  # type: ignore[index]
    # Same bytes as encoding 300 real bytes in place of each part.
    filler = b"\xab" * 300
    wire = b"".join(filler if c is part else bytes(c) for c in chunks)  # type: ignore[arg-type]
    reference = b"".join(encode_response(ApiKey.FETCH, version, 77, _fetch_body(filler)))  # type: ignore[arg-type]
    assert wire == reference
    obj = KP[(ApiKey.FETCH, "response")].decode(wire[4:], version=version, header=True)
    assert obj.responses[0].partitions[2].records == filler


def test_fetch_records_lists_and_large_buffers_are_separate_chunks() -> None:
    big = memoryview(bytes(200_000))
    small = bytearray(b"xy")
    parts = [FileRange(1, 0, 10), small, big]
    chunks = encode_response(ApiKey.FETCH, 12, 1, _fetch_body(parts))
    assert sum(1 for c in chunks if c is big) == 3
    assert not any(c is small for c in chunks)  # small mutable buffers are joined
    assert frame_size(chunks) == 4 + int.from_bytes(bytes(chunks[0][:4]), "big")  # type: ignore[index]
    resp_wire = b"".join(bytes(10) if isinstance(c, FileRange) else bytes(c) for c in chunks)  # type: ignore[arg-type]
    resp = decode_response(resp_wire[4:], ApiKey.FETCH, 12)
    assert len(resp.body["responses"][0]["partitions"][0]["records"]) == 10 + 2 + 200_000
    with pytest.raises(EncodeError):
        topic = {"name": "t", "partition_data": [{"records": parts}]}
        encode_request(ApiKey.PRODUCE, 9, 1, "c", {"topic_data": [topic]})


def test_pure_bytes_response_is_one_chunk() -> None:
    chunks = encode_response(ApiKey.HEARTBEAT, 4, 1, {"error_code": 27})
    assert len(chunks) == 1 and isinstance(chunks[0], bytes)
    assert frame_size(chunks) == len(chunks[0]) == 16


def test_response_header_versions() -> None:
    # Heartbeat v4 is flexible: response header v1 (correlation id + empty tagged fields).
    hb = b"".join(encode_response(ApiKey.HEARTBEAT, 4, 1, {"throttle_time_ms": 2, "error_code": 27}))  # type: ignore[arg-type]
    assert hb == bytes.fromhex("0000000c 00000001 00 00000002 001b 00")
    # Heartbeat v3 is not: response header v0.
    hb3 = b"".join(encode_response(ApiKey.HEARTBEAT, 3, 1, {"throttle_time_ms": 2, "error_code": 27}))  # type: ignore[arg-type]
    assert hb3 == bytes.fromhex("0000000a 00000001 00000002 001b")
    # ApiVersions v3 is flexible, but its response header is always v0.
    av = b"".join(encode_response(ApiKey.API_VERSIONS, 3, 9, {"error_code": 0, "api_keys": []}))  # type: ignore[arg-type]
    assert av[4:8] == b"\x00\x00\x00\x09" and av[8:10] == b"\x00\x00"


def test_api_versions_unsupported_version_still_yields_header() -> None:
    body = {"client_software_name": "librdkafka", "client_software_version": "9.9"}
    wire = bytearray(encode_request(ApiKey.API_VERSIONS, 3, 1234, "rdkafka", body))
    wire[6:8] = (7).to_bytes(2, "big")  # pretend the client speaks ApiVersions v7
    with pytest.raises(UnsupportedVersion) as info:
        decode_request(bytes(wire[4:]))
    exc = info.value
    assert (exc.api_key, exc.api_version, exc.correlation_id, exc.client_id) == (18, 7, 1234, "rdkafka")
    assert isinstance(exc, ProtocolError)
    # The server answers with the v0 body and error 35; a client that asked v3 reads it as v0.
    reply = {
        "error_code": 35,
        "api_keys": [{"api_key": k, "min_version": lo, "max_version": hi} for k, (lo, hi) in SUPPORTED.items()],
    }
    out = b"".join(encode_response(ApiKey.API_VERSIONS, 0, exc.correlation_id, reply))  # type: ignore[arg-type]
    kp = KP[(ApiKey.API_VERSIONS, "response")].decode(out[4:], version=3, header=True)
    assert kp.header.correlation_id == 1234 and kp.error_code == 35
    assert len(kp.api_keys) == len(SUPPORTED)
    ours = decode_response(out[4:], ApiKey.API_VERSIONS, 3)
    assert ours.body["error_code"] == 35 and len(ours.body["api_keys"]) == len(SUPPORTED)


def test_unknown_api_key_and_version() -> None:
    wire = encode_request(ApiKey.METADATA, 1, 8, "c", {"topics": None})
    for key, version in ((999, 0), (ApiKey.METADATA, 99), (ApiKey.METADATA, -1)):
        raw = bytearray(wire[4:])
        raw[0:2] = key.to_bytes(2, "big", signed=True)
        raw[2:4] = version.to_bytes(2, "big", signed=True)
        with pytest.raises(UnsupportedVersion) as info:
            decode_request(bytes(raw))
        assert info.value.correlation_id == 8


def test_malformed_body_carries_header() -> None:
    wire = encode_request(ApiKey.HEARTBEAT, 4, 31, "c", {"group_id": "g", "generation_id": 1, "member_id": "m"})
    with pytest.raises(MalformedRequest) as info:
        decode_request(wire[4:-3])
    assert (info.value.api_key, info.value.correlation_id) == (ApiKey.HEARTBEAT, 31)


@pytest.mark.parametrize("extra", [b"\x00", b"\x00\x00\x00", b"\xff" * 40])
def test_bytes_after_a_parsed_request_body_are_ignored(extra: bytes) -> None:
    # As Kafka does: librdkafka 2.16 sends Metadata v13 with three bytes after the body.
    body = {"topics": None, "allow_auto_topic_creation": True, "include_topic_authorized_operations": False}
    wire = encode_request(ApiKey.METADATA, 13, 5, "rdkafka", body)
    request = decode_request(wire[4:] + extra)
    assert (request.api_key, request.api_version, request.correlation_id) == (ApiKey.METADATA, 13, 5)
    assert request.body == decode_request(wire[4:]).body
    heartbeat = encode_request(ApiKey.HEARTBEAT, 4, 31, "c", {"group_id": "g", "generation_id": 1, "member_id": "m"})
    assert decode_request(heartbeat[4:] + extra).body["member_id"] == "m"


def test_tagged_fields_written_only_when_not_default() -> None:
    base = {"responses": [{"topic_id": uuid.UUID(int=1), "partitions": [{"partition_index": 0}]}]}
    plain = b"".join(encode_response(ApiKey.FETCH, 13, 1, base))  # type: ignore[arg-type]
    base["responses"][0]["partitions"][0]["current_leader"] = {"leader_id": 3, "leader_epoch": 4}  # type: ignore[index]
    tagged = b"".join(encode_response(ApiKey.FETCH, 13, 1, base))  # type: ignore[arg-type]
    assert len(tagged) == len(plain) + 11  # tag, size, two int32 and the struct's own empty tagged section
    resp = decode_response(tagged[4:], ApiKey.FETCH, 13)
    assert resp.body["responses"][0]["partitions"][0]["current_leader"] == {"leader_id": 3, "leader_epoch": 4}
    assert resp.body["responses"][0]["partitions"][0]["diverging_epoch"] == {"epoch": -1, "end_offset": -1}


def test_every_generated_codec_compiles() -> None:
    assert codec.compile_all() == 2 * sum(hi - lo + 1 for lo, hi in SUPPORTED.values())
    assert "def " in codec.generated_source(ApiKey.PRODUCE, 9, request=True)


def test_field_names_are_snake_case() -> None:
    def walk(fields: list[FieldSpec]) -> None:
        for f in fields:
            assert f.key == f.key.lower() and " " not in f.key
            walk(f.fields)

    for spec in list(CATALOG.requests.values()) + list(CATALOG.responses.values()):
        walk(spec.fields)
    fetch = {f.key for f in CATALOG.requests[ApiKey.FETCH].fields}
    assert {"max_wait_ms", "isolation_level", "topics"} <= fetch


CODEC_MODULES = ["api_keys", "codec", "compiler", "error_codes", "errors", "framing", "schema", "__init__"]


@pytest.mark.parametrize("module", CODEC_MODULES)
def test_codec_modules_import_nothing_async(module: str) -> None:
    path = Path(codec.__file__).parent / f"{module}.py"
    tree = ast.parse(path.read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"asyncio", "socket", "selectors", "uvloop", "aiohttp", "trio"}


@pytest.mark.parametrize(("api_version", "header_version"), [(3, 1), (4, 2)])
def test_hand_written_headers_follow_headers_txt(api_version: int, header_version: int) -> None:
    from logbroker.kafka.compiler import compile_message

    wire = encode_request(ApiKey.HEARTBEAT, api_version, 77, "client-1",
                          {"group_id": "g", "generation_id": 1, "member_id": "m"})
    header = compile_message(CATALOG.headers["RequestHeader"], header_version)
    fields, _ = header.decode(memoryview(wire)[4:], 0)
    assert fields == {"request_api_key": ApiKey.HEARTBEAT, "request_api_version": api_version,
                      "correlation_id": 77, "client_id": "client-1"}
    response = b"".join(encode_response(ApiKey.HEARTBEAT, api_version, 78, {"error_code": 0}))  # type: ignore[arg-type]
    out: list[Any] = []
    compile_message(CATALOG.headers["ResponseHeader"], header_version - 1).encode({"correlation_id": 78}, out)
    assert response[4:].startswith(b"".join(out))
