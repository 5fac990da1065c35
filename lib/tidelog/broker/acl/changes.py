"""CreateAcls, DescribeAcls and DeleteAcls over the ACLs of the metadata image (pure).

Filters are Kafka's AclBindingFilter: resource type 1 ANY, a null name matches any, pattern
type 1 ANY, 2 MATCH (every pattern that applies to the named resource: the literal name,
the literal ``*`` and prefixes of it), 3 LITERAL, 4 PREFIXED; a null principal or host
matches any; operation and permission 1 ANY. A creation must name one concrete ACL: a known
resource type, LITERAL or PREFIXED, an operation from ALL to IDEMPOTENT_WRITE (Kafka's
codes, see :mod:`.authorizer`), ALLOW or DENY, a ``Type:name`` principal, and for the
cluster the name ``kafka-cluster``; otherwise its result is INVALID_REQUEST and nothing of
it is stored. JSON arguments (they travel to the active controller) are lists of ACL fields.
"""

from __future__ import annotations

import uuid
from typing import Any

from tidelog.broker.acl.authorizer import CLUSTER, CLUSTER_NAME, LITERAL, PREFIXED, WILDCARD
from tidelog.metadata.image import MetadataImage
from tidelog.metadata.records import (
    AccessControlEntryRecord,
    MetadataRecord,
    RemoveAccessControlEntryRecord,
)

ANY, MATCH = 1, 2
FIELDS = ("resource_type", "resource_name", "pattern_type", "principal", "host", "operation",
          "permission_type")


def invalid(c: dict[str, Any]) -> str | None:
    """Why creation ``c`` cannot be stored (None: it can)."""
    if c["resource_type"] not in (2, 3, 4, 5):
        return f"resource type {c['resource_type']} is not TOPIC, GROUP, CLUSTER or " \
               "TRANSACTIONAL_ID"
    if c["pattern_type"] not in (LITERAL, PREFIXED):
        return "an ACL's pattern type is LITERAL or PREFIXED"
    if not 2 <= c["operation"] <= 12 or c["permission_type"] not in (2, 3):
        return "the operation or permission type is not a concrete one"
    principal = str(c["principal"])
    if ":" not in principal or not principal.split(":", 1)[1]:
        return f"principal {principal!r} is not TYPE:NAME"
    if not c["resource_name"] or not c["host"]:
        return "the resource name and the host must not be empty"
    if c["resource_type"] == CLUSTER and c["resource_name"] != CLUSTER_NAME:
        return f"the cluster resource is named {CLUSTER_NAME}"
    return None


def create(image: MetadataImage, creations: list[dict[str, Any]]
           ) -> tuple[list[MetadataRecord], list[str | None]]:
    """Records for the valid creations (an ACL already present is not stored twice) and,
    per creation, why it was refused or None."""
    present = {tuple(getattr(a, f) for f in FIELDS) for a in image.acls.values()}
    records: list[MetadataRecord] = []
    errors: list[str | None] = []
    for c in creations:
        why = invalid(c)
        errors.append(why)
        key = tuple(c[f] for f in FIELDS)
        if why is None and key not in present:
            present.add(key)
            records.append(AccessControlEntryRecord(uuid.uuid4(), *key))
    return records, errors


def matches(acl: AccessControlEntryRecord, f: Any) -> bool:
    """Whether ``acl`` is selected by filter ``f`` (a request's filter struct or dict)."""
    get = f.get if isinstance(f, dict) else lambda k: getattr(f, k)
    rtype, name, pattern = get("resource_type_filter"), get("resource_name_filter"), get(
        "pattern_type_filter")
    if rtype != ANY and acl.resource_type != rtype:
        return False
    if pattern == MATCH:
        if name is not None and not (
            (acl.pattern_type == LITERAL and acl.resource_name in (name, WILDCARD))
            or (acl.pattern_type == PREFIXED and name.startswith(acl.resource_name))
        ):
            return False
    else:
        if pattern != ANY and acl.pattern_type != pattern:
            return False
        if name is not None and acl.resource_name != name:
            return False
    principal, host = get("principal_filter"), get("host_filter")
    if principal is not None and acl.principal != principal:
        return False
    if host is not None and acl.host != host:
        return False
    op, perm = get("operation"), get("permission_type")
    return (op == ANY or acl.operation == op) and (perm == ANY or acl.permission_type == perm)


def delete(image: MetadataImage, filters: list[dict[str, Any]]
           ) -> tuple[list[MetadataRecord], list[list[dict[str, Any]]]]:
    """Removal records for every ACL some filter selects, and per filter the ACLs it
    selected (as field dicts)."""
    removed: set[uuid.UUID] = set()
    per_filter: list[list[dict[str, Any]]] = []
    for f in filters:
        found = [a for a in image.acls.values() if matches(a, f)]
        per_filter.append([{k: getattr(a, k) for k in FIELDS} for a in found])
        removed.update(a.acl_id for a in found)
    records: list[MetadataRecord] = [RemoveAccessControlEntryRecord(i) for i in sorted(removed)]
    return records, per_filter
