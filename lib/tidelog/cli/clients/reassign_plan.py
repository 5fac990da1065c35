"""Reassignment plans: kafka-reassign-partitions' JSON format, and balanced assignments.

The format (both directions, so plans written for Kafka's tool work here and ours there)::

    {"version": 1, "partitions": [
        {"topic": "orders", "partition": 0, "replicas": [2, 3, 4], "log_dirs": ["any", ...]}]}

``log_dirs`` is optional on input (only ``"any"`` is meaningful here: tidelog has one log dir
per broker) and written as Kafka's ``--generate`` writes it. :func:`parse_plan` refuses
anything else with a :class:`~tidelog.cli.errors.UsageError` naming the entry: a version other
than 1, a missing or mistyped field, an empty or duplicated replica list, a partition named
twice, a log dir other than ``any``.

:func:`balanced` computes a plan (pure, deterministic): each topic's partitions keep their
replication factor and are spread over the given brokers so that every broker holds the same
number of replicas and of preferred leaderships, give or take one, while as many replicas as
that allows stay where they are (scale-out moves about 1/N of the data to the new broker,
removing a broker moves only its replicas).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tidelog.cli.errors import UsageError

ANY_DIR = "any"


@dataclass(frozen=True)
class Move:
    """One entry of a plan: where partition ``partition`` of ``topic`` should live."""

    topic: str
    partition: int
    replicas: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {"topic": self.topic, "partition": self.partition,
                "replicas": list(self.replicas), "log_dirs": [ANY_DIR] * len(self.replicas)}


def plan_json(moves: Sequence[Move]) -> dict[str, Any]:
    return {"version": 1, "partitions": [m.to_json() for m in moves]}


def _int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_plan(doc: object, source: str = "the plan") -> list[Move]:
    """The moves of a parsed plan document; UsageError when it is not a valid plan."""
    if not isinstance(doc, dict):
        raise UsageError(f"{source}: expected a JSON object with \"version\" and \"partitions\"")
    if doc.get("version", 1) != 1:
        raise UsageError(f"{source}: version {doc.get('version')!r} is not 1")
    entries = doc.get("partitions")
    if not isinstance(entries, list):
        raise UsageError(f"{source}: \"partitions\" must be a list")
    moves: list[Move] = []
    seen: set[tuple[str, int]] = set()
    for i, entry in enumerate(entries):
        at = f"{source}: partitions[{i}]"
        if not isinstance(entry, dict):
            raise UsageError(f"{at} must be an object")
        topic, partition, replicas = entry.get("topic"), entry.get("partition"), \
            entry.get("replicas")
        if not isinstance(topic, str) or not topic:
            raise UsageError(f"{at}: \"topic\" must be a non-empty string")
        if not _int(partition) or partition < 0:  # type: ignore[operator]
            raise UsageError(f"{at}: \"partition\" must be a partition number")
        if not isinstance(replicas, list) or not replicas or \
                not all(_int(b) and b >= 0 for b in replicas):
            raise UsageError(f"{at}: \"replicas\" must be a non-empty list of broker ids")
        if len(set(replicas)) != len(replicas):
            raise UsageError(f"{at}: \"replicas\" {replicas} names a broker twice")
        dirs = entry.get("log_dirs")
        if dirs is not None and (not isinstance(dirs, list) or len(dirs) != len(replicas)
                                 or any(d != ANY_DIR for d in dirs)):
            raise UsageError(f"{at}: \"log_dirs\" must be \"any\" for every replica (one "
                             "log dir per broker)")
        key = (topic, int(partition))  # type: ignore[arg-type]
        if key in seen:
            raise UsageError(f"{at}: {topic}-{partition} is named twice")
        seen.add(key)
        moves.append(Move(topic, key[1], tuple(int(b) for b in replicas)))
    return moves


def balanced(current: Mapping[int, Sequence[int]], brokers: Sequence[int], topic: str
             ) -> list[Move]:
    """A balanced assignment of one topic's partitions (``current``: partition -> replicas)
    over ``brokers``; UsageError when a partition has more replicas than there are brokers."""
    pool = sorted(set(brokers))
    if not pool:
        raise UsageError("no brokers to place replicas on")
    load = dict.fromkeys(pool, 0)
    chosen: dict[int, list[int]] = {}
    for p in sorted(current):
        if len(current[p]) > len(pool):
            raise UsageError(f"{topic}-{p} has {len(current[p])} replicas; only {len(pool)} "
                             f"brokers given ({','.join(map(str, pool))})")
        chosen[p] = [b for b in current[p] if b in load]
        for b in chosen[p]:
            load[b] += 1
    # replicas on brokers that are not in the pool go to the least loaded ones
    for p in sorted(current):
        while len(chosen[p]) < len(current[p]):
            b = min((x for x in pool if x not in chosen[p]), key=lambda x: (load[x], x))
            chosen[p].append(b)
            load[b] += 1
    # then move one replica at a time from the fullest broker to the emptiest one that can
    # take it, until no two brokers differ by more than one replica
    while True:
        order = sorted(pool, key=lambda x: (load[x], x))
        move = next(((hi, lo, p) for hi in reversed(order) for lo in order
                     if load[hi] - load[lo] > 1
                     for p in sorted(chosen) if hi in chosen[p] and lo not in chosen[p]),
                    None)
        if move is None:
            break
        hi, lo, p = move
        chosen[p][chosen[p].index(hi)] = lo
        load[hi] -= 1
        load[lo] += 1
    return _spread_leaders(current, chosen, pool, topic)


def _spread_leaders(current: Mapping[int, Sequence[int]], chosen: Mapping[int, list[int]],
                    pool: Sequence[int], topic: str) -> list[Move]:
    """Order each partition's replicas so preferred leaderships are spread as evenly as its
    replicas allow, keeping the current preferred leader where that is fair."""
    leads = dict.fromkeys(pool, 0)
    share = -(-len(current) // len(pool))  # ceil
    moves = []
    for p in sorted(current):
        replicas = chosen[p]
        old = list(current[p])
        first = old[0] if old and old[0] in replicas and leads[old[0]] < share else \
            min(replicas, key=lambda b: (leads[b], replicas.index(b)))
        leads[first] += 1
        rest = [b for b in old if b in replicas and b != first] + \
            [b for b in replicas if b not in old and b != first]
        moves.append(Move(topic, p, (first, *rest)))
    return moves
