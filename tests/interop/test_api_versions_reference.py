"""ApiVersions of logbroker beside Apache Kafka 4.1's, both asked at once: whichever broker the run
is for, this test starts the other one too, so the comparison is made against the real reference
rather than a copied table (docs/COMPATIBILITY.md lists the outcome)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from logbroker.kafka.api_keys import ApiKey
from tests.conftest import BrokerHandle, launch_broker
from tests.interop.rawclient import RawClient

pytestmark = pytest.mark.interop

# APIs Kafka 4.1 advertises on a single node's client listener that logbroker does not serve, and why.
NOT_SERVED = {
    24: "transactions are not supported (AddPartitionsToTxn)",
    25: "transactions are not supported (AddOffsetsToTxn)",
    26: "transactions are not supported (EndTxn)",
    27: "transactions are not supported (WriteTxnMarkers)",
    28: "transactions are not supported (TxnOffsetCommit)",
    38: "delegation tokens are not implemented",
    39: "delegation tokens are not implemented",
    40: "delegation tokens are not implemented",
    41: "delegation tokens are not implemented",
    55: "DescribeQuorum needs a KRaft quorum (answered UNSUPPORTED_VERSION, not advertised)",
    57: "feature flags (UpdateFeatures) belong to the KRaft controller",
    64: "UnregisterBroker belongs to the KRaft controller",
    80: "AddRaftVoter: KRaft quorum",
    81: "RemoveRaftVoter: KRaft quorum",
}
# APIs logbroker serves with a narrower range than Kafka 4.1's, and why (none today).
NARROWER: dict[int, str] = {}


def api_versions(port: int) -> dict[int, tuple[int, int]]:
    with RawClient(port) as c:
        body = c.call(ApiKey.API_VERSIONS, 3, {"client_software_name": "logbroker-tests",
                                               "client_software_version": "1"})
    assert body["error_code"] == 0, body
    return {k["api_key"]: (k["min_version"], k["max_version"]) for k in body["api_keys"]}


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, BrokerHandle]]:
    base = tmp_path_factory.mktemp("api-versions")
    started: dict[str, BrokerHandle] = {}
    try:
        for kind in ("logbroker", "kafka"):
            started[kind] = launch_broker(kind, Path(base) / kind, Path(base) / f"{kind}.log", {})
        yield started
    finally:
        for b in started.values():
            b.stop()


def test_every_api_logbroker_serves_is_within_kafkas_range(both: dict[str, BrokerHandle]) -> None:
    ours = api_versions(both["logbroker"].port)
    kafka = api_versions(both["kafka"].port)
    outside = {key: (ours[key], kafka.get(key)) for key in ours
               if key not in kafka or not (kafka[key][0] <= ours[key][0] <= ours[key][1] <= kafka[key][1])}
    assert outside == {}, "logbroker advertises versions Kafka 4.1 does not"
    narrower = {key for key in ours if ours[key] != kafka[key]}
    assert narrower <= set(NARROWER), {key: (ours[key], kafka[key]) for key in narrower - set(NARROWER)}


def test_every_api_kafka_serves_is_served_or_has_a_reason(both: dict[str, BrokerHandle]) -> None:
    ours = api_versions(both["logbroker"].port)
    kafka = api_versions(both["kafka"].port)
    missing = set(kafka) - set(ours)
    assert missing == set(NOT_SERVED), {"unexplained": sorted(missing - set(NOT_SERVED)),
                                        "served now or gone from Kafka": sorted(set(NOT_SERVED) - missing)}
