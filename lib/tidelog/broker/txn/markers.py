"""Transaction markers: the control batch that ends a transaction on each of its partitions.

:func:`append_marker` writes one marker to a partition this broker leads (the WriteTxnMarkers
handler and the coordinator call it): the batch is appended as the leader appends produce
batches, recorded in the partition's producer state (a marker of a newer epoch fences older
ones), and awaited as acks=all (the marker is on every in-sync replica before it counts). A
marker on ``__consumer_offsets`` also settles the transaction's offsets in the group
coordinator.

:class:`MarkerWriter` (the coordinator's side) sends the markers of one transaction to every
partition's leader — itself directly, other brokers by WriteTxnMarkers — and retries
partitions whose leader moved or did not answer until all are written; a partition whose
topic was deleted counts as done. It raises only when stopped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from tidelog.broker.groups.store import OFFSETS_TOPIC
from tidelog.broker.replication.link import BrokerLink, LinkError
from tidelog.broker.services import TxnBroker
from tidelog.errors import TidelogError
from tidelog.protocol.apis import ApiKey
from tidelog.protocol.data import Struct
from tidelog.protocol.errors import ErrorCode
from tidelog.records.batch_header import parse_header
from tidelog.records.control import ABORT, COMMIT, Marker, build_marker_batch
from tidelog.storage.topic_partition import TopicPartition

log = logging.getLogger("tidelog.broker.txn")

#: How long one marker waits for the in-sync replicas.
MARKER_TIMEOUT_S = 10.0
RETRY_S = 0.2


async def append_marker(core: TxnBroker, topic: str, partition: int, producer_id: int,
                        producer_epoch: int, commit: bool, coordinator_epoch: int
                        ) -> ErrorCode:
    replicas = core.replicas
    part = replicas.partition(topic, partition)
    if part is None or not part.is_leader:
        return replicas.missing_partition_error(topic, partition)
    batch = bytearray(build_marker_batch(
        producer_id, producer_epoch, Marker(COMMIT if commit else ABORT, coordinator_epoch)))
    try:
        info = part.log.append(batch, leader_epoch=part.leader_epoch)
    except (TidelogError, OSError) as exc:
        log.warning("%s-%d: marker not written: %s", topic, partition, exc)
        return ErrorCode.KAFKA_STORAGE_ERROR
    tp = TopicPartition(topic, partition)
    replicas.producer_state(tp).record([parse_header(batch)], info.log_append_time_ms)
    replicas.appended(part)
    try:
        code = await asyncio.wait_for(replicas.replicated_wait(part, info.last_offset + 1),
                                      MARKER_TIMEOUT_S)
    except TimeoutError:
        return ErrorCode.REQUEST_TIMED_OUT
    if code == ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
        code = ErrorCode.NONE  # written and replicated to the ISR there is
    if code == ErrorCode.NONE and topic == OFFSETS_TOPIC:
        core.groups.complete_txn(partition, producer_id, producer_epoch, commit)
    return code


class MarkerWriter:
    def __init__(self, core: TxnBroker) -> None:
        self.core = core
        self._links: dict[int, BrokerLink] = {}
        #: A link carries one request at a time.
        self._locks: dict[int, asyncio.Lock] = {}

    async def write(self, producer_id: int, producer_epoch: int, commit: bool,
                    coordinator_epoch: int, partitions: Iterable[tuple[str, int]]) -> None:
        """Write the markers to every partition, retrying until each is done."""
        todo = set(partitions)
        while todo:
            if self.core.stopping:
                raise TidelogError("stopping: transaction markers not all written")
            by_leader: dict[int, list[tuple[str, int]]] = {}
            for topic, p in sorted(todo):
                pimg = self.core.image.partition(topic, p)
                if pimg is None:
                    todo.discard((topic, p))  # the topic is gone: nothing to end there
                    continue
                leader = pimg.leader if self.core.config.is_cluster else self.core.node_id
                by_leader.setdefault(leader, []).append((topic, p))
            results = await asyncio.gather(*(
                self._send(leader, tps, producer_id, producer_epoch, commit, coordinator_epoch)
                for leader, tps in by_leader.items()
            ))
            for done in results:
                todo -= done
            if todo:
                await asyncio.sleep(RETRY_S)

    async def _send(self, leader: int, tps: list[tuple[str, int]], producer_id: int,
                    producer_epoch: int, commit: bool, coordinator_epoch: int
                    ) -> set[tuple[str, int]]:
        done: set[tuple[str, int]] = set()
        if leader == self.core.node_id:
            for topic, p in tps:
                code = await append_marker(self.core, topic, p, producer_id, producer_epoch,
                                           commit, coordinator_epoch)
                if code in (ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION):
                    done.add((topic, p))
            return done
        if leader < 0:
            return done
        link = self._link(leader)
        if link is None:
            return done
        by_topic: dict[str, list[int]] = {}
        for topic, p in tps:
            by_topic.setdefault(topic, []).append(p)
        body = Struct(markers=[Struct(
            producer_id=producer_id, producer_epoch=producer_epoch, transaction_result=commit,
            coordinator_epoch=coordinator_epoch, transaction_version=0,
            topics=[Struct(name=t, partition_indexes=ps) for t, ps in by_topic.items()],
        )])
        try:
            async with self._locks.setdefault(leader, asyncio.Lock()):
                answer = await link.request(ApiKey.WRITE_TXN_MARKERS, 1, body,
                                            MARKER_TIMEOUT_S + 5)
        except LinkError as exc:
            log.info("markers to broker %d not written: %s", leader, exc)
            return done
        for m in answer.markers:
            for t in m.topics:
                for r in t.partitions:
                    if r.error_code in (0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION):
                        done.add((t.name, r.partition_index))
        return done

    def _link(self, broker: int) -> BrokerLink | None:
        address = self.core.replicas.broker_address(broker)
        if address is None:
            return None
        link = self._links.get(broker)
        if link is None or (link.host, link.port) != address:
            if link is not None:
                link.close()
            link = self._links[broker] = BrokerLink(address[0], address[1],
                                                    f"txn-markers-{self.core.node_id}")
        return link

    def close(self) -> None:
        for link in self._links.values():
            link.close()
        self._links.clear()
