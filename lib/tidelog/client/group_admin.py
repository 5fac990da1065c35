"""Administration of consumer groups: list, describe, committed offsets, lag, resets, delete.

What ``log-groups`` is made of (kafka-consumer-groups' jobs). Requests about one group go to
its coordinator (:func:`~tidelog.client.group.find_coordinator`); ListGroups goes to every
known broker. Offsets are set with an OffsetCommit at generation -1 without a member id, which
the coordinator accepts only while the group has no members (it answers UNKNOWN_MEMBER_ID
otherwise) -- the same rule kafka-consumer-groups relies on.

Every failure raises a :class:`~tidelog.client.errors.ClientError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tidelog.client.cluster import Cluster
from tidelog.client.connection import Connection
from tidelog.client.consumer_protocol import Assignment, decode_assignment
from tidelog.client.errors import BrokerError, ClientError
from tidelog.client.group import find_coordinator, offset_fetch_answer, offset_fetch_body
from tidelog.client.offsets import list_offsets
from tidelog.protocol import ApiKey

LATEST = -1
EARLIEST = -2


@dataclass(frozen=True)
class GroupListing:
    group_id: str
    protocol_type: str
    state: str


@dataclass(frozen=True)
class MemberDescription:
    member_id: str
    instance_id: str | None
    client_id: str
    host: str
    assignment: Assignment


@dataclass(frozen=True)
class GroupDescription:
    group_id: str
    state: str
    protocol_type: str
    protocol: str
    members: list[MemberDescription] = field(default_factory=list)

    def owner_of(self, topic: str, partition: int) -> MemberDescription | None:
        for m in self.members:
            if partition in m.assignment.get(topic, ()):
                return m
        return None


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    current_offset: int | None
    log_end_offset: int
    lag: int | None
    consumer_id: str | None
    host: str | None
    client_id: str | None

    def as_dict(self) -> dict[str, object]:
        return {
            "topic": self.topic, "partition": self.partition,
            "current_offset": self.current_offset, "log_end_offset": self.log_end_offset,
            "lag": self.lag, "consumer_id": self.consumer_id, "host": self.host,
            "client_id": self.client_id,
        }


class GroupAdmin:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    async def _coordinator(self, group_id: str) -> Connection:
        host, port = await find_coordinator(self.cluster, group_id)
        return await self.cluster.connection_to(host, port)

    async def list_groups(self) -> list[GroupListing]:
        await self.cluster.refresh([])
        conns = [await self.cluster.node(n) for n in sorted(self.cluster.brokers)] or \
            [await self.cluster.any_node()]
        found: dict[str, GroupListing] = {}
        for conn in conns:
            ans = await conn.request(ApiKey.LIST_GROUPS, {"states_filter": [],
                                                           "types_filter": []})
            if ans.error_code:
                raise BrokerError(ans.error_code, "list groups")
            for g in ans.groups:
                found[g.group_id] = GroupListing(g.group_id, g.protocol_type,
                                                 g.group_state or "")
        return [found[k] for k in sorted(found)]

    async def describe(self, group_id: str) -> GroupDescription:
        conn = await self._coordinator(group_id)
        ans = await conn.request(ApiKey.DESCRIBE_GROUPS, {
            "groups": [group_id], "include_authorized_operations": False})
        g = ans.groups[0]
        if g.error_code:
            raise BrokerError(g.error_code, f"describe group {group_id}")
        members = []
        for m in g.members:
            try:
                assignment = decode_assignment(m.member_assignment) \
                    if g.protocol_type == "consumer" else {}
            except ClientError:
                assignment = {}
            members.append(MemberDescription(m.member_id, m.group_instance_id, m.client_id,
                                             m.client_host, assignment))
        return GroupDescription(g.group_id, g.group_state, g.protocol_type, g.protocol_data,
                                members)

    async def committed(self, group_id: str) -> dict[tuple[str, int], int]:
        """Every committed offset of the group."""
        conn = await self._coordinator(group_id)
        ans = await conn.request(ApiKey.OFFSET_FETCH, offset_fetch_body(group_id, None))
        found = offset_fetch_answer(ans, conn.version(ApiKey.OFFSET_FETCH), group_id)
        return {tp: off for tp, (off, _) in found.items() if off >= 0}

    async def lag(self, group_id: str) -> list[PartitionLag]:
        """Per partition the group has committed or is assigned: committed offset, log end
        offset, lag and the member that owns it."""
        desc = await self.describe(group_id)
        committed = await self.committed(group_id)
        keys = set(committed)
        for m in desc.members:
            keys |= {(t, p) for t, ps in m.assignment.items() for p in ps}
        by_topic: dict[str, list[int]] = {}
        for t, p in sorted(keys):
            by_topic.setdefault(t, []).append(p)
        rows = []
        for topic, parts in by_topic.items():
            try:
                ends = await list_offsets(self.cluster, topic, parts, LATEST)
            except ClientError:
                ends = {}
            for p in parts:
                end = ends.get(p, (-1, -1))[0]
                cur = committed.get((topic, p))
                owner = desc.owner_of(topic, p)
                rows.append(PartitionLag(
                    topic, p, cur, end,
                    None if cur is None or end < 0 else max(0, end - cur),
                    owner.member_id if owner else None, owner.host if owner else None,
                    owner.client_id if owner else None,
                ))
        return rows

    async def set_offsets(self, group_id: str, offsets: Mapping[tuple[str, int], int]) -> None:
        """Commit ``offsets`` for a group without members (refused while it has some)."""
        by_topic: dict[str, list[dict[str, object]]] = {}
        for (t, p), off in sorted(offsets.items()):
            by_topic.setdefault(t, []).append({
                "partition_index": p, "committed_offset": off, "committed_leader_epoch": -1,
                "committed_metadata": ""})
        conn = await self._coordinator(group_id)
        ans = await conn.request(ApiKey.OFFSET_COMMIT, {
            "group_id": group_id, "generation_id_or_member_epoch": -1, "member_id": "",
            "group_instance_id": None, "retention_time_ms": -1,
            "topics": [{"name": t, "partitions": ps} for t, ps in by_topic.items()],
        })
        for t in ans.topics:
            for p in t.partitions:
                if p.error_code:
                    raise BrokerError(p.error_code,
                                      f"set offset of group {group_id} on {t.name}/"
                                      f"{p.partition_index}")

    async def delete(self, group_id: str) -> None:
        conn = await self._coordinator(group_id)
        ans = await conn.request(ApiKey.DELETE_GROUPS, {"groups_names": [group_id]})
        code = ans.results[0].error_code
        if code:
            raise BrokerError(code, f"delete group {group_id}")
