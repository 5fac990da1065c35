"""Handlers: ElectLeaders (43), AlterPartitionReassignments (45), ListPartitionReassignments (46).

The decisions are the controller's (:mod:`tidelog.metadata.reassignment`, through
:mod:`tidelog.broker.quorum.ops`): any broker takes the request, the active controller commits
the records, and the answer comes once this broker's image has them — so a client that asks
ListPartitionReassignments or Metadata of the same broker next sees the change. Each partition
gets its own error; when no controller could take the change at all (NOT_CONTROLLER,
REQUEST_TIMED_OUT, both retriable) the request's top-level error says so (ElectLeaders v0,
which has none, puts it on every partition). ListPartitionReassignments reads this broker's
image: the moving partitions among those asked for (every one when the topic list is null);
unknown topics and partitions are left out, as Kafka does.
"""

from __future__ import annotations

from collections.abc import Iterable

from tidelog.broker.core import BrokerCore
from tidelog.broker.handlers.base import Handler, error_of, message_of
from tidelog.broker.quorum import ops
from tidelog.metadata import reassignment
from tidelog.metadata.errors import ControllerError
from tidelog.protocol.apis import ApiKey
from tidelog.protocol.data import Struct
from tidelog.protocol.errors import ErrorCode
from tidelog.protocol.header import RequestHeader


def _code(name: str | None) -> int:
    return 0 if name is None else int(ErrorCode[name])


def _by_topic(results: Iterable[reassignment.Result]) -> dict[str, list[reassignment.Result]]:
    grouped: dict[str, list[reassignment.Result]] = {}
    for r in results:
        grouped.setdefault(r.topic, []).append(r)
    return grouped


# -- ElectLeaders -----------------------------------------------------------------------------

def _election_answer(version: int, results: Iterable[reassignment.Result], top: int = 0
                     ) -> Struct:
    return Struct(throttle_time_ms=0, error_code=top, replica_election_results=[
        Struct(topic=topic, partition_result=[
            Struct(partition_id=r.partition, error_code=_code(r.error), error_message=r.message)
            for r in rs
        ]) for topic, rs in _by_topic(results).items()
    ])


def _asked(req: Struct) -> list[tuple[str, int]] | None:
    if req.topic_partitions is None:
        return None
    return [(t.topic, p) for t in req.topic_partitions for p in t.partitions]


async def elect_leaders(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    version = header.api_version
    election_type = req.election_type if version >= 1 else reassignment.PREFERRED
    asked = _asked(req)
    try:
        results = await ops.elect_leaders(core, election_type, asked)
    except ControllerError as exc:
        return elect_leaders_fallback(req, version, error_of(exc), message_of(exc))
    return _election_answer(version, results)


def elect_leaders_fallback(req: Struct, version: int, code: ErrorCode,
                           message: str | None = None) -> Struct:
    asked = _asked(req) or []
    if version >= 1:
        return _election_answer(version, [], int(code))
    return _election_answer(version, [
        reassignment.Result(t, p, code.name, message or code.message) for t, p in asked])


# -- AlterPartitionReassignments ----------------------------------------------------------------

async def alter_partition_reassignments(core: BrokerCore, header: RequestHeader, req: Struct
                                        ) -> Struct:
    moves = [(t.name, p.partition_index, p.replicas) for t in req.topics for p in t.partitions]
    allow = req.allow_replication_factor_change if header.api_version >= 1 else True
    try:
        results = await ops.alter_reassignments(
            core, moves, allow_replication_factor_change=allow)
    except ControllerError as exc:
        return alter_partition_reassignments_fallback(
            req, header.api_version, error_of(exc), message_of(exc))
    return Struct(
        throttle_time_ms=0, allow_replication_factor_change=allow, error_code=0,
        error_message=None,
        responses=[Struct(name=topic, partitions=[
            Struct(partition_index=r.partition, error_code=_code(r.error),
                   error_message=r.message) for r in rs
        ]) for topic, rs in _by_topic(results).items()],
    )


def alter_partition_reassignments_fallback(req: Struct, version: int, code: ErrorCode,
                                           message: str | None = None) -> Struct:
    return Struct(throttle_time_ms=0, error_code=int(code),
                  error_message=message or code.message, responses=[])


# -- ListPartitionReassignments -----------------------------------------------------------------

async def list_partition_reassignments(core: BrokerCore, header: RequestHeader, req: Struct
                                       ) -> Struct:
    wanted = None if req.topics is None else \
        [(t.name, p) for t in req.topics for p in t.partition_indexes]
    moving = reassignment.ongoing(core.image, wanted)
    topics: dict[str, list[Struct]] = {}
    for topic, p, part in moving:
        topics.setdefault(topic, []).append(Struct(
            partition_index=p, replicas=list(part.replicas),
            adding_replicas=list(part.adding_replicas),
            removing_replicas=list(part.removing_replicas)))
    return Struct(throttle_time_ms=0, error_code=0, error_message=None, topics=[
        Struct(name=name, partitions=parts) for name, parts in topics.items()])


def list_partition_reassignments_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(throttle_time_ms=0, error_code=int(code), error_message=code.message,
                  topics=[])


HANDLERS = {
    ApiKey.ELECT_LEADERS: Handler(elect_leaders, elect_leaders_fallback),
    ApiKey.ALTER_PARTITION_REASSIGNMENTS: Handler(
        alter_partition_reassignments, alter_partition_reassignments_fallback),
    ApiKey.LIST_PARTITION_REASSIGNMENTS: Handler(
        list_partition_reassignments, list_partition_reassignments_fallback),
}
