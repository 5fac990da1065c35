"""DescribeLogDirs (35): the broker's log dir, the size of each partition log in it, and the
log cleaner's view of each.

As Kafka answers: one result for the data dir (its absolute path, and from v4 the file
system's total and usable bytes), the partitions asked for (all when ``topics`` is null) that
have a log here, each with its size in bytes and offset lag (the high watermark minus the log
end offset, never negative: 0 on a leader). A partition this broker leads whose log is not
created yet (logd creates logs on first use) is an empty log, as it is in Kafka; partitions
not hosted here are left out, as Kafka leaves them out.

tidelog adds, as tagged fields (v2+, tags from
:data:`~tidelog.protocol.messages.admin.CLEANER_TAG_BASE`, ignored by Kafka's clients), the
cleaner's view of a compacted log: dirty ratio, first dirty offset, when it was last cleaned
and the error that stopped its cleaning, if any (``log-topics describe --cleaner``).
"""

from __future__ import annotations

import os

from tidelog.broker.core import BrokerCore
from tidelog.broker.handlers.base import Handler
from tidelog.protocol.apis import ApiKey
from tidelog.protocol.data import Struct
from tidelog.protocol.errors import ErrorCode
from tidelog.protocol.header import RequestHeader
from tidelog.storage.topic_partition import TopicPartition


def _unwritten(core: BrokerCore, tp: TopicPartition) -> Struct:
    """A partition this broker serves whose log is not created yet (logs are created on first
    use): answered as the empty log Kafka would have, without creating it."""
    compacted = core.topic_log_config(tp.topic).compact
    return Struct(
        partition_index=tp.partition, partition_size=0, offset_lag=0, is_future_key=False,
        cleaner_dirty_ratio=0.0 if compacted else -1.0,
        cleaner_first_dirty_offset=0 if compacted else -1, cleaner_last_cleaned_ms=-1,
        cleaner_error=None,
    )  # fmt: skip


async def describe_log_dirs(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    logs = core.logs.logs()
    if req.topics is None:
        served = {TopicPartition(name, p) for name in core.image.topic_names()
                  for p in core.image.topic(name).partitions  # type: ignore[union-attr]
                  if core.serves_partition(name, p)}
        wanted = sorted(served | set(logs))
    else:
        wanted = [TopicPartition(t.topic, p) for t in req.topics for p in t.partitions]
    by_topic: dict[str, list[Struct]] = {}
    for tp in wanted:
        plog = logs.get(tp)
        if plog is None and core.serves_partition(tp.topic, tp.partition):
            by_topic.setdefault(tp.topic, []).append(_unwritten(core, tp))
            continue
        if plog is None or plog.closed:
            continue
        part = Struct(
            partition_index=tp.partition, partition_size=plog.size_in_bytes,
            offset_lag=max(0, plog.high_watermark - plog.log_end_offset), is_future_key=False,
            cleaner_dirty_ratio=-1.0, cleaner_first_dirty_offset=-1, cleaner_last_cleaned_ms=-1,
            cleaner_error=None,
        )  # fmt: skip
        status = core.cleaner.status(tp) if core.cleaner is not None else None
        if status is not None and status.compacted:
            part.cleaner_dirty_ratio = status.dirty_ratio
            part.cleaner_first_dirty_offset = status.first_dirty_offset
            part.cleaner_last_cleaned_ms = status.last_cleaned_ms
            part.cleaner_error = status.error
        by_topic.setdefault(tp.topic, []).append(part)
    total = usable = -1
    try:
        st = os.statvfs(core.config.data_dir)
        total, usable = st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize
    except OSError:
        pass
    result = Struct(
        error_code=0, log_dir=str(core.config.data_dir.resolve()),
        topics=[Struct(name=name, partitions=parts) for name, parts in sorted(by_topic.items())],
        total_bytes=total, usable_bytes=usable,
    )
    return Struct(throttle_time_ms=0, error_code=0, results=[result])


def describe_log_dirs_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    # v1-2 have no top-level error code: the log dir's entry carries it.
    failed = Struct(error_code=int(code), log_dir="", topics=[], total_bytes=-1, usable_bytes=-1)
    return Struct(throttle_time_ms=0, error_code=int(code), results=[failed])


HANDLERS = {
    ApiKey.DESCRIBE_LOG_DIRS: Handler(describe_log_dirs, describe_log_dirs_fallback),
}
