"""The engine of log-access: ACLs, SCRAM users and client quotas (Kafka needs kafka-acls and
kafka-configs for these).

Actions: ``acls`` lists ACLs (filtered by --principal, --host, --operation and one resource:
--topic, --group, --transactional-id or --cluster; --prefixed selects prefixed patterns,
otherwise a named resource matches every pattern that applies to it, as kafka-acls --list
does); ``allow`` and ``deny`` add one ACL per principal and operation; ``revoke`` removes the
ACLs the filters select (at least a principal or a resource). ``users`` lists SCRAM
credentials (the mechanisms and iteration counts, never secrets); ``set-user NAME`` makes or
replaces NAME's credential for --mechanism (SCRAM-SHA-512 unless told), its password read as
one line from standard input (never a command-line argument, which other users of the host can
see); ``delete-user NAME`` removes its credentials (--mechanism: one of them). ``quotas`` lists
client quotas (of the entity --user/--user-default/--client-id/--client-default names, or
every one); ``set-quota`` sets --producer-byte-rate, --consumer-byte-rate and
--request-percentage on that entity; ``delete-quota`` removes the --key quotas given (default:
every quota the entity has).

Output (stdout): tables on a terminal, tab-separated lines in a pipe
(:func:`tidelog.cli.tables.write_table`): acls PRINCIPAL, HOST, OPERATION, PERMISSION,
RESOURCE-TYPE, RESOURCE, PATTERN; users USER, MECHANISM, ITERATIONS; quotas USER, CLIENT-ID,
KEY, VALUE (``<default>`` for a default entity, ``-`` for a type the entity lacks). Changes
print nothing on stdout and a note on stderr. With ``--json`` one JSON object per line:
ACLs ``{"principal", "host", "operation", "permission", "resource_type", "resource",
"pattern"}`` (``revoke`` prints the ACLs it removed), users ``{"user", "mechanism",
"iterations"}``, quotas ``{"user", "client_id", "quotas": {KEY: VALUE}}`` (``user`` or
``client_id`` null for a default entity, absent for a type it lacks); other changes
``{"action", "changed"}``.

Exit status (tidelog(7)'s table): NOT_FOUND (5) when ``delete-user`` names a user without
credentials or ``delete-quota`` an entity without quotas; 1 when the broker refuses
(SECURITY_DISABLED without an authorizer, *_AUTHORIZATION_FAILED, INVALID_REQUEST).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tidelog.cli.clients.common import Stop, Waits, make_cluster, run_async
from tidelog.cli.errors import CliError, UsageError
from tidelog.cli.exit_codes import ExitCode
from tidelog.cli.runner import Program
from tidelog.cli.tables import write_table

if TYPE_CHECKING:
    from tidelog.client.access import Access, Acl

ACTIONS = ("acls", "allow", "deny", "revoke", "users", "set-user", "delete-user", "quotas",
           "set-quota", "delete-quota")
QUOTA_KEYS = ("producer_byte_rate", "consumer_byte_rate", "request_percentage")
DEFAULT = "<default>"


@dataclass
class AccessSettings:
    bootstrap: str
    action: str
    name: str | None = None
    principals: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    operations: list[str] = field(default_factory=list)
    topic: str | None = None
    group: str | None = None
    transactional_id: str | None = None
    cluster: bool = False
    prefixed: bool = False
    mechanism: str | None = None
    iterations: int = 4096
    user: str | None = None
    user_default: bool = False
    client_id: str | None = None
    client_default: bool = False
    quotas: dict[str, float] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)
    json: bool = False
    timeout: float = 30.0


def access(prog: Program, settings: AccessSettings) -> int:
    """Run log-access; returns the exit status."""
    s = settings
    if s.action not in ACTIONS:
        raise UsageError(f"unknown action {s.action!r} (use {', '.join(ACTIONS)})")
    _check_usage(s)
    waits = Waits(prog.diag)
    return run_async(lambda stop: _run(prog, s, stop, waits), timeout=s.timeout, waits=waits)


def _resource(s: AccessSettings) -> tuple[str, str | None]:
    given = [(t, n) for t, n in (("topic", s.topic), ("group", s.group),
                                 ("transactional-id", s.transactional_id)) if n is not None]
    if s.cluster:
        given.append(("cluster", "kafka-cluster"))
    if len(given) > 1:
        raise UsageError("name one resource: --topic, --group, --transactional-id or "
                         "--cluster")
    return given[0] if given else ("any", None)


def _entity(s: AccessSettings) -> dict[str, str | None]:
    if s.user is not None and s.user_default:
        raise UsageError("--user and --user-default name two users")
    if s.client_id is not None and s.client_default:
        raise UsageError("--client-id and --client-default name two clients")
    entity: dict[str, str | None] = {}
    if s.user is not None or s.user_default:
        entity["user"] = s.user
    if s.client_id is not None or s.client_default:
        entity["client-id"] = s.client_id
    return entity


def _check_usage(s: AccessSettings) -> None:
    from tidelog.client.access import MECHANISMS, OPERATIONS

    rtype, _ = _resource(s)
    for op in s.operations:
        if op not in OPERATIONS or op == "any":
            raise UsageError(f"unknown operation {op!r} (one of "
                             f"{', '.join(o for o in OPERATIONS if o != 'any')})")
    if s.mechanism is not None and s.mechanism not in MECHANISMS:
        raise UsageError(f"unknown mechanism {s.mechanism!r} ({', '.join(MECHANISMS)})")
    if s.action in ("allow", "deny") and (
            not s.principals or not s.operations or rtype == "any"):
        raise UsageError(f"{s.action} needs --principal, --operation and a resource "
                         "(--topic, --group, --transactional-id or --cluster)")
    if s.action == "revoke" and not s.principals and rtype == "any":
        raise UsageError("revoke needs --principal or a resource (it would remove every ACL)")
    if s.action in ("set-user", "delete-user") and not s.name:
        raise UsageError(f"{s.action} needs the user's NAME")
    if s.action == "set-user" and not 4096 <= s.iterations <= 16384:
        raise UsageError("--iterations is 4096 to 16384 (Kafka's bounds)")
    if s.action in ("set-quota", "delete-quota") and not _entity(s):
        raise UsageError(f"{s.action} needs --user, --user-default, --client-id or "
                         "--client-default")
    if s.action == "set-quota" and not s.quotas:
        raise UsageError("set-quota needs --producer-byte-rate, --consumer-byte-rate or "
                         "--request-percentage")
    for key in s.keys:
        if key not in QUOTA_KEYS:
            raise UsageError(f"unknown quota key {key!r} ({', '.join(QUOTA_KEYS)})")
    _entity(s)


async def _run(prog: Program, s: AccessSettings, stop: Stop, waits: Waits) -> int:
    from tidelog.client.access import Access

    cluster = make_cluster(s.bootstrap, s.timeout, waits)
    try:
        access = Access(cluster)
        if s.action in ("acls", "allow", "deny", "revoke"):
            await _acls(prog, access, s)
        elif s.action in ("users", "set-user", "delete-user"):
            await _users(prog, access, s)
        else:
            await _quotas(prog, access, s)
    finally:
        await cluster.close()
    return 0


def _filter(s: AccessSettings, principal: str | None = None, operation: str = "any") -> Acl:
    from tidelog.client.access import Acl

    rtype, name = _resource(s)
    pattern = "prefixed" if s.prefixed else "match" if name is not None else "any"
    return Acl(principal, s.hosts[0] if s.hosts else None, operation, "any", rtype, name,
               pattern)


async def _acls(prog: Program, access: Access, s: AccessSettings) -> None:
    from tidelog.client.access import Acl

    if s.action in ("allow", "deny"):
        rtype, name = _resource(s)
        acls = [Acl(p, h, op, s.action, rtype, name, "prefixed" if s.prefixed else "literal")
                for p in s.principals for h in (s.hosts or ["*"]) for op in s.operations]
        await access.create_acls(acls)
        _changed(prog, s, f"{len(acls)} ACL{'s' if len(acls) != 1 else ''} added")
        return
    found: list[Acl] = []
    principals: list[str | None] = [*s.principals] or [None]
    for principal in principals:
        for operation in s.operations or ["any"]:
            wanted = _filter(s, principal, operation)
            if s.action == "revoke":
                found += await access.delete_acls(wanted)
            else:
                found += [a for a in await access.list_acls(wanted) if a not in found]
    if s.action == "revoke":
        prog.diag.info(f"{len(found)} ACL{'s' if len(found) != 1 else ''} removed")
    if s.json:
        for acl in found:
            prog.out.json(acl.as_dict())
    else:
        write_table(prog.out, ["PRINCIPAL", "HOST", "OPERATION", "PERMISSION",
                               "RESOURCE-TYPE", "RESOURCE", "PATTERN"],
                    [[a.principal, a.host, a.operation, a.permission, a.resource_type,
                      a.resource, a.pattern] for a in found])


async def _users(prog: Program, access: Access, s: AccessSettings) -> None:
    from tidelog.client.errors import BrokerError
    from tidelog.protocol.errors import ErrorCode

    if s.action == "users":
        users = await access.list_users([s.name] if s.name else [])
        if s.json:
            for user in users:
                prog.out.json(user)
        else:
            write_table(prog.out, ["USER", "MECHANISM", "ITERATIONS"],
                        [[u["user"], u["mechanism"], u["iterations"]] for u in users])
        return
    assert s.name is not None
    if s.action == "set-user":
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UsageError("set-user reads the password from standard input: got none")
        await access.set_user(s.name, s.mechanism or "SCRAM-SHA-512", password, s.iterations)
        _changed(prog, s, f"user {s.name}: {s.mechanism or 'SCRAM-SHA-512'} credential set")
        return
    try:
        mechanisms = [s.mechanism] if s.mechanism else sorted(
            {u["mechanism"] for u in await access.list_users([s.name])})
        await access.delete_user(s.name, mechanisms)
    except BrokerError as exc:
        if exc.code == ErrorCode.RESOURCE_NOT_FOUND:
            raise CliError(f"user {s.name!r} has no such SCRAM credential",
                           ExitCode.NOT_FOUND) from None
        raise
    _changed(prog, s, f"user {s.name}: {', '.join(mechanisms)} removed")


async def _quotas(prog: Program, access: Access, s: AccessSettings) -> None:
    entity = _entity(s)
    if s.action == "set-quota":
        await access.alter_quotas(entity, s.quotas)
        _changed(prog, s, f"quotas of {_entity_text(entity)} set")
        return
    if s.action == "delete-quota":
        listed = await access.list_quotas(entity, strict=True)
        found = next((q for e, q in listed if e == entity), None)
        keys = s.keys or sorted(found or {})
        if not found or not set(keys) & set(found):
            raise CliError(f"{_entity_text(entity)} has no such quota", ExitCode.NOT_FOUND)
        await access.alter_quotas(entity, {}, keys)
        _changed(prog, s, f"quotas of {_entity_text(entity)} removed: {', '.join(keys)}")
        return
    listed = await access.list_quotas(entity)
    if s.json:
        for e, values in listed:
            doc: dict[str, Any] = {}
            if "user" in e:
                doc["user"] = e["user"]
            if "client-id" in e:
                doc["client_id"] = e["client-id"]
            doc["quotas"] = values
            prog.out.json(doc)
        return
    rows = [[_name(e, "user"), _name(e, "client-id"), key, _number(value)]
            for e, values in listed for key, value in sorted(values.items())]
    write_table(prog.out, ["USER", "CLIENT-ID", "KEY", "VALUE"], rows)


def _name(entity: dict[str, str | None], kind: str) -> str:
    if kind not in entity:
        return "-"
    name = entity[kind]
    return DEFAULT if name is None else name


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def _entity_text(entity: dict[str, str | None]) -> str:
    return ",".join(f"{k}={DEFAULT if v is None else v}" for k, v in entity.items())


def _changed(prog: Program, s: AccessSettings, note: str) -> None:
    if s.json:
        prog.out.json({"action": s.action, "changed": True})
    prog.diag.info(note)
