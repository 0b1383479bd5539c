"""Share groups keep the at-least-once contract across kill -9: records acquired but not
acknowledged when the broker dies are delivered again, each delivery counted, so the
delivery-count limit holds across crashes; acknowledged records never come back.

logbroker answers a ShareFetch only once the acquisitions' delivery counts are durable, which is
what lets this test kill the broker the moment the records arrive. (Kafka 4.1 does not write the
state on acquisition, so a crash there forgets the delivery: not compared with Kafka.)
"""

from __future__ import annotations

import signal

import pytest

from tests.conftest import BrokerProcess
from tests.interop.share_member import ACCEPT, ShareMember
from tests.interop.test_share_protocol import SHARE_FAST, drained, member, setup, start_offset

LIMIT = 3


@pytest.mark.slow
def test_acquired_records_survive_kill9_within_the_delivery_limit(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker: BrokerProcess = broker_factory(group_share_delivery_count_limit=str(LIMIT), **SHARE_FAST)
    tid = setup(broker, "work", 10, "crew")
    first = member(broker, "crew", "work", tid)
    got = first.fetch_until(tid, 10)
    assert got.values == {i: b"%d" % i for i in range(10)} and set(got.delivery_counts.values()) == {1}
    acked = first.acknowledge(tid, [(0, 4, ACCEPT)])
    assert acked["responses"][0]["partitions"][0]["error_code"] == 0  # answered once durable
    first.close()
    broker.restart(signal.SIGKILL)  # 5..9 acquired, not acknowledged

    for delivery in range(2, LIMIT + 1):
        m: ShareMember = member(broker, "crew", "work", tid)
        again = m.fetch_until(tid, 5)
        # Only the unacknowledged records, each with its deliveries counted, crashes included.
        assert again.values == {i: b"%d" % i for i in range(5, 10)}
        assert again.delivery_counts == dict.fromkeys(range(5, 10), delivery)
        m.close()
        broker.restart(signal.SIGKILL)  # killed the moment the records were handed out

    # The last delivery reached the limit: the records are archived, nothing is delivered again.
    last = member(broker, "crew", "work", tid)
    assert drained(last, tid)
    assert start_offset(broker, "crew", "work") == 10
    last.leave()
    last.close()
    assert "Traceback" not in broker.log_text()
