"""Handlers: Produce (0) and InitProducerId (22).

The handler makes one call, :meth:`ReplicaManager.append_records` (Kafka's appendRecords),
and turns its results into the answer. Per partition that reads the batch headers (structure
only, no records, :mod:`tidelog.broker.replication.validation`), checks the idempotent
producer's sequence, then :meth:`PartitionLog.append` (which checks each batch's CRC over a
memoryview, assigns offsets by rewriting the header and writes with one pwrite) — the records
are never decoded. The request's record bytes are copied once, into the bytearray the append
rewrites in place (the frame itself is immutable).

Every partition is appended before the first await, so requests pipelined on one connection
append in the order they were sent (what idempotent producers rely on). Then it waits, at
most the request's ``timeout_ms`` (then REQUEST_TIMED_OUT: the records are written, not yet
known durable or replicated): for acks=1 the group-committed fdatasync the
flush policy asks for, for acks=all the high watermark to pass the records (the replica
manager: every in-sync replica has them, on disk with the default flush policy); acks 0 gets
no response at all, as in Kafka. A leader that loses leadership while an acks=all write waits
answers NOT_LEADER_OR_FOLLOWER (the producer retries; idempotence removes the duplicates).

Versions 0-10. Produce v0-2 carry record batches v2 as Kafka 3.x accepts them from these
versions; magic 0/1 message sets are refused with UNSUPPORTED_FOR_MESSAGE_FORMAT.

Errors per partition: INVALID_TOPIC_EXCEPTION (an internal topic such as
``__consumer_offsets``: only the broker writes those), UNKNOWN_TOPIC_OR_PARTITION,
CORRUPT_MESSAGE (bad size, magic above 2, CRC, unknown codec), UNSUPPORTED_COMPRESSION_TYPE
(zstd before Produce v7),
MESSAGE_TOO_LARGE (max.message.bytes), INVALID_TIMESTAMP (CreateTime more than an hour in the
future, Kafka 4.0's message.timestamp.after.max.ms), INVALID_RECORD (control batches from a
client), OUT_OF_ORDER_SEQUENCE_NUMBER / INVALID_PRODUCER_EPOCH (idempotence),
NOT_ENOUGH_REPLICAS (acks=all while the ISR is smaller than min.insync.replicas),
NOT_ENOUGH_REPLICAS_AFTER_APPEND (it shrank below that while the write waited),
NOT_LEADER_OR_FOLLOWER (this broker does not lead the partition; from v10 the answer names
the leader, KIP-951: :mod:`tidelog.broker.handlers.leader_hints`),
KAFKA_STORAGE_ERROR (the disk failed), INVALID_REQUIRED_ACKS.

InitProducerId hands out producer ids from blocks the metadata log reserves; with a
transactional id it is the transaction coordinator's (:mod:`tidelog.broker.txn.coordinator`).
Transactional batches are appended like idempotent ones; the partition tracks their
transactions (:mod:`tidelog.storage.txn_state`).
"""

from __future__ import annotations

import logging

from tidelog.broker.core import BrokerCore
from tidelog.broker.handlers.base import Handler
from tidelog.broker.handlers.leader_hints import name_leaders
from tidelog.broker.quorum import ops
from tidelog.metadata.controller_ops import INTERNAL_TOPICS
from tidelog.protocol.apis import ApiKey
from tidelog.protocol.data import Struct
from tidelog.protocol.errors import ErrorCode
from tidelog.protocol.header import RequestHeader

log = logging.getLogger("tidelog.broker.produce")

async def produce(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct | None:
    acks = req.acks
    code = ErrorCode.INVALID_REQUIRED_ACKS if acks not in (0, 1, -1) else None
    names = [core.topic_name_of(t.topic_id) or "" if header.api_version >= 13 else t.name
             for t in req.topic_data]
    entries = []
    if code is None:
        for t, name in zip(req.topic_data, names, strict=True):
            if name in INTERNAL_TOPICS:
                continue  # answered below: a forged __consumer_offsets record could rewind a group
            entries += [(name, p.index, p.records) for p in t.partition_data]
    results = iter(await core.replicas.append_records(
        entries, acks, req.timeout_ms, header.api_version))
    if acks == 0:
        return None
    responses = []
    for t, name in zip(req.topic_data, names, strict=True):
        parts = []
        for p in t.partition_data:
            if code is not None:
                parts.append(Struct(index=p.index, error_code=int(code), base_offset=-1))
                continue
            if name in INTERNAL_TOPICS:  # Kafka's answer: only the broker writes these
                parts.append(Struct(
                    index=p.index, error_code=int(ErrorCode.INVALID_TOPIC_EXCEPTION),
                    base_offset=-1, error_message=f"cannot append to internal topic {name}"))
                continue
            r = next(results)
            parts.append(Struct(
                index=p.index, error_code=int(r.error), base_offset=r.base_offset,
                log_append_time_ms=r.log_append_time_ms, log_start_offset=r.log_start_offset,
                record_errors=[], error_message=r.message if r.error else None,
            ))
        responses.append(Struct(name=t.name, topic_id=t.topic_id, partition_responses=parts))
    answer = Struct(responses=responses, throttle_time_ms=0)
    if header.api_version >= 10:
        answer.node_endpoints = name_leaders(core, (
            (name, p) for r, name in zip(responses, names, strict=True)
            for p in r.partition_responses), "index")
    return answer


def produce_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(responses=[
        Struct(name=t.name, topic_id=t.topic_id, partition_responses=[
            Struct(index=p.index, error_code=int(code), base_offset=-1)
            for p in t.partition_data
        ])
        for t in req.topic_data
    ])


_MAX_EPOCH = 32767


async def init_producer_id(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    if req.transactional_id is not None:
        code, pid, epoch = await core.txns.init_producer_id(
            req.transactional_id, req.transaction_timeout_ms, req.producer_id,
            req.producer_epoch)
        if code == ErrorCode.PRODUCER_FENCED and header.api_version < 4:
            code = ErrorCode.INVALID_PRODUCER_EPOCH  # PRODUCER_FENCED is v4+ (Kafka)
        return Struct(throttle_time_ms=0, error_code=int(code), producer_id=pid,
                      producer_epoch=epoch)
    if req.producer_id >= 0 and 0 <= req.producer_epoch < _MAX_EPOCH - 1:
        # An idempotent producer bumping its epoch (KIP-360) keeps its id.
        return Struct(throttle_time_ms=0, error_code=0, producer_id=req.producer_id,
                      producer_epoch=req.producer_epoch + 1)
    pid = await ops.allocate_producer_id(core)
    return Struct(throttle_time_ms=0, error_code=0, producer_id=pid, producer_epoch=0)


def init_producer_id_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(error_code=int(code), producer_id=-1, producer_epoch=-1)


HANDLERS = {
    ApiKey.PRODUCE: Handler(produce, produce_fallback),
    ApiKey.INIT_PRODUCER_ID: Handler(init_producer_id, init_producer_id_fallback),
}
