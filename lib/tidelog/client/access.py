"""Access control as a client sees it: ACLs, SCRAM users and client quotas.

Requests go to the controller named by Metadata (any broker when none is named), retried
within the cluster's retry policy on retriable answers: DescribeAcls, CreateAcls, DeleteAcls,
DescribeUserScramCredentials, AlterUserScramCredentials, DescribeClientQuotas and
AlterClientQuotas. Codes are Kafka's (:data:`OPERATIONS`, :data:`RESOURCE_TYPES`, pattern
and permission types); names are Kafka's too, lower case with dashes (``describe-configs``).

A SCRAM credential is made here, as Kafka's admin clients make it: a random 32-byte salt and
the salted password (PBKDF2-HMAC with the mechanism's hash, ``iterations`` rounds); the
password itself never leaves this process.

Crash behaviour: an error code on the response or on an entry becomes a
:class:`~tidelog.client.errors.BrokerError` naming what was asked (SECURITY_DISABLED without an
authorizer, CLUSTER_AUTHORIZATION_FAILED when the principal may not, INVALID_REQUEST with the
broker's reason, RESOURCE_NOT_FOUND for a user without that credential).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tidelog.client.cluster import Cluster
from tidelog.client.errors import check
from tidelog.protocol import ApiKey

OPERATIONS = {"any": 1, "all": 2, "read": 3, "write": 4, "create": 5, "delete": 6,
              "alter": 7, "describe": 8, "cluster-action": 9, "describe-configs": 10,
              "alter-configs": 11, "idempotent-write": 12}
RESOURCE_TYPES = {"any": 1, "topic": 2, "group": 3, "cluster": 4, "transactional-id": 5}
PATTERNS = {"any": 1, "match": 2, "literal": 3, "prefixed": 4}
PERMISSIONS = {"any": 1, "deny": 2, "allow": 3}
MECHANISMS = {"SCRAM-SHA-256": 1, "SCRAM-SHA-512": 2}
_HASHES = {1: "sha256", 2: "sha512"}
CLUSTER_NAME = "kafka-cluster"


def _name_of(table: Mapping[str, int], code: int) -> str:
    return next((k for k, v in table.items() if v == code), str(code))


@dataclass(frozen=True)
class Acl:
    """One ACL binding (a filter when fields are ``any``/None)."""

    principal: str | None
    host: str | None
    operation: str
    permission: str
    resource_type: str
    resource: str | None
    pattern: str

    def as_dict(self) -> dict[str, Any]:
        return {"principal": self.principal, "host": self.host, "operation": self.operation,
                "permission": self.permission, "resource_type": self.resource_type,
                "resource": self.resource, "pattern": self.pattern}

    def filter_body(self) -> dict[str, Any]:
        return {"resource_type_filter": RESOURCE_TYPES[self.resource_type],
                "resource_name_filter": self.resource,
                "pattern_type_filter": PATTERNS[self.pattern],
                "principal_filter": self.principal, "host_filter": self.host,
                "operation": OPERATIONS[self.operation],
                "permission_type": PERMISSIONS[self.permission]}


def _acl(resource_type: int, resource: str, pattern: int, a: Any) -> Acl:
    return Acl(a.principal, a.host, _name_of(OPERATIONS, a.operation),
               _name_of(PERMISSIONS, a.permission_type), _name_of(RESOURCE_TYPES, resource_type),
               resource, _name_of(PATTERNS, pattern))


def salted_password(mechanism: int, password: str, salt: bytes, iterations: int) -> bytes:
    """RFC 5802's Hi(): PBKDF2-HMAC of the mechanism's hash."""
    return hashlib.pbkdf2_hmac(_HASHES[mechanism], password.encode("utf-8"), salt, iterations)


#: A quota entity as the programs write it: {"user": NAME-or-None, "client-id": ...}
#: (None: the default entity of that type).
Entity = Mapping[str, str | None]


class Access:
    """ACLs, SCRAM users and client quotas over a :class:`Cluster`."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    async def _ask(self, api: ApiKey, body: dict[str, Any]) -> Any:
        async def once() -> Any:
            conn = await self.cluster.controller()
            return await conn.request(api, body)

        return await self.cluster.with_retry(once)

    async def list_acls(self, wanted: Acl) -> list[Acl]:
        answer = await self._ask(ApiKey.DESCRIBE_ACLS, wanted.filter_body())
        check(answer.error_code, "describe ACLs", answer.error_message)
        return [_acl(r.resource_type, r.resource_name, r.pattern_type, a)
                for r in answer.resources for a in r.acls]

    async def create_acls(self, acls: Sequence[Acl]) -> None:
        answer = await self._ask(ApiKey.CREATE_ACLS, {"creations": [{
            "resource_type": RESOURCE_TYPES[a.resource_type], "resource_name": a.resource,
            "resource_pattern_type": PATTERNS[a.pattern], "principal": a.principal,
            "host": a.host, "operation": OPERATIONS[a.operation],
            "permission_type": PERMISSIONS[a.permission]} for a in acls]})
        for acl, result in zip(acls, answer.results, strict=True):
            check(result.error_code, f"create ACL {acl.principal} {acl.operation}",
                  result.error_message)

    async def delete_acls(self, wanted: Acl) -> list[Acl]:
        """Remove the ACLs ``wanted`` selects; the ones removed."""
        answer = await self._ask(ApiKey.DELETE_ACLS, {"filters": [wanted.filter_body()]})
        removed = []
        for result in answer.filter_results:
            check(result.error_code, "delete ACLs", result.error_message)
            removed += [_acl(m.resource_type, m.resource_name, m.pattern_type, m)
                        for m in result.matching_acls]
        return removed

    async def list_users(self, names: Sequence[str] = ()) -> list[dict[str, Any]]:
        """``{"user", "mechanism", "iterations"}`` per credential."""
        answer = await self._ask(ApiKey.DESCRIBE_USER_SCRAM_CREDENTIALS,
                                 {"users": [{"name": n} for n in names] or None})
        check(answer.error_code, "describe users", answer.error_message)
        out = []
        for result in answer.results:
            check(result.error_code, f"user {result.user!r}", result.error_message)
            out += [{"user": result.user, "mechanism": _name_of(MECHANISMS, c.mechanism),
                     "iterations": c.iterations} for c in result.credential_infos]
        return out

    async def set_user(self, name: str, mechanism: str, password: str, iterations: int) -> None:
        code = MECHANISMS[mechanism]
        salt = os.urandom(32)
        await self._alter_users(name, upsertions=[{
            "name": name, "mechanism": code, "iterations": iterations, "salt": salt,
            "salted_password": salted_password(code, password, salt, iterations)}])

    async def delete_user(self, name: str, mechanisms: Sequence[str]) -> None:
        await self._alter_users(name, deletions=[
            {"name": name, "mechanism": MECHANISMS[m]} for m in mechanisms])

    async def _alter_users(self, name: str, *, upsertions: list[dict[str, Any]] | None = None,
                           deletions: list[dict[str, Any]] | None = None) -> None:
        answer = await self._ask(ApiKey.ALTER_USER_SCRAM_CREDENTIALS, {
            "upsertions": upsertions or [], "deletions": deletions or []})
        for result in answer.results:
            check(result.error_code, f"user {result.user!r}", result.error_message)

    async def list_quotas(self, entity: Entity, *, strict: bool = False
                          ) -> list[tuple[dict[str, str | None], dict[str, float]]]:
        """The entities matching ``entity`` (each type named exactly, or its default) and
        their quotas; an empty ``entity``: every one."""
        components = [{"entity_type": t, "match_type": 1 if n is None else 0, "match": n}
                      for t, n in entity.items()]
        answer = await self._ask(ApiKey.DESCRIBE_CLIENT_QUOTAS,
                                 {"components": components, "strict": strict})
        check(answer.error_code, "describe quotas", answer.error_message)
        return [({e.entity_type: e.entity_name for e in entry.entity},
                 {v.key: v.value for v in entry.values}) for entry in answer.entries or []]

    async def alter_quotas(self, entity: Entity, set_: Mapping[str, float],
                           remove: Sequence[str] = ()) -> None:
        ops = [{"key": k, "value": float(v), "remove": False} for k, v in set_.items()]
        ops += [{"key": k, "value": 0.0, "remove": True} for k in remove]
        answer = await self._ask(ApiKey.ALTER_CLIENT_QUOTAS, {"entries": [{
            "entity": [{"entity_type": t, "entity_name": n} for t, n in entity.items()],
            "ops": ops}], "validate_only": False})
        for result in answer.entries:
            check(result.error_code, "alter quotas", result.error_message)
