"""SCRAM users whose names Kafka's ``Sanitizer`` encodes ('@', ':', '/', '+', ',', '=', non-ASCII):
made with ``logbroker users`` through one broker, stored under the encoded znode name, listed under the
real name on the other brokers and logging in there over SASL. Credentials an older logbroker wrote
under the name as typed are still read, moved to the encoded znode, and once deleted stay deleted."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from logbroker.cluster.zkserver import LocalZooKeeper
from logbroker.config_znodes import encode, sanitize
from logbroker.security.scram_store import from_password
from tests.cli.runner import run_cli
from tests.cluster.conftest import three_brokers, wait_until
from tests.cluster.integration.test_credentials_zookeeper import SASL, _logs_in

pytestmark = pytest.mark.logbroker_only("logbroker's ZooKeeper cluster mode (Kafka 4 has no ZooKeeper mode)")

NAMES = ["alice@example.com", "bob:ops", "team/carol", "josé", "dan+eve", "o=k,ay"]
# Written the way logbroker's first cluster release wrote them: the znode named by the name as typed.
LEGACY = {"legacy@old.example": "/config/users/legacy@old.example", "ops/legacy": "/config/users/ops/legacy",
          "plus+one": "/config/users/plus+one"}


def _password(name: str) -> str:
    return f"pw-{len(name)}-{name.encode().hex()[:8]}"


def _legacy_znode(zk: KazooClient, path: str, name: str) -> None:
    credential = from_password("SCRAM-SHA-512", _password(name), 4096)
    zk.create(path, encode({"SCRAM-SHA-512": credential.to_text()}), makepath=True)


def _users(port: int) -> list[str]:
    listed = run_cli("users", "list", "--bootstrap-server", f"127.0.0.1:{port}")
    assert listed.code == 0, listed
    return listed.lines


@pytest.mark.slow
def test_encoded_user_names_are_stored_encoded_listed_and_log_in_on_every_broker(
        zookeeper: LocalZooKeeper, zk_client: KazooClient, tmp_path: Path) -> None:
    for name, path in LEGACY.items():
        _legacy_znode(zk_client, path, name)
    with three_brokers(zookeeper, tmp_path, **SASL) as c:
        one, two, three = (c.brokers[i] for i in (1, 2, 3))
        # Moved at start: the encoded znode holds the credential, the name as typed is gone.
        children = set(zk_client.get_children("/config/users"))
        assert {sanitize(n) for n in LEGACY} <= children, children
        assert not {"legacy@old.example", "plus+one"} & children, children
        assert zk_client.exists("/config/users/ops/legacy") is None
        for name in NAMES:
            secret = tmp_path / "pw"
            secret.write_text(_password(name) + "\n")
            added = run_cli("users", "add", name, "--password-file", str(secret), "--mechanism", "SCRAM-SHA-512",
                            "--bootstrap-server", one.bootstrap)
            assert added.code == 0, added
            config = json.loads(zk_client.get(f"/config/users/{sanitize(name)}")[0])["config"]
            assert set(config) == {"SCRAM-SHA-512"}, (name, config)
        assert sanitize("team/carol") == "team%2Fcarol" and sanitize("josé") == "jos%C3%A9"
        assert zk_client.exists("/config/users/team/carol") is None  # never a path below "team"
        expected = sorted(f"{n} SCRAM-SHA-512=4096" for n in [*NAMES, *LEGACY])
        for b in (two, three):
            wait_until(functools.partial(lambda port: _users(port) == expected, b.port), 20,
                       f"every user listed on {b.port}")
        for name in [*NAMES, *LEGACY]:
            for b in (two, three):
                assert _logs_in(b, name, _password(name)), (name, b.port)
        assert not _logs_in(three, "josé", "wrong")

        # A credential written the old way by a broker not yet upgraded: read at the next notice, and
        # a deletion through a new broker removes it for good (moved first, then deleted).
        late = "late@old.example"
        _legacy_znode(zk_client, f"/config/users/{late}", late)
        zk_client.create("/config/changes/config_change_", json.dumps(
            {"version": 2, "entity_path": f"users/{late}"}).encode(), sequence=True)
        wait_until(lambda: _logs_in(two, late, _password(late)), 20, "the late legacy user logging in")
        for name in (late, "legacy@old.example", "team/carol"):
            deleted = run_cli("users", "delete", name, "--bootstrap-server", two.bootstrap)
            assert deleted.code == 0, deleted
        assert zk_client.exists(f"/config/users/{late}") is None
        for name in (late, "team/carol"):
            wait_until(functools.partial(lambda n: not _logs_in(three, n, _password(n)), name), 20, f"{name} refused")
        three.restart()  # reads every znode afresh: nothing deleted comes back
        assert not _logs_in(three, "legacy@old.example", _password("legacy@old.example"))
        assert _logs_in(three, "plus+one", _password("plus+one"))
        for b in c.brokers.values():
            assert "Traceback" not in b.log_path.read_text(), b.log_path
