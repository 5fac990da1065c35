"""Consumer group membership: find the coordinator, join, sync, heartbeat, commit, leave.

:class:`GroupMember` runs Kafka's classic group protocol for one consumer:

1. FindCoordinator (retried while the coordinator is loading or not available);
2. JoinGroup with our subscription (:mod:`tidelog.client.consumer_protocol`), offering the
   ``range`` and ``roundrobin`` assignors; a MEMBER_ID_REQUIRED answer is rejoined at once with
   the id it carries;
3. the leader computes the assignment for every member with the protocol the broker picked
   (any member of the group may be the leader: librdkafka, kafka-python, ...), then SyncGroup
   hands each member its partitions;
4. a background task heartbeats every ``heartbeat_interval_ms``; an answer that says the
   group is rebalancing (or that we were dropped) sets :attr:`GroupMember.rebalance_needed`:
   the owner commits what it has processed and calls :meth:`GroupMember.join` again (eager
   rebalancing: every member gives up its partitions and gets a new set).

The coordinator gets a connection of its own whose request timeout covers the rebalance
timeout (a JoinGroup waits for the whole group). Offsets are committed with the member's
generation, so a member that was dropped cannot overwrite the commits of the partition's new
owner; :meth:`GroupMember.commit` reports such a refusal by returning False (the records will
be consumed again by the new owner: at-least-once).

Crash behaviour: errors that retrying will not fix raise :class:`BrokerError`; an unreachable
coordinator raises :class:`ConnectionLost` after the retry budget (``join_timeout_s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tidelog.client.cluster import Cluster
from tidelog.client.connection import Connection, connect
from tidelog.client.consumer_protocol import (
    ASSIGNORS,
    Assignment,
    decode_assignment,
    decode_subscription,
    encode_assignment,
    encode_subscription,
)
from tidelog.client.errors import BrokerError, ClientError, ConnectionLost, RequestTimedOut
from tidelog.protocol import ApiKey, Struct
from tidelog.protocol.errors import ErrorCode

log = logging.getLogger("tidelog.client.group")

E = ErrorCode

#: Answers after which a JoinGroup or SyncGroup is simply tried again.
_REJOIN = {E.REBALANCE_IN_PROGRESS, E.ILLEGAL_GENERATION, E.UNKNOWN_MEMBER_ID}
_COORDINATOR_MOVED = {E.COORDINATOR_NOT_AVAILABLE, E.NOT_COORDINATOR,
                      E.COORDINATOR_LOAD_IN_PROGRESS}
_BACKOFF_S = 0.1


@dataclass(frozen=True)
class GroupConfig:
    session_timeout_ms: int = 10_000
    rebalance_timeout_ms: int = 30_000
    #: Kafka's default is 3 s; members learn of a rebalance only from their heartbeat, so a
    #: shorter interval lets the group settle within half a second (heartbeats are tiny).
    heartbeat_interval_ms: int = 500
    assignors: tuple[str, ...] = ("range", "roundrobin")
    instance_id: str | None = None
    #: How long :meth:`GroupMember.join` keeps trying before it gives up.
    join_timeout_s: float = 60.0


#: FindCoordinator key types: a consumer group, a transactional id.
GROUP_KEY, TRANSACTION_KEY = 0, 1


async def find_coordinator(cluster: Cluster, group_id: str, timeout_s: float = 30.0, *,
                           key_type: int = GROUP_KEY) -> tuple[str, int]:
    """(host, port) of the coordinator of a group (or, with ``key_type``
    :data:`TRANSACTION_KEY`, of a transactional id), retried while it is not available."""
    deadline = time.monotonic() + timeout_s
    what = "group" if key_type == GROUP_KEY else "transactional id"
    while True:
        err: ClientError
        try:
            conn = await cluster.any_node()
            ans = await conn.request(ApiKey.FIND_COORDINATOR, {
                "key": group_id, "key_type": key_type, "coordinator_keys": [group_id]})
            if conn.version(ApiKey.FIND_COORDINATOR) >= 4:
                ans = ans.coordinators[0]
            if ans.error_code == 0:
                return ans.host, ans.port
            err = BrokerError(ans.error_code, f"find coordinator of {what} {group_id}")
            if not err.retriable:
                raise err
        except (ConnectionLost, RequestTimedOut) as exc:
            err = exc
        if time.monotonic() >= deadline:
            raise err
        await asyncio.sleep(_BACKOFF_S)


def offset_fetch_body(group_id: str, wanted: Sequence[tuple[str, Sequence[int]]] | None,
                      require_stable: bool = False) -> dict[str, object]:
    topics = None if wanted is None else [
        {"name": t, "partition_indexes": list(ps)} for t, ps in wanted]
    return {"group_id": group_id, "topics": topics, "require_stable": require_stable,
            "groups": [{"group_id": group_id, "topics": topics}]}


def offset_fetch_answer(ans: Struct, version: int, group_id: str
                        ) -> dict[tuple[str, int], tuple[int, str]]:
    """(topic, partition) -> (offset, metadata) from an OffsetFetch answer (-1: none)."""
    if version >= 8:
        grp = ans.groups[0]
        if grp.error_code:
            raise BrokerError(grp.error_code, f"committed offsets of group {group_id}")
        topics = grp.topics
    else:
        if ans.error_code:
            raise BrokerError(ans.error_code, f"committed offsets of group {group_id}")
        topics = ans.topics
    result = {}
    for t in topics:
        for p in t.partitions:
            if p.error_code:
                raise BrokerError(p.error_code, f"committed offset of {t.name}/{p.partition_index}")
            result[(t.name, p.partition_index)] = (p.committed_offset, p.metadata or "")
    return result


@dataclass(frozen=True)
class GroupMetadata:
    """What a transactional producer's offset commit names of the consumer (Kafka's
    ConsumerGroupMetadata): the coordinator refuses a commit of a member that is no longer in
    the group's current generation, so a zombie cannot move the group's offsets."""

    group_id: str
    generation_id: int = -1
    member_id: str = ""
    group_instance_id: str | None = None


class GroupMember:
    """One member of a consumer group (see the module docstring for the protocol)."""

    def __init__(self, cluster: Cluster, group_id: str, topics: Sequence[str],
                 config: GroupConfig | None = None) -> None:
        self.cluster = cluster
        self.group_id = group_id
        self.topics = list(topics)
        self.config = config or GroupConfig()
        self.member_id = ""
        self.generation = -1
        self.leader = ""
        self.protocol: str | None = None
        self.assignment: Assignment = {}
        #: Set when the group rebalances: commit, then call :meth:`join` again.
        self.rebalance_needed = asyncio.Event()
        self._conn: Connection | None = None
        self._heartbeat: asyncio.Task[None] | None = None

    def metadata(self) -> GroupMetadata:
        """This member's current generation, for
        :meth:`~tidelog.client.transactions.TransactionalProducer.send_offsets_to_transaction`."""
        return GroupMetadata(self.group_id, self.generation, self.member_id,
                             self.config.instance_id)

    # -- the coordinator ---------------------------------------------------------------------

    async def _coordinator(self) -> Connection:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        host, port = await find_coordinator(self.cluster, self.group_id,
                                            self.config.join_timeout_s)
        self._conn = await connect(
            host, port, client_id=self.cluster.client_id, timeout=10.0,
            request_timeout=self.config.rebalance_timeout_ms / 1000 + 15.0,
        )
        return self._conn

    async def _drop_coordinator(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    # -- joining -----------------------------------------------------------------------------

    async def join(self) -> Assignment:
        """Join (or rejoin) the group; returns this member's partitions by topic."""
        await self._stop_heartbeat()
        deadline = time.monotonic() + self.config.join_timeout_s
        while True:
            try:
                done = await self._join_once()
            except ConnectionLost as exc:
                await self._drop_coordinator()
                if time.monotonic() >= deadline:
                    raise ConnectionLost(f"group {self.group_id}: {exc}") from None
                done = False
            if done:
                self.rebalance_needed.clear()
                self._heartbeat = asyncio.get_running_loop().create_task(self._heartbeats())
                return self.assignment
            if time.monotonic() >= deadline:
                raise ClientError(
                    f"group {self.group_id}: no stable membership within "
                    f"{self.config.join_timeout_s:g} s")

    async def _join_once(self) -> bool:
        conn = await self._coordinator()
        cfg = self.config
        meta = encode_subscription(self.topics)
        ans = await conn.request(ApiKey.JOIN_GROUP, {
            "group_id": self.group_id, "session_timeout_ms": cfg.session_timeout_ms,
            "rebalance_timeout_ms": cfg.rebalance_timeout_ms, "member_id": self.member_id,
            "group_instance_id": cfg.instance_id, "protocol_type": "consumer",
            "protocols": [{"name": name, "metadata": meta} for name in cfg.assignors],
            "reason": None,
        })
        code = ans.error_code
        if code == E.MEMBER_ID_REQUIRED:
            self.member_id = ans.member_id
            return False
        if not await self._retry_on(code, "join"):
            return False
        self.member_id, self.generation = ans.member_id, ans.generation_id
        self.leader, self.protocol = ans.leader, ans.protocol_name
        assignments = []
        if self.leader == self.member_id:
            assignments = await self._assign(ans.members)
        sync = await conn.request(ApiKey.SYNC_GROUP, {
            "group_id": self.group_id, "generation_id": self.generation,
            "member_id": self.member_id, "group_instance_id": cfg.instance_id,
            "protocol_type": "consumer", "protocol_name": self.protocol,
            "assignments": assignments,
        })
        if not await self._retry_on(sync.error_code, "sync"):
            return False
        self.assignment = {t: sorted(ps) for t, ps in decode_assignment(sync.assignment).items()}
        log.info("group %s: generation %d, member %s, assigned %s", self.group_id,
                 self.generation, self.member_id, self.assignment)
        return True

    async def _retry_on(self, code: int, what: str) -> bool:
        """True when ``code`` is NONE; False (after a pause) when the step should be tried
        again; raises when it cannot succeed."""
        if code == E.NONE:
            return True
        if code == E.UNKNOWN_MEMBER_ID:
            self.member_id = ""
        if code in _COORDINATOR_MOVED:
            await self._drop_coordinator()
        if code in _REJOIN or code in _COORDINATOR_MOVED:
            await asyncio.sleep(_BACKOFF_S if code not in _REJOIN else 0)
            return False
        raise BrokerError(code, f"{what} group {self.group_id}")

    async def _assign(self, members: list[Struct]) -> list[dict[str, object]]:
        """The leader's job: every member's partitions, by the picked protocol."""
        assignor = ASSIGNORS.get(self.protocol or "")
        if assignor is None:
            raise ClientError(f"group {self.group_id}: the broker picked protocol "
                              f"{self.protocol!r}, which this client cannot assign")
        subscriptions = {m.member_id: decode_subscription(m.metadata) for m in members}
        topics = sorted({t for ts in subscriptions.values() for t in ts})
        counts: dict[str, int] = {}
        for topic in topics:
            try:
                counts[topic] = (await self.cluster.topic(topic)).count
            except ClientError as exc:
                log.warning("group %s: topic %s not assigned: %s", self.group_id, topic, exc)
        plan = assignor(subscriptions, counts)
        return [{"member_id": mid, "assignment": encode_assignment(a)} for mid, a in plan.items()]

    # -- heartbeats --------------------------------------------------------------------------

    async def _heartbeats(self) -> None:
        interval = self.config.heartbeat_interval_ms / 1000
        me = asyncio.current_task()
        while True:
            await asyncio.sleep(interval)
            try:
                conn = await self._coordinator()
                ans = await conn.request(ApiKey.HEARTBEAT, {
                    "group_id": self.group_id, "generation_id": self.generation,
                    "member_id": self.member_id, "group_instance_id": self.config.instance_id,
                })
                code = ans.error_code
            except ClientError as exc:
                log.info("group %s: heartbeat failed: %s", self.group_id, exc)
                await self._drop_coordinator()
                code = E.COORDINATOR_NOT_AVAILABLE
            if me is not None and me.cancelling():
                # Python 3.11's wait_for returns an answer that arrived together with the
                # cancellation and drops the cancellation (gh-86296): without this check the
                # loop went on heartbeating after leave(), whose await on it never returned,
                # so the member stayed in its group forever.
                return
            if code == E.NONE:
                continue
            if code == E.UNKNOWN_MEMBER_ID:
                self.member_id = ""
            if code in _COORDINATOR_MOVED:
                continue  # try the next heartbeat on a new connection
            if code == E.FENCED_INSTANCE_ID:
                log.warning("group %s: another member took our group.instance.id",
                            self.group_id)
            self.rebalance_needed.set()
            return

    async def _stop_heartbeat(self) -> None:
        task, self._heartbeat = self._heartbeat, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- offsets -----------------------------------------------------------------------------

    async def commit(self, offsets: Mapping[tuple[str, int], int]) -> bool:
        """Commit the next offsets to read; False if the group refused (rebalancing, or we
        were dropped): the new owner of the partition starts from the last accepted commit."""
        if not offsets:
            return True
        by_topic: dict[str, list[dict[str, object]]] = {}
        for (topic, partition), offset in sorted(offsets.items()):
            by_topic.setdefault(topic, []).append({
                "partition_index": partition, "committed_offset": offset,
                "committed_leader_epoch": -1, "committed_metadata": ""})
        conn = await self._coordinator()
        ans = await conn.request(ApiKey.OFFSET_COMMIT, {
            "group_id": self.group_id, "generation_id_or_member_epoch": self.generation,
            "member_id": self.member_id, "group_instance_id": self.config.instance_id,
            "retention_time_ms": -1,
            "topics": [{"name": t, "partitions": ps} for t, ps in by_topic.items()],
        })
        for t in ans.topics:
            for p in t.partitions:
                code = p.error_code
                if code == E.NONE:
                    continue
                if code in _REJOIN or code == E.FENCED_INSTANCE_ID:
                    if code == E.UNKNOWN_MEMBER_ID:
                        self.member_id = ""
                    self.rebalance_needed.set()
                    return False
                if code in _COORDINATOR_MOVED:
                    await self._drop_coordinator()
                    return False
                raise BrokerError(code, f"commit {t.name}/{p.partition_index}")
        return True

    async def committed(self, partitions: Sequence[tuple[str, int]], *,
                        require_stable: bool = False) -> dict[tuple[str, int], int]:
        """The committed offsets of ``partitions`` (-1 where none is). With
        ``require_stable`` (KIP-447, what a read_committed consumer asks) offsets that an
        unfinished transaction is committing are waited for (UNSTABLE_OFFSET_COMMIT is
        retried until the transaction ends, within ``join_timeout_s``), so an exactly-once
        consumer never starts from offsets an abort is about to take back."""
        by_topic: dict[str, list[int]] = {}
        for topic, p in partitions:
            by_topic.setdefault(topic, []).append(p)
        deadline = time.monotonic() + self.config.join_timeout_s
        while True:
            conn = await self._coordinator()
            ans = await conn.request(ApiKey.OFFSET_FETCH, offset_fetch_body(
                self.group_id, list(by_topic.items()), require_stable))
            try:
                found = offset_fetch_answer(ans, conn.version(ApiKey.OFFSET_FETCH),
                                            self.group_id)
            except BrokerError as exc:
                if exc.code != E.UNSTABLE_OFFSET_COMMIT or time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(_BACKOFF_S)
                continue
            return {tp: found.get(tp, (-1, ""))[0] for tp in partitions}

    # -- leaving -----------------------------------------------------------------------------

    async def leave(self) -> None:
        """Leave the group (its other members take over our partitions at once) and close
        the coordinator connection. Errors are logged, never raised: this runs on exit."""
        await self._stop_heartbeat()
        try:
            if self.member_id and self._conn is not None and not self._conn.closed:
                await asyncio.wait_for(self._conn.request(ApiKey.LEAVE_GROUP, {
                    "group_id": self.group_id, "member_id": self.member_id,
                    "members": [{"member_id": self.member_id,
                                 "group_instance_id": self.config.instance_id,
                                 "reason": "the consumer is closing"}],
                }), 5.0)
        except (ClientError, TimeoutError) as exc:
            log.info("group %s: leave failed: %s", self.group_id, exc)
        finally:
            self.member_id = ""
            await self._drop_coordinator()
