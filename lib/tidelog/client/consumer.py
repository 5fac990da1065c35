"""The consumer: assigned partitions, start positions, long-polling fetches, decoded records.

Flow: :meth:`Consumer.assign` takes (topic, partition, :class:`OffsetSpec`) triples and
resolves each start position with ListOffsets at the partition's leader (earliest, latest or a
timestamp; ``-N`` is N before the latest, clamped to the earliest). :meth:`Consumer.poll` then
sends one Fetch per leader broker for all its partitions (concurrently), waiting up to
``max_wait_ms`` on the broker for new data (long polling), and returns the records of every
complete batch received, in offset order per partition. Batches of every codec are decoded;
records below the fetch position (the start of a batch the position points into) are skipped;
a partial batch at the end of a fetch answer (the broker stops at ``partition_max_bytes``) is
fetched again next time.

End of partition: after a fetch, a partition whose position reached the high watermark is at
its end (:attr:`PartitionState.at_end`); ``-e`` in log-consume stops when all are.

Isolation: read_committed (``isolation_level`` 1) ends at the last stable offset instead, and
drops the records of the aborted transactions the broker lists in each answer (from a
producer's first offset there to its abort marker); control batches are never records.

Leader changes and outages: NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, a partition without
a leader, a lost connection and other retriable errors never end a poll with an error: the
affected partitions' metadata is forgotten, the poll returns what the other leaders sent, and
the next poll asks again after a backoff that grows to the retry policy's ``max_backoff``
(positions are kept, so nothing is skipped or read twice); the retry policy's ``on_retry``
hears of each such wait. Each fetch carries the
partition's leader epoch from metadata (KIP-320): a broker in another epoch answers
FENCED_LEADER_EPOCH or UNKNOWN_LEADER_EPOCH instead of serving a stale view.
:attr:`Consumer.failing_since` says since when polls have been failing (None when the last
poll reached every partition) and :attr:`Consumer.last_error` why: a program following a
topic waits as long as it takes, as kcat does; a bounded one gives up when the outage
outlasts its timeout. A partition
assigned while it has no leader (``assign(..., wait_for_leaders=False)``) gets its start
position from the first poll that finds its leader.

Crash behaviour: OFFSET_OUT_OF_RANGE moves the position to the log start (if below it) or
end; a corrupt batch raises :class:`~tidelog.records.errors.CorruptRecordError` naming its
offset, from the poll after the one that delivered the valid batches before it; other broker
errors raise :class:`~tidelog.client.errors.BrokerError`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tidelog.client.cluster import Cluster
from tidelog.client.errors import BrokerError, ClientError
from tidelog.client.offsets import EARLIEST, LATEST, OffsetSpec, list_offsets
from tidelog.protocol import ApiKey, Struct
from tidelog.protocol.errors import ErrorCode
from tidelog.records.batch_header import HEADER_SIZE, Compression, read_size
from tidelog.records.compression import decompress
from tidelog.records.errors import CorruptRecordError
from tidelog.records.reader import DecodedBatch, iter_decoded_batches
from tidelog.records.record import Record
from tidelog.records.values import decode_values, join_values


@dataclass
class PartitionState:
    topic: str
    partition: int
    position: int = 0
    high_watermark: int = -1
    log_start: int = -1
    at_end: bool = False
    #: Start at a timestamp: records before the first one at or after it are skipped (a
    #: broker may answer ListOffsets with the offset of the batch rather than the record).
    skip_before_ts: int | None = None
    #: Where to start, for a partition assigned while it had no leader: resolved by the
    #: first poll that finds one (until then ``position`` means nothing).
    pending: OffsetSpec | None = None
    #: A corrupt batch met at :attr:`position`: raised by the next poll, after the records
    #: before it were delivered.
    error: CorruptRecordError | None = None


class Fetched:
    """Records of one partition from one poll, in offset order, decoded on demand:
    :attr:`records` gives full records, :meth:`values` only the values (the fast path of
    :mod:`tidelog.records.values` when every record of a batch is value-only)."""

    def __init__(self, topic: str, partition: int, buf: bytes,
                 batches: list[tuple[DecodedBatch, int]]) -> None:
        self.topic = topic
        self.partition = partition
        self._buf = buf
        #: (batch, first offset wanted): records below it were consumed before.
        self._batches = batches
        self._records: list[Record] | None = None

    def __len__(self) -> int:
        return len(self.records)

    @property
    def records(self) -> list[Record]:
        if self._records is None:
            out: list[Record] = []
            for batch, first in self._batches:
                if batch.header.base_offset >= first:
                    out.extend(batch.records())
                else:
                    out.extend(r for r in batch.records() if r.offset >= first)
            self._records = out
        return self._records

    def values(self) -> list[bytes | None]:
        """The values only, in order."""
        if self._records is not None:
            return [r.value for r in self._records]
        out: list[bytes | None] = []
        for batch, first in self._batches:
            header = batch.header
            fast = None
            if header.base_offset >= first:
                section, start, end = _section(self._buf, batch)
                fast = decode_values(section, start, end, header.records_count)
            if fast is not None:
                out.extend(fast)
            else:
                out.extend(r.value for r in batch.records() if r.offset >= first)
        return out


    def joined_values(self, sep: bytes) -> bytes:
        """Every value followed by ``sep`` (a null value as nothing), as one ``bytes``: the
        default output of log-consume, with no Python work per record when it can."""
        if self._records is not None:
            return b"".join((r.value or b"") + sep for r in self._records)
        out: list[bytes] = []
        for batch, first in self._batches:
            header = batch.header
            fast = None
            if header.base_offset >= first:
                section, start, end = _section(self._buf, batch)
                fast = join_values(section, start, end, header.records_count, sep)
            if fast is not None:
                out.append(fast)
            else:
                out.extend((r.value or b"") + sep for r in batch.records() if r.offset >= first)
        return b"".join(out)


def _section(buf: bytes, batch: DecodedBatch) -> tuple[bytes, int, int]:
    """The (decompressed) records section of ``batch``: (data, start, end)."""
    start = batch.position + HEADER_SIZE
    end = batch.position + batch.header.size
    codec = batch.header.compression
    if codec == Compression.NONE:
        return buf, start, end
    with memoryview(buf) as view:
        plain = decompress(codec, view[start:end])
    return plain, 0, len(plain)


@dataclass
class ConsumerConfig:
    max_wait_ms: int = 500
    min_bytes: int = 1
    max_bytes: int = 64 << 20
    partition_max_bytes: int = 8 << 20
    #: 0 read_uncommitted (up to the high watermark), 1 read_committed (up to the last
    #: stable offset, without the records of aborted transactions).
    isolation_level: int = 0


class Consumer:
    """A consumer of explicitly assigned partitions (no group)."""

    def __init__(self, cluster: Cluster, config: ConsumerConfig | None = None) -> None:
        self.cluster = cluster
        self.config = config or ConsumerConfig()
        self.partitions: dict[tuple[str, int], PartitionState] = {}
        #: time.monotonic() of the first poll of the current run of failing ones.
        self.failing_since: float | None = None
        self.last_error: ClientError | None = None
        self._failures = 0
        self._partition_errors: list[ClientError] = []

    async def assign(self, assignments: Sequence[tuple[str, int, OffsetSpec]], *,
                     wait_for_leaders: bool = True) -> None:
        """Add partitions and resolve where each starts. With ``wait_for_leaders`` false a
        partition that has no leader now is added all the same, its start resolved by the
        first poll that finds its leader (a consumer starts while a broker is down)."""
        by_topic: dict[str, list[tuple[int, OffsetSpec]]] = {}
        for topic, partition, spec in assignments:
            by_topic.setdefault(topic, []).append((partition, spec))
        for topic, items in by_topic.items():
            if not wait_for_leaders:
                info = await self.cluster.topic(topic, wait_for_leaders=False)
                led = [(p, spec) for p, spec in items
                       if p in info.partitions and info.partitions[p].leader >= 0]
                for p, spec in items:
                    if (p, spec) not in led:
                        self.partitions[(topic, p)] = PartitionState(topic, p, pending=spec)
                items = led
            if items:
                await self._start(topic, items, retry=True)

    async def _start(self, topic: str, items: list[tuple[int, OffsetSpec]], *,
                     retry: bool) -> None:
        """Resolve the start positions of ``items`` (partition, spec) of ``topic``."""
        parts = [p for p, _ in items]
        earliest = await list_offsets(self.cluster, topic, parts, EARLIEST, retry=retry)
        # read_committed ends at the last stable offset: "end" and -N count from there
        latest = await list_offsets(self.cluster, topic, parts, LATEST, retry=retry,
                                    isolation_level=self.config.isolation_level)
        stamps: dict[int, dict[int, tuple[int, int]]] = {}
        for partition, spec in items:
            low = earliest[partition][0]
            high = latest[partition][0]
            if spec.kind == "beginning":
                pos = low
            elif spec.kind == "end":
                pos = high
            elif spec.kind == "absolute":
                pos = min(max(spec.value, low), high)
            elif spec.kind == "from_end":
                pos = max(low, high - spec.value)
            elif spec.kind == "from_beginning":
                pos = min(high, low + spec.value)
            elif spec.kind == "timestamp":
                if spec.value not in stamps:
                    stamps[spec.value] = await list_offsets(
                        self.cluster, topic, parts, spec.value, retry=retry)
                found = stamps[spec.value][partition][0]
                pos = high if found < 0 else found
            else:
                raise ClientError(f"unknown offset kind {spec.kind!r}")
            self.partitions[(topic, partition)] = PartitionState(
                topic, partition, pos, high, low, at_end=pos >= high,
                skip_before_ts=spec.value if spec.kind == "timestamp" else None)

    @property
    def all_at_end(self) -> bool:
        return all(s.at_end for s in self.partitions.values())

    async def poll(self, max_wait_ms: int | None = None) -> list[Fetched]:
        """One round of fetches from every leader; the records that arrived. Partitions
        whose leader cannot be reached this round are left for the next (see the module
        docstring); errors that retrying will not fix are raised."""
        wait = self.config.max_wait_ms if max_wait_ms is None else max_wait_ms
        for state in self.partitions.values():
            if state.error is not None:
                error, state.error = state.error, None
                raise error
        errors: list[ClientError] = []
        await self._resolve_pending(errors)
        by_leader = await self._leaders(errors)
        results = await asyncio.gather(
            *(self._fetch(leader, states, wait) for leader, states in by_leader.items()),
            return_exceptions=True,
        )
        fetched: list[Fetched] = []
        for (_, states), result in zip(by_leader.items(), results, strict=True):
            if isinstance(result, BaseException):
                if isinstance(result, ClientError) and result.retriable:
                    errors.append(result)
                    for state in states:
                        self.cluster.forget(state.topic)
                    continue
                raise result
            fetched.extend(result)
        errors.extend(self._partition_errors)
        self._partition_errors = []
        if errors:
            self._failures += 1
            self.last_error = errors[0]
            if self.failing_since is None:
                self.failing_since = time.monotonic()
            # Nothing to wait on at the broker: back off here instead of spinning.
            delay = self.cluster.retry.delay(self._failures)
            if self.cluster.retry.on_retry is not None:
                self.cluster.retry.on_retry(errors[0], delay)
            await asyncio.sleep(delay)
        else:
            self._failures = 0
            self.failing_since = None
            self.last_error = None
        return fetched

    async def _resolve_pending(self, errors: list[ClientError]) -> None:
        """Start positions of partitions assigned without a leader that have one now (one
        try each round; a failure is this round's error)."""
        ready: dict[str, list[tuple[int, OffsetSpec]]] = {}
        for state in self.partitions.values():
            if state.pending is None:
                continue
            info = self.cluster.topics.get(state.topic)
            part = info.partitions.get(state.partition) if info is not None else None
            if part is not None and part.leader >= 0:
                ready.setdefault(state.topic, []).append((state.partition, state.pending))
        for topic, items in ready.items():
            try:
                await self._start(topic, items, retry=False)
            except ClientError as exc:
                if not exc.retriable:
                    raise
                errors.append(exc)
                self.cluster.forget(topic)

    async def _leaders(self, errors: list[ClientError]) -> dict[int, list[PartitionState]]:
        """Assigned partitions by their leader; those without a known, live one are left out
        (their errors appended to ``errors``), after one metadata refresh for them, as are
        those whose start is still pending."""
        by_leader: dict[int, list[PartitionState]] = {}
        stale: list[PartitionState] = []
        for state in self.partitions.values():
            info = self.cluster.topics.get(state.topic)
            part = info.partitions.get(state.partition) if info is not None else None
            if part is None or part.leader < 0:
                stale.append(state)
            elif state.pending is None:
                by_leader.setdefault(part.leader, []).append(state)
        if not stale:
            return by_leader
        topics = sorted({s.topic for s in stale})
        try:
            await self.cluster.refresh_once(topics, auto_create=False)
        except ClientError as exc:
            if not exc.retriable:
                raise
            errors.append(exc)
            return by_leader
        for state in stale:
            info = self.cluster.topics.get(state.topic)
            if info is None:
                errors.append(BrokerError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                                          f"topic {state.topic!r}"))
                continue
            part = info.partitions.get(state.partition)
            if part is None:
                raise ClientError(f"topic {state.topic!r} has no partition {state.partition}")
            if part.leader < 0:
                errors.append(BrokerError(ErrorCode.LEADER_NOT_AVAILABLE,
                                          f"{state.topic}/{state.partition}"))
                continue
            if state.pending is None:
                by_leader.setdefault(part.leader, []).append(state)
        return by_leader

    async def _fetch(self, leader: int, states: list[PartitionState], wait: int
                     ) -> list[Fetched]:
        conn = await self.cluster.node(leader)
        topics: dict[str, list[dict[str, Any]]] = {}
        for state in states:
            info = self.cluster.topics.get(state.topic)
            part = info.partitions.get(state.partition) if info is not None else None
            topics.setdefault(state.topic, []).append({
                "partition": state.partition, "fetch_offset": state.position,
                "partition_max_bytes": self.config.partition_max_bytes,
                # KIP-320: a broker whose epoch differs answers FENCED_LEADER_EPOCH (ours is
                # old) or UNKNOWN_LEADER_EPOCH (it is behind): both refresh and retry.
                "current_leader_epoch": part.leader_epoch if part is not None else -1,
            })
        answer = await conn.request(ApiKey.FETCH, {
            "replica_id": -1, "max_wait_ms": wait, "min_bytes": self.config.min_bytes,
            "max_bytes": self.config.max_bytes, "isolation_level": self.config.isolation_level,
            "session_id": 0, "session_epoch": -1,
            "topics": [{"topic": t, "partitions": ps} for t, ps in topics.items()],
        })
        if answer.error_code != ErrorCode.NONE:
            raise BrokerError(answer.error_code, "fetch")
        out: list[Fetched] = []
        for topic in answer.responses:
            for part in topic.partitions:
                found = self.partitions.get((topic.topic, part.partition_index))
                if found is None:
                    continue
                got = await self._absorb(found, part)
                if got is not None:
                    out.append(got)
        return out

    async def _absorb(self, state: PartitionState, part: Struct) -> Fetched | None:
        code = part.error_code
        if code == ErrorCode.OFFSET_OUT_OF_RANGE:
            await self._reset(state)
            return None
        if code != ErrorCode.NONE:
            error = BrokerError(code, f"fetch {state.topic}/{state.partition}")
            if error.retriable:
                self.cluster.forget(state.topic)
                self._partition_errors.append(error)
                return None
            raise error
        state.high_watermark = part.high_watermark
        if part.log_start_offset >= 0:
            state.log_start = part.log_start_offset
        data = part.records
        batches: list[tuple[DecodedBatch, int]] = []
        buf = b""
        committed_only = self.config.isolation_level == 1
        if committed_only and part.last_stable_offset >= 0:
            state.high_watermark = part.last_stable_offset  # where read_committed ends
        # read_committed: the aborted transactions of this answer, by first offset; a
        # producer's batches are skipped from its first offset to its abort marker (Kafka's
        # consumer does the same).
        aborted = sorted(((a.first_offset, a.producer_id)
                          for a in part.aborted_transactions or ()), reverse=True)
        skipping: set[int] = set()
        if data:
            buf = bytes(data)
            end = _complete_prefix(buf)
            position = state.position
            try:
                for batch in iter_decoded_batches(buf, 0, end):
                    header = batch.header
                    while aborted and aborted[-1][0] <= header.last_offset:
                        skipping.add(aborted.pop()[1])
                    if committed_only and header.is_transactional and \
                            header.producer_id in skipping:
                        if header.is_control:
                            skipping.discard(header.producer_id)
                        position = max(position, header.last_offset + 1)
                        continue
                    if header.last_offset < position:
                        continue
                    first = position
                    if state.skip_before_ts is not None and not header.is_control:
                        found = next((r.offset for r in batch.records()
                                      if r.offset >= position
                                      and r.timestamp >= state.skip_before_ts), None)
                        if found is None:
                            position = header.last_offset + 1
                            continue
                        first = found
                        state.skip_before_ts = None
                    if not header.is_control:
                        batches.append((batch, first))
                    position = header.last_offset + 1
            except CorruptRecordError as exc:
                # The batches before the bad one are delivered now; the error comes with the
                # next poll, naming the offset (not a byte position in this fetch answer).
                state.error = CorruptRecordError(
                    f"{state.topic}/{state.partition}: the record batch at offset {position} "
                    f"is corrupt: {exc}")
            state.position = position
        state.at_end = state.position >= state.high_watermark
        if not batches:
            return None
        return Fetched(state.topic, state.partition, buf, batches)

    async def _reset(self, state: PartitionState) -> None:
        offsets = await list_offsets(self.cluster, state.topic, [state.partition], EARLIEST)
        low = offsets[state.partition][0]
        if state.position < low:
            state.position = low
            return
        offsets = await list_offsets(self.cluster, state.topic, [state.partition], LATEST,
                                     isolation_level=self.config.isolation_level)
        state.position = offsets[state.partition][0]


def _complete_prefix(buf: bytes) -> int:
    """How many leading bytes of ``buf`` are whole batches (a fetch may end mid-batch)."""
    pos = 0
    n = len(buf)
    while pos < n:
        size = read_size(buf, pos)
        if size is None or pos + size > n:
            break
        pos += size
    return pos
