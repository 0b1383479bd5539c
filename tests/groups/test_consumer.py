"""``logbroker/groups/consumer.py``: joins, incremental revocation, epochs, timeouts, static
members, errors, regex and metadata changes, with an injected clock and topic table."""

from __future__ import annotations

from logbroker.groups.classic_group import ClassicGroup, Member
from logbroker.groups.consumer import ConsumerGroups, Group, HeartbeatResult
from logbroker.groups.errors import GroupError, HeartbeatError
from logbroker.groups.settings import ConsumerGroupSettings

SETTINGS = ConsumerGroupSettings(session_timeout_ms=1000, heartbeat_interval_ms=100, assignors=("sticky", "range"))


def make(topics: dict[str, int] | None = None,
         classic: set[str] | None = None) -> tuple[ConsumerGroups, dict[str, int]]:
    """Consumer groups over a group map that holds a classic group with a member under each id of
    ``classic`` (the two protocols share one map)."""
    table = topics if topics is not None else {"t": 4}
    groups: dict[str, Group] = {}
    for group_id in classic or set():
        group = groups[group_id] = ClassicGroup(group_id)
        group.members["m"] = Member("m", None, "c", "h", 6000, 6000, "consumer", [("range", b"")])
    return ConsumerGroups(groups, lambda: table, SETTINGS), table


def join(c: ConsumerGroups, member: str = "", now: int = 0, **kw: object) -> HeartbeatResult:
    kw.setdefault("subscribed_topics", ["t"])
    return c.heartbeat("g", member, 0, now_ms=now, owned=[], rebalance_timeout_ms=500, **kw)  # type: ignore[arg-type]


def beat(c: ConsumerGroups, r: HeartbeatResult, owned: list[tuple[str, int]], now: int) -> HeartbeatResult:
    return c.heartbeat("g", r.member_id, r.member_epoch, now_ms=now, owned=owned)


def test_first_member_gets_everything_at_once() -> None:
    c, _ = make()
    r = join(c)
    assert r.error == 0 and r.member_id and r.member_epoch == 1
    assert r.assignment == [("t", 0), ("t", 1), ("t", 2), ("t", 3)]
    assert c.describe("g").state == "Stable"  # type: ignore[union-attr]


def test_a_groups_own_configs_replace_the_session_timeout_and_heartbeat_interval() -> None:
    """consumer.session.timeout.ms and consumer.heartbeat.interval.ms among a group's configs win
    over the broker's group.consumer.* values, for that group alone, from the next heartbeat on; a
    member's own session timeout (an HTTP member's) still wins over both."""
    c, _ = make()
    own: dict[str, dict[str, str]] = {"g": {"consumer.session.timeout.ms": "3000",
                                            "consumer.heartbeat.interval.ms": "250"}}
    c.configs_of = lambda group_id: own.get(group_id, {})
    a = join(c, "a")
    assert a.heartbeat_interval_ms == 250
    other = c.heartbeat("h", "x", 0, now_ms=0, subscribed_topics=["t"], owned=[], rebalance_timeout_ms=500)
    assert other.heartbeat_interval_ms == 100  # the settings' value: h sets none
    c.tick(2000)  # past the settings' 1000 ms, within the group's 3000
    assert [m.member_id for m in c.describe("g").members] == ["a"]  # type: ignore[union-attr]
    assert c.describe("h").members == ()  # type: ignore[union-attr]
    del own["g"]["consumer.heartbeat.interval.ms"]
    assert beat(c, a, a.assignment or [], 2100).heartbeat_interval_ms == 100
    b = join(c, "b", now=2100, session_timeout_ms=10_000)
    c.tick(5200)  # a silent past 3000 ms; b within its own 10 s
    assert [m.member_id for m in c.describe("g").members] == [b.member_id]  # type: ignore[union-attr]
    # A member's own session shorter than twice the group's interval: it is told a third of its session,
    # so its heartbeats (an HTTP member's long poll beats at the interval) keep it alive.
    own["g"]["consumer.heartbeat.interval.ms"] = "15000"
    short = join(c, "s", now=5300, session_timeout_ms=10_000)
    assert short.heartbeat_interval_ms == 3333
    # A heartbeat without a session of its own (a Kafka client's) is told the group's interval as it is.
    assert beat(c, b, b.assignment or [], 5400).heartbeat_interval_ms == 15000


def test_partition_moves_only_after_the_old_owner_confirms() -> None:
    c, _ = make()
    a = join(c, "a")
    held_a = a.assignment or []
    b = join(c, "b", now=10)
    assert b.assignment == [] and b.member_epoch == 2  # its share is still held by a
    a2 = beat(c, a, held_a, 20)
    assert a2.member_epoch == 1 and a2.assignment is not None and len(a2.assignment) == 2  # revoke, epoch kept
    b2 = beat(c, b, [], 30)
    assert b2.assignment is None  # still unreleased
    a3 = beat(c, a2, a2.assignment, 40)  # a confirms
    assert a3.member_epoch == 2
    b3 = beat(c, b2, [], 50)
    assert b3.assignment is not None and len(b3.assignment) == 2
    assert not set(b3.assignment) & set(a2.assignment)
    assert c.describe("g").state == "Stable"  # type: ignore[union-attr]


def test_null_owned_never_confirms_a_revocation() -> None:
    c, _ = make()
    a = join(c, "a")
    b = join(c, "b")
    a2 = beat(c, a, a.assignment or [], 10)
    c.heartbeat("g", "a", a2.member_epoch, now_ms=20, owned=None)
    assert beat(c, b, [], 30).assignment is None


def test_epochs_fence_and_retries_at_the_previous_epoch_are_accepted() -> None:
    c, _ = make()
    a = join(c, "a")
    assert c.heartbeat("g", "a", 7, now_ms=1).error == HeartbeatError.FENCED_MEMBER_EPOCH
    b = join(c, "b")
    a2 = beat(c, a, a.assignment or [], 10)
    a3 = beat(c, a2, a2.assignment or [], 20)
    assert a3.member_epoch == 2
    retry = c.heartbeat("g", "a", 1, now_ms=30, owned=a2.assignment)  # response lost: previous epoch
    assert retry.error == 0 and retry.assignment is not None
    assert c.heartbeat("g", "a", 0 - 0 + 5, now_ms=31).error == HeartbeatError.FENCED_MEMBER_EPOCH
    assert c.heartbeat("g", "zz", 1, now_ms=32).error == HeartbeatError.UNKNOWN_MEMBER_ID
    assert b.error == 0


def test_session_timeout_evicts_and_partitions_move() -> None:
    c, _ = make()
    a = join(c, "a")
    b = join(c, "b")
    a = beat(c, a, a.assignment or [], 10)
    a = beat(c, a, a.assignment or [], 20)
    b = beat(c, b, [], 30)
    c.tick(900)
    assert set(c.describe("g").members[i].member_id for i in range(2)) == {"a", "b"}  # type: ignore[union-attr]
    beat(c, a, a.assignment or [], 950)
    c.tick(1040)  # b silent since 30: expired; a alive
    assert [m.member_id for m in c.describe("g").members] == ["a"]  # type: ignore[union-attr]
    a2 = beat(c, a, a.assignment or [], 1050)
    assert a2.assignment is not None and len(a2.assignment) == 4


def test_rebalance_timeout_fences_a_member_that_keeps_revoked_partitions() -> None:
    c, _ = make()
    a = join(c, "a")
    b = join(c, "b")
    beat(c, a, a.assignment or [], 10)  # revocation starts; deadline 10 + 500
    for t in range(100, 600, 100):
        beat(c, b, [], t)
        c.heartbeat("g", "a", 1, now_ms=t, owned=a.assignment)  # keeps everything
    c.tick(600)
    assert [m.member_id for m in c.describe("g").members] == ["b"]  # type: ignore[union-attr]
    assert c.heartbeat("g", "a", 1, now_ms=610).error == HeartbeatError.UNKNOWN_MEMBER_ID


def test_leave_moves_partitions_at_once() -> None:
    c, _ = make()
    a = join(c, "a")
    b = join(c, "b")
    assert c.heartbeat("g", "a", -1, now_ms=5).member_epoch == -1
    b2 = beat(c, b, [], 10)
    assert b2.assignment is not None and len(b2.assignment) == 4
    c.leave("g", "b", 20)
    assert c.describe("g").state == "Empty"  # type: ignore[union-attr]
    assert a.error == 0


def test_static_member_comes_back_to_its_partitions() -> None:
    c, _ = make()
    a = join(c, "a", instance_id="i-1")
    b = join(c, "b", instance_id="i-2")
    a = beat(c, a, a.assignment or [], 10)
    held = a.assignment
    a = beat(c, a, held or [], 20)
    b = beat(c, b, [], 30)
    epoch = c.describe("g").group_epoch  # type: ignore[union-attr]
    assert c.heartbeat("g", "a", -2, now_ms=40, instance_id="i-1").member_epoch == -2
    assert join(c, "a-new", now=50, instance_id="i-2").error == HeartbeatError.UNRELEASED_INSTANCE_ID
    back = join(c, "a-new", now=60, instance_id="i-1")
    assert back.error == 0 and back.member_id == "a-new"
    assert back.assignment == held and back.member_epoch == a.member_epoch
    assert c.describe("g").group_epoch == epoch  # type: ignore[union-attr]


def test_errors() -> None:
    c, _ = make(classic={"classic"})
    assert join(c, assignor="nope").error == HeartbeatError.UNSUPPORTED_ASSIGNOR
    assert c.heartbeat("", "", 0, now_ms=0).error == HeartbeatError.INVALID_GROUP_ID
    assert c.heartbeat("classic", "", 0, now_ms=0, subscribed_topics=["t"]).error == HeartbeatError.GROUP_ID_NOT_FOUND
    assert join(c, subscribed_topics=None, subscribed_regex="(").error == HeartbeatError.INVALID_REGULAR_EXPRESSION
    assert c.heartbeat("g", "x", -2, now_ms=0).error == HeartbeatError.INVALID_REQUEST


def test_regex_and_new_topics_are_picked_up() -> None:
    c, table = make({"orders-1": 1, "other": 1, "__consumer_offsets": 2})
    a = join(c, "a", subscribed_topics=None, subscribed_regex="orders-.*")
    assert a.assignment == [("orders-1", 0)]
    table["orders-2"] = 2
    a2 = beat(c, a, a.assignment or [], 10)
    assert a2.assignment == [("orders-1", 0), ("orders-2", 0), ("orders-2", 1)]
    table["orders-2"] = 3
    c.tick(20)
    assert beat(c, a2, a2.assignment or [], 30).assignment == [("orders-1", 0), ("orders-2", 0), ("orders-2", 1),
                                                               ("orders-2", 2)]


def test_offset_commit_validation() -> None:
    c, _ = make()
    a = join(c, "a")
    group = c.group("g")
    assert group is not None and c.subscribed_topics("g") == {"t"}
    assert c.validate_commit(group, "a", a.member_epoch) is GroupError.NONE
    assert c.validate_commit(group, "a", a.member_epoch + 3) is GroupError.STALE_MEMBER_EPOCH
    assert c.validate_commit(group, "zz", 1) is GroupError.UNKNOWN_MEMBER_ID
    # Kafka: a commit from outside the group protocol (epoch -1, no member) only while the group is empty.
    assert c.validate_commit(group, "", -1) is GroupError.UNKNOWN_MEMBER_ID
    c.leave("g", "a", 1)
    assert c.validate_commit(group, "", -1) is GroupError.NONE


def test_error_codes_are_kafkas() -> None:
    from logbroker.kafka.error_codes import ErrorCode
    for e in HeartbeatError:
        assert ErrorCode[e.name] == e.value
