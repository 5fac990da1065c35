"""A fake log that runs a topology's tasks sans-I/O: topics are lists of partitions of
(key, value, timestamp) byte records; outputs are appended as a producer would (keyed records
to the murmur2 partition, changelog records to their task's partition) and processed in
turn until nothing is left to read. Restarting (:meth:`FakeLog.restart`) builds fresh tasks
whose stores are restored from the changelogs, as an application does after a crash."""

from __future__ import annotations

from tidelog.client.murmur2 import partition_for_key
from tidelog.streams.restore import apply_changelog
from tidelog.streams.stores import MemoryStore
from tidelog.streams.task import Task
from tidelog.streams.topology import Topology

Rec = tuple[bytes | None, bytes | None, int]


class FakeLog:
    def __init__(self, topology: Topology, partitions: dict[str, int], *,
                 caching: bool = False) -> None:
        self.topology = topology
        self.caching = caching
        self.topics: dict[str, list[list[Rec]]] = {
            t: [[] for _ in range(n)] for t, n in partitions.items()}
        known = dict(partitions)
        self.counts = topology.partition_counts(known)
        for topic, n in known.items():
            self.topics.setdefault(topic, [[] for _ in range(n)])
        for sub in topology.subs:
            for changelog in sub.stores.values():
                self.topics.setdefault(changelog, [[] for _ in range(self.counts[sub.id])])
        self.restart()

    def restart(self) -> None:
        """New tasks with empty stores restored from the changelogs; reading resumes at
        the last committed offsets (everything processed is committed here)."""
        self.tasks: dict[tuple[int, int], Task] = {}
        for sub in self.topology.subs:
            for p in range(self.counts[sub.id]):
                stores = {}
                for name, changelog in sub.stores.items():
                    store = MemoryStore()
                    apply_changelog(store, ((k, v) for k, v, _ in self.topics[changelog][p]))
                    stores[name] = store
                task = Task(sub, p, stores, caching=self.caching)  # type: ignore[arg-type]
                task.init()
                self.tasks[(sub.id, p)] = task
        if not hasattr(self, "committed"):
            self.committed: dict[tuple[str, int], int] = {}

    def produce(self, topic: str, key: bytes | None, value: bytes | None, ts: int,
                partition: int | None = None) -> None:
        parts = self.topics[topic]
        if partition is None:
            partition = partition_for_key(key, len(parts)) if key is not None else 0
        parts[partition].append((key, value, ts))

    def run(self) -> None:
        """Process every unread record of every source, outputs included, to the end."""
        busy = True
        while busy:
            busy = False
            for (_sub, p), task in self.tasks.items():
                for topic in task.sub.topics:
                    records = self.topics[topic][p]
                    pos = self.committed.get((topic, p), 0)
                    while pos < len(records):
                        key, value, ts = records[pos]
                        task.process(topic, pos, key, value, ts)
                        for out in task.take():
                            self.produce(out.topic, out.key, out.value, out.timestamp,
                                         out.partition)
                        pos += 1
                        busy = True
                    self.committed[(topic, p)] = pos
                # A commit point: what the nodes held, then the changelog records (each
                # key's last write) go out.
                task.flush()
                for out in [*task.take(), *task.take_changelog()]:
                    self.produce(out.topic, out.key, out.value, out.timestamp, out.partition)

    def read(self, topic: str) -> list[Rec]:
        return [r for part in self.topics[topic] for r in part]

    def latest(self, topic: str) -> dict[bytes | None, bytes | None]:
        """The topic read as a table: last value per key (in partition order)."""
        table: dict[bytes | None, bytes | None] = {}
        for part in self.topics[topic]:
            for key, value, _ in part:
                table[key] = value
        return {k: v for k, v in table.items() if v is not None}
