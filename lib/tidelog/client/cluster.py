"""The client's view of the cluster: bootstrap, connections per broker, and a metadata cache.

Bootstrap: the ``host:port`` list is tried in order until one broker answers Metadata; from
then on brokers are known by node id from the Metadata answer, and requests for a partition go
to the connection of its leader.

Cache: topic -> partitions (leader, leader epoch, replicas, ISR, offline replicas); refreshed
on demand (:meth:`Cluster.refresh`), after retriable errors (the retry hook), and for topics
the cache does not know. LEADER_NOT_AVAILABLE or a partition without leader (a topic just
created, a leader that died and has no successor yet) makes :meth:`Cluster.topic` (every
partition) or :meth:`Cluster.partition` / :meth:`Cluster.leader` (one partition) wait and
refresh within the retry budget; ``topic(..., wait_for_leaders=False)`` takes a topic as it is,
so a producer keeps writing to the partitions that have a leader while one has none.

Leader changes: a request that fails with NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH,
LEADER_NOT_AVAILABLE or a lost connection is retried through :meth:`Cluster.with_retry`, which
forgets the topic's metadata between tries, so the next try asks a live broker who leads now.

Auto-creation: Metadata requests ask the broker not to create unknown topics unless the
caller says so (``auto_create=True``, which only the producer does, for the topic the user
produces to), so reading, describing and dry runs never create a topic as a side effect.

Crash behaviour: an unreachable cluster raises :class:`~tidelog.client.errors.ConnectionLost`
naming every bootstrap server tried; an unknown topic raises
:class:`~tidelog.client.errors.BrokerError` UNKNOWN_TOPIC_OR_PARTITION once retries run out.
Connections that fail are dropped from the pool and reopened on next use.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tidelog.client.connection import Connection, connect
from tidelog.client.errors import (
    AuthenticationFailed,
    BrokerError,
    ClientError,
    ConnectionLost,
    NeverReached,
)
from tidelog.client.retry import RetryPolicy, retrying
from tidelog.client.security import ClientSecurity
from tidelog.protocol import ApiKey, Struct
from tidelog.protocol.errors import ErrorCode

T = TypeVar("T")


@dataclass(frozen=True)
class PartitionInfo:
    partition: int
    leader: int
    leader_epoch: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    offline: tuple[int, ...] = ()
    error: int = 0


@dataclass
class TopicInfo:
    name: str
    partitions: dict[int, PartitionInfo] = field(default_factory=dict)
    internal: bool = False
    topic_id: str = ""

    @property
    def count(self) -> int:
        return len(self.partitions)


@dataclass(frozen=True)
class BrokerInfo:
    node_id: int
    host: str
    port: int
    rack: str | None = None


class Cluster:
    """Connections and metadata shared by a producer, consumer or admin client."""

    def __init__(
        self,
        bootstrap: Sequence[tuple[str, int]],
        *,
        client_id: str = "tidelog",
        connect_timeout: float = 10.0,
        request_timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        allow_auto_create: bool = False,
        security: ClientSecurity | None = None,
    ) -> None:
        if not bootstrap:
            raise ClientError("no bootstrap server given")
        self.bootstrap = [(str(h), int(p)) for h, p in bootstrap]
        self.client_id = client_id
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.retry = retry or RetryPolicy()
        self.allow_auto_create = allow_auto_create
        #: TLS and SASL for every connection (None: PLAINTEXT).
        self.security = security
        self.brokers: dict[int, BrokerInfo] = {}
        self.topics: dict[str, TopicInfo] = {}
        self.controller_id = -1
        self.cluster_id: str | None = None
        #: Whether some broker has answered Metadata (see NeverReached).
        self.reached = False
        self._conns: dict[tuple[str, int], Connection] = {}
        self._opening: dict[tuple[str, int], asyncio.Task[Connection]] = {}

    async def __aenter__(self) -> Cluster:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        conns = list(self._conns.values())
        self._conns.clear()
        for conn in conns:
            await conn.close()

    # -- connections ---------------------------------------------------------------------

    async def connection_to(self, host: str, port: int) -> Connection:
        """The open connection to ``host:port``, opening one if needed."""
        key = (host, port)
        conn = self._conns.get(key)
        if conn is not None and not conn.closed:
            return conn
        task = self._opening.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(connect(
                host, port, client_id=self.client_id, timeout=self.connect_timeout,
                request_timeout=self.request_timeout, security=self.security,
            ))
            self._opening[key] = task
        try:
            conn = await asyncio.shield(task)
        finally:
            if task.done():
                self._opening.pop(key, None)
        self._conns[key] = conn
        return conn

    async def node(self, node_id: int) -> Connection:
        """The connection to broker ``node_id`` (known from metadata)."""
        broker = self.brokers.get(node_id)
        if broker is None:
            # One try: callers run under their own retry loop.
            await self._refresh_once(None, False)
            broker = self.brokers.get(node_id)
            if broker is None:
                raise ConnectionLost(f"broker {node_id} is not in the cluster's metadata")
        return await self.connection_to(broker.host, broker.port)

    async def any_node(self) -> Connection:
        """A connection to some live broker: known brokers first, then the bootstrap list."""
        for conn in self._conns.values():
            if not conn.closed:
                return conn
        candidates = [(b.host, b.port) for b in self.brokers.values()]
        candidates += [hp for hp in self.bootstrap if hp not in candidates]
        errors: list[str] = []
        for host, port in candidates:
            try:
                return await self.connection_to(host, port)
            except AuthenticationFailed:
                raise  # the same login fails everywhere: no retry, no other broker
            except ClientError as exc:
                errors.append(str(exc))
        error = NeverReached if not self.reached else ConnectionLost
        raise error("no broker reachable: " + "; ".join(errors))

    async def controller(self) -> Connection:
        """The connection admin requests go to (the controller when metadata names one)."""
        if self.controller_id < 0:
            await self._refresh_once(None, False)
        if self.controller_id >= 0 and self.controller_id in self.brokers:
            return await self.node(self.controller_id)
        return await self.any_node()

    # -- metadata ------------------------------------------------------------------------

    async def refresh(self, topics: Sequence[str] | None = None, *,
                      auto_create: bool | None = None) -> Struct:
        """Ask a broker for metadata of ``topics`` (None: all) and update the cache; retried
        within the retry policy."""
        return await retrying(lambda: self._refresh_once(topics, auto_create), self.retry)

    async def refresh_once(self, topics: Sequence[str] | None = None, *,
                           auto_create: bool | None = None) -> Struct:
        """Like :meth:`refresh`, one try only (for callers with their own retry loop)."""
        return await self._refresh_once(topics, auto_create)

    async def _refresh_once(self, topics: Sequence[str] | None,
                            auto_create: bool | None) -> Struct:
        create = self.allow_auto_create if auto_create is None else auto_create
        conn = await self.any_node()
        body: dict[str, Any] = {
            "topics": None if topics is None else [{"name": t} for t in topics],
            "allow_auto_topic_creation": create,
        }
        version = conn.version(ApiKey.METADATA)
        if topics is None and version == 0:
            body["topics"] = []
        answer = await conn.request(ApiKey.METADATA, body, version=version)
        self._absorb(answer, full=topics is None)
        return answer

    def _absorb(self, answer: Struct, *, full: bool) -> None:
        self.reached = True
        self.brokers = {
            b.node_id: BrokerInfo(b.node_id, b.host, b.port, b.rack) for b in answer.brokers
        }
        self.controller_id = answer.controller_id
        self.cluster_id = answer.cluster_id
        if full:
            self.topics.clear()
        for topic in answer.topics:
            if topic.error_code != ErrorCode.NONE or topic.name is None:
                self.topics.pop(topic.name, None)
                continue
            info = TopicInfo(topic.name, internal=bool(topic.is_internal),
                             topic_id=str(topic.topic_id))
            for p in topic.partitions:
                info.partitions[p.partition_index] = PartitionInfo(
                    p.partition_index, p.leader_id, p.leader_epoch, tuple(p.replica_nodes),
                    tuple(p.isr_nodes), tuple(p.offline_replicas), p.error_code,
                )
            self.topics[topic.name] = info

    async def topic(self, name: str, *, auto_create: bool | None = None,
                    wait_for_leaders: bool = True) -> TopicInfo:
        """The cached metadata of ``name``, fetched when missing, and (unless
        ``wait_for_leaders`` is false) awaited until every partition has a leader."""
        info = self.topics.get(name)
        if info is not None and info.partitions and (
                not wait_for_leaders or all(p.leader >= 0 for p in info.partitions.values())):
            return info

        async def once() -> TopicInfo:
            # One try per attempt: the retries are this loop's, not nested ones.
            answer = await self._refresh_once([name], auto_create)
            for topic in answer.topics:
                if topic.name == name and topic.error_code != ErrorCode.NONE:
                    raise BrokerError(topic.error_code, f"topic {name!r}")
            found = self.topics.get(name)
            if found is None or not found.partitions:
                raise BrokerError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"topic {name!r}")
            if wait_for_leaders and any(p.leader < 0 for p in found.partitions.values()):
                raise BrokerError(ErrorCode.LEADER_NOT_AVAILABLE, f"topic {name!r}")
            return found

        return await retrying(once, self.retry)

    async def partition(self, topic: str, partition: int, *,
                        auto_create: bool | None = None) -> PartitionInfo:
        """The cached metadata of one partition, refreshed until it has a leader."""
        info = await self.topic(topic, wait_for_leaders=False, auto_create=auto_create)
        part = info.partitions.get(partition)
        if part is not None and part.leader >= 0:
            return part

        async def once() -> PartitionInfo:
            found = await self.topic(topic, wait_for_leaders=False, auto_create=auto_create)
            part = found.partitions.get(partition)
            if part is None:
                raise ClientError(
                    f"topic {topic!r} has no partition {partition} (it has {found.count})")
            if part.leader < 0:
                self.forget(topic)  # the next try asks again
                raise BrokerError(ErrorCode.LEADER_NOT_AVAILABLE, f"{topic}/{partition}")
            return part

        self.forget(topic)
        return await retrying(once, self.retry)

    async def leader(self, topic: str, partition: int, *,
                     auto_create: bool | None = None) -> Connection:
        """The connection to the leader of ``topic``/``partition`` (awaited while it has
        none, within the retry budget)."""
        part = await self.partition(topic, partition, auto_create=auto_create)
        return await self.node(part.leader)

    def forget(self, topic: str | None = None) -> None:
        """Drop cached metadata (of one topic, or all) so the next use refreshes it."""
        if topic is None:
            self.topics.clear()
        else:
            self.topics.pop(topic, None)

    async def with_retry(
        self, operation: Callable[[], Awaitable[T]], topic: str | None = None
    ) -> T:
        """Run ``operation`` under the retry policy, forgetting ``topic``'s metadata between
        tries so leaders are looked up again."""

        async def hook(_: ClientError) -> None:
            self.forget(topic)

        return await retrying(operation, self.retry, hook)

    async def drop(self, conn: Connection) -> None:
        """Close a connection that misbehaved; the next use opens a new one."""
        with contextlib.suppress(Exception):
            await conn.close()
        self._conns.pop((conn.host, conn.port), None)
