"""A built topology: its sub-topologies, their topics and stores, the internal topics.

A *sub-topology* is a connected part of the graph: the sources that feed it, every node below
them, and the nodes that share a state store with those (a join reads the store its table
writes). Repartition topics cut the graph: the records a ``group_by`` writes are read by
another sub-topology. One *task* runs one partition of one sub-topology: it owns partition P
of every store of that sub-topology and reads partition P of each of its source topics, which
must therefore all have the same number of partitions (co-partitioning, checked at start).

Internal topics are named after the application (Kafka Streams' names): a store ``S`` has the
compacted changelog ``APP-S-changelog``; a repartition named ``N`` is ``APP-N-repartition``.
Both get as many partitions as the sub-topology that writes them reads (the most of its source
topics, for a repartition), unless they exist already.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import tidelog.streams.graph as graph
from tidelog.streams.errors import StreamsError


@dataclass
class SubTopology:
    id: int
    #: source topic -> its source node
    sources: dict[str, graph.Source] = field(default_factory=dict)
    #: store name -> changelog topic
    stores: dict[str, str] = field(default_factory=dict)
    nodes: list[graph.Node] = field(default_factory=list)
    #: repartition topics this sub-topology writes
    writes: set[str] = field(default_factory=set)

    @property
    def topics(self) -> list[str]:
        return sorted(self.sources)


class Topology:
    """The runnable form of what a :class:`~tidelog.streams.dsl.StreamsBuilder` collected."""

    def __init__(self, sources: Sequence[graph.Source], stores: Collection[str],
                 application_id: str) -> None:
        """From a builder's graph: its ``sources`` (in build order) and ``stores`` names."""
        if not application_id:
            raise StreamsError("an application needs an id (its group and topic prefix)")
        self.application_id = application_id
        self.subs: list[SubTopology] = []
        #: repartition topics (full names)
        self.repartitions: set[str] = set()
        #: changelog topic -> store name
        self.changelogs: dict[str, str] = {}
        self._build(sources, stores)

    def internal(self, suffix: str) -> str:
        return f"{self.application_id}-{suffix}"

    def _build(self, sources: Sequence[graph.Source], stores: Collection[str]) -> None:
        parent: dict[int, int] = {}
        nodes: dict[int, graph.Node] = {}

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        def union(a: int, b: int) -> None:
            parent[find(a)] = find(b)

        stack: list[graph.Node] = list(sources)
        while stack:
            node = stack.pop()
            if id(node) in nodes:
                continue
            nodes[id(node)] = node
            parent[id(node)] = id(node)
            stack.extend(node.edges())
        for node in nodes.values():
            for child in node.edges():
                union(id(node), id(child))
        by_store: dict[str, int] = {}
        for node in nodes.values():
            for store in node.stores:
                if store in by_store:
                    union(id(node), by_store[store])
                by_store[store] = id(node)
        for node in nodes.values():
            if isinstance(node, graph.Endpoint) and node.internal:
                node.topic = self.internal(node.topic)
                node.internal = False
                self.repartitions.add(node.topic)
        groups: dict[int, SubTopology] = {}
        for source in sources:  # in build order: sub-topology ids are stable
            root = find(id(source))
            if root not in groups:
                groups[root] = SubTopology(len(groups))
            sub = groups[root]
            if source.topic in sub.sources:
                raise StreamsError(f"topic {source.topic!r} is read twice in one "
                                   "sub-topology")
            if any(source.topic in s.sources for s in groups.values() if s is not sub):
                raise StreamsError(f"topic {source.topic!r} is read by two unconnected "
                                   "parts of the topology")
            sub.sources[source.topic] = source
        for node in nodes.values():
            sub = groups[find(id(node))]
            sub.nodes.append(node)
            for store in node.stores:
                changelog = self.internal(f"{store}-changelog")
                sub.stores[store] = changelog
                self.changelogs[changelog] = store
            if isinstance(node, graph.Sink) and node.topic in self.repartitions:
                sub.writes.add(node.topic)
        self.subs = sorted(groups.values(), key=lambda s: s.id)
        for sub in self.subs:
            for store in sub.stores:
                if store not in stores:
                    raise StreamsError(f"store {store!r} is read but nothing writes it")

    @property
    def source_topics(self) -> list[str]:
        """Every topic the application reads, repartition topics included."""
        return sorted({t for s in self.subs for t in s.sources})

    def sub_of(self, topic: str) -> SubTopology:
        for sub in self.subs:
            if topic in sub.sources:
                return sub
        raise KeyError(topic)

    def describe(self) -> str:
        """A text description (for ``--verbose`` and for people)."""
        lines = [f"application {self.application_id}"]
        for sub in self.subs:
            lines.append(f"  sub-topology {sub.id}: reads {', '.join(sub.topics)}")
            for store, changelog in sorted(sub.stores.items()):
                lines.append(f"    store {store} (changelog {changelog})")
            for topic in sorted(sub.writes):
                lines.append(f"    writes {topic}")
        return "\n".join(lines)

    def partition_counts(self, known: dict[str, int]) -> dict[int, int]:
        """Tasks per sub-topology from the partition counts of the user's topics
        (``known``); fills in the counts of repartition topics not in ``known``. A
        sub-topology whose sources differ in count is a :class:`StreamsError`."""
        counts: dict[int, int] = {}
        pending = list(self.subs)
        while pending:
            progressed = False
            for sub in list(pending):
                if any(t not in known for t in sub.sources):
                    continue
                found = {t: known[t] for t in sub.sources}
                if len(set(found.values())) > 1:
                    listed = ", ".join(f"{t} has {n}" for t, n in sorted(found.items()))
                    raise StreamsError(
                        f"topics read together must be co-partitioned (the same number of "
                        f"partitions): {listed}")
                counts[sub.id] = next(iter(found.values()))
                for topic in sub.writes:
                    known.setdefault(topic, counts[sub.id])
                pending.remove(sub)
                progressed = True
            if not progressed:
                missing = sorted(t for s in pending for t in s.sources if t not in known)
                raise StreamsError(f"no partition count for {', '.join(missing)}")
        return counts
