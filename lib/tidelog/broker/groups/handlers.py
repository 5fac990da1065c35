"""Handlers of the group APIs: FindCoordinator (10), JoinGroup (11), Heartbeat (12),
LeaveGroup (13), SyncGroup (14), DescribeGroups (15), ListGroups (16), OffsetCommit (8),
OffsetFetch (9), DeleteGroups (42), OffsetDelete (47).

Each translates between the wire structs (every version of the protocol table) and
:class:`~tidelog.broker.groups.coordinator.GroupCoordinator` (``core.groups``). This broker is
the coordinator of every group; FindCoordinator creates ``__consumer_offsets`` on first use,
as Kafka does (COORDINATOR_NOT_AVAILABLE, retriable, while it cannot be made yet).
A transaction coordinator (key type 1) is the leader of the id's ``__transaction_state``
partition (made on first use the same way); any other key type is INVALID_REQUEST.
Fallbacks put the error on every entry of the answer's shape.
"""

from __future__ import annotations

from tidelog.broker import session
from tidelog.broker.core import BrokerCore
from tidelog.broker.groups.coordinator import CommitEntry
from tidelog.broker.groups.group import GroupState
from tidelog.broker.groups.store import OffsetsStore
from tidelog.broker.handlers.acls import authorized_operations
from tidelog.broker.handlers.base import Handler
from tidelog.errors import TidelogError
from tidelog.protocol.apis import ApiKey
from tidelog.protocol.data import Struct
from tidelog.protocol.errors import ErrorCode
from tidelog.protocol.header import RequestHeader

E = ErrorCode
_GROUP, _TRANSACTION = 0, 1  # FindCoordinator key types


def _message(code: int) -> str | None:
    return ErrorCode(code).message if code else None  # type: ignore[call-arg]


# -- FindCoordinator --------------------------------------------------------------------------


async def find_coordinator(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    version = header.api_version
    keys = list(req.coordinator_keys) if version >= 4 else [req.key]
    code = 0
    store = core.txns.store if req.key_type == _TRANSACTION else core.groups.store
    if req.key_type not in (_GROUP, _TRANSACTION):
        code = E.INVALID_REQUEST
    else:
        try:
            await store.ensure_topic()
        except TidelogError:
            # whatever kept __consumer_offsets from being made (no active controller, one
            # that did not answer in time): Kafka's retriable answer, not the controller's
            # code (NOT_CONTROLLER is no FindCoordinator error; librdkafka's admin fails on it)
            code = E.COORDINATOR_NOT_AVAILABLE
    answers = [_coordinator_of(core, store, key, code) for key in keys]
    first = answers[0]
    return Struct(
        throttle_time_ms=0, error_code=first.error_code, error_message=first.error_message,
        node_id=first.node_id, host=first.host, port=first.port, coordinators=answers,
    )


def _coordinator_of(core: BrokerCore, store: OffsetsStore, key: str, code: int) -> Struct:
    """The leader of the key's partition of ``__consumer_offsets`` (a group) or
    ``__transaction_state`` (a transactional id), with its address."""
    node, host, port = -1, "", -1
    if not code:
        leader = store.leader_of(key)
        broker = core.image.brokers.get(leader)
        addr = core.address_on(leader, session.current().listener)
        if addr is None or (leader != core.node_id and (broker is None or broker.fenced)):
            code = E.COORDINATOR_NOT_AVAILABLE
        else:
            node, (host, port) = leader, addr
    return Struct(key=key, node_id=node, host=host, port=port, error_code=code,
                  error_message=_message(code))


def find_coordinator_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(error_code=int(code), node_id=-1, host="", port=-1, coordinators=[
        Struct(key=key, node_id=-1, host="", port=-1, error_code=int(code))
        for key in req.coordinator_keys
    ])


# -- JoinGroup, SyncGroup, Heartbeat, LeaveGroup ----------------------------------------------


async def join_group(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    result = await core.groups.join(
        req.group_id, req.member_id, req.group_instance_id, header.client_id or "",
        req.session_timeout_ms, req.rebalance_timeout_ms, req.protocol_type,
        [(p.name, bytes(p.metadata)) for p in req.protocols], header.api_version,
    )
    return Struct(
        throttle_time_ms=0, error_code=int(result.error), generation_id=result.generation,
        protocol_type=result.protocol_type,
        protocol_name=result.protocol if result.protocol is not None or
        header.api_version >= 7 else "",
        leader=result.leader, skip_assignment=False, member_id=result.member_id,
        members=[Struct(member_id=mid, group_instance_id=iid, metadata=meta)
                 for mid, iid, meta in result.members],
    )


def join_group_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(error_code=int(code), generation_id=-1, protocol_name=None if version >= 7
                  else "", leader="", member_id=req.member_id, members=[])


async def sync_group(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    result = await core.groups.sync(
        req.group_id, req.generation_id, req.member_id, req.group_instance_id,
        req.protocol_type, req.protocol_name,
        {a.member_id: bytes(a.assignment) for a in req.assignments},
    )
    return Struct(throttle_time_ms=0, error_code=int(result.error),
                  protocol_type=result.protocol_type, protocol_name=result.protocol,
                  assignment=result.assignment)


def sync_group_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(error_code=int(code), assignment=b"")


async def heartbeat(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    code = core.groups.heartbeat(req.group_id, req.generation_id, req.member_id,
                                 req.group_instance_id)
    return Struct(throttle_time_ms=0, error_code=int(code))


def heartbeat_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(error_code=int(code))


async def leave_group(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    if header.api_version < 3:
        wanted = [(req.member_id, None)]
    else:
        wanted = [(m.member_id, m.group_instance_id) for m in req.members]
    code, errors = core.groups.leave(req.group_id, wanted)
    if header.api_version < 3 and not code:
        code = errors[0]
    return Struct(
        throttle_time_ms=0, error_code=int(code),
        members=[Struct(member_id=mid, group_instance_id=iid, error_code=int(err))
                 for (mid, iid), err in zip(wanted, errors, strict=True)],
    )


def leave_group_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    members = [] if version < 3 else [
        Struct(member_id=m.member_id, group_instance_id=m.group_instance_id,
               error_code=int(code)) for m in req.members]
    return Struct(error_code=int(code), members=members)


# -- OffsetCommit, OffsetFetch, OffsetDelete --------------------------------------------------


def commit_entries(req: Struct) -> list[CommitEntry]:
    """The entries of an OffsetCommit or TxnOffsetCommit request."""
    return [
        (t.name, p.partition_index, p.committed_offset, p.committed_leader_epoch,
         p.committed_metadata)
        for t in req.topics for p in t.partitions
    ]


def commit_answer(req: Struct, codes: list[int]) -> Struct:
    """An OffsetCommit or TxnOffsetCommit answer: one code per entry, in request order."""
    errors = iter(codes)
    return Struct(throttle_time_ms=0, topics=[
        Struct(name=t.name, partitions=[
            Struct(partition_index=p.partition_index, error_code=int(next(errors)))
            for p in t.partitions
        ])
        for t in req.topics
    ])


async def offset_commit(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    return commit_answer(req, await core.groups.commit(
        req.group_id, req.generation_id_or_member_epoch, req.member_id,
        req.group_instance_id, commit_entries(req),
    ))


def offset_commit_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(topics=[
        Struct(name=t.name, partitions=[
            Struct(partition_index=p.partition_index, error_code=int(code))
            for p in t.partitions
        ])
        for t in req.topics
    ])


def _fetched_topics(core: BrokerCore, group_id: str, topics: list[Struct] | None,
                    name_field: str, require_stable: bool = False) -> list[Struct]:
    wanted = None if topics is None else [
        (getattr(t, name_field), list(t.partition_indexes)) for t in topics]
    return [
        Struct(name=topic, partitions=[
            Struct(partition_index=p, committed_offset=off, committed_leader_epoch=epoch,
                   metadata=meta, error_code=err)
            for p, off, epoch, meta, err in found
        ])
        for topic, found in core.groups.fetch(group_id, wanted, require_stable)
    ]


async def offset_fetch(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    version = header.api_version
    if version < 8:
        if not core.groups.store.coordinates(req.group_id):
            return offset_fetch_fallback(req, version, E.NOT_COORDINATOR)
        return Struct(throttle_time_ms=0, error_code=0,
                      topics=_fetched_topics(core, req.group_id, req.topics, "name",
                                             version >= 7 and bool(req.require_stable)))
    groups = []
    for g in req.groups:
        if core.groups.store.coordinates(g.group_id):
            groups.append(Struct(group_id=g.group_id, error_code=0,
                                 topics=_fetched_topics(core, g.group_id, g.topics, "name",
                                                        bool(req.require_stable))))
        else:
            groups.append(Struct(group_id=g.group_id, error_code=E.NOT_COORDINATOR, topics=[]))
    return Struct(throttle_time_ms=0, groups=groups)


def offset_fetch_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    def topics(ts: list[Struct] | None) -> list[Struct]:
        return [Struct(name=t.name, partitions=[
            Struct(partition_index=p, committed_offset=-1, metadata="", error_code=int(code))
            for p in t.partition_indexes]) for t in ts or []]

    if version < 8:
        return Struct(error_code=int(code), topics=topics(req.topics))
    return Struct(groups=[Struct(group_id=g.group_id, topics=topics(g.topics),
                                 error_code=int(code)) for g in req.groups])


async def offset_delete(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    code, answer = await core.groups.delete_offsets(
        req.group_id, [(t.name, [p.partition_index for p in t.partitions]) for t in req.topics])
    return Struct(error_code=int(code), throttle_time_ms=0, topics=[
        Struct(name=topic, partitions=[Struct(partition_index=p, error_code=err)
                                       for p, err in parts])
        for topic, parts in answer
    ])


def offset_delete_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(error_code=int(code), throttle_time_ms=0, topics=[
        Struct(name=t.name, partitions=[
            Struct(partition_index=p.partition_index, error_code=int(code))
            for p in t.partitions]) for t in req.topics])


# -- ListGroups, DescribeGroups, DeleteGroups -------------------------------------------------


async def list_groups(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    states = {s.lower() for s in req.states_filter or []}
    types = {t.lower() for t in req.types_filter or []}
    groups = [
        Struct(group_id=g.group_id, protocol_type=g.protocol_type or "",
               group_state=g.state.value, group_type="classic")
        for g in core.groups.list_groups()
        if (not states or g.state.value.lower() in states) and (not types or "classic" in types)
    ]
    return Struct(throttle_time_ms=0, error_code=0, groups=groups)


def list_groups_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(error_code=int(code), groups=[])


async def describe_groups(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    answer = []
    for gid in req.groups:
        if not core.groups.store.coordinates(gid):
            answer.append(Struct(error_code=E.NOT_COORDINATOR, group_id=gid, group_state="",
                                 protocol_type="", protocol_data="", members=[]))
            continue
        group = core.groups.describe(gid)
        if group is None:
            answer.append(Struct(error_code=0, group_id=gid, group_state="Dead",
                                 protocol_type="", protocol_data="", members=[]))
            continue
        stable = group.state is GroupState.STABLE
        answer.append(Struct(
            error_code=0, group_id=gid, group_state=group.state.value,
            protocol_type=group.protocol_type or "",
            protocol_data=(group.protocol or "") if stable else "",
            members=[
                Struct(member_id=m.member_id, group_instance_id=m.group_instance_id,
                       client_id=m.client_id, client_host=m.client_host,
                       member_metadata=m.metadata_for(group.protocol) if stable else b"",
                       member_assignment=m.assignment if stable else b"")
                for m in group.members.values()
            ],
        ))
    if req.include_authorized_operations:
        for g in answer:  # per principal with an authorizer, else every group operation
            if g.error_code == 0:
                g.authorized_operations = authorized_operations(core, 3, g.group_id)
    return Struct(throttle_time_ms=0, groups=answer)


def describe_groups_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(groups=[
        Struct(error_code=int(code), group_id=gid, group_state="", protocol_type="",
               protocol_data="", members=[]) for gid in req.groups])


async def delete_groups(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    results = []
    for gid in req.groups_names:
        results.append(Struct(group_id=gid, error_code=int(await core.groups.delete_group(gid))))
    return Struct(throttle_time_ms=0, results=results)


def delete_groups_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(throttle_time_ms=0, results=[
        Struct(group_id=gid, error_code=int(code)) for gid in req.groups_names])


HANDLERS = {
    ApiKey.FIND_COORDINATOR: Handler(find_coordinator, find_coordinator_fallback),
    ApiKey.JOIN_GROUP: Handler(join_group, join_group_fallback),
    ApiKey.SYNC_GROUP: Handler(sync_group, sync_group_fallback),
    ApiKey.HEARTBEAT: Handler(heartbeat, heartbeat_fallback),
    ApiKey.LEAVE_GROUP: Handler(leave_group, leave_group_fallback),
    ApiKey.OFFSET_COMMIT: Handler(offset_commit, offset_commit_fallback),
    ApiKey.OFFSET_FETCH: Handler(offset_fetch, offset_fetch_fallback),
    ApiKey.OFFSET_DELETE: Handler(offset_delete, offset_delete_fallback),
    ApiKey.LIST_GROUPS: Handler(list_groups, list_groups_fallback),
    ApiKey.DESCRIBE_GROUPS: Handler(describe_groups, describe_groups_fallback),
    ApiKey.DELETE_GROUPS: Handler(delete_groups, delete_groups_fallback),
}
