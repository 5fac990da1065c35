"""Replica moves and leader elections: AlterPartitionReassignments (45),
ListPartitionReassignments (46) and ElectLeaders (43), as ``log-reassign`` sends them.

Requests go to the controller Metadata names (any broker forwards them). A top-level error
(NOT_CONTROLLER, REQUEST_TIMED_OUT while the controllers elect one: retriable) is retried within
the cluster's retry policy; per-partition errors are returned, one per partition asked for, as
:class:`~tidelog.client.errors.BrokerError` or None, so a caller can report each one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tidelog.client.cluster import Cluster
from tidelog.client.errors import BrokerError, check
from tidelog.protocol import ApiKey

PREFERRED = 0
UNCLEAN = 1

TopicPartition = tuple[str, int]


@dataclass(frozen=True)
class Ongoing:
    """A partition being moved: its replicas now (target first), those joining and leaving."""

    replicas: tuple[int, ...]
    adding: tuple[int, ...]
    removing: tuple[int, ...]

    @property
    def target(self) -> tuple[int, ...]:
        return tuple(r for r in self.replicas if r not in self.removing)


def _by_topic(pairs: Iterable[tuple[str, int]]) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = {}
    for topic, p in pairs:
        grouped.setdefault(topic, []).append(p)
    return grouped


def _error(code: int, context: str, message: str | None) -> BrokerError | None:
    return None if code == 0 else BrokerError(code, context, message)


async def alter(cluster: Cluster, moves: Sequence[tuple[str, int, Sequence[int] | None]],
                timeout_ms: int = 30_000) -> dict[TopicPartition, BrokerError | None]:
    """Start (replicas) or cancel (None) the moves; the error of each partition, or None."""
    topics: dict[str, list[dict[str, object]]] = {}
    for topic, p, replicas in moves:
        topics.setdefault(topic, []).append(
            {"partition_index": p, "replicas": None if replicas is None else list(replicas)})

    async def once() -> dict[TopicPartition, BrokerError | None]:
        conn = await cluster.controller()
        answer = await conn.request(ApiKey.ALTER_PARTITION_REASSIGNMENTS, {
            "timeout_ms": timeout_ms, "allow_replication_factor_change": True,
            "topics": [{"name": t, "partitions": ps} for t, ps in topics.items()],
        })
        check(answer.error_code, "reassign partitions", answer.error_message)
        return {
            (t.name, p.partition_index): _error(p.error_code, f"{t.name}-{p.partition_index}",
                                                p.error_message)
            for t in answer.responses for p in t.partitions
        }

    return await cluster.with_retry(once)


async def ongoing(cluster: Cluster, wanted: Iterable[TopicPartition] | None = None
                  ) -> dict[TopicPartition, Ongoing]:
    """The partitions being moved among ``wanted`` (every one when None)."""
    topics = None if wanted is None else [
        {"name": t, "partition_indexes": ps} for t, ps in _by_topic(wanted).items()]

    async def once() -> dict[TopicPartition, Ongoing]:
        conn = await cluster.controller()
        answer = await conn.request(ApiKey.LIST_PARTITION_REASSIGNMENTS,
                                    {"timeout_ms": 30_000, "topics": topics})
        check(answer.error_code, "list reassignments", answer.error_message)
        return {
            (t.name, p.partition_index): Ongoing(tuple(p.replicas), tuple(p.adding_replicas),
                                                 tuple(p.removing_replicas))
            for t in answer.topics for p in t.partitions
        }

    return await cluster.with_retry(once)


async def elect(cluster: Cluster, election_type: int,
                partitions: Iterable[TopicPartition] | None, timeout_ms: int = 30_000
                ) -> dict[TopicPartition, BrokerError | None]:
    """Preferred or unclean elections; the outcome per partition (every partition that
    needed one when ``partitions`` is None)."""
    asked = None if partitions is None else [
        {"topic": t, "partitions": ps} for t, ps in _by_topic(partitions).items()]

    async def once() -> dict[TopicPartition, BrokerError | None]:
        conn = await cluster.controller()
        answer = await conn.request(ApiKey.ELECT_LEADERS, {
            "election_type": election_type, "topic_partitions": asked,
            "timeout_ms": timeout_ms,
        })
        check(answer.error_code, "elect leaders")
        return {
            (r.topic, p.partition_id): _error(p.error_code, f"{r.topic}-{p.partition_id}",
                                              p.error_message)
            for r in answer.replica_election_results for p in r.partition_result
        }

    return await cluster.with_retry(once)


#: IncrementalAlterConfigs operations and resource types (Kafka's numbering).
OP_SET, OP_DELETE, OP_APPEND = 0, 1, 2
TOPIC_RESOURCE, BROKER_RESOURCE = 2, 4


async def alter_configs(cluster: Cluster, resource_type: int, name: str,
                        entries: Sequence[tuple[str, int, str | None]]) -> None:
    """IncrementalAlterConfigs on one topic or broker: ``(config, op, value)`` entries."""

    async def once() -> None:
        conn = await cluster.controller()
        answer = await conn.request(ApiKey.INCREMENTAL_ALTER_CONFIGS, {
            "resources": [{"resource_type": resource_type, "resource_name": name, "configs": [
                {"name": c, "config_operation": op, "value": v} for c, op, v in entries]}],
            "validate_only": False,
        })
        for result in answer.responses:
            check(result.error_code, f"configs of {name!r}", result.error_message)

    await cluster.with_retry(once)


async def config_values(cluster: Cluster, resource_type: int, name: str,
                        keys: Sequence[str]) -> dict[str, str | None]:
    """The values of ``keys`` on one topic or broker (what DescribeConfigs reports)."""

    async def once() -> dict[str, str | None]:
        conn = await cluster.controller()
        answer = await conn.request(ApiKey.DESCRIBE_CONFIGS, {
            "resources": [{"resource_type": resource_type, "resource_name": name,
                           "configuration_keys": list(keys)}],
            "include_synonyms": False, "include_documentation": False,
        })
        found: dict[str, str | None] = {}
        for result in answer.results:
            check(result.error_code, f"configs of {name!r}", result.error_message)
            found.update({e.name: e.value for e in result.configs if e.name in keys})
        return found

    return await cluster.with_retry(once)
