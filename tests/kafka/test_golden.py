"""Golden request frames captured from librdkafka (confluent-kafka) and kafka-python.

The frames (size prefix included) were recorded by `golden/capture_golden.py` from real producers
talking to a stub answering with this codec; `golden/index.json` lists them.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest
from feeding import frames_three_ways

from logbroker.kafka.codec import ApiKey, UnsupportedVersion, decode_request

GOLDEN = Path(__file__).resolve().parent / "golden"
INDEX: list[dict[str, Any]] = json.loads((GOLDEN / "index.json").read_text())
CLIENT_IDS = {"librdkafka": "golden-rdkafka", "kafka-python": "golden-kafka-python"}


def test_index_covers_both_clients() -> None:
    assert {e["client"] for e in INDEX} == {"librdkafka", "kafka-python"}
    assert {e["api_key"] for e in INDEX} >= {ApiKey.API_VERSIONS, ApiKey.METADATA, ApiKey.PRODUCE}


@pytest.mark.parametrize("entry", INDEX, ids=[e["file"] for e in INDEX])
def test_golden_frame_decodes(entry: dict[str, Any]) -> None:
    wire = (GOLDEN / entry["file"]).read_bytes()
    decoded = []
    for frames in frames_three_ways(wire):
        assert len(frames) == 1
        decoded.append(decode_request(frames[0]))
    assert decoded[0] == decoded[1] == decoded[2] or entry["api_key"] == ApiKey.PRODUCE
    req = decoded[0]
    assert (req.api_key, req.api_version) == (entry["api_key"], entry["api_version"])
    assert req.client_id == CLIENT_IDS[entry["client"]]
    body = req.body
    if req.api_key == ApiKey.API_VERSIONS and req.api_version >= 3:
        assert body["client_software_name"] in ("confluent-kafka-python", "kafka-python", "librdkafka")
        assert body["client_software_version"]
    if req.api_key == ApiKey.PRODUCE:
        assert body["acks"] in (-1, 1)
        partition = body["topic_data"][0]["partition_data"][0]
        assert body["topic_data"][0]["name"] == "golden"
        records = partition["records"]
        assert isinstance(records, memoryview)
        # Record batch v2 header: baseOffset int64, batchLength int32, leaderEpoch int32, magic int8.
        _, batch_length, _, magic = struct.unpack_from(">qiib", records, 0)
        assert magic == 2
        assert batch_length + 12 == len(records)
    if req.api_key == ApiKey.METADATA:
        assert body["allow_auto_topic_creation"] is True


def test_librdkafka_api_versions_probe_newer_than_supported() -> None:
    """librdkafka may probe with a newer ApiVersions than we know; the header must still parse."""
    entry = next(e for e in INDEX if e["client"] == "librdkafka" and e["api_key"] == ApiKey.API_VERSIONS)
    wire = bytearray((GOLDEN / entry["file"]).read_bytes())
    wire[6:8] = (5).to_bytes(2, "big")
    with pytest.raises(UnsupportedVersion) as info:
        decode_request(bytes(wire[4:]))
    assert info.value.api_key == ApiKey.API_VERSIONS
    assert info.value.correlation_id == int.from_bytes(wire[8:12], "big")
    assert info.value.client_id == "golden-rdkafka"
