"""Processing guarantees: how outputs, changelog writes and input offsets are committed.

A :class:`Guarantee` is the seam between the runtime and the producer. The runtime hands it
every output (:meth:`Guarantee.send`) and, at each commit point, the next input offsets of
its tasks (:meth:`Guarantee.commit`):

* :class:`AtLeastOnce` (the default): ``commit`` waits until the producer has every output
  and changelog record acknowledged (acks=all, idempotent), and only then commits the input
  offsets to the group. A crash before that reprocesses the records after the last commit:
  nothing is lost, some outputs may be written twice. A record the producer failed to write
  stops the application before the commit (:class:`~tidelog.streams.errors.StreamsError`).
* :class:`ExactlyOnce` (``exactly_once``, Kafka's exactly_once_v2): one transactional
  producer per instance; outputs, changelog records and the input offsets
  (``send_offsets_to_transaction``, naming the member's generation, so a zombie that was
  dropped from the group cannot commit) go in one transaction per commit. Readers with
  read_committed (restores too) see all of a commit or nothing of it. A crash leaves the open
  transaction to be aborted when the instance starts again (its transactional id,
  ``APP-INSTANCE``, is kept in the state directory, so the new producer fences the old one)
  or at the transaction timeout. A commit the transaction could not make (the group moved
  on, a batch failed) is aborted and raises :class:`TaskCorrupted`: the stores hold writes
  that were never committed, so the runtime rebuilds them from their changelogs.

``checkpoint_while_running``: whether a store's checkpoint may be written at each commit
(at-least-once) or only on a clean close (exactly-once, where a store on disk can hold
writes of an aborted transaction, so after a crash it must be rebuilt from the changelog).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from tidelog.streams.errors import StreamsError
from tidelog.streams.task import Output

if TYPE_CHECKING:
    from tidelog.client.cluster import Cluster
    from tidelog.client.group import GroupMember
    from tidelog.client.producer import Producer

AT_LEAST_ONCE = "at_least_once"
EXACTLY_ONCE = "exactly_once"
GUARANTEES = (AT_LEAST_ONCE, EXACTLY_ONCE)


class Guarantee(Protocol):
    read_committed: bool
    checkpoint_while_running: bool

    async def start(self) -> None: ...

    async def send(self, out: Output) -> None: ...

    async def flush(self) -> None:
        """Wait until every output sent so far is written (raises if one could not be)."""

    async def commit(self, offsets: Mapping[tuple[str, int], int]) -> bool:
        """Make the outputs so far and ``offsets`` durable; False when the group refused
        (a rebalance: the caller rejoins; the outputs may be repeated by the next owner)."""

    async def close(self) -> None: ...


class TaskCorrupted(StreamsError):
    """The open transaction was aborted: the local state holds writes nobody will see and
    must be rebuilt from the changelogs (Kafka Streams' TaskCorruptedException)."""


class AtLeastOnce:
    read_committed = False
    checkpoint_while_running = True

    def __init__(self, cluster: Cluster, member: GroupMember) -> None:
        from tidelog.client.producer import Producer, ProducerConfig

        self.member = member
        # Idempotent: a retried batch is written once, so a retry alone never duplicates.
        self.producer: Producer = Producer(cluster, ProducerConfig(acks=-1, idempotent=True,
                                                                   max_in_flight=1))
        self._failed = 0

    async def start(self) -> None:
        await self.producer.start()

    async def send(self, out: Output) -> None:
        await self.producer.send(out.topic, out.value, out.key, partition=out.partition,
                                 timestamp=out.timestamp)

    async def flush(self) -> None:
        await self.producer.flush()
        stats = self.producer.stats
        if stats.failed > self._failed:
            lost = stats.failed - self._failed
            self._failed = stats.failed
            reason = stats.errors[-1] if stats.errors else "unknown error"
            raise StreamsError(f"{lost} output records could not be written ({reason}); "
                               "the input offsets were not committed")

    async def commit(self, offsets: Mapping[tuple[str, int], int]) -> bool:
        await self.flush()
        return await self.member.commit(offsets)

    async def close(self) -> None:
        await self.producer.close()


class ExactlyOnce:
    read_committed = True
    checkpoint_while_running = False

    def __init__(self, cluster: Cluster, member: GroupMember, transactional_id: str) -> None:
        from tidelog.client.transactions import TransactionalProducer

        self.member = member
        self.producer = TransactionalProducer(cluster, transactional_id)

    async def start(self) -> None:
        await self.producer.init_transactions()  # aborts what our last run left open
        self.producer.begin_transaction()

    async def send(self, out: Output) -> None:
        from tidelog.client.transactions import AbortableTransactionError

        try:
            await self.producer.send(out.topic, out.value, out.key, partition=out.partition,
                                     timestamp=out.timestamp)
        except AbortableTransactionError as exc:
            await self._abort(exc)

    async def flush(self) -> None:
        """Nothing to wait for before the commit: the transaction makes it all visible
        at once (commit_transaction waits for every batch)."""

    async def commit(self, offsets: Mapping[tuple[str, int], int]) -> bool:
        from tidelog.client.transactions import AbortableTransactionError

        producer = self.producer
        try:
            if offsets:
                await producer.send_offsets_to_transaction(offsets, self.member.metadata())
            await producer.commit_transaction()
        except AbortableTransactionError as exc:
            await self._abort(exc)
        producer.begin_transaction()
        return True

    async def _abort(self, exc: Exception) -> None:
        await self.producer.abort_transaction()
        self.producer.begin_transaction()
        raise TaskCorrupted(f"the transaction was aborted ({exc}): the state is rebuilt "
                            "from the changelogs")

    async def close(self) -> None:
        from tidelog.client.transactions import TxnState

        producer = self.producer
        if producer.state is TxnState.IN_TRANSACTION:
            # Nothing is left in it after the last commit: end it so the id is free at once.
            await producer.abort_transaction()
        await producer.close()


def make_guarantee(name: str, cluster: Cluster, member: GroupMember,
                   transactional_id: str) -> Guarantee:
    """The guarantee named ``name``; ``transactional_id`` names this instance's
    transactional producer (exactly-once)."""
    if name == AT_LEAST_ONCE:
        return AtLeastOnce(cluster, member)
    if name == EXACTLY_ONCE:
        return ExactlyOnce(cluster, member, transactional_id)
    raise StreamsError(f"unknown processing guarantee {name!r} (at_least_once or "
                       "exactly_once)")
