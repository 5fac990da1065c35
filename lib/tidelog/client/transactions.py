"""The transactional producer: Kafka's exactly-once producer API over :class:`Producer`.

Use (the names are Kafka's)::

    producer = TransactionalProducer(cluster, "orders-enricher-0")
    await producer.init_transactions()          # once: fences older instances of the id
    producer.begin_transaction()
    await producer.send("out", b"value")        # or send_values(...): as Producer's
    await producer.send_offsets_to_transaction({("in", 0): 42}, member.metadata())
    await producer.commit_transaction()         # or abort_transaction()
    await producer.close()

Everything sent between ``begin_transaction`` and ``commit_transaction`` becomes visible to
read_committed consumers at once, together with the consumer offsets handed to
``send_offsets_to_transaction`` (the *next* offsets to read, as Kafka's commit takes them);
after ``abort_transaction`` none of it ever does.

Protocol: ``init_transactions`` finds the id's coordinator (FindCoordinator key type 1) and
asks InitProducerId for a producer id and epoch; the coordinator aborts whatever an older
instance of the id left open and fences it (its requests get PRODUCER_FENCED from then on).
Before the first batch of a partition is sent in a transaction the partition is added with
AddPartitionsToTxn (the partitions whose batches close together go in one request);
``send_offsets_to_transaction`` sends AddOffsetsToTxn to the transaction coordinator, then
TxnOffsetCommit to the group's coordinator, naming the member's generation; a commit waits
for every batch, then EndTxn. A transaction that added nothing ends without a request, as
librdkafka's does.

Errors, as Kafka's producer sorts them:

- retried within ``timeout_s``: COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR (the coordinator
  is looked up again), COORDINATOR_LOAD_IN_PROGRESS, CONCURRENT_TRANSACTIONS (the previous
  transaction is still being completed), UNKNOWN_TOPIC_OR_PARTITION while a topic is new,
  lost connections and timeouts; an EndTxn retried after its answer was lost is answered as
  done by the coordinator;
- :class:`AbortableTransactionError`: a batch failed for good, a partition could not be
  added, the group refused the offsets (the member was dropped from its generation): the
  transaction can only be aborted; ``abort_transaction`` then starts a new producer epoch
  with the same producer id (KIP-360) when the broker may hold a partial sequence, so the
  next transaction starts clean;
- :class:`ProducerFenced` (a :class:`FatalTransactionError`): a newer instance took the id,
  or the coordinator aborted this transaction after its timeout and bumped the epoch; the
  producer can do nothing more but ``close``. Other fatal answers (authorization, an invalid
  state or timeout) are FatalTransactionError too.

State: UNINITIALIZED -> READY (init) -> IN_TRANSACTION (begin) -> READY (commit, abort);
ABORTABLE (an abortable error: only abort) and FATAL (only close). Calls out of order raise
:class:`~tidelog.client.errors.ClientError` and change nothing.

Crash behaviour: a process that dies mid-transaction leaves it open; it is aborted by the
coordinator when the next instance of the id calls ``init_transactions`` or when
``transaction_timeout_ms`` passes. A commit whose answer never came is either complete or
will be completed by the coordinator: a new instance's init waits for it.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from tidelog.client.cluster import Cluster
from tidelog.client.connection import Connection
from tidelog.client.errors import BrokerError, ClientError
from tidelog.client.group import TRANSACTION_KEY, GroupMetadata, find_coordinator
from tidelog.client.producer import Producer, ProducerConfig, _Partition
from tidelog.protocol import ApiKey, Struct
from tidelog.protocol.errors import ErrorCode
from tidelog.records.record import Header

E = ErrorCode
T = TypeVar("T")

#: Answers after which a coordinator request is sent again (the coordinator first, for some).
_COORDINATOR_MOVED = {E.COORDINATOR_NOT_AVAILABLE, E.NOT_COORDINATOR}
_RETRIABLE = _COORDINATOR_MOVED | {E.COORDINATOR_LOAD_IN_PROGRESS, E.CONCURRENT_TRANSACTIONS,
                                   E.UNKNOWN_TOPIC_OR_PARTITION, E.REQUEST_TIMED_OUT}
#: Answers that end the producer: another instance owns the id now.
_FENCED = {E.PRODUCER_FENCED, E.INVALID_PRODUCER_EPOCH, E.TRANSACTION_COORDINATOR_FENCED}
#: Answers that end the transaction only (abort, then go on).
_ABORTABLE = {E.UNKNOWN_PRODUCER_ID, E.INVALID_PRODUCER_ID_MAPPING, E.TOPIC_AUTHORIZATION_FAILED,
              E.GROUP_AUTHORIZATION_FAILED, E.ILLEGAL_GENERATION, E.UNKNOWN_MEMBER_ID,
              E.FENCED_INSTANCE_ID, E.TRANSACTION_ABORTABLE, E.REBALANCE_IN_PROGRESS}
_BACKOFF_S = 0.02
_MAX_BACKOFF_S = 0.5


class FatalTransactionError(ClientError):
    """The producer cannot go on; close it (a new one may take over the id)."""


class ProducerFenced(FatalTransactionError):
    """A newer producer with the same transactional id exists (or this one timed out)."""


class AbortableTransactionError(ClientError):
    """The current transaction failed; call ``abort_transaction`` and start another."""


class TxnState(enum.Enum):
    UNINITIALIZED = "uninitialized"
    READY = "ready"
    IN_TRANSACTION = "in transaction"
    ABORTABLE = "abortable error"
    FATAL = "fatal error"


def classify(code: int, context: str, message: str | None = None) -> ClientError:
    """The exception for a broker's answer ``code`` in a transactional request."""
    if code in _FENCED:
        return ProducerFenced(str(BrokerError(code, context, message)))
    if code in _ABORTABLE:
        return AbortableTransactionError(str(BrokerError(code, context, message)))
    error = BrokerError(code, context, message)
    if error.retriable:
        return error
    return FatalTransactionError(str(error))


class TransactionalProducer(Producer):
    """A :class:`Producer` whose records go out in transactions (module docstring)."""

    def __init__(self, cluster: Cluster, transactional_id: str,
                 config: ProducerConfig | None = None, *,
                 transaction_timeout_ms: int = 60_000, timeout_s: float = 60.0) -> None:
        if not transactional_id:
            raise ClientError("a transactional producer needs a transactional id")
        config = config or ProducerConfig()
        if config.acks != -1:
            raise ClientError("transactions need acks=all")
        config.idempotent = True
        super().__init__(cluster, config)
        self._transactional_id = transactional_id
        self.transaction_timeout_ms = transaction_timeout_ms
        #: How long one coordinator call (init, add, offsets, commit, abort) keeps retrying.
        self.timeout_s = timeout_s
        self.state = TxnState.UNINITIALIZED
        self._error: ClientError | None = None
        self._coordinator: Connection | None = None
        self._added: set[tuple[str, int]] = set()
        self._adding: dict[tuple[str, int], asyncio.Future[None]] = {}
        self._add_task: asyncio.Task[None] | None = None
        self._offsets_added = False
        #: A batch failed, so a partition's sequence may have a gap: new epoch on abort.
        self._bump_on_abort = False

    @property
    def transactional_id(self) -> str:
        assert self._transactional_id is not None
        return self._transactional_id

    # -- lifetime ------------------------------------------------------------------------

    async def start(self) -> None:
        """``init_transactions`` unless done (so ``async with`` works)."""
        if self.state is TxnState.UNINITIALIZED:
            await self.init_transactions()

    async def init_transactions(self) -> None:
        """Get the producer id and epoch of the transactional id, fencing older instances
        and aborting what they left open."""
        if self.state is not TxnState.UNINITIALIZED:
            raise ClientError(f"init_transactions: the producer is {self.state.value}")
        await self._init_producer_id(keep=False)
        self._started = True
        self.state = TxnState.READY

    async def _init_producer_id(self, *, keep: bool) -> None:
        """InitProducerId; with ``keep`` name the current id and epoch (KIP-360: the same
        producer id, the next epoch, every sequence from 0)."""
        body = {"transactional_id": self.transactional_id,
                "transaction_timeout_ms": self.transaction_timeout_ms,
                "producer_id": self._producer_id if keep else -1,
                "producer_epoch": self._producer_epoch if keep else -1,
                "enable2_pc": False, "keep_prepared_txn": False}

        async def once(conn: Connection) -> Struct:
            answer = await conn.request(ApiKey.INIT_PRODUCER_ID, body)
            self._check(answer.error_code, "init transactions")
            return answer

        answer = await self._with_coordinator(once)
        self._producer_id, self._producer_epoch = answer.producer_id, answer.producer_epoch
        self._reset_sequences()

    async def close(self) -> None:
        """Flush what was sent and close; an open transaction is left to the coordinator
        (aborted by the next instance of the id, or by its timeout)."""
        try:
            if self.state is TxnState.IN_TRANSACTION:
                await super().close()
        finally:
            if self._add_task is not None:
                self._add_task.cancel()
            self._coordinator = None

    # -- transactions --------------------------------------------------------------------

    def begin_transaction(self) -> None:
        if self.state is not TxnState.READY:
            raise self._error if self.state is TxnState.FATAL and self._error else ClientError(
                f"begin_transaction: the producer is {self.state.value}")
        self.state = TxnState.IN_TRANSACTION

    def _in_transaction(self, what: str) -> None:
        if self.state is TxnState.IN_TRANSACTION:
            return
        if self.state in (TxnState.ABORTABLE, TxnState.FATAL) and self._error is not None:
            raise self._error
        raise ClientError(f"{what}: no transaction in progress (call begin_transaction)")

    async def send(self, topic: str, value: bytes | None, key: bytes | None = None,
                   headers: tuple[Header, ...] | list[Header] = (), *, partition: int | None = None,
                   timestamp: int | None = None) -> int:
        self._in_transaction("send")
        return await super().send(topic, value, key, headers, partition=partition,
                                  timestamp=timestamp)

    async def send_values(self, topic: str, values: list[bytes | None], *,
                          partition: int | None = None, payload_hint: int | None = None
                          ) -> None:
        self._in_transaction("send")
        await super().send_values(topic, values, partition=partition,
                                  payload_hint=payload_hint)

    async def send_offsets_to_transaction(self, offsets: Mapping[tuple[str, int], int],
                                          group: GroupMetadata | str) -> None:
        """Commit ``offsets`` ((topic, partition) -> the next offset to read) for ``group``
        (a member's :meth:`~tidelog.client.group.GroupMember.metadata`, or a group id for a
        consumer outside the group protocol) as part of this transaction."""
        self._in_transaction("send_offsets_to_transaction")
        meta = GroupMetadata(group) if isinstance(group, str) else group
        try:
            if not self._offsets_added:

                async def add(conn: Connection) -> None:
                    answer = await conn.request(ApiKey.ADD_OFFSETS_TO_TXN, {
                        "transactional_id": self.transactional_id,
                        "producer_id": self._producer_id,
                        "producer_epoch": self._producer_epoch, "group_id": meta.group_id})
                    self._check(answer.error_code, f"add the offsets of group {meta.group_id}")

                await self._with_coordinator(add)
                self._offsets_added = True
            await self._txn_offset_commit(offsets, meta)
        except ClientError as exc:
            raise self._fail(exc) from None

    async def _txn_offset_commit(self, offsets: Mapping[tuple[str, int], int],
                                 meta: GroupMetadata) -> None:
        by_topic: dict[str, list[dict[str, Any]]] = {}
        for (topic, partition), offset in sorted(offsets.items()):
            by_topic.setdefault(topic, []).append({
                "partition_index": partition, "committed_offset": offset,
                "committed_leader_epoch": -1, "committed_metadata": ""})
        body = {"transactional_id": self.transactional_id, "group_id": meta.group_id,
                "producer_id": self._producer_id, "producer_epoch": self._producer_epoch,
                "generation_id": meta.generation_id, "member_id": meta.member_id,
                "group_instance_id": meta.group_instance_id,
                "topics": [{"name": t, "partitions": ps} for t, ps in by_topic.items()]}

        async def once() -> None:
            host, port = await find_coordinator(self.cluster, meta.group_id, self.timeout_s)
            conn = await self.cluster.connection_to(host, port)
            answer = await conn.request(ApiKey.TXN_OFFSET_COMMIT, body)
            for t in answer.topics:
                for p in t.partitions:
                    self._check(p.error_code,
                                f"commit {t.name}/{p.partition_index} for group {meta.group_id}")

        await self._retrying(once)

    async def commit_transaction(self) -> None:
        """Send what is left, wait for it, and commit. An :class:`AbortableTransactionError`
        (a batch failed) leaves the transaction to ``abort_transaction``."""
        self._in_transaction("commit_transaction")
        await self.flush()
        if self._error is not None:
            raise self._fail(self._error)
        try:
            await self._end(commit=True)
        except ClientError as exc:
            raise self._fail(exc) from None

    async def abort_transaction(self) -> None:
        """Drop what was not sent yet, wait for what was, and abort."""
        if self.state is TxnState.FATAL:
            assert self._error is not None
            raise self._error
        if self.state not in (TxnState.IN_TRANSACTION, TxnState.ABORTABLE):
            raise ClientError(f"abort_transaction: the producer is {self.state.value}")
        await self._discard_unsent()
        await self.flush()
        for future in self._adding.values():
            future.cancel()
        self._adding.clear()
        try:
            await self._end(commit=False)
            if self._bump_on_abort:
                await self._init_producer_id(keep=True)
                self._bump_on_abort = False
        except ClientError as exc:
            raise self._fail(exc) from None

    async def _end(self, *, commit: bool) -> None:
        if self._added or self._offsets_added:

            async def once(conn: Connection) -> None:
                answer = await conn.request(ApiKey.END_TXN, {
                    "transactional_id": self.transactional_id,
                    "producer_id": self._producer_id, "producer_epoch": self._producer_epoch,
                    "committed": commit})
                self._check(answer.error_code, "commit" if commit else "abort")

            await self._with_coordinator(once)
        self._added.clear()
        self._offsets_added = False
        self._error = None
        self.state = TxnState.READY

    # -- partitions join the transaction (Producer's hooks) ------------------------------

    async def _before_send(self, state: _Partition) -> None:
        if self._error is not None:
            raise AbortableTransactionError(f"not sent: {self._error}")
        tp = (state.topic, state.partition)
        if tp in self._added:
            return
        future = self._adding.get(tp)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._adding[tp] = future
            if self._add_task is None or self._add_task.done():
                self._add_task = asyncio.get_running_loop().create_task(self._add_partitions())
        await asyncio.shield(future)

    async def _add_partitions(self) -> None:
        """Add every partition waiting to join, one request per round (those whose batches
        closed while a request was out go in the next)."""
        while True:
            await asyncio.sleep(0)  # the batches closed in this same turn join this round
            wanted = {tp: f for tp, f in self._adding.items() if not f.done()}
            if not wanted:
                return
            try:
                await self._with_coordinator(functools.partial(self._add_once,
                                                               partitions=list(wanted)))
            except ClientError as exc:
                error = self._fail(exc)
                for future in wanted.values():
                    if not future.done():
                        future.set_exception(error)
                        future.exception()  # a waiter may be gone (aborted)
            else:
                self._added.update(wanted)
                for future in wanted.values():
                    if not future.done():
                        future.set_result(None)
            for tp in wanted:
                self._adding.pop(tp, None)

    async def _add_once(self, conn: Connection, *, partitions: list[tuple[str, int]]
                        ) -> None:
        by_topic: dict[str, list[int]] = {}
        for topic, p in sorted(partitions):
            by_topic.setdefault(topic, []).append(p)
        topics = [{"name": t, "partitions": ps} for t, ps in by_topic.items()]
        if conn.version(ApiKey.ADD_PARTITIONS_TO_TXN) >= 4:
            answer = await conn.request(ApiKey.ADD_PARTITIONS_TO_TXN, {"transactions": [{
                "transactional_id": self.transactional_id, "producer_id": self._producer_id,
                "producer_epoch": self._producer_epoch, "verify_only": False,
                "topics": topics}]})
            self._check(answer.error_code, "add partitions to the transaction")
            results = [r for txn in answer.results_by_transaction for r in txn.topic_results]
        else:
            answer = await conn.request(ApiKey.ADD_PARTITIONS_TO_TXN, {
                "v3_and_below_transactional_id": self.transactional_id,
                "v3_and_below_producer_id": self._producer_id,
                "v3_and_below_producer_epoch": self._producer_epoch,
                "v3_and_below_topics": topics})
            results = answer.results_by_topic_v3_and_below
        # The worst error decides: fenced over abortable over retriable; OPERATION_NOT_ATTEMPTED
        # (another partition's error stopped this one) is retried with it.
        worst: ClientError | None = None
        for topic in results:
            for part in topic.results_by_partition:
                code = part.partition_error_code
                if code in (E.NONE, E.OPERATION_NOT_ATTEMPTED):
                    continue
                error = classify(code, f"add {topic.name}/{part.partition_index} "
                                       "to the transaction")
                if worst is None or _rank(error) > _rank(worst):
                    worst = error
        if worst is not None:
            raise worst

    def _batch_failed(self, error: ClientError) -> None:
        self._bump_on_abort = True
        if isinstance(error, BrokerError) and error.code in _FENCED:
            error = ProducerFenced(str(error))
        elif not isinstance(error, (FatalTransactionError, AbortableTransactionError)):
            error = AbortableTransactionError(str(error))
        self._fail(error)

    # -- coordinator requests ------------------------------------------------------------

    def _fail(self, error: ClientError) -> ClientError:
        """Record ``error`` as this transaction's (the state follows its kind); returns the
        error to raise."""
        if isinstance(error, BrokerError) and error.code in _FENCED:
            error = ProducerFenced(str(error))
        if isinstance(error, FatalTransactionError):
            self.state, self._error = TxnState.FATAL, error
        elif self.state is not TxnState.FATAL and self.state is not TxnState.READY:
            if self._error is None or not isinstance(error, AbortableTransactionError):
                self._error = error if isinstance(error, AbortableTransactionError) else \
                    AbortableTransactionError(str(error))
            self.state = TxnState.ABORTABLE
        return self._error or error

    def _check(self, code: int, context: str) -> None:
        if code != E.NONE:
            if code in _COORDINATOR_MOVED:
                self._coordinator = None
            raise classify(code, context)

    async def _with_coordinator(self, operation: Callable[[Connection], Awaitable[T]]) -> T:
        """``operation`` on the transaction coordinator's connection, retried (and the
        coordinator looked up again when it moved) within ``timeout_s``."""

        async def once() -> T:
            conn = self._coordinator
            if conn is None or conn.closed:
                host, port = await find_coordinator(self.cluster, self.transactional_id,
                                                    self.timeout_s, key_type=TRANSACTION_KEY)
                conn = self._coordinator = await self.cluster.connection_to(host, port)
            return await operation(conn)

        return await self._retrying(once)

    async def _retrying(self, operation: Callable[[], Awaitable[T]]) -> T:
        deadline = time.monotonic() + self.timeout_s
        pause = _BACKOFF_S
        while True:
            try:
                return await operation()
            except ClientError as exc:
                if not exc.retriable or time.monotonic() + pause >= deadline:
                    raise
                if not isinstance(exc, BrokerError) or exc.code in _COORDINATOR_MOVED:
                    self._coordinator = None
            await asyncio.sleep(pause)
            pause = min(_MAX_BACKOFF_S, pause * 2)


def _rank(error: ClientError) -> int:
    if isinstance(error, FatalTransactionError):
        return 3
    if isinstance(error, AbortableTransactionError):
        return 2
    return 1
