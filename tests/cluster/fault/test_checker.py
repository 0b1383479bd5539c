"""The queue checker on synthetic histories: a clean one passes, each kind of violation is found."""

from __future__ import annotations

from tests.cluster.fault.checker import NO_OFFSET, Ack, Consumed, History, Send, check


def clean() -> History:
    """Producer a sends a0..a3 to partition 0, b sends b0..b1 to partition 1; all acknowledged
    except a3 (never answered, yet written: allowed)."""
    h = History()
    h.sends = [Send(b"a%d" % i, 0, "a", i) for i in range(4)] + [Send(b"b%d" % i, 1, "b", i) for i in range(2)]
    h.acks = [Ack(b"a0", 0, 0), Ack(b"a1", 0, 1), Ack(b"a2", 0, 2), Ack(b"b0", 1, 0), Ack(b"b1", 1, 1)]
    h.final = {0: [(0, b"a0"), (1, b"a1"), (2, b"a2"), (3, b"a3")], 1: [(0, b"b0"), (1, b"b1")]}
    h.consumed = [Consumed(0, 0, b"a0"), Consumed(0, 1, b"a1"), Consumed(1, 0, b"b0")]
    h.commits = {0: [1, 2, 2, 4], 1: [1]}
    return h


def test_a_clean_history_has_no_violation() -> None:
    report = check(clean())
    assert report.ok, report.summary()
    assert (report.sent, report.acknowledged, report.final_records, report.consumed) == (6, 5, 6, 3)
    assert report.summary().startswith("ok: 5 acknowledged of 6 sent")


def test_an_unacknowledged_value_missing_is_not_a_loss() -> None:
    h = clean()
    h.final[0] = h.final[0][:3]
    assert check(h).ok


def test_an_acknowledged_value_missing_is_lost() -> None:
    h = clean()
    h.final[0] = [(0, b"a0"), (1, b"a2")]
    report = check(h)
    assert report.count("lost") == 1 and "a1" in report.violations["lost"][0]
    assert report.count("moved") == 1  # a2 was acknowledged at offset 2
    assert report.count("unstable_reads") == 1  # a consumer read a1 at offset 1
    assert not report.ok and "lost: 1" in report.summary()


def test_a_value_in_another_partition_counts_as_lost_from_its_own() -> None:
    h = clean()
    h.final[0] = [(0, b"a0"), (2, b"a2")]
    h.final[1] = h.final[1] + [(2, b"a1")]
    assert check(h).count("lost") == 1


def test_an_acknowledgement_without_an_offset_is_still_checked_for_loss_and_duplicates() -> None:
    h = clean()
    h.acks[2] = Ack(b"a2", 0, NO_OFFSET)  # librdkafka's implicit acknowledgement: no offset told
    report = check(h)
    assert report.ok and report.acknowledged_without_offset == 1, report.summary()
    h.final[0] = [(0, b"a0"), (1, b"a1"), (3, b"a3")]
    assert check(h).count("lost") == 1
    h.final[0] = [(0, b"a0"), (1, b"a1"), (2, b"a2"), (3, b"a3"), (4, b"a2")]
    assert check(h).count("duplicated") == 1


def test_a_value_written_twice_is_duplicated() -> None:
    h = clean()
    h.final[0] = h.final[0] + [(4, b"a1")]
    report = check(h)
    assert report.count("duplicated") == 1
    assert report.count("reordered") == 1  # a1 after a3 from the same producer
    assert report.count("lost") == 0 and report.count("moved") == 0  # a1 is still at its acked offset


def test_one_producers_values_out_of_order_are_reordered() -> None:
    h = clean()
    h.final[0] = [(0, b"a0"), (1, b"a2"), (2, b"a1"), (3, b"a3")]
    report = check(h)
    assert report.count("reordered") == 1
    assert report.count("moved") == 2
    # Different producers interleaving in one partition is not reordering.
    h2 = clean()
    h2.sends.append(Send(b"c0", 0, "c", 0))
    h2.final[0] = [(0, b"a0"), (1, b"a1"), (2, b"c0"), (3, b"a2")]
    h2.acks = [a for a in h2.acks if a.value != b"a2"]
    assert check(h2).ok


def test_a_value_nobody_sent_is_a_phantom() -> None:
    h = clean()
    h.final[1] = h.final[1] + [(2, b"zz")]
    assert check(h).count("phantom") == 1


def test_a_consumed_record_later_truncated_is_an_unstable_read() -> None:
    h = clean()
    h.consumed.append(Consumed(1, 2, b"b9"))
    report = check(h)
    assert report.count("unstable_reads") == 1 and "b9" in report.violations["unstable_reads"][0]


def test_committed_offsets_going_backwards_are_found() -> None:
    h = clean()
    h.commits[0] = [1, 3, 2, 5, 4]
    report = check(h)
    assert report.violations["offsets_backward"] == ["partition 0: 2 after 3", "partition 0: 4 after 5"]
