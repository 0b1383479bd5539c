"""The authorizer's semantics (logbroker/security/authorizer.py), against a plain in-memory store and the file store."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logbroker.security.acl import (
    CLUSTER_NAME,
    AccessControlEntry,
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    PatternType,
    ResourcePattern,
    ResourceType,
)
from logbroker.security.acl_file import AclFile
from logbroker.security.authorizer import AllowEverything, Authorizer, host_of, parse_super_users
from logbroker.security.principal import ANONYMOUS, Principal

Op, Res, Pat = AclOperation, ResourceType, PatternType
ALLOW, DENY = AclPermissionType.ALLOW, AclPermissionType.DENY
ALICE, BOB = Principal.user("alice"), Principal.user("bob")
HOST = "10.0.0.1"


def acl(name: str, op: AclOperation, *, who: str = "User:alice", perm: AclPermissionType = ALLOW,
        rtype: ResourceType = Res.TOPIC, pattern: PatternType = Pat.LITERAL, host: str = "*") -> AclBinding:
    return AclBinding(ResourcePattern(rtype, name, pattern), AccessControlEntry(who, host, op, perm))


class MemoryStore:
    def __init__(self) -> None:
        self.saved: set[AclBinding] = set()
        self.saves = 0

    def load(self) -> set[AclBinding]:
        return set(self.saved)

    def update(self, after: set[AclBinding], added: set[AclBinding], removed: set[AclBinding]) -> None:
        assert added.isdisjoint(self.saved) and removed <= self.saved
        self.saved = set(after)
        self.saves += 1


def authorizer(*acls: AclBinding, **kw: object) -> Authorizer:
    a = Authorizer(MemoryStore(), **kw)  # type: ignore[arg-type]
    assert a.create_acls(list(acls)) == [None] * len(acls)
    return a


def can(a: Authorizer, op: AclOperation, name: str, who: Principal = ALICE, rtype: ResourceType = Res.TOPIC,
        host: str = HOST) -> bool:
    return a.authorize(who, host, op, rtype, name)


def test_no_acl_refuses_by_default_and_allow_everyone_opens_only_unnamed_resources() -> None:
    assert not can(authorizer(), Op.READ, "t")
    open_ = authorizer(acl("named", Op.READ, who="User:bob"), allow_if_no_acl=True)
    assert can(open_, Op.READ, "t")
    # An ACL on the resource (for anyone) means the default no longer applies.
    assert not can(open_, Op.READ, "named")
    assert can(open_, Op.READ, "named", who=BOB)


def test_literal_allow_is_exact_and_per_principal_and_operation() -> None:
    a = authorizer(acl("orders", Op.READ))
    assert can(a, Op.READ, "orders")
    assert not can(a, Op.READ, "orders2")
    assert not can(a, Op.WRITE, "orders")
    assert not can(a, Op.READ, "orders", who=BOB)
    assert not can(a, Op.READ, "orders", rtype=Res.GROUP)


def test_implied_operations_only_for_allow() -> None:
    a = authorizer(acl("t", Op.WRITE), acl("c", Op.ALTER_CONFIGS))
    assert can(a, Op.DESCRIBE, "t")
    assert not can(a, Op.READ, "t")
    assert can(a, Op.DESCRIBE_CONFIGS, "c")
    assert not can(a, Op.DESCRIBE, "c")  # ALTER_CONFIGS implies DESCRIBE_CONFIGS only
    for op in (Op.READ, Op.DELETE, Op.ALTER):
        assert can(authorizer(acl("x", op)), Op.DESCRIBE, "x")
    # A DENY of READ does not deny DESCRIBE (implications are for ALLOW only).
    b = authorizer(acl("t", Op.ALL), acl("t", Op.READ, perm=DENY))
    assert not can(b, Op.READ, "t")
    assert can(b, Op.DESCRIBE, "t")
    assert can(b, Op.WRITE, "t")


def test_all_covers_every_operation_and_deny_wins() -> None:
    a = authorizer(acl("t", Op.ALL), acl("t", Op.WRITE, perm=DENY))
    assert can(a, Op.READ, "t") and can(a, Op.DELETE, "t")
    assert not can(a, Op.WRITE, "t")
    denied_all = authorizer(acl("t", Op.READ), acl("t", Op.ALL, perm=DENY))
    assert not can(denied_all, Op.READ, "t")
    assert not can(denied_all, Op.DESCRIBE, "t")


def test_prefixed_patterns_and_the_wildcard_name() -> None:
    a = authorizer(acl("tenant-a.", Op.READ, pattern=Pat.PREFIXED), acl("*", Op.DESCRIBE, who="User:bob"))
    assert can(a, Op.READ, "tenant-a.orders")
    assert can(a, Op.READ, "tenant-a.")
    assert not can(a, Op.READ, "tenant-b.orders")
    assert not can(a, Op.READ, "tenant-a")
    assert can(a, Op.DESCRIBE, "anything", who=BOB)
    # A literal ACL named like a prefix is not a prefix.
    literal = authorizer(acl("tenant-a.", Op.READ))
    assert not can(literal, Op.READ, "tenant-a.orders")


def test_prefixed_deny_overrides_a_literal_allow() -> None:
    a = authorizer(acl("secret.x", Op.READ), acl("secret.", Op.READ, perm=DENY, pattern=Pat.PREFIXED))
    assert not can(a, Op.READ, "secret.x")


def test_wildcard_principal_and_host() -> None:
    a = authorizer(acl("t", Op.READ, who="User:*"), acl("t", Op.WRITE, host="10.0.0.2"))
    assert can(a, Op.READ, "t", who=BOB)
    assert can(a, Op.READ, "t", who=ANONYMOUS)
    assert not can(a, Op.WRITE, "t", host=HOST)
    assert can(a, Op.WRITE, "t", host="10.0.0.2")
    everyone_denied = authorizer(acl("t", Op.READ), acl("t", Op.READ, who="User:*", perm=DENY))
    assert not can(everyone_denied, Op.READ, "t")


def test_super_users_may_do_everything_even_against_deny() -> None:
    a = authorizer(acl("t", Op.ALL, who="User:admin", perm=DENY), super_users={"User:admin"})
    admin = Principal.user("admin")
    assert can(a, Op.DELETE, "t", who=admin)
    assert can(a, Op.ALTER, CLUSTER_NAME, who=admin, rtype=Res.CLUSTER)
    assert not can(a, Op.READ, "t")
    assert parse_super_users(" User:a ; User:b;") == {"User:a", "User:b"}


def test_authorized_operations_bit_field() -> None:
    a = authorizer(acl("t", Op.WRITE))
    bits = a.authorized_operations(ALICE, HOST, Res.TOPIC, "t")
    assert bits == (1 << Op.WRITE) | (1 << Op.DESCRIBE)
    assert a.authorized_operations(BOB, HOST, Res.TOPIC, "t") == 0
    everything = AllowEverything().authorized_operations(ANONYMOUS, HOST, Res.TOPIC, "t")
    assert everything == sum(1 << op for op in (Op.READ, Op.WRITE, Op.CREATE, Op.DESCRIBE, Op.DELETE, Op.ALTER,
                                                 Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS))


def test_the_rules_both_fronts_share() -> None:
    """CreateTopics: CREATE on the cluster or the topic. ListGroups: DESCRIBE on the cluster lists every
    group, else only the describable ones (READ implies DESCRIBE)."""
    a = authorizer(acl("a.", Op.CREATE, pattern=Pat.PREFIXED), acl("g1", Op.READ, rtype=Res.GROUP),
                   acl(CLUSTER_NAME, Op.CREATE, who="User:bob", rtype=Res.CLUSTER),
                   acl(CLUSTER_NAME, Op.DESCRIBE, who="User:bob", rtype=Res.CLUSTER))
    assert a.may_create_topic(ALICE, HOST, "a.t") and not a.may_create_topic(ALICE, HOST, "b.t")
    assert a.may_create_topic(BOB, HOST, "b.t")
    assert a.listable_groups(ALICE, HOST, ["g1", "g2"]) == ["g1"]
    assert a.listable_groups(BOB, HOST, ["g1", "g2"]) == ["g1", "g2"]
    assert AllowEverything().listable_groups(ANONYMOUS, HOST, iter(["g"])) == ["g"]


def test_authorize_any_follows_kafkas_by_resource_type_rule() -> None:
    assert authorizer(acl("t", Op.WRITE)).authorize_any(ALICE, HOST, Op.WRITE, Res.TOPIC)
    assert not authorizer(acl("t", Op.READ)).authorize_any(ALICE, HOST, Op.WRITE, Res.TOPIC)
    assert not authorizer(acl("t", Op.WRITE), acl("t", Op.WRITE, perm=DENY)).authorize_any(
        ALICE, HOST, Op.WRITE, Res.TOPIC)
    assert not authorizer(acl("pre.x", Op.WRITE), acl("pre", Op.WRITE, perm=DENY, pattern=Pat.PREFIXED)
                          ).authorize_any(ALICE, HOST, Op.WRITE, Res.TOPIC)
    assert not authorizer(acl("t", Op.WRITE), acl("*", Op.WRITE, perm=DENY)).authorize_any(
        ALICE, HOST, Op.WRITE, Res.TOPIC)
    assert authorizer(acl("*", Op.WRITE)).authorize_any(ALICE, HOST, Op.WRITE, Res.TOPIC)
    assert authorizer(super_users={"User:alice"}).authorize_any(ALICE, HOST, Op.WRITE, Res.TOPIC)


def test_filters_literal_prefixed_any_and_match() -> None:
    lit, pre, wild = acl("foo.bar", Op.READ), acl("foo", Op.READ, pattern=Pat.PREFIXED), acl("*", Op.READ)
    other = acl("g", Op.READ, rtype=Res.GROUP, who="User:bob", perm=DENY)
    a = authorizer(lit, pre, wild, other)
    assert a.acls(AclBindingFilter()) == sorted([lit, pre, wild, other])
    assert a.acls(AclBindingFilter(Res.TOPIC, "foo.bar", Pat.LITERAL)) == [lit]
    assert a.acls(AclBindingFilter(Res.TOPIC, "foo", Pat.ANY)) == [pre]
    assert set(a.acls(AclBindingFilter(Res.TOPIC, "foo.bar", Pat.MATCH))) == {lit, pre, wild}
    assert a.acls(AclBindingFilter(Res.TOPIC, None, Pat.PREFIXED)) == [pre]
    assert a.acls(AclBindingFilter(principal="User:bob")) == [other]
    assert a.acls(AclBindingFilter(permission=DENY)) == [other]
    assert a.acls(AclBindingFilter(operation=Op.WRITE)) == []


def test_delete_returns_what_each_filter_matched_and_removes_it() -> None:
    a = authorizer(acl("t", Op.READ), acl("t", Op.WRITE), acl("u", Op.READ))
    matched = a.delete_acls([AclBindingFilter(Res.TOPIC, "t", Pat.LITERAL, operation=Op.READ),
                             AclBindingFilter(Res.TOPIC, "t", Pat.LITERAL), AclBindingFilter(Res.GROUP)])
    assert matched[0] == [acl("t", Op.READ)]
    assert set(matched[1]) == {acl("t", Op.READ), acl("t", Op.WRITE)}
    assert matched[2] == []
    assert a.acls() == [acl("u", Op.READ)]
    assert not can(a, Op.WRITE, "t")


@pytest.mark.parametrize(("binding", "message"), [
    (acl("other", Op.ALTER, rtype=Res.CLUSTER), "The only valid name for the CLUSTER resource is kafka-cluster"),
    (acl("", Op.READ), "Invalid empty resource name"),
    (acl("t", Op.READ, who="alice"), "Could not parse principal"),
    (acl("t", Op.ANY), "Invalid operation"),
    (acl("t", Op.READ, perm=AclPermissionType.ANY), "Invalid permissionType"),
    (acl("t", Op.READ, pattern=Pat.MATCH), "Invalid patternType"),
    (acl("t", Op.READ, rtype=Res.ANY), "Invalid resourceType"),
])
def test_invalid_bindings_are_refused_and_the_rest_created(binding: AclBinding, message: str) -> None:
    store = MemoryStore()
    a = Authorizer(store)
    results = a.create_acls([binding, acl("ok", Op.READ)])
    assert results[0] is not None and message in str(results[0])
    assert results[1] is None
    assert a.acls() == [acl("ok", Op.READ)] and store.saved == {acl("ok", Op.READ)}


def test_the_store_is_written_once_per_change_and_not_for_a_repeat() -> None:
    store = MemoryStore()
    a = Authorizer(store)
    a.create_acls([acl("t", Op.READ), acl("u", Op.READ)])
    a.create_acls([acl("t", Op.READ)])
    assert store.saves == 1


def test_acls_survive_in_the_data_directory(tmp_path: Path) -> None:
    bindings = [acl("t", Op.READ),
                acl("tenant.", Op.ALL, pattern=Pat.PREFIXED, perm=DENY, host="10.1.1.1"),
                acl(CLUSTER_NAME, Op.IDEMPOTENT_WRITE, rtype=Res.CLUSTER),
                acl("txn", Op.WRITE, rtype=Res.TRANSACTIONAL_ID), acl("g", Op.DESCRIBE_CONFIGS, rtype=Res.GROUP)]
    first = Authorizer(AclFile(tmp_path))
    first.create_acls(bindings)
    again = Authorizer(AclFile(tmp_path))
    assert again.acls() == sorted(bindings)
    assert can(again, Op.READ, "t") and not can(again, Op.READ, "tenant.x", host="10.1.1.1")
    assert not (tmp_path / "acls.json.tmp").exists()


def test_an_unreadable_entry_is_skipped_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "acls.json").write_text('{"version": 1, "acls": [{"resourceType": "Nope"}, '
                                        '{"resourceType": "Topic", "name": "t", "patternType": "LITERAL", '
                                        '"principal": "User:alice", "host": "*", "operation": "Read", '
                                        '"permission": "Allow"}]}')
    assert Authorizer(AclFile(tmp_path)).acls() == [acl("t", Op.READ)]


def test_host_of_peer_addresses() -> None:
    assert host_of("127.0.0.1:5555") == "127.0.0.1"
    assert host_of("[::1]:5555") == "::1"


def model_authorize(acls: list[AclBinding], who: Principal, host: str, op: AclOperation, rtype: ResourceType,
                    name: str, allow_if_no_acl: bool) -> bool:
    """The rule as docs/SECURITY.md states it, over a plain list: the authorizer's index must agree."""
    applying = [a for a in acls if a.pattern.matches(rtype, name)]
    matching = [a for a in applying
                if a.entry.principal in (str(who), "User:*") and a.entry.host in (host, "*")
                and (a.entry.operation in (op, Op.ALL)
                     or (a.entry.permission == ALLOW and op == Op.DESCRIBE
                         and a.entry.operation in (Op.READ, Op.WRITE, Op.DELETE, Op.ALTER))
                     or (a.entry.permission == ALLOW and op == Op.DESCRIBE_CONFIGS
                         and a.entry.operation == Op.ALTER_CONFIGS))]
    if any(a.entry.permission == DENY for a in matching):
        return False
    return bool(matching) or (not applying and allow_if_no_acl)


NAMES = ["a", "ab", "abc", "b", "*", "ba"]
acl_strategy = st.builds(
    lambda name, pattern, who, host, op, perm: acl(name, op, who=who, perm=perm, pattern=pattern, host=host),
    st.sampled_from(NAMES), st.sampled_from([Pat.LITERAL, Pat.PREFIXED]),
    st.sampled_from(["User:alice", "User:bob", "User:*"]), st.sampled_from(["*", HOST, "10.9.9.9"]),
    st.sampled_from([Op.ALL, Op.READ, Op.WRITE, Op.DESCRIBE, Op.ALTER_CONFIGS, Op.DESCRIBE_CONFIGS]),
    st.sampled_from([ALLOW, DENY]))


@settings(max_examples=300, deadline=None)
@given(st.lists(acl_strategy, max_size=8), st.sampled_from([*NAMES[:4], "abcd", "c"]),
       st.sampled_from([Op.READ, Op.WRITE, Op.DESCRIBE, Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS]),
       st.sampled_from([ALICE, BOB]), st.booleans())
def test_the_index_agrees_with_the_plain_rule(acls: list[AclBinding], name: str, op: AclOperation,
                                              who: Principal, allow_if_no_acl: bool) -> None:
    a = Authorizer(MemoryStore(), allow_if_no_acl=allow_if_no_acl)
    a.create_acls(acls)
    assert a.authorize(who, HOST, op, Res.TOPIC, name) == model_authorize(
        sorted(set(acls)), who, HOST, op, Res.TOPIC, name, allow_if_no_acl)
