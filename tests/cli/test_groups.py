"""``logbroker groups`` and ``consume --group`` against a real broker process with its group coordinator."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer

from tests.cli.runner import Result, assert_clean_error, run_cli
from tests.conftest import ROOT, BrokerProcess, free_port
from tests.http.http_api import Api, assert_error


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    d = tmp_path_factory.mktemp("cli-groups")
    # No initial rebalance delay: every test joins a fresh group and would otherwise wait 3 s for it.
    b = BrokerProcess(data_dir=d / "data", log_path=d / "broker.log",
                      overrides={"group.initial.rebalance.delay.ms": "0"}).start()
    yield b
    b.stop()


def cli(broker: BrokerProcess, *args: str, input: bytes | None = None) -> Result:
    return run_cli(*args, "--bootstrap-server", broker.bootstrap, input=input)


def setup_topic(broker: BrokerProcess, topic: str, partitions: int, per_partition: int) -> None:
    assert cli(broker, "topics", "create", topic, "--partitions", str(partitions)).code == 0
    for p in range(partitions):
        lines = b"".join(b"%s-p%d-%d\n" % (topic.encode(), p, i) for i in range(per_partition))
        assert cli(broker, "produce", topic, "--partition", str(p), input=lines).code == 0


def describe_rows(broker: BrokerProcess, group: str) -> dict[tuple[str, int], dict[str, object]]:
    r = cli(broker, "groups", "describe", group, "--format", "json")
    assert r.code == 0, r
    return {(p["topic"], p["partition"]): p for p in json.loads(r.stdout)[0]["partitions"]}


def test_group_consume_commits_and_describe_shows_lag(shared: BrokerProcess) -> None:
    setup_topic(shared, "g-lag", 2, 5)
    r = cli(shared, "consume", "g-lag", "--group", "lag-group", "--from-beginning", "--timeout-ms", "1500")
    assert r.code == 0 and len(r.lines) == 10
    assert cli(shared, "produce", "g-lag", "--partition", "1", input=b"late-1\nlate-2\nlate-3\n").code == 0

    r = cli(shared, "groups", "describe", "lag-group")
    assert r.code == 0, r
    title, header, *rows = r.lines
    assert title == "Consumer group 'lag-group' (Empty, 0 member(s))"
    assert header.split() == ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG",
                              "CONSUMER-ID", "HOST", "CLIENT-ID"]
    assert [row.split() for row in rows] == [["lag-group", "g-lag", "0", "5", "5", "0", "-", "-", "-"],
                                             ["lag-group", "g-lag", "1", "5", "8", "3", "-", "-", "-"]]
    # The group resumes where it committed.
    r = cli(shared, "consume", "g-lag", "--group", "lag-group", "--timeout-ms", "1500")
    assert r.lines == ["late-1", "late-2", "late-3"]
    assert describe_rows(shared, "lag-group")[("g-lag", 1)]["lag"] == 0

    listed = json.loads(cli(shared, "groups", "list", "--format", "json").stdout)
    assert {"group": "lag-group", "state": "Empty", "protocol_type": "consumer"} in listed
    assert any(line.split()[:2] == ["lag-group", "Empty"] for line in cli(shared, "groups", "list").lines[1:])


def test_reset_offsets_dry_run_then_execute(shared: BrokerProcess) -> None:
    setup_topic(shared, "g-reset", 2, 10)
    assert cli(shared, "consume", "g-reset", "--group", "rg", "--from-beginning", "--timeout-ms", "1500").code == 0

    dry = cli(shared, "groups", "reset-offsets", "rg", "--topic", "g-reset", "--to-earliest")
    assert dry.code == 0 and "Dry run" in dry.stderr
    assert [line.split() for line in dry.lines] == [
        ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET"],
        ["rg", "g-reset", "0", "10", "0"], ["rg", "g-reset", "1", "10", "0"]]
    assert describe_rows(shared, "rg")[("g-reset", 0)]["current_offset"] == 10  # nothing moved

    r = cli(shared, "groups", "reset-offsets", "rg", "--topic", "g-reset:1", "--shift-by", "-4", "--execute",
            "--format", "json")
    assert r.code == 0, r
    assert json.loads(r.stdout) == {"group": "rg", "executed": True, "partitions": [
        {"topic": "g-reset", "partition": 1, "current_offset": 10, "new_offset": 6}]}
    assert cli(shared, "consume", "g-reset", "--group", "rg", "--timeout-ms", "1500").lines == [
        f"g-reset-p1-{i}" for i in range(6, 10)]

    assert cli(shared, "groups", "reset-offsets", "rg", "--all-topics", "--to-offset", "3", "--execute").code == 0
    rows = describe_rows(shared, "rg")
    assert rows[("g-reset", 0)]["current_offset"] == 3 and rows[("g-reset", 1)]["current_offset"] == 3
    assert cli(shared, "groups", "reset-offsets", "rg", "--all-topics", "--to-datetime", "2999-01-01T00:00:00Z",
               "--execute").code == 0
    assert describe_rows(shared, "rg")[("g-reset", 0)]["current_offset"] == 10
    assert cli(shared, "groups", "reset-offsets", "rg", "--all-topics", "--to-datetime", "2000-01-01T00:00:00",
               "--execute").code == 0
    assert describe_rows(shared, "rg")[("g-reset", 0)]["current_offset"] == 0
    assert cli(shared, "groups", "reset-offsets", "rg", "--all-topics", "--shift-by", "1000", "--execute").code == 0
    assert describe_rows(shared, "rg")[("g-reset", 1)]["current_offset"] == 10  # clamped to the log end

    assert_clean_error(cli(shared, "groups", "reset-offsets", "rg", "--all-topics"), "exactly one of")
    assert_clean_error(cli(shared, "groups", "reset-offsets", "rg", "--to-latest"), "--topic")
    assert_clean_error(cli(shared, "groups", "reset-offsets", "rg", "--topic", "nope", "--to-latest"),
                       "unknown topic 'nope'")
    assert_clean_error(cli(shared, "groups", "reset-offsets", "rg", "--all-topics", "--to-datetime", "yesterday"),
                       "ISO-8601")


def test_active_group_shows_members_and_refuses_reset_and_delete(shared: BrokerProcess) -> None:
    setup_topic(shared, "g-live", 1, 3)
    proc = subprocess.Popen([sys.executable, "-m", "logbroker.cli", "consume", "g-live", "--group", "live",
                             "--from-beginning", "--bootstrap-server", shared.bootstrap], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert [proc.stdout.readline() for _ in range(3)] == [b"g-live-p0-0\n", b"g-live-p0-1\n", b"g-live-p0-2\n"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the commit after the batch lands just after it is printed
            row = describe_rows(shared, "live")[("g-live", 0)]
            if row["current_offset"] == 3:
                break
            time.sleep(0.1)
        assert row["current_offset"] == 3 and row["lag"] == 0
        assert str(row["consumer_id"]) and row["client_id"] == "logbroker-cli"
        title = cli(shared, "groups", "describe", "live").lines[0]
        assert title == "Consumer group 'live' (Stable, 1 member(s))"
        assert_clean_error(cli(shared, "groups", "reset-offsets", "live", "--topic", "g-live", "--to-earliest",
                               "--execute"), "group 'live' is active")
        assert_clean_error(cli(shared, "groups", "delete", "live"), "cannot delete group 'live'")
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and b"Processed a total of 3 messages" in err

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the member's LeaveGroup empties the group
        if cli(shared, "groups", "describe", "live").lines[0].startswith("Consumer group 'live' (Empty"):
            break
        time.sleep(0.2)
    r = cli(shared, "groups", "delete", "live")
    assert r.code == 0 and r.stdout == "Deleted consumer group live.\n"
    assert "live" not in [g["group"] for g in json.loads(cli(shared, "groups", "list", "--format", "json").stdout)]
    assert_clean_error(cli(shared, "groups", "describe", "live"), "'live' does not exist")



def test_consumer_protocol_group_is_described_and_reset_like_a_classic_one(shared: BrokerProcess) -> None:
    """A KIP-848 group (librdkafka, group.protocol=consumer): the CLI and HTTP describe its member,
    assignment, offsets and lag, and both refuse to reset its offsets while the member is in it."""
    setup_topic(shared, "g848", 2, 5)
    api = Api(shared.http_port)
    consumer = Consumer({"bootstrap.servers": shared.bootstrap, "group.id": "kip848", "group.protocol": "consumer",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe(["g848"])
    try:
        seen = 0
        deadline = time.monotonic() + 30
        while seen < 10 and time.monotonic() < deadline:
            seen += len([m for m in consumer.consume(num_messages=100, timeout=0.2) if m.error() is None])
        assert seen == 10
        consumer.commit(asynchronous=False)
        member = consumer.memberid()

        r = cli(shared, "groups", "describe", "kip848", "--format", "json")
        assert r.code == 0, r
        info = json.loads(r.stdout)[0]
        assert (info["state"], info["members"]) == ("Stable", 1)
        rows = {p["partition"]: p for p in info["partitions"]}
        assert sorted(rows) == [0, 1]
        assert all(row["current_offset"] == 5 and row["lag"] == 0 and row["consumer_id"] == member
                   for row in rows.values())
        assert cli(shared, "groups", "describe", "kip848").lines[0] == "Consumer group 'kip848' (Stable, 1 member(s))"
        listed = {g["group"]: g for g in json.loads(cli(shared, "groups", "list", "--format", "json").stdout)}
        assert listed["kip848"]["state"] == "Stable"

        desc = api.get("/groups/kip848").body
        assert (desc["group_type"], desc["state"]) == ("consumer", "Stable")
        assert [m["member_id"] for m in desc["members"]] == [member]
        assert sorted(a["partition"] for a in desc["members"][0]["assignment"]) == [0, 1]
        assert {(o["partition"], o["committed_offset"], o["lag"], o["member_id"]) for o in desc["offsets"]} == {
            (0, 5, 0, member), (1, 5, 0, member)}

        assert_clean_error(cli(shared, "groups", "reset-offsets", "kip848", "--topic", "g848", "--to-earliest",
                               "--execute"), "group 'kip848' is active")
        assert_error(api.post("/groups/kip848/reset-offsets", {"strategy": "earliest"}), 409, "NON_EMPTY_GROUP")
        assert_clean_error(cli(shared, "groups", "delete", "kip848"), "cannot delete group 'kip848'")
    finally:
        consumer.close()

    deadline = time.monotonic() + 10
    while api.get("/groups/kip848").body["state"] != "Empty" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert cli(shared, "groups", "reset-offsets", "kip848", "--topic", "g848", "--to-earliest", "--execute").code == 0
    assert {o["partition"]: o["committed_offset"] for o in api.get("/groups/kip848").body["offsets"]} == {0: 0, 1: 0}
    reset = api.post("/groups/kip848/reset-offsets", {"strategy": "latest"})
    assert reset.status == 200 and [o["offset"] for o in reset.body["offsets"]] == [5, 5]


def test_http_member_group_is_described_by_the_cli(shared: BrokerProcess) -> None:
    """An HTTP member group is a consumer-protocol group: ``groups describe`` shows its member,
    assignment and lag, and reset-offsets is refused while the member is in the group."""
    setup_topic(shared, "g-http", 1, 4)
    api = Api(shared.http_port)
    joined = api.post("/groups/http-readers/members", {"topics": ["g-http"], "auto_offset_reset": "earliest",
                                                       "client_id": "curl"})
    assert joined.status == 200, joined.body
    member = joined.body["member_id"]
    polled = api.post(f"/groups/http-readers/members/{member}/poll?max_records=3")
    assert len(polled.body["records"]) == 3
    assert api.post(f"/groups/http-readers/members/{member}/commit").status == 200
    rows = describe_rows(shared, "http-readers")
    row = rows[("g-http", 0)]
    assert (row["current_offset"], row["log_end_offset"], row["lag"]) == (3, 4, 1)
    assert row["consumer_id"] == member and row["client_id"] == "curl"
    assert_clean_error(cli(shared, "groups", "reset-offsets", "http-readers", "--topic", "g-http", "--to-earliest",
                           "--execute"), "group 'http-readers' is active")
    assert api.delete(f"/groups/http-readers/members/{member}").status == 204
    assert cli(shared, "groups", "describe", "http-readers").lines[0] == \
        "Consumer group 'http-readers' (Empty, 0 member(s))"
    assert cli(shared, "groups", "reset-offsets", "http-readers", "--topic", "g-http", "--to-earliest",
               "--execute").code == 0

def test_pattern_subscription_in_a_group(shared: BrokerProcess) -> None:
    setup_topic(shared, "g-pat.a", 1, 2)
    setup_topic(shared, "g-pat.b", 1, 2)
    setup_topic(shared, "g-pat-not", 1, 2)
    r = cli(shared, "consume", "--pattern", r"g-pat\..", "--group", "pat", "--from-beginning", "--timeout-ms", "1500")
    assert r.code == 0, r
    assert sorted(r.lines) == ["g-pat.a-p0-0", "g-pat.a-p0-1", "g-pat.b-p0-0", "g-pat.b-p0-1"]
    assert set(describe_rows(shared, "pat")) == {("g-pat.a", 0), ("g-pat.b", 0)}


def test_unreachable_broker() -> None:
    r = run_cli("groups", "list", "--bootstrap-server", f"127.0.0.1:{free_port()}", "--command-timeout-ms", "500")
    assert_clean_error(r, "cannot reach a broker")


def test_describe_a_share_group(shared: BrokerProcess) -> None:
    """``groups describe`` of a share group (KIP-932): its type, state and members, and per partition
    the start offset in the current-offset column, the log end and the lag between them."""
    setup_topic(shared, "g-share", 1, 6)
    api = Api(shared.http_port)
    joined = api.post("/share-groups/crew/members", {"topics": ["g-share"], "auto_offset_reset": "earliest"})
    assert joined.status == 200, joined.body
    records = f"/share-groups/crew/members/{joined.body['member_id']}"
    got = api.get(f"{records}/records?max=4").body["records"]
    acks = [{"delivery_id": r["delivery_id"], "type": "accept"} for r in got[:2]]
    assert api.post(f"{records}/acks", {"acks": acks}).status == 200
    info = json.loads(cli(shared, "groups", "describe", "crew", "--format", "json").stdout)[0]
    assert (info["type"], info["state"], info["protocol"], info["members"]) == ("share", "Stable", "simple", 1)
    assert info["partitions"] == [{"group": "crew", "topic": "g-share", "partition": 0, "current_offset": 2,
                                   "log_end_offset": 6, "lag": 4, "consumer_id": "1 member(s)", "host": None,
                                   "client_id": None}]
    text = cli(shared, "groups", "describe", "crew")
    assert text.code == 0 and text.lines[0] == "Share group 'crew' (Stable, 1 member(s))"
    assert text.lines[2].split()[:6] == ["crew", "g-share", "0", "2", "6", "4"]
