"""A task: one partition of one sub-topology, processing records sans-I/O.

:meth:`Task.process` takes one input record as bytes (topic, offset, key, value, timestamp),
deserializes it with its source's serdes and runs it through the sub-topology's nodes. What
the nodes write comes out in :attr:`Task.outbox`, in order, as :class:`Output` records: sink
records (partition None: the key's murmur2 hash picks it) and changelog records (partition =
the task's partition). The driver (the application's runtime, or a test's fake log) sends
them, and at each commit point the changelog records (:meth:`Task.take_changelog`) and, once
both are written, commits :attr:`Task.offsets`.

Invariant: every store write is recorded for the changelog (:class:`LoggedStore`), so the
changelog, replayed in order, rebuilds the store. Between two commits only the last write of
each key is kept (Kafka Streams' record cache does the same for its changelogs): a key
counted a thousand times in a second costs one changelog record, and the state the changelog
holds at each commit is the same.

Crash behaviour: a record a serde cannot read raises :class:`StreamsError` naming its topic,
partition and offset, before anything of it is processed; :attr:`Task.offsets` then still
points at it, so committing never skips it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from tidelog.streams.errors import StreamsError
from tidelog.streams.stores import KeyValueStore
from tidelog.streams.topology import SubTopology


class Output(NamedTuple):
    """A record to write (a NamedTuple: one is made per output, so it is made cheaply)."""

    topic: str
    key: bytes | None
    value: bytes | None
    timestamp: int
    partition: int | None = None


class LoggedStore:
    """A store whose every write is also a changelog record of its task."""

    def __init__(self, inner: KeyValueStore, changelog: str, task: Task) -> None:
        self.inner = inner
        self.changelog = changelog
        self._task = task

    def get(self, key: bytes) -> bytes | None:
        return self.inner.get(key)

    def put(self, key: bytes, value: bytes | None) -> None:
        self.inner.put(key, value)
        task = self._task
        pending = task.changelog
        entry = (self.changelog, key)
        # Re-inserted: the changelog keeps the order of each key's last write.
        pending.pop(entry, None)
        pending[entry] = (value, task.timestamp)

    def put_all(self, items: Iterable[tuple[bytes, bytes | None]]) -> None:
        for key, value in items:
            self.put(key, value)

    def items(self, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        return self.inner.items(prefix)

    def flush(self) -> None:
        self.inner.flush()

    def close(self) -> None:
        self.inner.close()

    def wipe(self) -> None:
        self.inner.wipe()


@dataclass
class Task:
    sub: SubTopology
    partition: int
    #: store name -> its local store
    local: dict[str, KeyValueStore]
    outbox: list[Output] = field(default_factory=list)
    #: (changelog, key) -> (value, timestamp) of the last write since the last commit
    changelog: dict[tuple[str, bytes], tuple[bytes | None, int]] = field(default_factory=dict)
    #: source topic -> next offset to read (what a commit records)
    offsets: dict[str, int] = field(default_factory=dict)
    #: the timestamp of the record being processed
    timestamp: int = 0
    dropped: int = 0
    processed: int = 0
    #: Hold aggregates' changes until the commit (see graph.Folding).
    caching: bool = False

    def __post_init__(self) -> None:
        self._logged = {name: LoggedStore(store, self.sub.stores[name], self)
                        for name, store in self.local.items()}
        missing = set(self.sub.stores) - set(self.local)
        if missing:
            raise StreamsError(f"task {self.id}: no store for {', '.join(sorted(missing))}")

    @property
    def id(self) -> str:
        """Kafka Streams' task id: SUB_PARTITION."""
        return f"{self.sub.id}_{self.partition}"

    def store(self, name: str) -> KeyValueStore:
        return self._logged[name]

    def emit(self, topic: str, key: bytes | None, value: bytes | None, timestamp: int,
             partition: int | None = None) -> None:
        self.outbox.append(Output(topic, key, value, timestamp, partition))

    def init(self) -> None:
        """After the stores are restored: let the nodes rebuild what they keep in memory."""
        for node in self.sub.nodes:
            node.init(self)

    def process(self, topic: str, offset: int, key: bytes | None, value: bytes | None,
                timestamp: int) -> None:
        source = self.sub.sources[topic]
        try:
            k = source.key_serde.deserialize(key)
            v = source.value_serde.deserialize(value)
        except StreamsError as exc:
            raise StreamsError(f"{topic}/{self.partition} offset {offset}: {exc}") from None
        self.timestamp = timestamp
        source.process(self, k, v, timestamp)
        self.offsets[topic] = offset + 1
        self.processed += 1

    def take(self) -> list[Output]:
        """The sink records made since the last call."""
        out, self.outbox = self.outbox, []
        return out

    def flush(self) -> None:
        """A commit point: the nodes forward what they held (the sink records it makes are
        then in :attr:`outbox`)."""
        for node in self.sub.nodes:
            node.flush(self)

    def take_changelog(self) -> list[Output]:
        """The changelog records since the last commit: each key's last write."""
        pending, self.changelog = self.changelog, {}
        return [Output(topic, key, value, ts, self.partition)
                for (topic, key), (value, ts) in pending.items()]
