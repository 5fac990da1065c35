"""Processing guarantees: how outputs, changelog writes and input offsets are committed.

A :class:`Guarantee` is the seam between the runtime and the producer. The runtime hands it
every output (:meth:`Guarantee.send`) and, at each commit point, the next input offsets of
its tasks (:meth:`Guarantee.commit`):

* :class:`AtLeastOnce` (the default): ``commit`` waits until the producer has every output
  and changelog record acknowledged (acks=all, idempotent), and only then commits the input
  offsets to the group. A crash before that reprocesses the records after the last commit:
  nothing is lost, some outputs may be written twice. A record the producer failed to write
  stops the application before the commit (:class:`~tidelog.streams.errors.StreamsError`).
* exactly-once (``exactly_once``): outputs, changelog writes and input offsets in one
  transaction; read by read_committed consumers (restores too), so a crash aborts the open
  transaction and its effects are never seen. It needs the transactional producer of
  ``tidelog.client.transactions``; until the client has it, asking for it is a clear error.

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


def make_guarantee(name: str, cluster: Cluster, member: GroupMember,
                   application_id: str) -> Guarantee:
    if name == AT_LEAST_ONCE:
        return AtLeastOnce(cluster, member)
    if name == EXACTLY_ONCE:
        raise StreamsError("exactly-once needs the transactional producer "
                           "(tidelog.client.transactions), which this version does not have "
                           "yet: run with at_least_once")
    raise StreamsError(f"unknown processing guarantee {name!r} (at_least_once or "
                       "exactly_once)")
