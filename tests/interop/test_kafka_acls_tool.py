"""kafka-acls (Kafka's ``org.apache.kafka.tools.AclCommand``) against the broker under test.

The broker runs with an authorizer and ``super.users=User:ANONYMOUS`` so the tool, connecting over
PLAINTEXT, may manage ACLs. What it prints is read back and compared for logbroker and Apache Kafka alike.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import BrokerFactory
from tests.interop.kafka_java import Java, kafka_java  # noqa: F401 - the fixture

pytestmark = [pytest.mark.interop, pytest.mark.java]

ACLS = "org.apache.kafka.tools.AclCommand"
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def entries(out: str) -> set[tuple[str, str, str, str, str]]:
    """(resource, principal, host, operation, permission) of every ACL in kafka-acls --list output."""
    found: set[tuple[str, str, str, str, str]] = set()
    resource = ""
    for line in out.splitlines():
        head = re.search(r"resource `ResourcePattern\(resourceType=(\w+), name=(.*), patternType=(\w+)\)`", line)
        if head:
            resource = f"{head.group(1)}:{head.group(3)}:{head.group(2)}"
            continue
        acl = re.search(r"\(principal=(\S+), host=(\S+), operation=(\w+), permissionType=(\w+)\)", line)
        if acl and resource:
            principal, host, operation, permission = acl.groups()
            found.add((resource, principal, host, operation, permission))
    return found


def test_add_list_and_remove(broker_factory: BrokerFactory, kafka_java: Java) -> None:  # noqa: F811
    b = broker_factory(authorizer_class_name=AUTHORIZER, super_users="User:ANONYMOUS")

    def acls(*args: str) -> str:
        return kafka_java.tool(ACLS, "--bootstrap-server", b.bootstrap, *args).stdout

    acls("--add", "--allow-principal", "User:alice", "--operation", "Read", "--topic", "orders")
    acls("--add", "--allow-principal", "User:bob", "--operation", "Write", "--topic", "tenant-b.",
         "--resource-pattern-type", "prefixed")
    acls("--add", "--deny-principal", "User:bob", "--operation", "Read", "--group", "audit")
    listed = entries(acls("--list"))
    assert listed == {
        ("TOPIC:LITERAL:orders", "User:alice", "*", "READ", "ALLOW"),
        ("TOPIC:PREFIXED:tenant-b.", "User:bob", "*", "WRITE", "ALLOW"),
        ("GROUP:LITERAL:audit", "User:bob", "*", "READ", "DENY"),
    }
    # MATCH: every pattern that applies to the named topic.
    matching = entries(acls("--list", "--topic", "tenant-b.payments", "--resource-pattern-type", "match"))
    assert matching == {("TOPIC:PREFIXED:tenant-b.", "User:bob", "*", "WRITE", "ALLOW")}
    assert entries(acls("--list", "--topic", "orders")) == {("TOPIC:LITERAL:orders", "User:alice", "*", "READ",
                                                              "ALLOW")}
    acls("--remove", "--allow-principal", "User:alice", "--operation", "Read", "--topic", "orders", "--force")
    after = entries(acls("--list"))
    assert not any(e[0] == "TOPIC:LITERAL:orders" for e in after)
    assert ("GROUP:LITERAL:audit", "User:bob", "*", "READ", "DENY") in after


def test_without_an_authorizer_the_tool_is_told_security_is_disabled(
        broker_factory: BrokerFactory, kafka_java: Java) -> None:  # noqa: F811
    b = broker_factory()
    proc = kafka_java.tool(ACLS, "--bootstrap-server", b.bootstrap, "--list", check=False)
    assert "SecurityDisabledException" in proc.stdout + proc.stderr
