"""Handler: DeleteRecords (21), which moves a partition's log start offset up.

DeleteRecords moves a partition's log start offset up to the given offset (-1: the high
watermark), as Kafka does: records below it are no longer readable, wholly covered segments
are deleted, and the answer's ``low_watermark`` is the new log start offset. An offset beyond
the high watermark, or negative other than -1, is OFFSET_OUT_OF_RANGE and changes nothing. The
log start offset checkpoint is written before the answer, so an acknowledged deletion survives
a crash (Kafka writes it only periodically). Only the partition's leader answers; another
broker's partitions get the leader error ListOffsets gives. The answer is the leader's new
log start offset: Kafka waits for every follower's low watermark too, which this does not.
"""

from __future__ import annotations

from tidelog.broker.core import BrokerCore
from tidelog.broker.handlers.base import Handler, error_of
from tidelog.protocol.apis import ApiKey
from tidelog.protocol.data import Struct
from tidelog.protocol.errors import ErrorCode
from tidelog.protocol.header import RequestHeader
from tidelog.storage.errors import StorageError

#: DeleteRecords' "up to the high watermark".
HIGH_WATERMARK = -1


async def delete_records(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    topics = []
    moved = False
    for t in req.topics:
        parts: list[Struct] = []
        topics.append(Struct(name=t.name, partitions=parts))
        for p in t.partitions:
            res = Struct(partition_index=p.partition_index, low_watermark=-1, error_code=0)
            parts.append(res)
            plog = core.partition_log(t.name, p.partition_index)
            if plog is None:
                res.error_code = core.missing_partition_error(t.name, p.partition_index)
                continue
            hw = plog.high_watermark
            target = hw if p.offset == HIGH_WATERMARK else p.offset
            if target < 0 or target > hw:
                res.error_code = int(ErrorCode.OFFSET_OUT_OF_RANGE)
                res.low_watermark = plog.log_start_offset
                continue
            try:
                if target > plog.log_start_offset:
                    plog.advance_log_start_offset(target)
                    moved = True
                res.low_watermark = plog.log_start_offset
            except (StorageError, OSError) as exc:
                res.error_code = int(error_of(exc))
    if moved:
        core.checkpoint()
    return Struct(throttle_time_ms=0, topics=topics)


def delete_records_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(topics=[
        Struct(name=t.name, partitions=[
            Struct(partition_index=p.partition_index, error_code=int(code)) for p in t.partitions
        ])
        for t in req.topics
    ])


HANDLERS = {
    ApiKey.DELETE_RECORDS: Handler(delete_records, delete_records_fallback),
}
