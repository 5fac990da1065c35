"""Handlers: ListOffsets (2) and OffsetForLeaderEpoch (23).

ListOffsets: timestamp -2 is the log start offset, -1 the latest offset (the high watermark,
for read_uncommitted and read_committed alike: no transactions here), -3 the first record
holding the largest timestamp (KIP-734), -4 (earliest local) the log start offset (there is no
tiered storage), anything >= 0 the first *record* whose timestamp is >= it, with that record's
timestamp (offset -1 and timestamp -1 when there is none, as Kafka answers). Kafka decodes the
batch the time index leads to, and so does this: a batch of records with timestamps 1234 and
999999999999 answers offset 1 for 1235. Other negative specs get INVALID_REQUEST; a batch that
does not decode answers CORRUPT_MESSAGE for its partition.

ListOffsets v0 (Kafka 4.0 dropped it; Burrow 1.2.1 still sends it) answers the same offset as
a list, ``old_style_offsets``: one offset, or none when there is none or ``max_num_offsets``
is 0. Kafka 3.x listed segment base offsets by file time for a timestamp at v0; tidelog
answers the record lookup of v1+ there, which is what a caller asking for one offset wants.

OffsetForLeaderEpoch: the largest epoch <= the asked one and the offset where it ends, from the
partition's leader-epoch cache. A ``current_leader_epoch`` newer than the broker's is
UNKNOWN_LEADER_EPOCH, an older one FENCED_LEADER_EPOCH.
"""

from __future__ import annotations

from tidelog.broker.core import BrokerCore
from tidelog.broker.handlers.base import Handler, error_of
from tidelog.protocol.apis import ApiKey
from tidelog.protocol.data import Struct
from tidelog.protocol.errors import ErrorCode
from tidelog.protocol.header import RequestHeader
from tidelog.records.errors import CorruptRecordError
from tidelog.storage.errors import StorageError
from tidelog.storage.log import PartitionLog

EARLIEST = -2
LATEST = -1
MAX_TIMESTAMP = -3  # v7+
EARLIEST_LOCAL = -4  # v8+: no tiered storage here, so the same as EARLIEST
_TS_TOP = (1 << 63) - 1


class _Unwritten:
    """What ListOffsets reads of a partition whose log does not exist yet: an empty log."""

    log_start_offset = 0
    high_watermark = 0
    last_stable_offset = 0

    def offset_for_timestamp(self, timestamp: int) -> tuple[int, int] | None:
        return None

    def record_for_timestamp(self, timestamp: int) -> tuple[int, int] | None:
        return None


_UNWRITTEN = _Unwritten()


def _max_timestamp(plog: PartitionLog | _Unwritten) -> tuple[int, int] | None:
    """(offset, timestamp) of the first record holding the largest timestamp: a binary search
    over the batch-level ``offset_for_timestamp`` finds that timestamp (about 64 index
    lookups, no scan of the log), then the one batch holding it is decoded."""
    found = plog.offset_for_timestamp(-1)
    if found is None:
        return None
    lo, hi = found[1], _TS_TOP
    best = found
    while lo < hi:
        mid = lo + (hi - lo + 1) // 2
        probe = plog.offset_for_timestamp(mid)
        if probe is None:
            hi = mid - 1
        else:
            best, lo = probe, max(probe[1], mid)
    # No record is newer than best's batch max timestamp, so the first record at or after
    # it is the first record holding it.
    return plog.record_for_timestamp(best[1]) or best


def _epoch_error(current: int, epoch: int) -> ErrorCode:
    if current < 0 or current == epoch:
        return ErrorCode.NONE
    return ErrorCode.UNKNOWN_LEADER_EPOCH if current > epoch else ErrorCode.FENCED_LEADER_EPOCH


async def list_offsets(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    topics = []
    for t in req.topics:
        parts: list[Struct] = []
        topics.append(Struct(name=t.name, partitions=parts))
        for p in t.partitions:
            res = Struct(partition_index=p.partition_index, error_code=0, timestamp=-1,
                         offset=-1, leader_epoch=-1)
            parts.append(res)
            plog: PartitionLog | _Unwritten | None = core.partition_log(
                t.name, p.partition_index, create=False)
            if plog is None and core.serves_partition(t.name, p.partition_index):
                # Never written here: answered as the empty log it would be, without creating
                # it (creating 5,000 logs made describing a wide topic take 40 s).
                plog = _UNWRITTEN
            if plog is None:
                res.error_code = core.missing_partition_error(t.name, p.partition_index)
                continue
            epoch = core.leader_epoch(t.name, p.partition_index)
            code = _epoch_error(p.current_leader_epoch, epoch)
            if code != ErrorCode.NONE:
                res.error_code = int(code)
                continue
            res.leader_epoch = epoch
            try:
                if p.timestamp in (EARLIEST, EARLIEST_LOCAL):
                    res.offset = plog.log_start_offset
                elif p.timestamp == MAX_TIMESTAMP:
                    found = _max_timestamp(plog)
                    if found is not None:
                        res.offset, res.timestamp = found
                elif p.timestamp == LATEST:
                    # read_committed consumers start at the last stable offset (Kafka)
                    res.offset = plog.last_stable_offset if req.isolation_level == 1 \
                        else plog.high_watermark
                elif p.timestamp < 0:
                    res.error_code = int(ErrorCode.INVALID_REQUEST)
                else:
                    found = plog.record_for_timestamp(p.timestamp)
                    if found is not None:
                        res.offset, res.timestamp = found
            except (StorageError, OSError, CorruptRecordError) as exc:
                res.error_code = int(error_of(exc))
    if header.api_version == 0:
        wanted = {(t.name, p.partition_index): p.max_num_offsets
                  for t in req.topics for p in t.partitions}
        for topic in topics:
            for res in topic.partitions:
                limit = wanted.get((topic.name, res.partition_index), 1)
                res.old_style_offsets = [res.offset] if res.offset >= 0 and limit > 0 else []
    return Struct(throttle_time_ms=0, topics=topics)


def list_offsets_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(topics=[
        Struct(name=t.name, partitions=[
            Struct(partition_index=p.partition_index, error_code=int(code))
            for p in t.partitions
        ])
        for t in req.topics
    ])


async def offset_for_leader_epoch(
    core: BrokerCore, header: RequestHeader, req: Struct
) -> Struct:
    topics = []
    for t in req.topics:
        parts: list[Struct] = []
        topics.append(Struct(topic=t.topic, partitions=parts))
        for p in t.partitions:
            res = Struct(error_code=0, partition=p.partition, leader_epoch=-1, end_offset=-1)
            parts.append(res)
            plog = core.partition_log(t.topic, p.partition)
            if plog is None:
                res.error_code = core.missing_partition_error(t.topic, p.partition)
                continue
            code = _epoch_error(p.current_leader_epoch, core.leader_epoch(t.topic, p.partition))
            if code != ErrorCode.NONE:
                res.error_code = int(code)
                continue
            try:
                res.leader_epoch, res.end_offset = plog.end_offset_for_epoch(p.leader_epoch)
            except (StorageError, OSError) as exc:
                res.error_code = int(error_of(exc))
    return Struct(throttle_time_ms=0, topics=topics)


def offset_for_leader_epoch_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(topics=[
        Struct(topic=t.topic, partitions=[
            Struct(error_code=int(code), partition=p.partition) for p in t.partitions
        ])
        for t in req.topics
    ])


HANDLERS = {
    ApiKey.LIST_OFFSETS: Handler(list_offsets, list_offsets_fallback),
    ApiKey.OFFSET_FOR_LEADER_EPOCH: Handler(
        offset_for_leader_epoch, offset_for_leader_epoch_fallback
    ),
}
