"""The producer: records in, batches per partition, Produce requests to partition leaders.

Flow: :meth:`Producer.send` (one record) or :meth:`Producer.send_values` (many value-only
records, the fast path) appends to the open batch of the chosen partition. A batch closes when
it reaches ``batch_size`` bytes or has been open ``linger_ms``; it is then encoded (the
value-only fast path of :mod:`tidelog.records.values` when it can be) and queued for its
partition. One drain task per partition sends its batches in order, at most
``max_in_flight`` at a time (1 with idempotence, so sequence numbers never arrive out of
order), each retried on retriable errors after a metadata refresh.

Partitioning: an explicit partition wins; a keyed record goes where Java's and librdkafka's
murmur2 partitioner put it (:mod:`tidelog.client.murmur2`); unkeyed records stick to one
random partition until its batch closes, then move on (sticky partitioning), choosing among
the partitions that have a leader when some have none (as Kafka's partitioner prefers
available partitions), so one offline partition does not stall unkeyed writes.

Failover: a batch whose leader moved (NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH), has none
yet (LEADER_NOT_AVAILABLE) or whose connection dropped is sent again to the new leader after a
metadata refresh, within the cluster's retry budget (the programs: the request timeout).

Memory bound: bytes held in open, queued and in-flight batches never exceed
``max_buffer_bytes`` (plus one batch): ``send`` waits for space instead of queueing without
limit (back-pressure).

Idempotence: one InitProducerId at start; every batch carries the producer id, epoch and the
partition's next sequence number, kept across retries so the broker drops duplicates. Known
limit: the epoch is never bumped, so after a batch of a partition fails for good, later
batches of that partition fail too (OUT_OF_ORDER_SEQUENCE_NUMBER) and are counted as failed.

Transactions: :class:`~tidelog.client.transactions.TransactionalProducer` is this producer
with a transactional id; it uses the hooks :meth:`Producer._before_send` (the partition joins
the transaction before its first batch goes out), :meth:`Producer._batch_failed` and
:meth:`Producer._discard_unsent` (an abort drops what was not sent yet).

Crash behaviour: a batch that fails for good (a non-retriable error, or retries exhausted)
counts its records in :attr:`ProducerStats.failed` and its message in
:attr:`ProducerStats.errors`; sending goes on. :meth:`Producer.flush` waits for every batch
handed over so far; :meth:`Producer.close` flushes and closes nothing it does not own.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tidelog.client.cluster import Cluster, TopicInfo
from tidelog.client.errors import BrokerError, ClientError, check
from tidelog.client.murmur2 import partition_for_key
from tidelog.client.retry import retrying
from tidelog.protocol import ApiKey
from tidelog.protocol.errors import ErrorCode
from tidelog.records.batch_header import Compression
from tidelog.records.builder import build_batch
from tidelog.records.record import Header, NewRecord
from tidelog.records.values import MAX_FAST_RECORDS, build_value_batch

#: Bytes a record adds to a batch besides its key, value and headers (varints and attributes).
RECORD_OVERHEAD = 13
BATCH_OVERHEAD = 61
#: Kept so a batch never outgrows Kafka's default message.max.bytes (1048588).
MAX_BATCH_SIZE = 1_000_000

ACKS = {"0": 0, "1": 1, "all": -1, "-1": -1}


def parse_acks(text: str | int) -> int:
    """``0``, ``1``, ``all`` or ``-1`` as the wire value."""
    try:
        return ACKS[str(text).lower()]
    except KeyError:
        raise ClientError(f"acks must be 0, 1 or all, not {text!r}") from None


@dataclass
class ProducerConfig:
    acks: int = -1
    compression: int = Compression.NONE
    compression_level: int | None = None
    linger_ms: float = 5.0
    batch_size: int = MAX_BATCH_SIZE
    max_buffer_bytes: int = 32 << 20  # Kafka's buffer.memory
    max_in_flight: int = 16
    idempotent: bool = False
    request_timeout_ms: int = 30_000


@dataclass
class ProducerStats:
    records: int = 0
    bytes: int = 0
    failed: int = 0
    batches: int = 0
    errors: list[str] = field(default_factory=list)
    per_partition: dict[tuple[str, int], int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        partitions: dict[str, dict[str, int]] = {}
        for (topic, partition), count in sorted(self.per_partition.items()):
            partitions.setdefault(topic, {})[str(partition)] = count
        return {
            "records": self.records, "bytes": self.bytes, "failed": self.failed,
            "batches": self.batches, "errors": self.errors[:20], "partitions": partitions,
        }


@dataclass
class _Batch:
    """A closed, encoded batch waiting to be sent (or in flight)."""

    data: bytes
    count: int
    payload_bytes: int
    held: int


class _Partition:
    """Per-partition state: the open batch, the queue of encoded ones, the sequence."""

    def __init__(self, topic: str, partition: int) -> None:
        self.topic = topic
        self.partition = partition
        self.values: list[bytes | None] = []
        self.records: list[NewRecord] = []
        self.size = BATCH_OVERHEAD
        self.payload = 0
        self.generation = 0
        self.queue: deque[_Batch] = deque()
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.sequence = 0
        self.inflight: set[asyncio.Task[None]] = set()

    @property
    def open_count(self) -> int:
        return len(self.values) + len(self.records)


def _payload(values: list[bytes | None]) -> int:
    """Bytes of ``values`` (None counts 0); one C pass in the usual case of no nulls."""
    if None in values:
        return sum(len(v) for v in values if v is not None)
    return sum(map(len, values))  # type: ignore[arg-type]


class Producer:
    """An asyncio producer over a :class:`~tidelog.client.cluster.Cluster`."""

    def __init__(self, cluster: Cluster, config: ProducerConfig | None = None) -> None:
        self.cluster = cluster
        self.config = config or ProducerConfig()
        if self.config.batch_size > MAX_BATCH_SIZE:
            self.config.batch_size = MAX_BATCH_SIZE
        self.stats = ProducerStats()
        self._parts: dict[tuple[str, int], _Partition] = {}
        self._sticky: dict[str, int] = {}
        self._held = 0
        self._space = asyncio.Condition()
        self._producer_id = -1
        self._producer_epoch = -1
        #: Set by TransactionalProducer: batches are transactional, requests name it.
        self._transactional_id: str | None = None
        self._started = False
        self._rng = random.Random()

    async def start(self) -> None:
        """Get a producer id when idempotent (otherwise nothing to do up front)."""
        if self._started:
            return
        self._started = True
        if self.config.idempotent:
            if self.config.acks != -1:
                raise ClientError("idempotence needs acks=all")

            async def init() -> None:
                conn = await self.cluster.any_node()
                answer = await conn.request(ApiKey.INIT_PRODUCER_ID, {
                    "transactional_id": None, "transaction_timeout_ms": 60_000,
                })
                check(answer.error_code, "InitProducerId")
                self._producer_id = answer.producer_id
                self._producer_epoch = answer.producer_epoch

            await retrying(init, self.cluster.retry)

    async def __aenter__(self) -> Producer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- routing ------------------------------------------------------------------------

    async def topic(self, name: str) -> TopicInfo:
        """The topic's metadata as the cluster has it (partitions without a leader
        included: a batch for one waits for its leader when it is sent)."""
        info = self.cluster.topics.get(name)
        if info is None or not info.partitions:
            # Producing to a new topic is the one place the project's client asks for
            # auto-creation (as Kafka's producer does); reads and admin never do.
            info = await self.cluster.topic(name, wait_for_leaders=False, auto_create=True)
        return info

    async def partition_for(
        self, topic: str, key: bytes | None, partition: int | None
    ) -> int:
        info = await self.topic(topic)
        count = info.count
        if partition is not None:
            if partition not in info.partitions:
                raise ClientError(f"topic {topic!r} has no partition {partition} "
                                  f"(it has {count})")
            return partition
        if key is not None:
            return partition_for_key(key, count)
        return self._sticky_partition(topic, info)

    def _sticky_partition(self, topic: str, info: TopicInfo) -> int:
        current = self._sticky.get(topic)
        if current is None:
            current = self._pick(info, None)
            self._sticky[topic] = current
        return current

    def _pick(self, info: TopicInfo, avoid: int | None) -> int:
        """A random partition other than ``avoid``, one with a leader when there is one."""
        every = sorted(info.partitions) or [0]
        led = [p for p in every if p in info.partitions and info.partitions[p].leader >= 0]
        others = [p for p in led if p != avoid]
        # Stay on ``avoid`` rather than move to a partition without a leader.
        choices = others or led or [p for p in every if p != avoid] or every
        return choices[self._rng.randrange(len(choices))]

    def _move_sticky(self, topic: str, closed: int) -> None:
        if self._sticky.get(topic) != closed:
            return
        info = self.cluster.topics.get(topic)
        if info is not None and info.count > 1:
            self._sticky[topic] = self._pick(info, closed)

    def _state(self, topic: str, partition: int) -> _Partition:
        state = self._parts.get((topic, partition))
        if state is None:
            state = _Partition(topic, partition)
            self._parts[(topic, partition)] = state
        return state

    # -- accumulating ---------------------------------------------------------------------

    async def _reserve(self, size: int) -> None:
        if self._held + size <= self.config.max_buffer_bytes or self._held == 0:
            self._held += size
            return
        # Back-pressure: close open batches so they get sent, then wait for acknowledgements.
        self._close_all()
        async with self._space:
            await self._space.wait_for(
                lambda: self._held + size <= self.config.max_buffer_bytes or self._held == 0
            )
        self._held += size

    async def _release(self, size: int) -> None:
        self._held -= size
        async with self._space:
            self._space.notify_all()

    async def send(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        headers: tuple[Header, ...] | list[Header] = (),
        *,
        partition: int | None = None,
        timestamp: int | None = None,
    ) -> int:
        """Queue one record; returns the partition it goes to."""
        target = await self.partition_for(topic, key, partition)
        size = RECORD_OVERHEAD + (len(value) if value is not None else 0)
        size += len(key) if key is not None else 0
        for name, hvalue in headers:
            size += len(name) + (len(hvalue) if hvalue is not None else 0) + 4
        await self._reserve(size)
        state = self._state(topic, target)
        if state.size + size > self.config.batch_size and state.open_count:
            self._close(state)
        if state.values:
            state.records.extend(NewRecord(v) for v in state.values)
            state.values.clear()
        state.records.append(NewRecord(value, key, tuple(headers), timestamp))
        self._grew(state, size, size - RECORD_OVERHEAD)
        return target

    async def send_values(
        self, topic: str, values: list[bytes | None], *, partition: int | None = None,
        payload_hint: int | None = None,
    ) -> None:
        """Queue many value-only records (no key, no headers, timestamp "now"): the fast path.
        They go to ``partition``, or to sticky partitions. ``payload_hint`` is the sum of the
        values' lengths when the caller knows it (saves a pass over them)."""
        info = await self.topic(topic)
        if partition is not None and partition not in info.partitions:
            raise ClientError(f"topic {topic!r} has no partition {partition} "
                              f"(it has {info.count})")
        limit = self.config.batch_size
        start = 0
        total = len(values)
        # One C pass for the average size; each batch's exact size is summed once below.
        if payload_hint is None:
            payload_hint = sum(len(v) for v in values if v is not None)
        avg = payload_hint / max(1, total) + RECORD_OVERHEAD
        while start < total:
            target = partition if partition is not None else self._sticky_partition(
                topic, info)
            state = self._state(topic, target)
            room = limit - state.size
            # Value-only batches stop at MAX_FAST_RECORDS so they stay on the fast path.
            slots = MAX_FAST_RECORDS - len(state.values) if not state.records else total
            if slots <= 0:
                self._close(state)
                continue
            n = max(1, min(total - start, int(room // avg), slots))
            chunk = values[start:start + n]
            payload = _payload(chunk)
            while n > 1 and payload + RECORD_OVERHEAD * n > room:
                n //= 2
                chunk = values[start:start + n]
                payload = _payload(chunk)
            size = payload + RECORD_OVERHEAD * n
            if state.open_count and state.size + size > limit:
                self._close(state)
                continue
            await self._reserve(size)
            if state.records:
                state.records.extend(NewRecord(v) for v in chunk)
            elif state.values:
                state.values.extend(chunk)
            else:
                state.values = chunk
            self._grew(state, size, payload)
            start += n

    def _grew(self, state: _Partition, size: int, payload: int) -> None:
        first = state.open_count and state.size == BATCH_OVERHEAD
        state.size += size
        state.payload += payload
        if state.size >= self.config.batch_size or len(state.values) >= MAX_FAST_RECORDS:
            self._close(state)
        elif first:
            generation = state.generation
            loop = asyncio.get_running_loop()
            loop.call_later(self.config.linger_ms / 1000.0, self._linger, state, generation)

    def _linger(self, state: _Partition, generation: int) -> None:
        if state.generation == generation and state.open_count:
            self._close(state)

    def _close_all(self) -> None:
        for state in list(self._parts.values()):
            if state.open_count:
                self._close(state)

    def _close(self, state: _Partition) -> None:
        """Encode the open batch of ``state`` and queue it for sending."""
        count = state.open_count
        state.generation += 1
        if not count:
            return
        seq = -1
        if self.config.idempotent:
            seq = state.sequence
            state.sequence = (state.sequence + count) & 0x7FFFFFFF
        cfg = self.config
        if state.values:
            data = build_value_batch(
                state.values, timestamp=time.time_ns() // 1_000_000,
                compression=cfg.compression, compression_level=cfg.compression_level,
                producer_id=self._producer_id, producer_epoch=self._producer_epoch,
                base_sequence=seq, is_transactional=self._transactional_id is not None,
            )
        else:
            data = build_batch(
                state.records, compression=cfg.compression,
                compression_level=cfg.compression_level, producer_id=self._producer_id,
                producer_epoch=self._producer_epoch, base_sequence=seq,
                is_transactional=self._transactional_id is not None,
            )
        batch = _Batch(data, count, state.payload, state.size - BATCH_OVERHEAD)
        state.values = []
        state.records = []
        state.size = BATCH_OVERHEAD
        state.payload = 0
        state.queue.append(batch)
        self._move_sticky(state.topic, state.partition)
        if state.task is None or state.task.done():
            state.task = asyncio.get_running_loop().create_task(self._drain(state))
        state.wake.set()

    # -- sending --------------------------------------------------------------------------

    async def _drain(self, state: _Partition) -> None:
        limit = 1 if self.config.idempotent else max(1, self.config.max_in_flight)
        slots = asyncio.Semaphore(limit)
        loop = asyncio.get_running_loop()
        while True:
            while state.queue:
                await slots.acquire()
                batch = state.queue.popleft()
                task = loop.create_task(self._deliver(state, batch, slots))
                state.inflight.add(task)
                task.add_done_callback(state.inflight.discard)
            if not state.inflight:
                return
            # Wait for an acknowledgement or a newly queued batch, whichever comes first.
            state.wake.clear()
            waiter = loop.create_task(state.wake.wait())
            await asyncio.wait({waiter, *state.inflight}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()

    async def _deliver(self, state: _Partition, batch: _Batch, slots: asyncio.Semaphore) -> None:
        try:
            await self._before_send(state)
            await self.cluster.with_retry(lambda: self._produce(state, batch), state.topic)
        except ClientError as exc:
            self.stats.failed += batch.count
            self.stats.errors.append(f"{state.topic}/{state.partition}: {exc}")
            self.cluster.forget(state.topic)
            self._batch_failed(exc)
        else:
            self.stats.records += batch.count
            self.stats.bytes += batch.payload_bytes
            self.stats.batches += 1
            key = (state.topic, state.partition)
            self.stats.per_partition[key] = self.stats.per_partition.get(key, 0) + batch.count
        finally:
            slots.release()
            await self._release(batch.held)

    async def _produce(self, state: _Partition, batch: _Batch) -> None:
        conn = await self.cluster.leader(state.topic, state.partition, auto_create=True)
        body = {
            "transactional_id": self._transactional_id,
            "acks": self.config.acks,
            "timeout_ms": self.config.request_timeout_ms,
            "topic_data": [{"name": state.topic, "partition_data": [
                {"index": state.partition, "records": batch.data}]}],
        }
        if self.config.acks == 0:
            await conn.send_only(ApiKey.PRODUCE, body)
            return
        answer = await conn.request(ApiKey.PRODUCE, body)
        for topic in answer.responses:
            for part in topic.partition_responses:
                code = part.error_code
                if code == ErrorCode.DUPLICATE_SEQUENCE_NUMBER:
                    continue  # an earlier try was written: the broker kept it once
                if code != ErrorCode.NONE:
                    raise BrokerError(code, f"produce to {state.topic}/{state.partition}",
                                      part.error_message)

    # -- hooks of the transactional producer ---------------------------------------------

    async def _before_send(self, state: _Partition) -> None:
        """Runs before a batch of ``state`` is sent; raising fails the batch."""

    def _batch_failed(self, error: ClientError) -> None:
        """A batch failed for good with ``error`` (already counted in the stats)."""

    async def _discard_unsent(self) -> int:
        """Drop the records of open and queued batches (in-flight ones go on); the sequence
        numbers of dropped batches are given back, so the next batch of each partition
        follows the last one sent. Returns how many records were dropped."""
        dropped = held = 0
        for state in self._parts.values():
            state.generation += 1  # a pending linger timer now finds nothing to close
            held += state.size - BATCH_OVERHEAD if state.open_count else 0
            dropped += state.open_count
            state.values, state.records = [], []
            state.size, state.payload = BATCH_OVERHEAD, 0
            while state.queue:
                batch = state.queue.pop()  # newest first: sequences are given back in order
                dropped += batch.count
                held += batch.held
                if self.config.idempotent:
                    state.sequence = (state.sequence - batch.count) & 0x7FFFFFFF
        if held:
            await self._release(held)
        return dropped

    def _reset_sequences(self) -> None:
        """A new producer epoch starts every partition at sequence 0."""
        for state in self._parts.values():
            state.sequence = 0

    async def flush(self) -> None:
        """Close every open batch and wait until all batches are acknowledged or failed."""
        self._close_all()
        while True:
            tasks = [s.task for s in self._parts.values() if s.task is not None
                     and not s.task.done()]
            if not tasks:
                break
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        await self.flush()
