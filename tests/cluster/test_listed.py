"""logbroker/cluster/listed.py: a topic's partitions are listed in one piece, never some of them."""

from __future__ import annotations

from logbroker.cluster.listed import ListedPartitions


def test_a_new_topic_is_listed_once_every_partition_is_seen() -> None:
    listed = ListedPartitions()
    seen: set[int] = set()
    assert listed.count("t", 3, seen.__contains__) == 0
    seen.update({0, 2})  # two of three first states read: still none listed
    assert listed.count("t", 3, seen.__contains__) == 0
    seen.add(1)
    assert listed.count("t", 3, seen.__contains__) == 3


def test_added_partitions_are_listed_once_all_of_them_are_seen() -> None:
    listed = ListedPartitions()
    seen = {0, 1}
    assert listed.count("t", 2, seen.__contains__) == 2
    seen.add(3)  # grown to 5; partitions 2 and 4 not seen yet: the old count stays
    assert listed.count("t", 5, seen.__contains__) == 2
    seen.update({2, 4})
    assert listed.count("t", 5, seen.__contains__) == 5


def test_a_topic_created_again_under_its_name_starts_unlisted() -> None:
    listed = ListedPartitions()
    assert listed.count("t", 2, lambda p: True) == 2
    listed.forget("t")
    assert listed.count("t", 2, lambda p: p == 0) == 0
    assert listed.count("other", 1, lambda p: True) == 1
