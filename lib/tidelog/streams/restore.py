"""Restoring a store from its changelog: from the checkpointed offset to the end.

:func:`apply_changelog` is the sans-I/O rule: replay (key, value) records in offset order, a
None value deleting the key; what is left is the store as the writer had it at the last
record. :func:`restore` does it against the cluster: it reads the changelog partition from
the store's checkpoint (or, with none, from the log start after wiping the store) up to the
log end offset it saw when it started (the task is the only writer of its changelog
partition, and it writes nothing before the restore is done).

A checkpoint beyond the log end means the changelog is not the one the store was built from
(the topic was deleted and made again): the store is wiped and rebuilt from the start.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tidelog.streams.stores import KeyValueStore, read_checkpoint

if TYPE_CHECKING:
    from tidelog.client.cluster import Cluster


def apply_changelog(store: KeyValueStore,
                    records: Iterable[tuple[bytes | None, bytes | None]]) -> int:
    """Replay ``records`` into ``store`` (one write batch); returns how many were applied.
    Records without a key were not written by a store: they are skipped."""
    batch = [(key, value) for key, value in records if key is not None]
    store.put_all(batch)
    return len(batch)


@dataclass
class Restored:
    store: str
    changelog: str
    partition: int
    start: int
    end: int
    records: int


async def restore(cluster: Cluster, store: KeyValueStore, name: str, changelog: str,
                  partition: int, checkpoint: Path, *, read_committed: bool = False
                  ) -> Restored:
    """Bring ``store`` up to the end of partition ``partition`` of ``changelog``."""
    from tidelog.client.consumer import Consumer, ConsumerConfig
    from tidelog.client.offsets import EARLIEST, LATEST, OffsetSpec, list_offsets

    low = (await list_offsets(cluster, changelog, [partition], EARLIEST))[partition][0]
    # read_committed: up to the last stable offset (what committed transactions wrote)
    end = (await list_offsets(cluster, changelog, [partition], LATEST,
                              isolation_level=int(read_committed)))[partition][0]
    start = read_checkpoint(checkpoint)
    if start is None or start > end or start < low:
        # No checkpoint (a first start or a crash before one was written), a changelog
        # that is not ours, or one whose head retention removed: rebuild from the start.
        store.wipe()
        start = low
    applied = 0
    if start < end:
        consumer = Consumer(cluster, ConsumerConfig(max_wait_ms=200,
                                                    isolation_level=int(read_committed)))
        await consumer.assign([(changelog, partition, OffsetSpec("absolute", start))])
        state = consumer.partitions[(changelog, partition)]
        while state.position < end:
            for fetched in await consumer.poll():
                applied += apply_changelog(store, ((r.key, r.value) for r in fetched.records
                                                   if r.offset < end))
            if state.at_end and state.high_watermark <= state.position:
                break
    return Restored(name, changelog, partition, start, end, applied)
