"""Handlers: Produce (0) and InitProducerId (22).

Produce hot path, per partition: read the batch headers (structure only, no records), check the
idempotent producer's sequence, then :meth:`PartitionLog.append` (which checks each batch's CRC
over a memoryview, assigns offsets by rewriting the header and writes with one pwrite) — the
records are never decoded. The request's record bytes are copied once, into the bytearray the
append rewrites in place (the frame itself is immutable).

Every partition is appended before the handler first awaits, so requests pipelined on one
connection append in the order they were sent (what idempotent producers rely on). Then the
handler waits, at most the request's ``timeout_ms`` (then REQUEST_TIMED_OUT: the records are
written, not yet known durable or replicated): for acks=1 the group-committed fdatasync the
flush policy asks for, for acks=all the high watermark to pass the records (the replica
manager: every in-sync replica has them, on disk with the default flush policy); acks 0 gets
no response at all, as in Kafka. A leader that loses leadership while an acks=all write waits
answers NOT_LEADER_OR_FOLLOWER (the producer retries; idempotence removes the duplicates).

Errors per partition: UNKNOWN_TOPIC_OR_PARTITION, CORRUPT_MESSAGE (bad size, magic, CRC,
unknown codec), UNSUPPORTED_COMPRESSION_TYPE (zstd before Produce v7),
MESSAGE_TOO_LARGE (max.message.bytes), INVALID_TIMESTAMP (CreateTime more than an hour in the
future, Kafka 4.0's message.timestamp.after.max.ms), INVALID_RECORD (control batches from a
client), OUT_OF_ORDER_SEQUENCE_NUMBER / INVALID_PRODUCER_EPOCH (idempotence),
NOT_ENOUGH_REPLICAS (acks=all while the ISR is smaller than min.insync.replicas),
NOT_ENOUGH_REPLICAS_AFTER_APPEND (it shrank below that while the write waited),
NOT_LEADER_OR_FOLLOWER (this broker does not lead the partition),
KAFKA_STORAGE_ERROR (the disk failed), INVALID_REQUIRED_ACKS.

InitProducerId hands out producer ids from blocks the metadata log reserves; transactions are
not supported (a transactional id is refused).
"""

from __future__ import annotations

import asyncio
import logging
import time

from tidelog.broker.core import BrokerCore
from tidelog.broker.handlers.base import Handler, error_of, message_of
from tidelog.broker.quorum import ops
from tidelog.broker.replication.partition import Partition
from tidelog.protocol.apis import ApiKey
from tidelog.protocol.data import Struct
from tidelog.protocol.errors import ErrorCode
from tidelog.protocol.header import RequestHeader
from tidelog.records.batch_header import (
    CONTROL_BIT,
    TIMESTAMP_TYPE_BIT,
    BatchHeader,
    Compression,
    check_header,
    parse_header,
)

log = logging.getLogger("tidelog.broker.produce")

#: Kafka 4.0's message.timestamp.after.max.ms default: one hour into the future.
MAX_FUTURE_MS = 3_600_000


def _headers(view: memoryview) -> list[BatchHeader]:
    """Batch headers of a produce request's records (structure checked, CRC left to append)."""
    headers = []
    pos, end = 0, len(view)
    while pos < end:
        header = parse_header(view, pos)
        check_header(header, end - pos, pos)
        headers.append(header)
        pos += header.size
    return headers


def _check_batches(headers: list[BatchHeader], log_append_time: bool, version: int) -> tuple[
    ErrorCode, str | None
]:
    now = time.time_ns() // 1_000_000
    for h in headers:
        if h.attributes & CONTROL_BIT:
            return ErrorCode.INVALID_RECORD, "clients may not write control batches"
        if h.compression > Compression.ZSTD:
            return ErrorCode.CORRUPT_MESSAGE, f"unknown compression codec {h.compression}"
        if h.compression == Compression.ZSTD and version < 7:
            # Kafka's rule: zstd needs Produce v7+, so old consumers never meet it unasked.
            return ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, "zstd needs Produce v7 or later"
        if log_append_time or h.attributes & TIMESTAMP_TYPE_BIT:
            continue
        if h.max_timestamp > now + MAX_FUTURE_MS:
            return ErrorCode.INVALID_TIMESTAMP, (
                f"timestamp {h.max_timestamp} is more than {MAX_FUTURE_MS} ms in the future"
            )
        if h.base_timestamp < -1 or h.max_timestamp < -1:
            return ErrorCode.INVALID_TIMESTAMP, "negative record timestamp"
    return ErrorCode.NONE, None


def _append_partition(
    core: BrokerCore, topic: str, partition: int, records: memoryview | None, acks: int,
    version: int,
) -> tuple[Struct, Partition | None, int]:
    """Append one partition's batches; (answer, the partition if written, the offset after
    the records: what acks=all waits for the high watermark to reach)."""
    res = Struct(
        index=partition, error_code=0, base_offset=-1, log_append_time_ms=-1,
        log_start_offset=-1, record_errors=[], error_message=None,
    )
    replicas = core.replicas
    part = replicas.partition(topic, partition)
    if part is None or not part.is_leader:
        res.error_code = int(replicas.missing_partition_error(topic, partition))
        return res, None, -1
    plog = part.log
    if not records:
        res.error_code = int(ErrorCode.CORRUPT_MESSAGE)
        res.error_message = "no record batches"
        return res, None, -1
    if acks == -1:
        needed = replicas.min_insync_replicas(topic)
        if len(part.isr) < needed:
            res.error_code = int(ErrorCode.NOT_ENOUGH_REPLICAS)
            res.error_message = f"{len(part.isr)} in-sync replicas, min.insync.replicas is {needed}"
            return res, None, -1
    tp = part.tp
    try:
        headers = _headers(records)
        code, why = _check_batches(headers, plog.config.log_append_time, version)
        if code != ErrorCode.NONE:
            res.error_code, res.error_message = int(code), why
            return res, None, -1
        table = replicas.producer_state(tp)
        verdict = table.check(headers)
        if verdict.error != ErrorCode.NONE:
            res.error_code, res.error_message = int(verdict.error), verdict.message
            return res, None, -1
        if verdict.duplicate is not None:
            res.base_offset = verdict.duplicate.first_offset
            res.log_append_time_ms = verdict.duplicate.log_append_time
            res.log_start_offset = plog.log_start_offset
            # a retry of what was written: it is acknowledged once those records are
            return res, part, verdict.duplicate.last_offset + 1
        buf = bytearray(records)
        info = plog.append(buf, leader_epoch=part.leader_epoch)
    except Exception as exc:  # storage, records and OS errors become per-partition codes
        code = error_of(exc)
        if code in (ErrorCode.UNKNOWN_SERVER_ERROR, ErrorCode.KAFKA_STORAGE_ERROR):
            log.error("append to %s failed: %s", tp, exc)
        res.error_code, res.error_message = int(code), message_of(exc)
        return res, None, -1
    # Offsets were assigned contiguously from info.first_offset, batch after batch.
    offset = info.first_offset
    placed = []
    for h in headers:
        placed.append(h._replace(base_offset=offset))
        offset += h.last_offset_delta + 1
    table.record(placed, info.log_append_time_ms)
    replicas.appended(part)
    res.base_offset = info.first_offset
    res.log_append_time_ms = info.log_append_time_ms
    res.log_start_offset = info.log_start_offset
    return res, part, info.last_offset + 1


async def _acknowledged(core: BrokerCore, part: Partition, end: int, acks: int) -> ErrorCode:
    """Wait for what ``acks`` promises: 1 the leader's own flush policy, all the high
    watermark (every ISR member has the records, durably with the default flush policy)."""
    if acks == -1:
        return await core.replicas.replicated_wait(part, end)
    await core.replicas.durable_wait(part)
    return ErrorCode.NONE


async def produce(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct | None:
    acks = req.acks
    if req.transactional_id is not None:
        code: ErrorCode | None = ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    elif acks not in (0, 1, -1):
        code = ErrorCode.INVALID_REQUIRED_ACKS
    else:
        code = None
    responses = []
    written: list[tuple[Struct, Partition, int]] = []
    for t in req.topic_data:
        name = t.name
        if header.api_version >= 13:
            name = core.topic_name_of(t.topic_id) or ""
        parts = []
        for p in t.partition_data:
            if code is not None:
                parts.append(Struct(index=p.index, error_code=int(code), base_offset=-1))
                continue
            res, part, end = _append_partition(
                core, name, p.index, p.records, acks, header.api_version
            )
            parts.append(res)
            if part is not None:
                written.append((res, part, end))
        responses.append(Struct(name=t.name, topic_id=t.topic_id, partition_responses=parts))
    if acks == 0:
        return None
    if written:
        waits = asyncio.gather(
            *(_acknowledged(core, part, end, acks) for _, part, end in written),
            return_exceptions=True,
        )
        # The request's timeout bounds the wait, as in Kafka (0 or less: no bound).
        bound = req.timeout_ms / 1000 if req.timeout_ms > 0 else None
        try:
            results = await asyncio.wait_for(waits, bound)
        except TimeoutError:
            log.warning("produce not acknowledged within its timeout of %d ms", req.timeout_ms)
            results = [ErrorCode.REQUEST_TIMED_OUT] * len(written)
        for (res, _, _), result in zip(written, results, strict=True):
            if isinstance(result, BaseException):
                log.error("flush failed: %s", result)
                result = ErrorCode.KAFKA_STORAGE_ERROR
            if result != ErrorCode.NONE and res.error_code == 0:
                res.error_code = int(result)
    return Struct(responses=responses, throttle_time_ms=0)


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
        return Struct(
            throttle_time_ms=0, error_code=int(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
            producer_id=-1, producer_epoch=-1,
        )
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
