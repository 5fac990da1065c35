"""The typed, Kafka-Streams-like API: :class:`StreamsBuilder`, :class:`KStream`,
:class:`KTable`, :class:`KGroupedStream` and :class:`WindowedKStream`.

Each method adds a node of :mod:`tidelog.streams.graph` under the one it is called on and
returns a view of the new node; nothing runs until the built
:class:`~tidelog.streams.topology.Topology` is handed to a
:class:`~tidelog.streams.runtime.StreamsApp` (or to a test's fake log)::

    b = StreamsBuilder()
    words = b.stream("lines", value=STR).flat_map_values(str.split)
    words.group_by(lambda _k, w: w, key=STR).count("word-counts").to_stream().to(
        "counts", key=STR, value=INT_TEXT)
    topology = b.build("wordcount")

Names: every store (and so its changelog, ``APP-STORE-changelog``) and every repartition topic
(``APP-NAME-repartition``) has a name, given or generated from a counter in build order (as
Kafka Streams does), so a topology built the same way again finds its state again.

Repartitioning: :meth:`KStream.group_by` changes the key, so its records are written to a
repartition topic keyed by the new key and read back from it: each partition's store then
holds every record of its keys. :meth:`KStream.group_by_key` keeps the key and needs no
repartition. A stream-table join needs the stream keyed as the table's topic (co-partitioned):
the application checks at start that the partition counts match.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

import tidelog.streams.graph as graph
from tidelog.streams.errors import StreamsError
from tidelog.streams.serde import BYTES, INT64, JSON, Serde
from tidelog.streams.topology import Topology
from tidelog.streams.windows import TimeWindows, Windowed

K = TypeVar("K")
V = TypeVar("V")
K2 = TypeVar("K2")
V2 = TypeVar("V2")
A = TypeVar("A")
VT = TypeVar("VT")
R = TypeVar("R")


class StreamsBuilder:
    """Collects the nodes of a topology."""

    def __init__(self) -> None:
        self.sources: list[graph.Source] = []
        #: store name -> the node that writes it (count, reduce, aggregate, table)
        self.stores: dict[str, graph.Node] = {}
        self._counter = 0

    def _name(self, kind: str) -> str:
        self._counter += 1
        return f"{kind}-{self._counter:010d}"

    def _store(self, name: str | None, kind: str) -> str:
        store = name or self._name(f"{kind}-store")
        if store in self.stores:
            raise StreamsError(f"two stores are named {store!r}")
        return store

    def stream(self, topic: str, *, key: Serde[K] = BYTES,  # type: ignore[assignment]
               value: Serde[V] = BYTES) -> KStream[K, V]:  # type: ignore[assignment]
        """The records of ``topic`` as a stream."""
        node = graph.Source(self._name("source"), topic, key, value)
        self.sources.append(node)
        return KStream(self, node)

    def table(self, topic: str, *, key: Serde[K] = BYTES,  # type: ignore[assignment]
              value: Serde[V] = BYTES,  # type: ignore[assignment]
              name: str | None = None) -> KTable[K, V]:
        """``topic`` (compacted, as a rule) materialised as a table in store ``name``."""
        source = graph.Source(self._name("source"), topic, key, value)
        self.sources.append(source)
        store = self._store(name, "table")
        node = graph.TableSource(self._name("table"), store, key, value)
        source.children.append(node)
        self.stores[store] = node
        return KTable(self, node, key, value, store)

    def build(self, application_id: str) -> Topology:
        """The :class:`~tidelog.streams.topology.Topology` of application ``application_id``."""
        return Topology(self.sources, self.stores, application_id)


class KStream(Generic[K, V]):
    """A stream of (key, value) records."""

    def __init__(self, builder: StreamsBuilder, node: graph.Node) -> None:
        self._b = builder
        self._node = node

    def _then(self, node: graph.Node) -> graph.Node:
        self._node.children.append(node)
        return node

    def map(self, fn: Callable[[K, V], tuple[K2, V2]]) -> KStream[K2, V2]:
        return KStream(self._b, self._then(graph.Map(self._b._name("map"), fn)))

    def map_values(self, fn: Callable[[V], V2]) -> KStream[K, V2]:
        return KStream(self._b, self._then(graph.MapValues(self._b._name("map-values"), fn)))

    def filter(self, predicate: Callable[[K, V], bool]) -> KStream[K, V]:
        return KStream(self._b, self._then(graph.Filter(self._b._name("filter"), predicate)))

    def filter_not(self, predicate: Callable[[K, V], bool]) -> KStream[K, V]:
        return self.filter(lambda k, v: not predicate(k, v))

    def flat_map(self, fn: Callable[[K, V], Iterable[tuple[K2, V2]]]) -> KStream[K2, V2]:
        return KStream(self._b, self._then(graph.FlatMap(self._b._name("flat-map"), fn)))

    def flat_map_values(self, fn: Callable[[V], Iterable[V2]]) -> KStream[K, V2]:
        return self.flat_map(lambda k, v: ((k, out) for out in fn(v)))

    def peek(self, fn: Callable[[K, V], None]) -> KStream[K, V]:
        return KStream(self._b, self._then(graph.Peek(self._b._name("peek"), fn)))

    def branch(self, *predicates: Callable[[K, V], bool]) -> list[KStream[K, V]]:
        """One stream per predicate: a record goes to the first whose predicate holds."""
        node = graph.Branch(self._b._name("branch"), list(predicates))
        self._then(node)
        return [KStream(self._b, out) for _, out in node.outputs]

    def to(self, topic: str, *, key: Serde[K] = BYTES,  # type: ignore[assignment]
           value: Serde[V] = BYTES) -> None:  # type: ignore[assignment]
        """Write the stream to ``topic``."""
        self._then(graph.Sink(self._b._name("sink"), topic, key, value))

    def group_by(self, fn: Callable[[K, V], K2], *, key: Serde[K2] = BYTES,  # type: ignore[assignment]
                 value: Serde[V] = BYTES,  # type: ignore[assignment]
                 name: str | None = None) -> KGroupedStream[K2, V]:
        """Group by a new key: through a repartition topic (``APP-NAME-repartition``) with
        the new key serialized by ``key`` and the value by ``value``."""
        topic = f"{name or self._b._name('group-by')}-repartition"
        rekey = self._then(graph.Map(self._b._name("select-key"), lambda k, v: (fn(k, v), v)))
        rekey.children.append(graph.Sink(self._b._name("sink"), topic, key, value,
                                         internal=True))
        source = graph.Source(self._b._name("source"), topic, key, value, internal=True)
        self._b.sources.append(source)
        return KGroupedStream(self._b, source, key, value)

    def group_by_key(self, *, key: Serde[K] = BYTES,  # type: ignore[assignment]
                     value: Serde[V] = BYTES) -> KGroupedStream[K, V]:  # type: ignore[assignment]
        """Group by the record key as it is (no repartition: the input is keyed already)."""
        return KGroupedStream(self._b, self._node, key, value)

    def join(self, table: KTable[K, VT], joiner: Callable[[V, VT], R]) -> KStream[K, R]:
        """Each record with the table's row for its key; records without one are dropped."""
        return self._join(table, joiner, left=False)

    def left_join(self, table: KTable[K, VT],
                  joiner: Callable[[V, VT | None], R]) -> KStream[K, R]:
        """Each record with the table's row for its key, or None when it has none."""
        return self._join(table, joiner, left=True)

    def _join(self, table: KTable[K, VT], joiner: Callable[[V, Any], R],
              left: bool) -> KStream[K, R]:
        store = table.materialized()
        node = graph.StreamTableJoin(self._b._name("join"), store, table.key_serde,
                                     table.value_serde, joiner, left)
        return KStream(self._b, self._then(node))


class KGroupedStream(Generic[K, V]):
    """A stream grouped by key, ready to aggregate."""

    def __init__(self, builder: StreamsBuilder, node: graph.Node, key: Serde[K],
                 value: Serde[V]) -> None:
        self._b = builder
        self._node = node
        self._key = key
        self._value = value

    def _aggregate(self, store: str, state: Serde[A], initial: Callable[[], A] | None,
                   adder: Callable[[K, V, Any], A]) -> KTable[K, A]:
        node = graph.Aggregate(self._b._name("aggregate"), store, self._key, state, initial,
                               adder)
        self._node.children.append(node)
        self._b.stores[store] = node
        return KTable(self._b, node, self._key, state, store)

    def count(self, name: str | None = None) -> KTable[K, int]:
        """Records per key (a 64-bit count, as Kafka Streams stores it)."""
        return self._aggregate(self._b._store(name, "count"), INT64, lambda: 0,
                               lambda _k, _v, n: n + 1)

    def reduce(self, reducer: Callable[[V, V], V], name: str | None = None) -> KTable[K, V]:
        """The reduction of each key's values, the first value as the start."""
        return self._aggregate(self._b._store(name, "reduce"), self._value, None,
                               lambda _k, v, cur: v if cur is None else reducer(cur, v))

    def aggregate(self, initial: Callable[[], A], adder: Callable[[K, V, A], A], *,
                  state: Serde[A] = JSON, name: str | None = None) -> KTable[K, A]:
        """``adder(key, value, current)`` per record, from ``initial()``; the running value
        is stored with ``state`` (JSON by default)."""
        return self._aggregate(self._b._store(name, "aggregate"), state, initial, adder)

    def windowed_by(self, windows: TimeWindows) -> WindowedKStream[K, V]:
        return WindowedKStream(self, windows)


class WindowedKStream(Generic[K, V]):
    """A grouped stream cut into time windows (see :mod:`tidelog.streams.windows`)."""

    def __init__(self, grouped: KGroupedStream[K, V], windows: TimeWindows) -> None:
        self._g = grouped
        self._windows = windows

    def _aggregate(self, store: str, state: Serde[A], initial: Callable[[], A] | None,
                   adder: Callable[[K, V, Any], A]) -> KTable[Windowed[K], A]:
        g = self._g
        node = graph.WindowAggregate(g._b._name("window-aggregate"), store, g._key, state,
                                     initial, adder, self._windows)
        g._node.children.append(node)
        g._b.stores[store] = node
        return KTable(g._b, node, None, state, None, window=node)

    def count(self, name: str | None = None) -> KTable[Windowed[K], int]:
        return self._aggregate(self._g._b._store(name, "window-count"), INT64, lambda: 0,
                               lambda _k, _v, n: n + 1)

    def reduce(self, reducer: Callable[[V, V], V],
               name: str | None = None) -> KTable[Windowed[K], V]:
        return self._aggregate(self._g._b._store(name, "window-reduce"), self._g._value, None,
                               lambda _k, v, cur: v if cur is None else reducer(cur, v))

    def aggregate(self, initial: Callable[[], A], adder: Callable[[K, V, A], A], *,
                  state: Serde[A] = JSON, name: str | None = None) -> KTable[Windowed[K], A]:
        return self._aggregate(self._g._b._store(name, "window-aggregate"), state, initial,
                               adder)


class KTable(Generic[K, V]):
    """A table: the latest value per key, seen as the stream of its changes."""

    def __init__(self, builder: StreamsBuilder, node: graph.Node, key: Serde[K] | None,
                 value: Serde[V], store: str | None,
                 window: graph.WindowAggregate | None = None) -> None:
        self._b = builder
        self._node = node
        self._key = key
        self.value_serde = value
        self.store = store
        self._window = window

    @property
    def key_serde(self) -> Serde[K]:
        if self._key is None:
            raise StreamsError("a windowed table cannot be joined or looked up by key")
        return self._key

    def materialized(self) -> str:
        """The store holding this table (joins read it)."""
        if self.store is None:
            raise StreamsError("only a table read from a topic or made by an aggregation "
                               "can be joined (it has a store); this one has none")
        return self.store

    def to_stream(self) -> KStream[K, V]:
        """The table's changes as a stream (a None value: the row was deleted)."""
        node = graph.Node(self._b._name("to-stream"))
        self._node.children.append(node)
        return KStream(self._b, node)

    def suppress(self) -> KTable[K, V]:
        """Emit each window's final value once, when it closes (``untilWindowCloses``)."""
        if self._window is None:
            raise StreamsError("suppress() applies to a windowed aggregation")
        self._window.final = True
        return self

    def join(self, other: KTable[K, VT], joiner: Callable[[V, VT], R]) -> KTable[K, R]:
        """Rows of both tables with the same key, joined (updated when either changes)."""
        return self._join(other, joiner, left_join=False)

    def left_join(self, other: KTable[K, VT],
                  joiner: Callable[[V, VT | None], R]) -> KTable[K, R]:
        """Every row of this table, joined with the other's row for its key or None."""
        return self._join(other, joiner, left_join=True)

    def _join(self, other: KTable[K, VT], joiner: Callable[[V, Any], R],
              left_join: bool) -> KTable[K, R]:
        mine, theirs = self.materialized(), other.materialized()
        out = graph.Node(self._b._name("table-join"))
        self._node.children.append(graph.TableJoinSide(
            self._b._name("join-left"), theirs, self.key_serde, other.value_serde, joiner,
            True, left_join, out))
        other._node.children.append(graph.TableJoinSide(
            self._b._name("join-right"), mine, self.key_serde, self.value_serde, joiner,
            False, left_join, out))
        return KTable(self._b, out, self._key, JSON, None)
