"""Replica reassignment and leader elections asked for by an operator (pure functions).

Like :mod:`tidelog.metadata.elections`, every function reads a :class:`MetadataImage` and
returns the :class:`PartitionChangeRecord`\\ s that carry its decision out (with a per-partition
result); the controller commits them, brokers act on them once replayed.

A reassignment is Kafka's (KIP-455), held entirely in the partition's metadata, so it survives
a controller failover and any controller can finish it:

* Moving from the original replicas ``O`` to the target ``T``: the partition's replicas become
  ``T`` followed by the replicas of ``O`` not in ``T``, ``adding_replicas = T - O`` and
  ``removing_replicas = O - T``. The leader stays; new replicas are followers that fetch,
  catch up and join the ISR through the leader's AlterPartition (the ordinary ISR rules).
* It **completes** once every replica of ``T`` is in the ISR (and one of them is live, when the
  leader is leaving): replicas become ``T``, the ISR its part of ``T``, the adding/removing
  lists empty, and a leader outside ``T`` hands over to the first in-sync replica of ``T``
  (the leader epoch moves, so the old one is fenced). Checked when the reassignment is made
  (a reorder or a shrink can complete at once) and on every AlterPartition
  (:func:`complete_after`), in the same record that changes the ISR.
* **Cancel** (replicas ``None``) restores ``O`` = the replicas minus ``adding_replicas`` (in
  that order, as Kafka: with a target that shares replicas with ``O`` the order may differ
  from the original's), the ISR its part of ``O``; refused when no replica of ``O`` is in the
  ISR any more (restoring would leave no replica with the data).
* A new target for a partition that is already moving starts from ``O``, not from the
  intermediate state (Kafka: the old move is reverted and the new one applied, in one step);
  when no replica of ``O`` is in sync any more, from every current replica instead (an
  in-sync replica never leaves before the target is in sync).

Leader elections (ElectLeaders, API 43): *preferred* moves leadership to the first replica
when it is live and in the ISR (ELECTION_NOT_NEEDED when it already leads,
PREFERRED_LEADER_NOT_AVAILABLE otherwise); *unclean* gives a leaderless partition a leader:
an in-sync live replica if there is one, else any live replica with an ISR of itself (it may
lose acknowledged records — the operator asked for it, whatever the topic's
``unclean.leader.election.enable``); ELECTION_NOT_NEEDED when the partition has a live leader,
ELIGIBLE_LEADERS_NOT_AVAILABLE when no replica is live. Asked for every partition (``None``),
partitions that need no election are left out of the results, as Kafka does.

Per-partition refusals are returned as Kafka error names next to the partition; nothing here
raises for one bad partition, so the others of the same request go ahead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from tidelog.metadata.elections import live_brokers
from tidelog.metadata.image import MetadataImage, PartitionImage, TopicImage
from tidelog.metadata.records import NO_LEADER, NO_LEADER_CHANGE, PartitionChangeRecord

PREFERRED = 0
UNCLEAN = 1


@dataclasses.dataclass(frozen=True, slots=True)
class Result:
    """One partition's answer: ``error`` is a Kafka error name, None when accepted."""

    topic: str
    partition: int
    error: str | None = None
    message: str | None = None

    def to_json(self) -> list[object]:
        return [self.topic, self.partition, self.error, self.message]


@dataclasses.dataclass(frozen=True, slots=True)
class _State:
    """A partition's replica fields as a change would leave them."""

    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    leader: int
    adding: tuple[int, ...] = ()
    removing: tuple[int, ...] = ()


def is_reassigning(part: PartitionImage) -> bool:
    return bool(part.adding_replicas or part.removing_replicas)


def original_replicas(part: PartitionImage) -> tuple[int, ...]:
    """The replicas a move started from (the replicas themselves when nothing moves)."""
    return tuple(r for r in part.replicas if r not in part.adding_replicas)


def target_replicas(part: PartitionImage) -> tuple[int, ...]:
    """Where a move goes (the replicas themselves when nothing moves)."""
    return tuple(r for r in part.replicas if r not in part.removing_replicas)


def _leader_for(state_replicas: Sequence[int], isr: Sequence[int], current: int,
                live: set[int]) -> int:
    """Keep ``current`` if it may still lead, else the first live in-sync replica."""
    if current in state_replicas and current in isr and current in live:
        return current
    for r in state_replicas:
        if r in isr and r in live:
            return r
    return current if current in isr else NO_LEADER


def _revert(part: PartitionImage, live: set[int]) -> _State | None:
    """The partition with its move cancelled, or None when no original replica is in sync."""
    replicas = original_replicas(part)
    isr = tuple(r for r in part.isr if r in replicas)
    if not isr:
        return None
    return _State(replicas, isr, _leader_for(replicas, isr, part.leader, live))


def _completed(state: _State, live: set[int]) -> _State:
    """``state`` with its move finished, if every target replica is in sync; else itself."""
    if not (state.adding or state.removing):
        return state
    target = tuple(r for r in state.replicas if r not in state.removing)
    if not set(target) <= set(state.isr):
        return state
    isr = tuple(r for r in state.isr if r in target)
    leader = state.leader
    if leader not in target:
        leader = next((r for r in target if r in live), NO_LEADER)
        if leader == NO_LEADER:
            return state  # no target replica could lead yet: keep the old leader for now
    return _State(target, isr, leader)


def _record(topic: TopicImage, p: int, part: PartitionImage, state: _State
            ) -> PartitionChangeRecord | None:
    if (state.replicas, state.isr, state.leader, state.adding, state.removing) == (
            part.replicas, part.isr, part.leader, part.adding_replicas, part.removing_replicas):
        return None
    return PartitionChangeRecord(
        topic_id=topic.topic_id, partition=p,
        isr=None if state.isr == part.isr else state.isr,
        leader=NO_LEADER_CHANGE if state.leader == part.leader else state.leader,
        replicas=None if state.replicas == part.replicas else state.replicas,
        adding_replicas=None if state.adding == part.adding_replicas else state.adding,
        removing_replicas=None if state.removing == part.removing_replicas else state.removing,
    )


def _find(image: MetadataImage, name: str, p: int
          ) -> tuple[TopicImage, PartitionImage] | Result:
    """The topic and partition named, or the UNKNOWN_TOPIC_OR_PARTITION result."""
    topic = image.topic(name)
    part = topic.partitions.get(p) if topic is not None else None
    if topic is None or part is None:
        return Result(name, p, "UNKNOWN_TOPIC_OR_PARTITION", f"{name}-{p} does not exist")
    return topic, part


def _check_target(image: MetadataImage, target: Sequence[int]) -> str | None:
    if not target:
        return "the replica list is empty"
    if len(set(target)) != len(target):
        return f"the replica list {list(target)} names a broker twice"
    unknown = sorted(b for b in target if b < 0 or b not in image.brokers)
    if unknown:
        return f"brokers {unknown} are not registered"
    return None


def alter_reassignments(
    image: MetadataImage,
    moves: Iterable[tuple[str, int, Sequence[int] | None]],
    *,
    allow_replication_factor_change: bool = True,
) -> tuple[list[PartitionChangeRecord], list[Result]]:
    """AlterPartitionReassignments (API 45): for each ``(topic, partition, target)`` start,
    replace or (target None) cancel a move. Returns the records and one result per entry."""
    live = live_brokers(image)
    records: list[PartitionChangeRecord] = []
    results: list[Result] = []
    seen: set[tuple[str, int]] = set()
    for name, p, target in moves:
        found = _find(image, name, p)
        if isinstance(found, Result):
            results.append(found)
            continue
        topic, part = found
        if (name, p) in seen:
            results.append(Result(name, p, "INVALID_REQUEST", f"{name}-{p} is named twice"))
            continue
        seen.add((name, p))
        if target is None:
            if not is_reassigning(part):
                results.append(Result(name, p, "NO_REASSIGNMENT_IN_PROGRESS",
                                      f"{name}-{p} is not being reassigned"))
                continue
            reverted = _revert(part, live)
            if reverted is None:
                results.append(Result(name, p, "INVALID_REPLICA_ASSIGNMENT",
                                      f"{name}-{p}: no original replica is in the ISR "
                                      f"{list(part.isr)}; cancelling would leave none with "
                                      "the data"))
                continue
            change = _record(topic, p, part, reverted)
        else:
            target = tuple(int(b) for b in target)
            why = _check_target(image, target)
            if why is not None:
                results.append(Result(name, p, "INVALID_REPLICA_ASSIGNMENT", f"{name}-{p}: {why}"))
                continue
            base = _revert(part, live) if is_reassigning(part) else None
            if base is None:
                # Nothing moves, or a move whose original replicas all left the ISR: then
                # every current replica counts as original, so no in-sync one is dropped
                # before the new target is in sync.
                base = _State(part.replicas, part.isr, part.leader)
            if not allow_replication_factor_change and len(target) != len(base.replicas):
                results.append(Result(name, p, "INVALID_REPLICATION_FACTOR",
                                      f"{name}-{p}: the replication factor would change from "
                                      f"{len(base.replicas)} to {len(target)}"))
                continue
            replicas = target + tuple(r for r in base.replicas if r not in target)
            isr = tuple(r for r in replicas if r in part.isr)
            state = _State(
                replicas, isr, _leader_for(replicas, isr, part.leader, live),
                adding=tuple(r for r in target if r not in base.replicas),
                removing=tuple(r for r in base.replicas if r not in target),
            )
            change = _record(topic, p, part, _completed(state, live))
        if change is not None:
            records.append(change)
        results.append(Result(name, p))
    return records, results


def complete_after(image: MetadataImage, changes: Sequence[PartitionChangeRecord]
                   ) -> list[PartitionChangeRecord]:
    """``changes`` (an AlterPartition's ISR change), each extended to finish its partition's
    move when the new ISR holds every target replica; unchanged otherwise."""
    live = live_brokers(image)
    out: list[PartitionChangeRecord] = []
    for change in changes:
        topic = image.topic_by_id(change.topic_id)
        part = topic.partitions.get(change.partition) if topic is not None else None
        if topic is None or part is None or not is_reassigning(part):
            out.append(change)
            continue
        state = _State(
            part.replicas if change.replicas is None else change.replicas,
            part.isr if change.isr is None else change.isr,
            part.leader if change.leader == NO_LEADER_CHANGE else change.leader,
            part.adding_replicas if change.adding_replicas is None else change.adding_replicas,
            part.removing_replicas if change.removing_replicas is None
            else change.removing_replicas,
        )
        done = _completed(state, live)
        merged = _record(topic, change.partition, part, done) if done is not state else None
        out.append(change if merged is None else merged)
    return out


def ongoing(image: MetadataImage, wanted: Iterable[tuple[str, int]] | None = None
            ) -> list[tuple[str, int, PartitionImage]]:
    """ListPartitionReassignments (API 46): the moving partitions among ``wanted`` (every
    partition when None), in topic and partition order. Unknown partitions are skipped."""
    if wanted is None:
        pairs: Iterable[tuple[str, int]] = (
            (t.name, p) for t in image.topics_by_id.values() for p in t.partitions)
    else:
        pairs = wanted
    found = []
    for name, p in sorted(set(pairs)):
        part = image.partition(name, p)
        if part is not None and is_reassigning(part):
            found.append((name, p, part))
    return found


def elect_leaders(
    image: MetadataImage, election_type: int, wanted: Iterable[tuple[str, int]] | None = None,
) -> tuple[list[PartitionChangeRecord], list[Result]]:
    """ElectLeaders (API 43) of ``election_type`` (:data:`PREFERRED` or :data:`UNCLEAN`) for
    ``wanted`` partitions, or every partition when None."""
    live = live_brokers(image)
    every = wanted is None
    if wanted is None:
        pairs: list[tuple[str, int]] = sorted(
            (t.name, p) for t in image.topics_by_id.values() for p in t.partitions)
    else:
        pairs = list(dict.fromkeys(wanted))
    records: list[PartitionChangeRecord] = []
    results: list[Result] = []
    for name, p in pairs:
        found = _find(image, name, p)
        if isinstance(found, Result):
            results.append(found)
            continue
        topic, part = found
        if election_type == PREFERRED:
            error, message, state = _preferred(part, live)
        elif election_type == UNCLEAN:
            error, message, state = _unclean(part, live)
        else:
            results.append(Result(name, p, "INVALID_REQUEST",
                                  f"election type {election_type} is neither 0 nor 1"))
            continue
        if state is not None:
            change = _record(topic, p, part, state)
            if change is not None:
                records.append(change)
        if every and error == "ELECTION_NOT_NEEDED":
            continue
        results.append(Result(name, p, error, None if error is None else f"{name}-{p}: {message}"))
    return records, results


def _preferred(part: PartitionImage, live: set[int]) -> tuple[str | None, str, _State | None]:
    preferred = part.replicas[0]
    if part.leader == preferred:
        return "ELECTION_NOT_NEEDED", f"the preferred replica {preferred} leads", None
    if preferred not in live or preferred not in part.isr:
        return ("PREFERRED_LEADER_NOT_AVAILABLE",
                f"the preferred replica {preferred} is not live and in the ISR "
                f"{list(part.isr)}", None)
    return None, "", _State(part.replicas, part.isr, preferred,
                            part.adding_replicas, part.removing_replicas)


def _unclean(part: PartitionImage, live: set[int]) -> tuple[str | None, str, _State | None]:
    if part.leader != NO_LEADER and part.leader in live:
        return "ELECTION_NOT_NEEDED", f"broker {part.leader} leads", None
    keep = (part.adding_replicas, part.removing_replicas)
    for r in part.replicas:
        if r in part.isr and r in live:
            return None, "", _State(part.replicas, part.isr, r, *keep)
    for r in part.replicas:
        if r in live:
            return None, "", _State(part.replicas, (r,), r, *keep)
    return ("ELIGIBLE_LEADERS_NOT_AVAILABLE",
            f"none of the replicas {list(part.replicas)} is live", None)
