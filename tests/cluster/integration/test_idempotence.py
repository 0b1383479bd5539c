"""Retries of an idempotent producer's batches after a leader change, three real brokers.

Kafka keeps the metadata of each producer's last five batches in every replica's producer state, so
a batch retried at the new leader (its first answer lost with the old leader) is recognised as a
duplicate and answered with the offset it was first written at, never appended twice nor answered
without an offset (which librdkafka would report as a delivery without an offset)."""

from __future__ import annotations

import signal

import pytest
from kazoo.client import KazooClient

from tests.cluster.conftest import Cluster, wait_until
from tests.cluster.integration.test_replication import create_topic
from tests.interop.rawclient import RawClient
from tests.interop.test_protocol_edges import batch, end_offset, init_pid, produce


def taken(c: RawClient, records: bytes) -> dict[str, object]:
    """Produce ``records`` (acks=all) until the broker takes them. A broker may answer
    NOT_LEADER_OR_FOLLOWER or UNKNOWN_TOPIC_OR_PARTITION until it has applied the controller's latest
    state (a CreateTopics answer does not wait until every leader knows it leads, on Kafka either), and a
    client sends the same batch again, as Kafka's clients do on both errors."""
    def took() -> dict[str, object]:
        answer = produce(c, "retried", records)
        if answer["error_code"] != 0:
            raise AssertionError(f"refused: {answer}")  # wait_until reports the last one
        return answer

    return wait_until(took, 30, "the broker taking the batch")  # type: ignore[return-value]


@pytest.mark.slow
def test_batches_retried_at_a_new_leader_get_their_first_offsets(cluster: Cluster, zk_client: KazooClient) -> None:
    create_topic(cluster.bootstrap, "retried")
    wait_until(lambda: len(cluster.state(zk_client, "retried", 0)["isr"]) == 3, 30, "a full ISR")
    old = int(cluster.state(zk_client, "retried", 0)["leader"])
    with RawClient(cluster.brokers[old].port) as c:
        pid, epoch = init_pid(c)
        sent = [batch(pid, epoch, seq, tag=b"s%d-" % seq) for seq in (0, 3, 6, 9)]
        answers = [taken(c, b) for b in sent]  # acks=all: on every ISR member
    assert [a["base_offset"] for a in answers] == [0, 3, 6, 9], answers

    cluster.brokers[old].stop(signal.SIGTERM)  # a rolling restart's step
    wait_until(lambda: int(cluster.state(zk_client, "retried", 0)["leader"]) not in (-1, old), 30, "a new leader")
    new = int(cluster.state(zk_client, "retried", 0)["leader"])
    with RawClient(cluster.brokers[new].port) as c:
        for seq, b, offset in zip((9, 3, 0), (sent[3], sent[1], sent[0]), (9, 3, 0), strict=True):
            answer = taken(c, b)
            assert answer["base_offset"] == offset, (seq, answer)
        assert end_offset(c, "retried") == 12  # nothing appended twice
        assert produce(c, "retried", batch(pid, epoch, 12))["base_offset"] == 12  # the sequence goes on
    cluster.brokers[old].start(same_ports=True)
