"""Kafka's StandardAuthorizer, sans-I/O: does a principal from a host may do an operation on a
resource, given the ACLs of the metadata image.

Codes are Kafka's: resource types 2 TOPIC, 3 GROUP, 4 CLUSTER (named ``kafka-cluster``),
5 TRANSACTIONAL_ID; pattern types 3 LITERAL (the name, or ``*`` for every resource of the
type), 4 PREFIXED; operations 2 ALL, 3 READ, 4 WRITE, 5 CREATE, 6 DELETE, 7 ALTER,
8 DESCRIBE, 9 CLUSTER_ACTION, 10 DESCRIBE_CONFIGS, 11 ALTER_CONFIGS, 12 IDEMPOTENT_WRITE;
permissions 2 DENY, 3 ALLOW. Principals are ``User:NAME`` (``User:*`` matches any), hosts an
IP address or ``*``.

The rules, in order: a super user may do everything; an ACL matches when its resource type
is the resource's, its pattern covers the name, its principal and host match; any matching
DENY for the operation (or ALL) refuses; else a matching ALLOW grants, where ALLOW of READ,
WRITE, DELETE or ALTER also grants DESCRIBE and ALLOW of ALTER_CONFIGS grants
DESCRIBE_CONFIGS; else the answer is no, unless ``allow_everyone_if_no_acl_found`` and no ACL
at all matches the resource.
"""

from __future__ import annotations

from collections.abc import Iterable

from tidelog.metadata.records import AccessControlEntryRecord

TOPIC, GROUP, CLUSTER, TRANSACTIONAL_ID = 2, 3, 4, 5
LITERAL, PREFIXED = 3, 4
ALL, READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE = 2, 3, 4, 5, 6, 7, 8
CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE = 9, 10, 11, 12
DENY, ALLOW = 2, 3
CLUSTER_NAME = "kafka-cluster"
WILDCARD = "*"

#: An ALLOW of the key also allows these operations (Kafka's implied operations).
_IMPLIED = {DESCRIBE: (READ, WRITE, DELETE, ALTER), DESCRIBE_CONFIGS: (ALTER_CONFIGS,)}


def parse_super_users(text: str) -> frozenset[str]:
    """Kafka's ``super.users``: principals separated by ``;``."""
    return frozenset(p.strip() for p in text.split(";") if p.strip())


def _covers(acl: AccessControlEntryRecord, rtype: int, name: str) -> bool:
    if acl.resource_type != rtype:
        return False
    if acl.pattern_type == PREFIXED:
        return name.startswith(acl.resource_name)
    return acl.resource_name in (name, WILDCARD)


class Authorizer:
    def __init__(self, super_users: frozenset[str], allow_if_no_acl: bool) -> None:
        self.super_users = super_users
        self.allow_if_no_acl = allow_if_no_acl

    def authorize(
        self, acls: Iterable[AccessControlEntryRecord], principal: str, host: str,
        operation: int, rtype: int, name: str,
    ) -> bool:
        if principal in self.super_users:
            return True
        allowed = False
        any_acl = False
        implied = _IMPLIED.get(operation, ())
        for acl in acls:
            if not _covers(acl, rtype, name):
                continue
            any_acl = True
            if acl.principal not in (principal, "User:*") or acl.host not in (host, WILDCARD):
                continue
            if acl.permission_type == DENY:
                if acl.operation in (operation, ALL):
                    return False
            elif acl.operation in (operation, ALL) or acl.operation in implied:
                allowed = True
        return allowed or (not any_acl and self.allow_if_no_acl)
