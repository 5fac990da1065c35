"""Partition leadership and ISR decisions of the controller (pure functions, image in, records out).

Every function reads a :class:`MetadataImage` and returns the :class:`PartitionChangeRecord`\\ s
that carry a decision out; the controller commits them through the metadata quorum and brokers
act on them once replayed, never before. Applying a change with a new leader bumps the leader
epoch (followers truncate by it, stale leaders are fenced by it); every change bumps the
partition epoch (a stale AlterPartition is refused by it).

Kafka's rules, as KRaft's PartitionChangeBuilder applies them:

* A new leader comes from the ISR, in replica (preferred) order, among live brokers. With no
  live ISR member the partition stays without a leader (-1) and keeps its last ISR member —
  unless unclean election is allowed for the topic, then any live replica leads with an ISR of
  itself (it may lose acknowledged records; off by default).
* A fenced or shutting-down broker leaves every ISR, except as the last member (a partition
  must remember who has its data).
* When a broker returns, partitions that lost their leader take it back if it is in the ISR.
* Preferred leader election moves leadership to the first replica when it is live and in sync.
* AlterPartition from a leader is checked against the current leader epoch and partition epoch
  (FENCED_LEADER_EPOCH / INVALID_UPDATE_VERSION) and may only add live brokers that are replicas
  (INELIGIBLE_REPLICA / INVALID_REQUEST).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator

from tidelog.metadata.errors import ControllerError
from tidelog.metadata.image import MetadataImage, PartitionImage, TopicImage
from tidelog.metadata.records import NO_LEADER, NO_LEADER_CHANGE, PartitionChangeRecord

UNCLEAN_CONFIG = "unclean.leader.election.enable"


def live_brokers(image: MetadataImage) -> set[int]:
    return {b for b, img in image.brokers.items() if not img.fenced}


def _partitions(image: MetadataImage) -> Iterator[tuple[TopicImage, int, PartitionImage]]:
    for _, topic in sorted(image.topics_by_id.items(), key=lambda kv: kv[1].name):
        for p, part in sorted(topic.partitions.items()):
            yield topic, p, part


def unclean_allowed(image: MetadataImage, topic: str, default: bool = False) -> bool:
    raw = image.topic_configs(topic).get(UNCLEAN_CONFIG)
    return default if raw is None else raw.strip().lower() == "true"


def _change(topic: TopicImage, p: int, part: PartitionImage, isr: tuple[int, ...],
            leader: int) -> PartitionChangeRecord | None:
    if isr == part.isr and leader == part.leader:
        return None
    return PartitionChangeRecord(
        topic_id=topic.topic_id, partition=p,
        isr=None if isr == part.isr else isr,
        leader=NO_LEADER_CHANGE if leader == part.leader else leader,
    )


def _elect(part: PartitionImage, isr: tuple[int, ...], live: Collection[int],
           unclean: bool) -> tuple[tuple[int, ...], int]:
    """(ISR, leader) for ``part`` given the brokers that may lead."""
    if part.leader in live and part.leader in isr:
        return isr, part.leader
    for r in part.replicas:
        if r in isr and r in live:
            return isr, r
    if unclean:
        for r in part.replicas:
            if r in live:
                return (r,), r
    return isr, NO_LEADER


def without_broker(image: MetadataImage, broker: int, *, unclean_default: bool = False
                   ) -> list[PartitionChangeRecord]:
    """``broker`` is fenced or shutting down: it leaves every ISR (but as the last member)
    and every partition it led gets a new leader, if one is in sync and live."""
    live = live_brokers(image) - {broker}
    records = []
    for topic, p, part in _partitions(image):
        if broker not in part.replicas:
            continue
        isr = part.isr
        if broker in isr and len(isr) > 1:
            isr = tuple(r for r in isr if r != broker)
        new_isr, leader = _elect(part, isr, live,
                                 unclean_allowed(image, topic.name, unclean_default))
        change = _change(topic, p, part, new_isr, leader)
        if change is not None:
            records.append(change)
    return records


def with_broker(image: MetadataImage, broker: int, *, unclean_default: bool = False
                ) -> list[PartitionChangeRecord]:
    """``broker`` is live again: leaderless partitions it can lead get it as leader."""
    live = live_brokers(image) | {broker}
    records = []
    for topic, p, part in _partitions(image):
        if part.leader != NO_LEADER or broker not in part.replicas:
            continue
        new_isr, leader = _elect(part, part.isr, live,
                                 unclean_allowed(image, topic.name, unclean_default))
        change = _change(topic, p, part, new_isr, leader)
        if change is not None:
            records.append(change)
    return records


def preferred_leaders(image: MetadataImage, *, limit: int = 1000) -> list[PartitionChangeRecord]:
    """Partitions whose preferred replica is live and in sync but does not lead: move it
    back (``auto.leader.rebalance.enable``). At most ``limit`` changes at once."""
    live = live_brokers(image)
    records: list[PartitionChangeRecord] = []
    for topic, p, part in _partitions(image):
        preferred = part.replicas[0]
        if part.leader != preferred and preferred in part.isr and preferred in live:
            records.append(PartitionChangeRecord(
                topic_id=topic.topic_id, partition=p, leader=preferred))
            if len(records) >= limit:
                break
    return records


def alter_partition(
    image: MetadataImage,
    topic_id: uuid.UUID,
    partition: int,
    leader: int,
    leader_epoch: int,
    partition_epoch: int,
    new_isr: tuple[int, ...],
) -> list[PartitionChangeRecord]:
    """The leader's AlterPartition (API 56) for one partition; raises ControllerError with
    Kafka's per-partition error names when it must be refused."""
    topic = image.topic_by_id(topic_id)
    if topic is None:
        raise ControllerError("UNKNOWN_TOPIC_ID", f"no topic has id {topic_id}")
    part = topic.partitions.get(partition)
    if part is None:
        raise ControllerError("UNKNOWN_TOPIC_OR_PARTITION",
                              f"{topic.name} has no partition {partition}")
    if leader != part.leader or leader_epoch != part.leader_epoch:
        code = "FENCED_LEADER_EPOCH" if leader_epoch <= part.leader_epoch else \
            "NOT_LEADER_OR_FOLLOWER"
        raise ControllerError(code, f"{topic.name}-{partition}: broker {leader} in epoch "
                              f"{leader_epoch} does not lead (leader {part.leader}, epoch "
                              f"{part.leader_epoch})")
    if partition_epoch != part.partition_epoch:
        raise ControllerError("INVALID_UPDATE_VERSION",
                              f"{topic.name}-{partition}: partition epoch {partition_epoch} is "
                              f"not the current {part.partition_epoch}")
    if leader not in new_isr or not set(new_isr) <= set(part.replicas) or \
            len(set(new_isr)) != len(new_isr):
        raise ControllerError("INVALID_REQUEST",
                              f"{topic.name}-{partition}: ISR {list(new_isr)} must hold the "
                              f"leader and only replicas {list(part.replicas)}")
    live = live_brokers(image)
    joining = [b for b in new_isr if b not in part.isr and b not in live]
    if joining:
        raise ControllerError("INELIGIBLE_REPLICA",
                              f"{topic.name}-{partition}: brokers {joining} are fenced")
    ordered = tuple(r for r in part.replicas if r in new_isr)
    change = _change(topic, partition, part, ordered, part.leader)
    return [change] if change is not None else []
