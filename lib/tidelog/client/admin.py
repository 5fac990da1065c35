"""Admin operations: create, delete, describe and alter topics and their configs; offsets.

Requests go to the controller named by Metadata (any broker when none is named): CreateTopics,
DeleteTopics, CreatePartitions, DescribeConfigs and IncrementalAlterConfigs; descriptions join
Metadata (leader, replicas, ISR and offline replicas per partition) with ListOffsets at each
leader (log start offset and high watermark) and, when asked, DescribeLogDirs at each leader
(log size and the log cleaner's view: dirty ratio, first dirty offset, last cleaned).

Partial answers: a description never fails because of one partition. A partition without a
leader, or whose leader does not answer ListOffsets (after a short retry: a describe must not
wait out a failover), is described with what Metadata said, offsets None and ``error`` set to
the Kafka error name (LEADER_NOT_AVAILABLE, NETWORK_EXCEPTION for a leader that cannot be
reached, ...); the other partitions are described in full (a leader whose DescribeLogDirs
fails leaves its partitions' ``cleaner`` None).

Crash behaviour: every per-topic error code becomes a
:class:`~tidelog.client.errors.BrokerError` naming the topic (TOPIC_ALREADY_EXISTS,
UNKNOWN_TOPIC_OR_PARTITION, INVALID_CONFIG, ...); callers that want "if not exists" semantics
catch the code they expect. Retriable answers (NOT_CONTROLLER, a dropped connection) are
retried within the cluster's retry policy.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from tidelog.client.cluster import Cluster
from tidelog.client.errors import BrokerError, ClientError, check
from tidelog.client.offsets import EARLIEST, LATEST, list_offsets
from tidelog.client.retry import RetryPolicy, retrying
from tidelog.protocol import ApiKey
from tidelog.protocol.errors import ErrorCode, error_name

TOPIC_RESOURCE = 2


def _check(code: int, context: str, message: str | None = None) -> None:
    """Like :func:`check`, but a missing topic is final here: retrying an admin request for
    a topic the controller does not know would only delay the answer."""
    try:
        check(code, context, message)
    except BrokerError as exc:
        if exc.code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
            exc.retriable = False
        raise
OP_SET = 0
OP_DELETE = 1


#: Tries of the ListOffsets a description sends to each leader: enough to ride over a
#: dropped connection, few enough that a dead leader costs well under a second.
DESCRIBE_RETRY = RetryPolicy(attempts=2, backoff=0.05, max_backoff=0.05)


@dataclass
class PartitionDescription:
    partition: int
    leader: int
    leader_epoch: int
    replicas: list[int]
    isr: list[int]
    offline_replicas: list[int] = field(default_factory=list)
    #: None when the leader could not say (see ``error``).
    log_start_offset: int | None = None
    high_watermark: int | None = None
    #: Why the partition is not fully described: a Kafka error name, or None.
    error: str | None = None
    #: From DescribeLogDirs (``describe_topic(..., cleaner=True)``), else None.
    cleaner: CleanerView | None = None

    @property
    def under_replicated(self) -> bool:
        """Fewer in-sync replicas than assigned ones (kafka-topics'
        --under-replicated-partitions)."""
        return len(self.isr) < len(self.replicas)

    @property
    def unavailable(self) -> bool:
        """No leader, or a leader among the offline replicas (--unavailable-partitions)."""
        return self.leader < 0 or self.leader in self.offline_replicas


@dataclass
class CleanerView:
    """A partition log as its leader's log cleaner sees it (tidelog's DescribeLogDirs tags)."""

    size: int
    compacted: bool
    dirty_ratio: float | None = None
    first_dirty_offset: int | None = None
    #: Epoch ms of the last cleaning, None if never since the broker started.
    last_cleaned_ms: int | None = None
    error: str | None = None


@dataclass
class TopicDescription:
    name: str
    topic_id: str
    internal: bool
    partitions: list[PartitionDescription] = field(default_factory=list)
    configs: dict[str, str | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Admin:
    """Topic and config administration over a :class:`Cluster`."""

    def __init__(self, cluster: Cluster, *, timeout_ms: int = 30_000) -> None:
        self.cluster = cluster
        self.timeout_ms = timeout_ms

    async def create_topic(
        self,
        name: str,
        partitions: int = -1,
        replication_factor: int = -1,
        configs: Mapping[str, str] | None = None,
    ) -> None:
        """Create ``name``; -1 takes the broker's default partitions / replication factor."""

        async def once() -> None:
            conn = await self.cluster.controller()
            answer = await conn.request(ApiKey.CREATE_TOPICS, {
                "topics": [{
                    "name": name, "num_partitions": partitions,
                    "replication_factor": replication_factor, "assignments": [],
                    "configs": [{"name": k, "value": v} for k, v in (configs or {}).items()],
                }],
                "timeout_ms": self.timeout_ms, "validate_only": False,
            })
            for topic in answer.topics:
                check(topic.error_code, f"create topic {topic.name!r}", topic.error_message)

        await self.cluster.with_retry(once)
        self.cluster.forget(name)

    async def delete_topic(self, name: str) -> None:
        async def once() -> None:
            conn = await self.cluster.controller()
            version = conn.version(ApiKey.DELETE_TOPICS)
            answer = await conn.request(ApiKey.DELETE_TOPICS, {
                "topic_names": [name], "topics": [{"name": name}],
                "timeout_ms": self.timeout_ms,
            }, version=version)
            for topic in answer.responses:
                _check(topic.error_code, f"delete topic {name!r}", topic.error_message)

        await self.cluster.with_retry(once)
        self.cluster.forget(name)

    async def create_partitions(self, name: str, count: int) -> None:
        """Grow ``name`` to ``count`` partitions."""

        async def once() -> None:
            conn = await self.cluster.controller()
            answer = await conn.request(ApiKey.CREATE_PARTITIONS, {
                "topics": [{"name": name, "count": count, "assignments": None}],
                "timeout_ms": self.timeout_ms, "validate_only": False,
            })
            for result in answer.results:
                _check(result.error_code, f"partitions of {name!r}", result.error_message)

        await self.cluster.with_retry(once)
        self.cluster.forget(name)

    async def list_topics(self, *, internal: bool = False) -> dict[str, int]:
        """Topic name -> partition count."""
        await self.cluster.refresh(None, auto_create=False)
        return {
            name: info.count for name, info in sorted(self.cluster.topics.items())
            if internal or not info.internal
        }

    async def describe_configs(self, name: str) -> dict[str, str | None]:
        async def once() -> dict[str, str | None]:
            conn = await self.cluster.controller()
            answer = await conn.request(ApiKey.DESCRIBE_CONFIGS, {
                "resources": [{"resource_type": TOPIC_RESOURCE, "resource_name": name,
                               "configuration_keys": None}],
                "include_synonyms": False, "include_documentation": False,
            })
            configs: dict[str, str | None] = {}
            for result in answer.results:
                _check(result.error_code, f"configs of {name!r}", result.error_message)
                for entry in result.configs:
                    configs[entry.name] = entry.value
            return configs

        return await self.cluster.with_retry(once)

    async def alter_configs(
        self, name: str, set_: Mapping[str, str], delete: Sequence[str] = ()
    ) -> None:
        """Set and delete (back to the default) topic configs."""
        entries = [{"name": k, "config_operation": OP_SET, "value": v} for k, v in set_.items()]
        entries += [{"name": k, "config_operation": OP_DELETE, "value": None} for k in delete]

        async def once() -> None:
            conn = await self.cluster.controller()
            answer = await conn.request(ApiKey.INCREMENTAL_ALTER_CONFIGS, {
                "resources": [{"resource_type": TOPIC_RESOURCE, "resource_name": name,
                               "configs": entries}],
                "validate_only": False,
            })
            for result in answer.responses:
                _check(result.error_code, f"alter configs of {name!r}",
                       result.error_message)

        await self.cluster.with_retry(once)

    async def describe_topic(
        self, name: str, *, configs: bool = True, cleaner: bool = False
    ) -> TopicDescription:
        """Partitions (leader, replicas, ISR, log start offset, high watermark), configs and,
        with ``cleaner``, each log's size and cleaner view."""
        answer = await self.cluster.refresh([name], auto_create=False)
        for topic in answer.topics:
            if topic.name == name and topic.error_code != ErrorCode.NONE:
                raise BrokerError(topic.error_code, f"topic {name!r}")
        info = self.cluster.topics.get(name)
        if info is None:
            raise BrokerError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"topic {name!r}")
        parts = sorted(info.partitions)
        description = TopicDescription(name, info.topic_id, info.internal)
        by_leader: dict[int, list[PartitionDescription]] = {}
        for p in parts:
            part = info.partitions[p]
            desc = PartitionDescription(
                p, part.leader, part.leader_epoch, list(part.replicas), list(part.isr),
                list(part.offline))
            if part.leader < 0:
                desc.error = error_name(part.error or ErrorCode.LEADER_NOT_AVAILABLE)
            else:
                by_leader.setdefault(part.leader, []).append(desc)
            description.partitions.append(desc)
        await asyncio.gather(*(self._offsets_at(name, leader, descs)
                               for leader, descs in by_leader.items()))
        if configs:
            description.configs = await self.describe_configs(name)
        if cleaner:
            leaders: dict[int, list[int]] = {}
            for p in parts:
                leaders.setdefault(info.partitions[p].leader, []).append(p)
            views: dict[int, CleanerView] = {}
            for leader, ps in leaders.items():
                if leader < 0:
                    continue
                # A leader that fails leaves its partitions' cleaner None; the rest is shown.
                with contextlib.suppress(ClientError):
                    views.update(await self.describe_log_dirs(leader, name, ps,
                                                              policy=DESCRIBE_RETRY))
            for described in description.partitions:
                described.cleaner = views.get(described.partition)
        return description

    async def _offsets_at(self, topic: str, leader: int,
                          descs: list[PartitionDescription]) -> None:
        """Fill in the log start offset and high watermark of ``descs`` from their leader;
        a leader that fails marks its partitions' ``error`` instead of raising."""
        wanted = {d.partition: d for d in descs}

        async def ask(timestamp: int) -> dict[int, tuple[int, int]]:
            conn = await self.cluster.node(leader)
            answer = await conn.request(ApiKey.LIST_OFFSETS, {
                "replica_id": -1, "isolation_level": 0,
                "topics": [{"name": topic, "partitions": [
                    {"partition_index": p, "timestamp": timestamp} for p in wanted]}],
                "timeout_ms": self.timeout_ms,
            })
            found: dict[int, tuple[int, int]] = {}
            for t in answer.topics:
                for p in t.partitions:
                    found[p.partition_index] = (p.error_code, p.offset)
            return found

        try:
            low, high = await asyncio.gather(retrying(lambda: ask(EARLIEST), DESCRIBE_RETRY),
                                             retrying(lambda: ask(LATEST), DESCRIBE_RETRY))
        except BrokerError as exc:
            failure = error_name(exc.code)
            low = high = {}
        except ClientError:
            failure = error_name(ErrorCode.NETWORK_EXCEPTION)
            low = high = {}
        else:
            failure = error_name(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)  # left unanswered
        for p, desc in wanted.items():
            code_low, offset_low = low.get(p, (-1, -1))
            code_high, offset_high = high.get(p, (-1, -1))
            if code_low < 0 or code_high < 0:
                desc.error = failure
            elif code_low or code_high:
                desc.error = error_name(code_low or code_high)
            else:
                desc.log_start_offset, desc.high_watermark = offset_low, offset_high

    async def describe_log_dirs(
        self, node: int, topic: str, partitions: Sequence[int], *,
        policy: RetryPolicy | None = None,
    ) -> dict[int, CleanerView]:
        """partition -> its log's size and cleaner view on broker ``node`` (DescribeLogDirs;
        partitions without a log there are left out); retried by ``policy`` (default: the
        cluster's)."""

        async def once() -> dict[int, CleanerView]:
            conn = await self.cluster.node(node)
            answer = await conn.request(ApiKey.DESCRIBE_LOG_DIRS, {
                "topics": [{"topic": topic, "partitions": list(partitions)}],
            })
            _check(answer.error_code, f"log dirs of broker {node}")
            views: dict[int, CleanerView] = {}
            for result in answer.results:
                _check(result.error_code, f"log dir {result.log_dir} of broker {node}")
                for t in result.topics:
                    for p in t.partitions:
                        compacted = p.cleaner_dirty_ratio >= 0
                        views[p.partition_index] = CleanerView(
                            size=p.partition_size, compacted=compacted,
                            dirty_ratio=p.cleaner_dirty_ratio if compacted else None,
                            first_dirty_offset=(
                                p.cleaner_first_dirty_offset if compacted else None
                            ),
                            last_cleaned_ms=(
                                p.cleaner_last_cleaned_ms
                                if p.cleaner_last_cleaned_ms >= 0 else None
                            ),
                            error=p.cleaner_error,
                        )
            return views

        if policy is not None:
            return await retrying(once, policy)
        return await self.cluster.with_retry(once)

    async def list_offsets(
        self, name: str, timestamp: int, partitions: Sequence[int] | None = None
    ) -> dict[int, tuple[int, int]]:
        """partition -> (offset, timestamp) for -2 (earliest), -1 (latest) or a timestamp."""
        info = await self.cluster.topic(name, auto_create=False)
        parts = sorted(info.partitions) if partitions is None else list(partitions)
        return await list_offsets(self.cluster, name, parts, timestamp)
