"""Handler: Fetch (1), with long polling.

Each partition's answer is a region of its segment files (:class:`RegionPart`) holding whole
batches from the one containing ``fetch_offset`` up to the high watermark (for a follower,
``replica_id`` >= 0: up to the log end; its ``fetch_offset`` is reported to the replica
manager, and a ``last_fetched_epoch`` the leader's log does not end the same way gets a
``diverging_epoch`` answer instead of records), within the
partition's ``partition_max_bytes`` and the request's ``max_bytes``; the first partition with
data returns at least one batch even when it is larger (KIP-74), later ones only what fits. The
bytes go from the page cache to the socket with sendfile; they are never read into Python.

Long polling: when fewer than ``min_bytes`` are available, the handler waits, up to
``max_wait_ms``, for an append or a high watermark move on one of the requested partitions
(:meth:`ReplicaManager.wait_for_data`) and reads again. Only the leader answers; a
``current_leader_epoch`` older than its epoch gets FENCED_LEADER_EPOCH, a newer one
UNKNOWN_LEADER_EPOCH. An error on any partition answers at once; from v16 a partition this
broker does not lead names its leader (KIP-951: :mod:`tidelog.broker.handlers.leader_hints`).

With metrics on, the bytes of each answer are counted per topic when it is sent (consumers'
as bytes out, followers' as replication bytes out).

Fetch sessions (KIP-227) are not offered: every answer has session id 0, so clients send full
requests (librdkafka always does). A request naming a session gets FETCH_SESSION_ID_NOT_FOUND.
"""

from __future__ import annotations

import asyncio

from tidelog.broker.core import BrokerCore
from tidelog.broker.handlers.base import Handler, error_of
from tidelog.broker.handlers.leader_hints import name_leaders
from tidelog.broker.metrics.counters import BrokerMetrics
from tidelog.broker.regions import RegionPart, close_parts
from tidelog.protocol.apis import ApiKey
from tidelog.protocol.data import Struct
from tidelog.protocol.errors import ErrorCode
from tidelog.protocol.header import RequestHeader
from tidelog.storage.errors import StorageError
from tidelog.storage.topic_partition import TopicPartition


def _partition(code: int, index: int, hw: int = -1, start: int = -1) -> Struct:
    return Struct(
        partition_index=index, error_code=code, high_watermark=hw, last_stable_offset=hw,
        log_start_offset=start, aborted_transactions=None, preferred_read_replica=-1,
        records=b"",
    )


def _resolve(core: BrokerCore, version: int, t: Struct) -> tuple[str | None, ErrorCode]:
    if version >= 13:
        name = core.topic_name_of(t.topic_id)
        return name, ErrorCode.NONE if name is not None else ErrorCode.UNKNOWN_TOPIC_ID
    return t.topic, ErrorCode.NONE


def _replica_id(version: int, req: Struct) -> int:
    """The follower's broker id (-1 for a consumer): the field moved in Fetch v15."""
    if version >= 15:
        state = req.replica_state
        return state.replica_id if state is not None else -1
    return int(req.replica_id)


def _read_all(core: BrokerCore, version: int, req: Struct, first: bool
              ) -> tuple[list[Struct], int, bool]:
    """One pass over the requested partitions: (topic answers, bytes, whether to answer now).

    A follower's position is recorded on the ``first`` pass only (once per request)."""
    total = 0
    urgent = False
    budget = req.max_bytes if req.max_bytes > 0 else 0x7FFFFFFF
    replica = _replica_id(version, req)
    answers = []
    for t in req.topics:
        name, code = _resolve(core, version, t)
        parts: list[Struct] = []
        answers.append(Struct(topic=t.topic, topic_id=t.topic_id, partitions=parts))
        for p in t.partitions:
            if code != ErrorCode.NONE or name is None:
                parts.append(_partition(int(code), p.partition))
                urgent = True
                continue
            try:
                r = core.replicas.read(
                    name, p.partition, p.fetch_offset,
                    current_leader_epoch=p.current_leader_epoch,
                    last_fetched_epoch=p.last_fetched_epoch if version >= 12 else -1,
                    replica=replica, max_bytes=min(p.partition_max_bytes, budget - total),
                    min_one_batch=total == 0, record=first,
                    read_committed=req.isolation_level == 1,
                    durable_offset=p.durable_offset if version >= 12 else -1,
                )
            except (StorageError, OSError) as exc:
                parts.append(_partition(int(error_of(exc)), p.partition))
                urgent = True
                continue
            answer = _partition(int(r.error), p.partition, r.high_watermark, r.log_start_offset)
            answer.last_stable_offset = r.last_stable_offset
            if r.aborted:
                answer.aborted_transactions = [
                    Struct(producer_id=pid, first_offset=first) for pid, first in r.aborted]
            if r.error != ErrorCode.NONE or r.diverging is not None:
                urgent = True
            if r.diverging is not None:
                answer.diverging_epoch = Struct(epoch=r.diverging[0], end_offset=r.diverging[1])
            if r.region is not None:
                answer.records = RegionPart(r.region)
                total += r.region.length
            parts.append(answer)
    return answers, total, urgent


def _parts_of(answers: list[Struct]) -> list[RegionPart]:
    return [
        p.records for t in answers for p in t.partitions if isinstance(p.records, RegionPart)
    ]


async def fetch(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    version = header.api_version
    if version >= 7 and req.session_id != 0:
        return Struct(throttle_time_ms=0, error_code=int(ErrorCode.FETCH_SESSION_ID_NOT_FOUND),
                      session_id=0, responses=[])
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(0, req.max_wait_ms) / 1000
    min_bytes = max(1, req.min_bytes)
    first = True
    while True:
        answers, total, urgent = _read_all(core, version, req, first)
        first = False
        remaining = deadline - loop.time()
        if urgent or total >= min_bytes or remaining <= 0 or core.stopping:
            if core.metrics is not None and total:
                _count_out(core, core.metrics, version, req, answers)
            answer = Struct(throttle_time_ms=0, error_code=0, session_id=0, responses=answers)
            if urgent and version >= 16:
                answer.node_endpoints = name_leaders(core, (
                    (_resolve(core, version, t)[0], p)
                    for t, a in zip(req.topics, answers, strict=True) for p in a.partitions),
                    "partition_index")
            return answer
        close_parts(_parts_of(answers))
        tps = []
        for t in req.topics:
            name, _ = _resolve(core, version, t)
            if name is not None:
                tps += [TopicPartition(name, p.partition) for p in t.partitions]
        await core.replicas.wait_for_data(tps, remaining)


def _count_out(core: BrokerCore, metrics: BrokerMetrics, version: int, req: Struct,
               answers: list[Struct]) -> None:
    """Bytes out per topic (Kafka's BytesOutPerSec for consumers, ReplicationBytesOutPerSec
    for followers)."""
    follower = _replica_id(version, req) >= 0
    for t, a in zip(req.topics, answers, strict=True):
        sent = sum(len(p.records) for p in a.partitions if isinstance(p.records, RegionPart))
        name, _ = _resolve(core, version, t)
        if sent and name is not None:
            counts = metrics.topic(name)
            if follower:
                counts.replication_bytes_out += sent
            else:
                counts.bytes_out += sent


def fetch_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(error_code=int(code), session_id=0, responses=[
        Struct(topic=t.topic, topic_id=t.topic_id,
               partitions=[_partition(int(code), p.partition) for p in t.partitions])
        for t in req.topics
    ])


HANDLERS = {ApiKey.FETCH: Handler(fetch, fetch_fallback)}
