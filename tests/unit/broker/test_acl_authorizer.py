"""Kafka's StandardAuthorizer rules (allow, deny, implied DESCRIBE, literal, wildcard and
prefixed patterns, super users, no ACL found) and the ACL filters of DescribeAcls and
DeleteAcls, without a broker."""

from __future__ import annotations

import uuid

import pytest
from tidelog.broker.acl import authorizer as A
from tidelog.broker.acl import changes
from tidelog.broker.acl.authorizer import Authorizer, parse_super_users
from tidelog.metadata.image import EMPTY_IMAGE
from tidelog.metadata.records import AccessControlEntryRecord


def acl(name: str, op: int, perm: int = A.ALLOW, *, rtype: int = A.TOPIC,
        pattern: int = A.LITERAL, principal: str = "User:alice",
        host: str = "*") -> AccessControlEntryRecord:
    return AccessControlEntryRecord(uuid.uuid4(), rtype, name, pattern, principal, host, op,
                                    perm)


AUTH = Authorizer(parse_super_users("User:admin; User:ops"), allow_if_no_acl=False)


def ok(acls: list[AccessControlEntryRecord], op: int, name: str = "orders",
       principal: str = "User:alice", host: str = "10.0.0.1", rtype: int = A.TOPIC,
       auth: Authorizer = AUTH) -> bool:
    return auth.authorize(acls, principal, host, op, rtype, name)


def test_no_acl_means_no_access_and_super_users_bypass() -> None:
    assert not ok([], A.READ)
    assert ok([], A.READ, principal="User:admin") and ok([], A.ALTER, principal="User:ops")
    lenient = Authorizer(frozenset(), allow_if_no_acl=True)
    assert ok([], A.READ, auth=lenient)
    assert not ok([acl("orders", A.READ, principal="User:bob")], A.READ, auth=lenient)


def test_allow_and_implied_describe() -> None:
    acls = [acl("orders", A.WRITE)]
    assert ok(acls, A.WRITE) and ok(acls, A.DESCRIBE)
    assert not ok(acls, A.READ) and not ok(acls, A.DELETE)
    assert not ok(acls, A.WRITE, principal="User:bob")
    assert ok([acl("orders", A.ALL)], A.DELETE)
    assert ok([acl("orders", A.ALTER_CONFIGS)], A.DESCRIBE_CONFIGS)
    assert not ok([acl("orders", A.DESCRIBE)], A.READ)


def test_deny_wins_over_allow() -> None:
    acls = [acl("orders", A.ALL), acl("orders", A.WRITE, A.DENY)]
    assert not ok(acls, A.WRITE) and ok(acls, A.READ)
    assert not ok([acl("orders", A.READ), acl("*", A.ALL, A.DENY, principal="User:*")], A.READ)
    # a DENY of DESCRIBE does not refuse READ (implication works for ALLOW only)
    assert ok([acl("orders", A.READ), acl("orders", A.DESCRIBE, A.DENY)], A.READ)


def test_patterns_principals_and_hosts() -> None:
    prefixed = [acl("pay-", A.READ, pattern=A.PREFIXED)]
    assert ok(prefixed, A.READ, "pay-in") and not ok(prefixed, A.READ, "pa")
    assert ok([acl("*", A.READ)], A.READ, "anything")
    assert not ok([acl("pay-*", A.READ)], A.READ, "pay-in")  # literal, not a glob
    assert ok([acl("orders", A.READ, principal="User:*")], A.READ, principal="User:zed")
    assert ok([acl("orders", A.READ, host="10.0.0.1")], A.READ)
    assert not ok([acl("orders", A.READ, host="10.0.0.2")], A.READ)
    assert not ok([acl("orders", A.READ, rtype=A.GROUP)], A.READ)
    assert ok([acl("g", A.READ, rtype=A.GROUP)], A.READ, "g", rtype=A.GROUP)


def test_creation_checks_and_filters() -> None:
    good = {"resource_type": A.TOPIC, "resource_name": "t", "pattern_type": A.LITERAL,
            "principal": "User:alice", "host": "*", "operation": A.READ,
            "permission_type": A.ALLOW}
    bad = [dict(good, pattern_type=2), dict(good, operation=1), dict(good, principal="alice"),
           dict(good, resource_type=A.CLUSTER, resource_name="x"), dict(good, resource_type=9)]
    records, errors = changes.create(EMPTY_IMAGE, [good, good, *bad])
    assert len(records) == 1  # the duplicate is stored once
    assert errors[:2] == [None, None] and all(errors[2:])
    image = EMPTY_IMAGE.apply_all(records)
    any_filter = {"resource_type_filter": 1, "resource_name_filter": None,
                  "pattern_type_filter": 1, "principal_filter": None, "host_filter": None,
                  "operation": 1, "permission_type": 1}
    match = dict(any_filter, resource_name_filter="t", pattern_type_filter=2)
    other = dict(any_filter, principal_filter="User:bob")
    removals, found = changes.delete(image, [match, other])
    assert [len(f) for f in found] == [1, 0] and len(removals) == 1
    assert not image.apply_all(removals).acls


@pytest.mark.parametrize("name, selected", [("pay-in", True), ("pay", False), ("*", False)])
def test_match_filter_selects_patterns_that_apply(name: str, selected: bool) -> None:
    prefixed = acl("pay-", A.READ, pattern=A.PREFIXED)
    f = {"resource_type_filter": A.TOPIC, "resource_name_filter": name,
         "pattern_type_filter": 2, "principal_filter": None, "host_filter": None,
         "operation": 1, "permission_type": 1}
    assert changes.matches(prefixed, f) is selected
