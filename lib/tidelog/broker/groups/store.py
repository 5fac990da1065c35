"""Group state on disk: records of the internal topic ``__consumer_offsets``.

The topic is created on first use (the first FindCoordinator for a group, or the first
commit) with ``offsets_topic_num_partitions`` partitions (50 by default), ``cleanup.policy``
compact and no time or size retention (a commit must not vanish with old segments). A group
lives in partition ``abs(javaHash(group)) % partitions``, as in Kafka, so all of its records
are in order in one log; in a cluster the leader of that partition is the group's coordinator
(:meth:`OffsetsStore.leader_of`).

:meth:`OffsetsStore.write` appends one uncompressed batch of key/value records (formats in
:mod:`tidelog.broker.groups.schema`) and waits as an acks=all produce does (the high watermark
passes it: every in-sync replica has it, durably with the default flush policy), so a commit
is acknowledged only once it would survive a crash or a coordinator failover.
:meth:`OffsetsStore.replay` reads every
partition from its start on broker start-up: later records override earlier ones and a
tombstone (null value) deletes. A record that cannot be decoded is logged and skipped (the
rest of the log still loads); a log that cannot be read at all stops the load of that
partition with a warning.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Sequence

from tidelog.broker.groups.schema import partition_for
from tidelog.broker.services import Broker
from tidelog.errors import TidelogError
from tidelog.protocol.errors import ErrorCode
from tidelog.records import NewRecord, build_batch, iter_decoded_batches
from tidelog.records.control import COMMIT, decode_marker
from tidelog.storage.topic_partition import TopicPartition

log = logging.getLogger("tidelog.broker.groups")

OFFSETS_TOPIC = "__consumer_offsets"
_TOPIC_CONFIGS = {"cleanup.policy": "compact", "retention.ms": "-1", "retention.bytes": "-1"}
_READ_CHUNK = 4 << 20
#: Kafka's offsets.commit.timeout.ms: how long a commit waits for the in-sync replicas.
COMMIT_TIMEOUT_S = 5.0


class OffsetsStore:
    """The records of one internal compacted topic (``__transaction_state`` reuses it
    with its own name and sizes, :mod:`tidelog.broker.txn.store`)."""

    topic = OFFSETS_TOPIC

    def __init__(self, core: Broker) -> None:
        self.core = core

    def configured_partitions(self) -> int:
        return self.core.config.offsets_topic_num_partitions

    def configured_replication(self) -> int:
        return self.core.config.offsets_topic_replication_factor

    @property
    def partitions(self) -> int:
        topic = self.core.image.topic(self.topic)
        if topic is not None:
            return len(topic.partitions)
        return self.configured_partitions()

    async def ensure_topic(self) -> None:
        """Create ``__consumer_offsets`` if it does not exist yet (through the active
        controller in a cluster)."""
        if self.core.image.topic(self.topic) is not None:
            return
        # Imported here: the quorum package loads its node machinery, which needs the core.
        from tidelog.broker.quorum import ops
        from tidelog.metadata.errors import ControllerError

        # Kafka's rule: the replication factor is capped by the brokers registered now.
        replication = min(self.configured_replication(), max(1, len(self.core.broker_ids)))
        try:
            await ops.create_topic(
                self.core, self.topic, self.configured_partitions(), replication,
                _TOPIC_CONFIGS,
            )
        except ControllerError as exc:
            if exc.error_name != "TOPIC_ALREADY_EXISTS":  # another request created it
                raise

    def partition_of(self, group: str) -> int:
        return partition_for(group, self.partitions)

    def leader_of(self, group: str) -> int:
        """The broker that coordinates ``group``: the leader of its partition (this broker
        on a single node; -1 while the topic does not exist)."""
        if not self.core.config.is_cluster:
            return self.core.node_id
        part = self.core.image.partition(self.topic, self.partition_of(group))
        return part.leader if part is not None else -1

    def coordinates(self, group: str) -> bool:
        return self.leader_of(group) == self.core.node_id

    async def write(self, group: str, records: Sequence[tuple[bytes, bytes | None]], *,
                    producer: tuple[int, int] | None = None) -> None:
        """Append ``(key, value)`` records to the group's partition; durable on return.
        Raises the storage error if the append fails (nothing was written then).
        ``producer`` (id, epoch) makes it a transactional batch of that producer (offsets
        committed in a transaction count once its commit marker follows)."""
        if not records:
            return
        await self.ensure_topic()
        partition = self.partition_of(group)
        pid, epoch = producer if producer is not None else (-1, -1)
        batch = bytearray(build_batch(
            [NewRecord(value, key) for key, value in records], producer_id=pid,
            producer_epoch=epoch, is_transactional=producer is not None))
        await self.append(partition, batch)

    async def append(self, partition: int, batch: bytearray) -> None:
        """Append a built batch to ``partition`` as its leader and wait as acks=all does."""
        replicas = self.core.replicas
        part = replicas.partition(self.topic, partition)
        if part is None or not part.is_leader:
            raise TidelogError(f"{self.topic}-{partition} is not led by this broker")
        info = part.log.append(batch, leader_epoch=part.leader_epoch)
        replicas.appended(part)
        # As Kafka writes offsets (acks=all): every in-sync replica has the commit before it
        # is acknowledged, so it survives the coordinator's failover.
        try:
            code = await asyncio.wait_for(
                replicas.replicated_wait(part, info.last_offset + 1), COMMIT_TIMEOUT_S)
        except TimeoutError:
            raise TidelogError(f"{self.topic}-{partition}: not replicated in time") from None
        if code != ErrorCode.NONE:
            raise TidelogError(f"{self.topic}-{partition}: {code.name}")

    def replay(self, partitions: set[int] | None = None, *,
               on_pending: Callable[[int, int, bytes, bytes | None], None] | None = None,
               ) -> Iterator[tuple[bytes, bytes | None]]:
        """Every ``(key, value)`` of the topic (or of ``partitions``), partition by partition,
        in log order. Records of a transaction count where its commit marker is (those of
        an aborted one never); those of a transaction still open at the log end go to
        ``on_pending(partition, producer id, key, value)``."""
        topic = self.core.image.topic(self.topic)
        if topic is None:
            return
        for p in sorted(topic.partitions):
            if partitions is not None and p not in partitions:
                continue
            plog = self.core.logs.get_log(TopicPartition(self.topic, p))
            if plog is None:
                continue
            offset, end = plog.log_start_offset, plog.log_end_offset
            open_txns: dict[int, list[tuple[bytes, bytes | None]]] = {}
            try:
                while offset < end:
                    with plog.read(offset, _READ_CHUNK, max_offset=end) as region:
                        data = region.read_bytes()
                    if not data:
                        break
                    for batch in iter_decoded_batches(data):
                        h = batch.header
                        offset = h.next_offset
                        if h.is_control:
                            done = open_txns.pop(h.producer_id, [])
                            for rec in batch.records():
                                if rec.key is not None and \
                                        decode_marker(rec.key, rec.value).type == COMMIT:
                                    yield from done
                            continue
                        kept = [(rec.key, rec.value) for rec in batch.records()
                                if rec.key is not None]
                        if h.is_transactional:
                            open_txns.setdefault(h.producer_id, []).extend(kept)
                        else:
                            yield from kept
            except (TidelogError, OSError) as exc:
                log.warning("%s-%d: state not fully loaded: %s", self.topic, p, exc)
            if on_pending is not None:
                for pid, pending in open_txns.items():
                    for key, value in pending:
                        on_pending(p, pid, key, value)
