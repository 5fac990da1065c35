"""The transaction coordinator: Kafka's TransactionCoordinator on the event loop.

One :class:`TransactionCoordinator` per broker holds the transactional ids of the
``__transaction_state`` partitions this broker leads (all of them on a single node); requests
for other ids get NOT_COORDINATOR, and COORDINATOR_LOAD_IN_PROGRESS while a partition loads.
The states and transitions are :mod:`tidelog.transactions.state`'s:

- InitProducerId: a new id gets a producer id (epoch 0); a known one gets its epoch bumped
  (a new producer id once the epoch would pass 32766), which fences the previous instance
  (its requests get PRODUCER_FENCED). An Ongoing transaction of the previous instance is
  aborted first, with the bumped epoch. A request naming its current producer id and epoch
  (KIP-360, v3+) keeps the producer id; one naming another is PRODUCER_FENCED.
- AddPartitionsToTxn / AddOffsetsToTxn (the group's ``__consumer_offsets`` partition) make
  the transaction Ongoing; EndTxn writes PrepareCommit/PrepareAbort (from then on the outcome
  is decided), then the markers go out (:mod:`tidelog.broker.txn.markers`) and
  CompleteCommit/CompleteAbort is written; the answer waits up to :data:`END_WAIT_S` for
  that, so the producer's next transaction does not meet CONCURRENT_TRANSACTIONS and back
  off (twice the transactions per second in scripts/bench/transactions.py). While a
  transaction is being completed, its id's requests get CONCURRENT_TRANSACTIONS (retriable).
- InitProducerId with a timeout above ``transaction_max_timeout_ms`` (Kafka's
  transaction.max.timeout.ms, 900000 by default) is INVALID_TRANSACTION_TIMEOUT.
- An Ongoing transaction older than its timeout is aborted with a bumped epoch (the producer
  is fenced, as Kafka does since KIP-360), checked every :data:`TIMEOUT_CHECK_S`.

Every state change is written to ``__transaction_state`` (acks=all) before memory changes and
before it is answered. A coordinator that takes over a partition (start, failover) reads its
log and finishes every transaction it finds in a Prepare state: the markers are idempotent for
readers, so sending them again is safe.

Crash behaviour: a failed write answers COORDINATOR_NOT_AVAILABLE (clients retry), memory
unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from tidelog.broker.groups.schema import partition_for
from tidelog.broker.groups.store import OFFSETS_TOPIC
from tidelog.broker.services import TxnBroker
from tidelog.broker.txn.markers import MarkerWriter
from tidelog.broker.txn.store import TXN_TOPIC, TxnStateStore
from tidelog.errors import TidelogError
from tidelog.protocol.errors import ErrorCode
from tidelog.storage.topic_partition import TopicPartition
from tidelog.transactions.log_format import (
    TxnRecordError,
    decode_key,
    decode_value,
    encode_key,
    encode_value,
)
from tidelog.transactions.state import IDLE, MAX_EPOCH, PREPARED, TxnMetadata, TxnStatus

log = logging.getLogger("tidelog.broker.txn")
E = ErrorCode

TIMEOUT_CHECK_S = 1.0
#: How long EndTxn waits for its markers before it answers anyway.
END_WAIT_S = 5.0


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class TransactionCoordinator:
    def __init__(self, core: TxnBroker) -> None:
        self.core = core
        self.store = TxnStateStore(core)
        self.markers = MarkerWriter(core)
        self.txns: dict[str, TxnMetadata] = {}
        self._loaded: set[int] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        #: Transactions whose markers are being written (their id -> the task).
        self._completing: dict[str, asyncio.Task[None]] = {}
        self._deferred: list[TxnMetadata] = []
        core.replicas.role_listeners.append(self._role_changed)

    # -- lifetime ------------------------------------------------------------------------------

    def load(self, partitions: set[int] | None = None) -> None:
        """Read the ids of ``partitions`` (all: a single node's start) and finish what was
        being completed."""
        wanted = set(range(self.store.partitions)) if partitions is None else partitions
        for tid in [t for t in self.txns if self._partition(t) in wanted]:
            del self.txns[tid]
        for key, value in self.store.replay(partitions):
            try:
                tid = decode_key(key)
                if value is None:
                    self.txns.pop(tid, None)
                else:
                    self.txns[tid] = decode_value(tid, value)
            except TxnRecordError as exc:
                log.warning("%s: skipping a record: %s", TXN_TOPIC, exc)
        self._loaded |= wanted
        for meta in list(self.txns.values()):
            if meta.status in PREPARED and self._partition(meta.transactional_id) in wanted:
                self._complete_later(meta)

    def _role_changed(self, tp: TopicPartition, leader: bool) -> None:
        if tp.topic != TXN_TOPIC:
            return
        if leader and tp.partition not in self._loaded:
            log.info("coordinating the transactions of %s", tp)
            self.load({tp.partition})
        elif not leader and tp.partition in self._loaded:
            log.info("no longer coordinating the transactions of %s", tp)
            self._loaded.discard(tp.partition)
            for tid in [t for t in self.txns if self._partition(t) == tp.partition]:
                del self.txns[tid]
                task = self._completing.pop(tid, None)
                if task is not None:
                    task.cancel()

    def shutdown(self) -> None:
        for task in self._completing.values():
            task.cancel()
        self._completing.clear()
        self.markers.close()

    def _partition(self, tid: str) -> int:
        return partition_for(tid, self.store.partitions)

    def _coordinator_error(self, tid: str) -> int:
        if not tid:
            return E.INVALID_REQUEST
        if not self.store.coordinates(tid):
            return E.NOT_COORDINATOR
        if self._partition(tid) not in self._loaded:
            return E.COORDINATOR_LOAD_IN_PROGRESS
        return 0

    def coordinator_epoch(self, tid: str) -> int:
        pimg = self.core.image.partition(TXN_TOPIC, self._partition(tid))
        return pimg.leader_epoch if pimg is not None else 0

    async def _write(self, meta: TxnMetadata) -> None:
        await self.store.write(meta.transactional_id,
                               [(encode_key(meta.transactional_id), encode_value(meta))])
        self.txns[meta.transactional_id] = meta

    def _lock(self, tid: str) -> asyncio.Lock:
        return self._locks.setdefault(tid, asyncio.Lock())

    # -- InitProducerId ------------------------------------------------------------------------

    async def init_producer_id(self, tid: str, timeout_ms: int, producer_id: int,
                               producer_epoch: int) -> tuple[int, int, int]:
        """(error, producer id, epoch) for a transactional producer starting up."""
        if not 0 < timeout_ms <= self.core.config.transaction_max_timeout_ms:
            return E.INVALID_TRANSACTION_TIMEOUT, -1, -1
        try:
            await self.store.ensure_topic()
        except TidelogError:
            return E.COORDINATOR_NOT_AVAILABLE, -1, -1  # retriable: no controller yet
        code = self._coordinator_error(tid)
        if code:
            return code, -1, -1
        async with self._lock(tid):
            meta = self.txns.get(tid)
            if meta is not None and producer_id >= 0 and (
                    producer_id != meta.producer_id or
                    producer_epoch not in (meta.producer_epoch, meta.last_producer_epoch)):
                return E.PRODUCER_FENCED, -1, -1
            if meta is not None and (meta.status in PREPARED or tid in self._completing):
                return E.CONCURRENT_TRANSACTIONS, -1, -1
            try:
                if meta is not None and meta.status is TxnStatus.ONGOING:
                    # the previous instance's transaction: abort it, fencing that instance
                    meta = await self._prepare_end(meta, commit=False, bump=True)
                    await self._complete(meta)
                    meta = self.txns[tid]
                new = await self._next_producer(tid, meta, timeout_ms)
            except (TidelogError, OSError) as exc:
                log.warning("transactional id %s: state not written: %s", tid, exc)
                return E.COORDINATOR_NOT_AVAILABLE, -1, -1
            return 0, new.producer_id, new.producer_epoch

    async def _next_producer(self, tid: str, meta: TxnMetadata | None, timeout_ms: int
                             ) -> TxnMetadata:
        from tidelog.broker.quorum import ops

        now = _now_ms()
        if meta is None or meta.producer_epoch >= MAX_EPOCH:
            pid = await ops.allocate_producer_id(self.core)
            new = TxnMetadata(tid, pid, 0, timeout_ms, TxnStatus.EMPTY, set(), -1, now,
                              last_producer_epoch=-1)
        else:
            new = meta.copy()
            new.last_producer_epoch = meta.producer_epoch
            new.producer_epoch = meta.producer_epoch + 1
            new.timeout_ms, new.update_ms = timeout_ms, now
            new.status, new.partitions, new.start_ms = TxnStatus.EMPTY, set(), -1
        await self._write(new)
        return new

    # -- AddPartitionsToTxn, AddOffsetsToTxn ---------------------------------------------------

    def _producer_error(self, tid: str, producer_id: int, producer_epoch: int) -> int:
        code = self._coordinator_error(tid)
        if code:
            return code
        meta = self.txns.get(tid)
        if meta is None or meta.producer_id != producer_id:
            return E.INVALID_PRODUCER_ID_MAPPING
        if producer_epoch != meta.producer_epoch:
            return E.PRODUCER_FENCED
        return 0

    async def add_partitions(self, tid: str, producer_id: int, producer_epoch: int,
                             partitions: Sequence[tuple[str, int]], verify_only: bool = False
                             ) -> dict[tuple[str, int], int]:
        """One error per partition (all the same unless some are unknown)."""
        code = self._producer_error(tid, producer_id, producer_epoch)
        if code:
            return dict.fromkeys(partitions, code)
        async with self._lock(tid):
            meta = self.txns[tid]
            if verify_only:
                ongoing = meta.status is TxnStatus.ONGOING
                return {tp: 0 if ongoing and tp in meta.partitions else E.INVALID_TXN_STATE
                        for tp in partitions}
            if meta.status in PREPARED or tid in self._completing:
                return dict.fromkeys(partitions, E.CONCURRENT_TRANSACTIONS)
            unknown = {tp for tp in partitions if self.core.image.partition(*tp) is None}
            if unknown:
                return {tp: E.UNKNOWN_TOPIC_OR_PARTITION if tp in unknown
                        else E.OPERATION_NOT_ATTEMPTED for tp in partitions}
            if meta.status is TxnStatus.ONGOING and set(partitions) <= meta.partitions:
                return dict.fromkeys(partitions, 0)
            new = meta.copy()
            now = _now_ms()
            if meta.status is not TxnStatus.ONGOING:
                new.partitions, new.start_ms = set(), now
            new.status, new.update_ms = TxnStatus.ONGOING, now
            new.partitions |= set(partitions)
            try:
                await self._write(new)
            except (TidelogError, OSError) as exc:
                log.warning("transactional id %s: partitions not added: %s", tid, exc)
                return dict.fromkeys(partitions, E.COORDINATOR_NOT_AVAILABLE)
            return dict.fromkeys(partitions, 0)

    async def add_offsets(self, tid: str, producer_id: int, producer_epoch: int,
                          group_id: str) -> int:
        try:
            await self.core.groups.store.ensure_topic()
        except TidelogError:
            return E.COORDINATOR_NOT_AVAILABLE
        tp = (OFFSETS_TOPIC, self.core.groups.store.partition_of(group_id))
        result = await self.add_partitions(tid, producer_id, producer_epoch, [tp])
        return result[tp]

    # -- EndTxn --------------------------------------------------------------------------------

    async def end_txn(self, tid: str, producer_id: int, producer_epoch: int, commit: bool
                      ) -> int:
        code = self._producer_error(tid, producer_id, producer_epoch)
        if code:
            return code
        async with self._lock(tid):
            meta = self.txns[tid]
            done = TxnStatus.COMPLETE_COMMIT if commit else TxnStatus.COMPLETE_ABORT
            prepared = TxnStatus.PREPARE_COMMIT if commit else TxnStatus.PREPARE_ABORT
            if meta.status is done and tid not in self._completing:
                return 0  # a retry of an EndTxn that went through
            if meta.status is prepared or tid in self._completing:
                return E.CONCURRENT_TRANSACTIONS
            if meta.status is not TxnStatus.ONGOING:
                return E.INVALID_TXN_STATE
            try:
                meta = await self._prepare_end(meta, commit=commit, bump=False)
            except (TidelogError, OSError) as exc:
                log.warning("transactional id %s: end not written: %s", tid, exc)
                return E.COORDINATOR_NOT_AVAILABLE
            self._complete_later(meta)
            task = self._completing.get(tid)
        # The answer waits (a while) for the markers: the producer's next transaction would
        # otherwise meet CONCURRENT_TRANSACTIONS and back off. The commit is decided either way.
        if task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(task), END_WAIT_S)
        return 0

    async def _prepare_end(self, meta: TxnMetadata, *, commit: bool, bump: bool
                           ) -> TxnMetadata:
        new = meta.copy()
        if bump and meta.producer_epoch < MAX_EPOCH:
            new.last_producer_epoch = meta.producer_epoch
            new.producer_epoch = meta.producer_epoch + 1
        new.status = TxnStatus.PREPARE_COMMIT if commit else TxnStatus.PREPARE_ABORT
        new.update_ms = _now_ms()
        await self._write(new)
        return new

    def _complete_later(self, meta: TxnMetadata) -> None:
        tid = meta.transactional_id
        if tid in self._completing:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            # loaded before the event loop runs (a single node's start): the first timeout
            # check, on the loop, starts it
            self._deferred.append(meta)
            return
        task = asyncio.ensure_future(self._complete(meta))
        self._completing[tid] = task

        def finished(t: asyncio.Task[None]) -> None:
            if self._completing.get(tid) is t:
                del self._completing[tid]
            if not t.cancelled() and t.exception() is not None:
                log.warning("transactional id %s: not completed: %s", tid, t.exception())

        task.add_done_callback(finished)

    async def _complete(self, meta: TxnMetadata) -> None:
        """Send the markers of a prepared transaction, then write its Complete state (both
        retried until done, or until this broker stops coordinating it)."""
        commit = meta.status is TxnStatus.PREPARE_COMMIT
        await self.markers.write(meta.producer_id, meta.producer_epoch, commit,
                                 self.coordinator_epoch(meta.transactional_id),
                                 meta.sorted_partitions())
        new = meta.copy()
        new.status = TxnStatus.COMPLETE_COMMIT if commit else TxnStatus.COMPLETE_ABORT
        new.partitions, new.update_ms = set(), _now_ms()
        while True:
            try:
                await self._write(new)
                return
            except (TidelogError, OSError) as exc:
                if self.core.stopping or self._partition(meta.transactional_id) \
                        not in self._loaded:
                    return
                log.info("transactional id %s: completion not written yet: %s",
                         meta.transactional_id, exc)
                await asyncio.sleep(0.5)

    # -- timeouts ------------------------------------------------------------------------------

    async def abort_timed_out(self, now_ms: int | None = None) -> int:
        """Abort (fencing the producer) every Ongoing transaction past its timeout."""
        now = _now_ms() if now_ms is None else now_ms
        count = 0
        for meta in list(self.txns.values()):
            tid = meta.transactional_id
            if meta.status is not TxnStatus.ONGOING or tid in self._completing or \
                    now - meta.start_ms <= meta.timeout_ms:
                continue
            async with self._lock(tid):
                current = self.txns.get(tid)
                if current is not meta:
                    continue
                log.info("transactional id %s: aborting a transaction older than %d ms",
                         tid, meta.timeout_ms)
                try:
                    prepared = await self._prepare_end(meta, commit=False, bump=True)
                except (TidelogError, OSError) as exc:
                    log.warning("transactional id %s: timeout abort not written: %s", tid, exc)
                    continue
                self._complete_later(prepared)
                count += 1
        return count

    async def timeout_task(self) -> None:
        deferred, self._deferred = self._deferred, []
        for meta in deferred:
            if self.txns.get(meta.transactional_id) is meta:
                self._complete_later(meta)
        try:
            await self.abort_timed_out()
        except Exception:
            log.exception("transaction timeout check failed")

    # -- Describe / List -----------------------------------------------------------------------

    def describe(self, tid: str) -> tuple[int, TxnMetadata | None]:
        code = self._coordinator_error(tid)
        if code:
            return code, None
        meta = self.txns.get(tid)
        return (0, meta) if meta is not None else (E.TRANSACTIONAL_ID_NOT_FOUND, None)

    def listed(self) -> list[TxnMetadata]:
        return [m for m in self.txns.values() if self._partition(m.transactional_id)
                in self._loaded]


__all__ = ["IDLE", "TransactionCoordinator"]
