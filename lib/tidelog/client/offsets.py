"""Where a consumer starts: the ``-o`` forms of kcat, parsed into an :class:`OffsetSpec`.

Forms: ``beginning`` (also ``earliest``, ``start``), ``end`` (``latest``), ``stored``-less
``N`` (an absolute offset, N >= 0), ``-N`` (N records before the end, clamped to the log
start), ``+N`` (N records after the beginning), ``@MS`` (the first record with a timestamp >=
MS milliseconds since the epoch) and ``@ISO-DATETIME`` (same, from an ISO 8601 date-time;
without a zone it is UTC).

Resolution against the broker (ListOffsets with -2 earliest / -1 latest / a timestamp):
:func:`list_offsets` here (kept apart from :mod:`tidelog.client.consumer`, so the admin
programs that only list offsets do not import the record codecs), applied to a spec in
:mod:`tidelog.client.consumer`. Anything else raises :class:`ClientError` naming the form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tidelog.client.errors import BrokerError, ClientError
from tidelog.protocol import ApiKey
from tidelog.protocol.errors import ErrorCode

if TYPE_CHECKING:
    from tidelog.client.cluster import Cluster

EARLIEST = -2
LATEST = -1


@dataclass(frozen=True)
class OffsetSpec:
    #: "beginning", "end", "absolute", "from_end", "from_beginning" or "timestamp".
    kind: str
    value: int = 0


BEGINNING = OffsetSpec("beginning")
END = OffsetSpec("end")


def parse_offset(text: str) -> OffsetSpec:
    """Parse a start position as ``log-consume -o`` takes it."""
    word = text.strip()
    lower = word.lower()
    if lower in ("beginning", "earliest", "start", "oldest"):
        return BEGINNING
    if lower in ("end", "latest", "newest"):
        return END
    if word.startswith("@"):
        stamp = word[1:]
        if stamp.lstrip("-").isdigit():
            return OffsetSpec("timestamp", int(stamp))
        try:
            when = datetime.fromisoformat(stamp)
        except ValueError:
            raise ClientError(f"bad offset {text!r}: after @ give milliseconds or an ISO "
                              "date-time") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return OffsetSpec("timestamp", int(when.timestamp() * 1000))
    if word.startswith("-") and word[1:].isdigit():
        return OffsetSpec("from_end", int(word[1:]))
    if word.startswith("+") and word[1:].isdigit():
        return OffsetSpec("from_beginning", int(word[1:]))
    if word.isdigit():
        return OffsetSpec("absolute", int(word))
    raise ClientError(
        f"bad offset {text!r}: use beginning, end, N, -N, +N, @MS or @ISO-DATETIME"
    )


async def list_offsets(
    cluster: Cluster, topic: str, partitions: Sequence[int], timestamp: int, *,
    retry: bool = True, isolation_level: int = 0,
) -> dict[int, tuple[int, int]]:
    """ListOffsets for ``partitions`` of ``topic`` at ``timestamp`` (-2 earliest, -1 latest:
    the last stable offset with ``isolation_level`` 1, read_committed):
    partition -> (offset, timestamp). Requests go to each partition's leader; retried
    within the cluster's budget unless ``retry`` is false (one try)."""
    result: dict[int, tuple[int, int]] = {}

    async def once() -> None:
        by_leader: dict[int, list[int]] = {}
        for p in partitions:
            if p in result:
                continue
            part = await cluster.partition(topic, p)
            by_leader.setdefault(part.leader, []).append(p)
        for leader, parts in by_leader.items():
            conn = await cluster.node(leader)
            answer = await conn.request(ApiKey.LIST_OFFSETS, {
                "replica_id": -1, "isolation_level": isolation_level,
                "topics": [{"name": topic, "partitions": [
                    {"partition_index": p, "timestamp": timestamp} for p in parts]}],
                "timeout_ms": 30_000,
            })
            for t in answer.topics:
                for p in t.partitions:
                    if p.error_code != ErrorCode.NONE:
                        raise BrokerError(p.error_code, f"list offsets {topic}/{p.partition_index}")
                    result[p.partition_index] = (p.offset, p.timestamp)

    if retry:
        await cluster.with_retry(once, topic)
    else:
        await once()
    return result
