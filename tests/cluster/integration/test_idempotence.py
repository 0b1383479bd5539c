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


@pytest.mark.slow
def test_batches_retried_at_a_new_leader_get_their_first_offsets(cluster: Cluster, zk_client: KazooClient) -> None:
    create_topic(cluster.bootstrap, "retried")
    wait_until(lambda: len(cluster.state(zk_client, "retried", 0)["isr"]) == 3, 30, "a full ISR")
    old = int(cluster.state(zk_client, "retried", 0)["leader"])
    with RawClient(cluster.brokers[old].port) as c:
        pid, epoch = init_pid(c)
        sent = [batch(pid, epoch, seq, tag=b"s%d-" % seq) for seq in (0, 3, 6, 9)]
        offsets = [produce(c, "retried", b)["base_offset"] for b in sent]  # acks=all: on every ISR member
    assert offsets == [0, 3, 6, 9]

    cluster.brokers[old].stop(signal.SIGTERM)  # a rolling restart's step
    wait_until(lambda: int(cluster.state(zk_client, "retried", 0)["leader"]) not in (-1, old), 30, "a new leader")
    new = int(cluster.state(zk_client, "retried", 0)["leader"])
    with RawClient(cluster.brokers[new].port) as c:
        def retried(b: bytes) -> dict[str, object]:
            # The new leader may answer NOT_LEADER_OR_FOLLOWER until it has applied the new state.
            answers: list[dict[str, object]] = []

            def taken() -> bool:
                answers.append(produce(c, "retried", b))
                return answers[-1]["error_code"] == 0

            wait_until(taken, 30, "the new leader taking the retry")
            return answers[-1]

        for seq, b, offset in zip((9, 3, 0), (sent[3], sent[1], sent[0]), (9, 3, 0), strict=True):
            answer = retried(b)
            assert answer["base_offset"] == offset, (seq, answer)
        assert end_offset(c, "retried") == 12  # nothing appended twice
        assert produce(c, "retried", batch(pid, epoch, 12))["base_offset"] == 12  # the sequence goes on
    cluster.brokers[old].start(same_ports=True)
