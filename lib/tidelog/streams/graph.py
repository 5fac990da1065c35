"""The processor graph: the operators a topology is made of, sans-I/O.

Each :class:`Node` gets ``(key, value, timestamp)`` in :meth:`Node.process` and hands what it
makes to its children (:meth:`Node.forward`), depth first, so one input record is processed to
the end before the next (Kafka Streams' order). Keys and values are objects here; a source
deserializes them, a sink serializes them. A node reaches the outside only through its
:class:`Context` (the task running it): state stores by name (every write also goes to the
store's changelog) and :meth:`Context.emit` for records to a topic. Nothing here touches a
socket, a clock or a file, so the whole graph runs against a fake log in the unit tests.

Tables flow as change streams: ``(key, new value)``, a None value meaning the row is gone.

Null keys: aggregations and joins drop records without a key (as Kafka Streams does); the
stateless operators pass them on.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from tidelog.streams.serde import Serde
from tidelog.streams.stores import KeyValueStore
from tidelog.streams.windows import (
    STREAM_TIME_KEY,
    WINDOW_PREFIX,
    TimeWindows,
    Windowed,
    pack_time,
    split_window_key,
    unpack_time,
    window_key,
)


class Context(Protocol):
    """What a node may use of the task running it."""

    partition: int
    #: Late records dropped by windowed aggregates (a task-wide figure).
    dropped: int
    #: Whether aggregates hold their changes until the commit (the record cache).
    caching: bool

    def store(self, name: str) -> KeyValueStore: ...

    def emit(self, topic: str, key: bytes | None, value: bytes | None, timestamp: int,
             partition: int | None = None) -> None: ...


class Node:
    """An operator; ``stores`` names the state stores it reads or writes."""

    stores: tuple[str, ...] = ()

    def __init__(self, name: str) -> None:
        self.name = name
        self.children: list[Node] = []

    def process(self, ctx: Context, key: Any, value: Any, ts: int) -> None:
        self.forward(ctx, key, value, ts)

    def forward(self, ctx: Context, key: Any, value: Any, ts: int) -> None:
        for child in self.children:
            child.process(ctx, key, value, ts)

    def init(self, ctx: Context) -> None:
        """Called once the task's stores are restored (rebuild what lives in memory)."""

    def flush(self, ctx: Context) -> None:
        """Called at each commit point, before the outputs are written."""

    def edges(self) -> list[Node]:
        """Every node this one hands records to (the graph's edges)."""
        return self.children


class Stateful(Node):
    """A node reading or writing one store, with the serdes of its keys and values there."""

    def __init__(self, name: str, store: str, key: Serde[Any], value: Serde[Any]) -> None:
        super().__init__(name)
        self.store = store
        self.stores = (store,)
        self.key_serde = key
        self.value_serde = value


class Folding(Stateful):
    """An aggregation: ``adder(key, value, current)`` per record, ``current`` starting at
    ``initial()`` (None without one: reduce starts from the first value). With caching
    (Kafka Streams' record cache, on by default in an application) the table's changes are
    forwarded at each commit, one per key (its latest), instead of one per record: far fewer
    output records, the same table."""

    def __init__(self, name: str, store: str, key: Serde[Any], state: Serde[Any],
                 initial: Callable[[], Any] | None,
                 adder: Callable[[Any, Any, Any], Any]) -> None:
        super().__init__(name, store, key, state)
        self.initial = initial
        self.adder = adder

        #: Per task partition: changes held until the commit, in the order of their keys'
        #: last change (the record cache).
        self._held: dict[int, dict[Any, tuple[Any, int]]] = {}

    def changed(self, ctx: Context, key: Any, value: Any, ts: int) -> None:
        """Forward a change now, or with caching at the commit (the key's last one)."""
        if not ctx.caching:
            self.forward(ctx, key, value, ts)
            return
        held = self._held.setdefault(ctx.partition, {})
        held.pop(key, None)
        held[key] = (value, ts)

    def flush(self, ctx: Context) -> None:
        held = self._held.pop(ctx.partition, None)
        for key, (value, ts) in (held or {}).items():
            self.forward(ctx, key, value, ts)

    def fold(self, old: bytes | None, key: Any, value: Any) -> Any:
        if old is not None:
            current = self.value_serde.deserialize(old)
        else:
            current = self.initial() if self.initial is not None else None
        return self.adder(key, value, current)


class Endpoint(Node):
    """A node at a topic, with the serdes of its records there."""

    def __init__(self, name: str, topic: str, key: Serde[Any], value: Serde[Any],
                 internal: bool = False) -> None:
        super().__init__(name)
        self.topic = topic
        self.key_serde = key
        self.value_serde = value
        #: A repartition topic of this application: ``topic`` is a suffix until build.
        self.internal = internal


class Source(Endpoint):
    """Where a topic's records enter (the task deserializes them)."""


class Map(Node):
    def __init__(self, name: str, fn: Callable[[Any, Any], tuple[Any, Any]]) -> None:
        super().__init__(name)
        self.fn = fn

    def process(self, ctx: Context, key: Any, value: Any, ts: int) -> None:
        new_key, new_value = self.fn(key, value)
        self.forward(ctx, new_key, new_value, ts)


class MapValues(Node):
    def __init__(self, name: str, fn: Callable[[Any], Any]) -> None:
        super().__init__(name)
        self.fn = fn

    def process(self, ctx: Context, key: Any, value: Any, ts: int) -> None:
        self.forward(ctx, key, self.fn(value), ts)


class Filter(Node):
    def __init__(self, name: str, predicate: Callable[[Any, Any], bool]) -> None:
        super().__init__(name)
        self.predicate = predicate

    def process(self, ctx: Context, key: Any, value: Any, ts: int) -> None:
        if self.predicate(key, value):
            self.forward(ctx, key, value, ts)


class FlatMap(Node):
    def __init__(self, name: str, fn: Callable[[Any, Any], Iterable[tuple[Any, Any]]]) -> None:
        super().__init__(name)
        self.fn = fn

    def process(self, ctx: Context, key: Any, value: Any, ts: int) -> None:
        for new_key, new_value in self.fn(key, value):
            self.forward(ctx, new_key, new_value, ts)


class Peek(Node):
    def __init__(self, name: str, fn: Callable[[Any, Any], None]) -> None:
        super().__init__(name)
        self.fn = fn

    def process(self, ctx: Context, key: Any, value: Any, ts: int) -> None:
        self.fn(key, value)
        self.forward(ctx, key, value, ts)


class Branch(Node):
    """Each record goes to the first branch whose predicate holds (or to none)."""

    def __init__(self, name: str, predicates: list[Callable[[Any, Any], bool]]) -> None:
        super().__init__(name)
        self.outputs = [(p, Node(f"{name}-{i}")) for i, p in enumerate(predicates)]

    def process(self, ctx: Context, key: Any, value: Any, ts: int) -> None:
        for predicate, out in self.outputs:
            if predicate(key, value):
                out.process(ctx, key, value, ts)
                return

    def edges(self) -> list[Node]:
        return [out for _, out in self.outputs]


class Sink(Endpoint):
    """Writes to a topic; keyed records go to the partition the key's murmur2 hash picks."""

    def process(self, ctx: Context, key: Any, value: Any, ts: int) -> None:
        ctx.emit(self.topic, self.key_serde.serialize(key), self.value_serde.serialize(value),
                 ts)


class Aggregate(Folding):
    """count, reduce and aggregate: the running value per key in a store, each new value
    forwarded as the table's change."""

    def process(self, ctx: Context, key: Any, value: Any, ts: int) -> None:
        if key is None:
            return
        store = ctx.store(self.store)
        kb = self.key_serde.serialize(key)
        assert kb is not None
        new = self.fold(store.get(kb), key, value)
        store.put(kb, self.value_serde.serialize(new))
        self.changed(ctx, key, new, ts)


class TableSource(Stateful):
    """Materialises a topic as a table: the latest value per key, a tombstone deletes."""

    def process(self, ctx: Context, key: Any, value: Any, ts: int) -> None:
        if key is None:
            return
        kb = self.key_serde.serialize(key)
        assert kb is not None
        ctx.store(self.store).put(kb, self.value_serde.serialize(value))
        self.forward(ctx, key, value, ts)


def lookup(ctx: Context, store: str, key_serde: Serde[Any], value_serde: Serde[Any],
           key: Any) -> Any:
    kb = key_serde.serialize(key)
    if kb is None:
        return None
    return value_serde.deserialize(ctx.store(store).get(kb))


class StreamTableJoin(Stateful):
    """Each stream record joined with the table's current row for its key: inner drops the
    record when there is none, left passes None to the joiner."""

    def __init__(self, name: str, store: str, key: Serde[Any], value: Serde[Any],
                 joiner: Callable[[Any, Any], Any], left: bool) -> None:
        super().__init__(name, store, key, value)
        self.joiner = joiner
        self.left = left

    def process(self, ctx: Context, key: Any, value: Any, ts: int) -> None:
        if key is None:
            return
        row = lookup(ctx, self.store, self.key_serde, self.value_serde, key)
        if row is None and not self.left:
            return
        self.forward(ctx, key, self.joiner(value, row), ts)


class TableJoinSide(Stateful):
    """One side of a table-table join: a change on this side looks up the other side's row.
    The joined row disappears (a None change) when either side's row is gone (inner), or,
    for a left join, when the left row is."""

    def __init__(self, name: str, other_store: str, key: Serde[Any], other_value: Serde[Any],
                 joiner: Callable[[Any, Any], Any], this_is_left: bool, left_join: bool,
                 out: Node) -> None:
        super().__init__(name, other_store, key, other_value)
        self.joiner = joiner
        self.this_is_left = this_is_left
        self.left_join = left_join
        self.children = [out]

    def process(self, ctx: Context, key: Any, value: Any, ts: int) -> None:
        if key is None:
            return
        other = lookup(ctx, self.store, self.key_serde, self.value_serde, key)
        left, right = (value, other) if self.this_is_left else (other, value)
        if left is None or (right is None and not self.left_join):
            self.forward(ctx, key, None, ts)
        else:
            self.forward(ctx, key, self.joiner(left, right), ts)


class WindowAggregate(Folding):
    """A windowed count/reduce/aggregate (see :mod:`tidelog.streams.windows`). With
    ``final`` (suppression until the window closes) a window's value is forwarded once, when
    it closes; otherwise every update is (held until the commit with caching). Closed windows
    leave the store."""

    def __init__(self, name: str, store: str, key: Serde[Any], state: Serde[Any],
                 initial: Callable[[], Any] | None, adder: Callable[[Any, Any, Any], Any],
                 windows: TimeWindows) -> None:
        super().__init__(name, store, key, state, initial, adder)
        self.windows = windows
        self.final = False
        # Per task partition: open windows by end (a heap), and the stream time.
        self._open: dict[int, list[tuple[int, bytes]]] = {}
        self._time: dict[int, int] = {}

    def init(self, ctx: Context) -> None:
        store = ctx.store(self.store)
        raw = store.get(STREAM_TIME_KEY)
        self._time[ctx.partition] = unpack_time(raw) if raw is not None else -1
        heap = []
        for stored, _ in store.items(WINDOW_PREFIX):
            start, _key = split_window_key(stored)
            heap.append((start + self.windows.size, stored))
        heapq.heapify(heap)
        self._open[ctx.partition] = heap

    def process(self, ctx: Context, key: Any, value: Any, ts: int) -> None:
        if key is None:
            return
        store = ctx.store(self.store)
        heap = self._open.setdefault(ctx.partition, [])
        now = self._time.get(ctx.partition, -1)
        if ts > now:
            now = ts
            self._time[ctx.partition] = now
            store.put(STREAM_TIME_KEY, pack_time(now))
        kb = self.key_serde.serialize(key)
        assert kb is not None
        size, grace = self.windows.size, self.windows.grace
        for start in self.windows.starts(ts):
            end = start + size
            if end + grace <= now:
                ctx.dropped += 1  # late: its window has closed
                continue
            stored = window_key(start, kb)
            old = store.get(stored)
            if old is None:
                heapq.heappush(heap, (end, stored))
            new = self.fold(old, key, value)
            store.put(stored, self.value_serde.serialize(new))
            if not self.final:
                self.changed(ctx, Windowed(key, start, end), new, ts)
        while heap and heap[0][0] + grace <= now:
            end, stored = heapq.heappop(heap)
            if self.final:
                raw = store.get(stored)
                if raw is not None:
                    start, key_bytes = split_window_key(stored)
                    self.forward(ctx, Windowed(self.key_serde.deserialize(key_bytes), start,
                                               end), self.value_serde.deserialize(raw), end - 1)
            store.put(stored, None)
