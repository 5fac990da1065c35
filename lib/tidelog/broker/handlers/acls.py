"""Handlers: DescribeAcls (29), CreateAcls (30), DeleteAcls (31), and the authorized
operations reported by Metadata, DescribeCluster and DescribeGroups.

With ``authorizer = "standard"`` the ACLs live in the metadata log (see
:mod:`tidelog.broker.acl`): CreateAcls stores each valid creation (INVALID_REQUEST for the
others), DeleteAcls removes what each filter selects and lists it, DescribeAcls lists the
selected ACLs grouped by resource pattern. Without an authorizer tidelog answers as Kafka does
without one: every ACL request gets SECURITY_DISABLED (on the response for DescribeAcls, on
every creation and every filter for the other two) and changes nothing. Asked for authorized
operations, a broker without an authorizer reports every operation the resource type supports
as allowed; with one, the operations the ACLs allow the request's principal from its host
(:func:`authorized_operations`, super users: all). The bit fields are Kafka's
(``1 << AclOperation code``) over ``AclEntry.supportedOperations``: 8 operations for a topic,
7 for the cluster, 3 for a group (what librdkafka's admin tests count).
"""

from __future__ import annotations

from tidelog.broker import session
from tidelog.broker.acl import changes as acl_changes
from tidelog.broker.core import BrokerCore
from tidelog.broker.handlers.base import Handler
from tidelog.broker.quorum import ops
from tidelog.protocol.apis import ApiKey
from tidelog.protocol.data import Struct
from tidelog.protocol.errors import ErrorCode
from tidelog.protocol.header import RequestHeader

# Kafka's AclOperation codes.
_READ, _WRITE, _CREATE, _DELETE, _ALTER, _DESCRIBE = 3, 4, 5, 6, 7, 8
_CLUSTER_ACTION, _DESCRIBE_CONFIGS, _ALTER_CONFIGS, _IDEMPOTENT_WRITE = 9, 10, 11, 12


def _bits(*operations: int) -> int:
    out = 0
    for op in operations:
        out |= 1 << op
    return out


#: Every operation on a topic, the cluster and a group, as a broker without authorizer reports.
TOPIC_OPERATIONS = _bits(_READ, _WRITE, _CREATE, _DELETE, _ALTER, _DESCRIBE, _DESCRIBE_CONFIGS,
                         _ALTER_CONFIGS)
CLUSTER_OPERATIONS = _bits(_CREATE, _ALTER, _DESCRIBE, _CLUSTER_ACTION, _DESCRIBE_CONFIGS,
                           _ALTER_CONFIGS, _IDEMPOTENT_WRITE)
GROUP_OPERATIONS = _bits(_READ, _DELETE, _DESCRIBE)
#: What the field carries when the client did not ask (Kafka's Integer.MIN_VALUE).
NOT_ASKED = -(1 << 31)
_TOPIC, _GROUP, _CLUSTER = 2, 3, 4


def authorized_operations(core: BrokerCore, resource_type: int, name: str) -> int:
    """The bit field of what the request's principal may do on a resource: every operation
    the type supports without an authorizer (Kafka's answer), else those the ACLs allow."""
    supported = {_TOPIC: TOPIC_OPERATIONS, _GROUP: GROUP_OPERATIONS,
                 _CLUSTER: CLUSTER_OPERATIONS}[resource_type]
    authorizer = core.authorizer
    if authorizer is None:
        return supported
    who = session.current()
    acls = core.image.acls.values()
    allowed = 0
    for op in range(supported.bit_length()):
        if supported >> op & 1 and authorizer.authorize(acls, who.principal, who.host, op,
                                                        resource_type, name):
            allowed |= 1 << op
    return allowed

_DISABLED = ErrorCode.SECURITY_DISABLED
_WHY = "no authorizer is configured: ACLs are not supported"
_FIELDS = acl_changes.FIELDS


async def describe_acls(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    if core.authorizer is None:
        return Struct(throttle_time_ms=0, error_code=int(_DISABLED), error_message=_WHY,
                      resources=[])
    groups: dict[tuple[int, str, int], list[Struct]] = {}
    for acl in sorted(core.image.acls.values(), key=lambda a: str(a.acl_id)):
        if acl_changes.matches(acl, req):
            groups.setdefault((acl.resource_type, acl.resource_name, acl.pattern_type), []).append(
                Struct(principal=acl.principal, host=acl.host, operation=acl.operation,
                       permission_type=acl.permission_type))
    return Struct(throttle_time_ms=0, error_code=0, error_message=None, resources=[
        Struct(resource_type=t, resource_name=n, pattern_type=p, acls=acls)
        for (t, n, p), acls in sorted(groups.items())
    ])


def describe_acls_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(error_code=int(code), error_message=code.message, resources=[])


async def create_acls(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    if core.authorizer is None:
        return Struct(throttle_time_ms=0, results=[
            Struct(error_code=int(_DISABLED), error_message=_WHY) for _ in req.creations
        ])
    creations = [{
        "resource_type": c.resource_type, "resource_name": c.resource_name,
        "pattern_type": c.resource_pattern_type, "principal": c.principal, "host": c.host,
        "operation": c.operation, "permission_type": c.permission_type,
    } for c in req.creations]
    errors = await ops.change_acls(core, "create_acls", {"creations": creations})
    bad = int(ErrorCode.INVALID_REQUEST)
    return Struct(throttle_time_ms=0, results=[
        Struct(error_code=0, error_message=None) if why is None
        else Struct(error_code=bad, error_message=why) for why in errors
    ])


def create_acls_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(results=[Struct(error_code=int(code), error_message=code.message)
                           for _ in req.creations])


async def delete_acls(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    if core.authorizer is None:
        return Struct(throttle_time_ms=0, filter_results=[
            Struct(error_code=int(_DISABLED), error_message=_WHY, matching_acls=[])
            for _ in req.filters
        ])
    filters = [{k: getattr(f, k) for k in (
        "resource_type_filter", "resource_name_filter", "pattern_type_filter",
        "principal_filter", "host_filter", "operation", "permission_type")} for f in req.filters]
    found = await ops.change_acls(core, "delete_acls", {"filters": filters})
    return Struct(throttle_time_ms=0, filter_results=[
        Struct(error_code=0, error_message=None, matching_acls=[
            Struct(error_code=0, error_message=None, **acl) for acl in acls])
        for acls in found
    ])


def delete_acls_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(filter_results=[
        Struct(error_code=int(code), error_message=code.message, matching_acls=[])
        for _ in req.filters
    ])


HANDLERS = {
    ApiKey.DESCRIBE_ACLS: Handler(describe_acls, describe_acls_fallback),
    ApiKey.CREATE_ACLS: Handler(create_acls, create_acls_fallback),
    ApiKey.DELETE_ACLS: Handler(delete_acls, delete_acls_fallback),
}
