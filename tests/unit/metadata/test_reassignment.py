"""Reassignment and operator elections as pure decisions: a move adds replicas, waits for the
ISR, then drops the old ones; cancel restores; a new target starts from the original; preferred
and unclean ElectLeaders answer per partition as Kafka does."""

from __future__ import annotations

import uuid

from tidelog.metadata import elections, reassignment
from tidelog.metadata.image import MetadataImage, PartitionImage
from tidelog.metadata.records import Endpoint, PartitionRecord, RegisterBrokerRecord, TopicRecord

TID = uuid.UUID(int=7)


def image(*partitions: tuple[tuple[int, ...], tuple[int, ...], int],
          fenced: frozenset[int] = frozenset(), brokers: int = 5) -> MetadataImage:
    records: list = [
        RegisterBrokerRecord(b, uuid.UUID(int=b), b, (Endpoint("PLAINTEXT", "h", 9000 + b),),
                             None, b in fenced)
        for b in range(1, brokers + 1)
    ]
    records.append(TopicRecord("t", TID))
    for i, (replicas, isr, leader) in enumerate(partitions):
        records.append(PartitionRecord(TID, i, replicas, isr, leader))
    return MetadataImage().apply_all(records)


def part(img: MetadataImage, p: int = 0) -> PartitionImage:
    pimg = img.partition("t", p)
    assert pimg is not None
    return pimg


def move(img: MetadataImage, target: tuple[int, ...] | None, p: int = 0, **kw: bool
         ) -> tuple[MetadataImage, reassignment.Result]:
    records, results = reassignment.alter_reassignments(img, [("t", p, target)], **kw)
    assert len(results) == 1
    return img.apply_all(records), results[0]


def join_isr(img: MetadataImage, isr: tuple[int, ...], p: int = 0) -> MetadataImage:
    """The leader's AlterPartition adding members, as the controller's op builds it."""
    pimg = part(img, p)
    changes = elections.alter_partition(img, TID, p, pimg.leader, pimg.leader_epoch,
                                        pimg.partition_epoch, isr)
    return img.apply_all(reassignment.complete_after(img, changes))


def test_a_move_adds_first_and_removes_once_the_target_is_in_sync() -> None:
    img, res = move(image(((1, 2, 3), (1, 2, 3), 1)), (2, 3, 4))
    assert res.error is None
    p = part(img)
    assert (p.replicas, p.adding_replicas, p.removing_replicas) == ((2, 3, 4, 1), (4,), (1,))
    assert p.isr == (2, 3, 1) and p.leader == 1  # the leader stays while data moves
    assert reassignment.ongoing(img) == [("t", 0, p)]
    done = join_isr(img, (2, 3, 4, 1))
    p = part(done)
    assert (p.replicas, p.isr, p.adding_replicas, p.removing_replicas) == \
        ((2, 3, 4), (2, 3, 4), (), ())
    assert p.leader == 2 and p.leader_epoch == 1  # the removed leader handed over
    assert reassignment.ongoing(done) == []


def test_an_isr_change_that_leaves_the_target_behind_does_not_complete() -> None:
    img, _ = move(image(((1, 2), (1, 2), 1)), (3, 4))
    img = join_isr(img, (1, 2, 3))
    p = part(img)
    assert p.adding_replicas == (3, 4) and p.isr == (3, 1, 2)


def test_a_reorder_or_shrink_of_in_sync_replicas_completes_at_once() -> None:
    img, _ = move(image(((1, 2, 3), (1, 2, 3), 1)), (3, 1, 2))
    assert part(img).replicas == (3, 1, 2) and part(img).adding_replicas == ()
    img, _ = move(img, (3, 1))
    p = part(img)
    assert (p.replicas, p.isr, p.removing_replicas, p.leader) == ((3, 1), (3, 1), (), 1)


def test_removing_an_out_of_sync_target_waits_for_it() -> None:
    img, _ = move(image(((1, 2, 3), (1,), 1)), (2, 3))
    p = part(img)
    assert p.removing_replicas == (1,) and p.leader == 1
    done = join_isr(img, (2, 3, 1))
    assert part(done).replicas == (2, 3) and part(done).leader == 2


def test_cancel_restores_the_original_replicas() -> None:
    img, _ = move(image(((1, 2, 3), (1, 2, 3), 1)), (4, 5, 1))
    img = join_isr(img, (4, 1, 2, 3))
    back, res = move(img, None)
    assert res.error is None
    p = part(back)
    assert (p.replicas, p.isr, p.adding_replicas, p.removing_replicas, p.leader) == \
        ((1, 2, 3), (1, 2, 3), (), (), 1)


def test_cancel_without_a_move_and_unknown_partitions_are_refused() -> None:
    img = image(((1, 2, 3), (1, 2, 3), 1))
    _, res = move(img, None)
    assert res.error == "NO_REASSIGNMENT_IN_PROGRESS"
    _, res = move(img, (1, 2), p=3)
    assert res.error == "UNKNOWN_TOPIC_OR_PARTITION"


def test_cancel_is_refused_when_no_original_replica_is_in_sync() -> None:
    img, _ = move(image(((1, 2), (1, 2), 1)), (3, 4))
    img = join_isr(img, (1, 2, 3))
    img = img.apply_all(elections.without_broker(img, 1))
    img = img.apply_all(elections.without_broker(img, 2))
    assert part(img).isr == (3,)
    after, res = move(img, None)
    assert res.error == "INVALID_REPLICA_ASSIGNMENT" and part(after) == part(img)


def test_bad_targets_are_refused_and_change_nothing() -> None:
    img = image(((1, 2, 3), (1, 2, 3), 1))
    for target in [(), (1, 1), (1, 9)]:
        after, res = move(img, target)
        assert res.error == "INVALID_REPLICA_ASSIGNMENT", target
        assert after == img
    after, res = move(img, (1, 2), allow_replication_factor_change=False)
    assert res.error == "INVALID_REPLICATION_FACTOR" and after == img


def test_a_new_target_starts_from_the_original() -> None:
    img, _ = move(image(((1, 2, 3), (1, 2, 3), 1)), (4, 5, 3))
    img, _ = move(img, (5, 2, 3))
    p = part(img)
    assert (p.replicas, p.adding_replicas, p.removing_replicas) == ((5, 2, 3, 1), (5,), (1,))


def test_completion_waits_for_a_live_target_leader() -> None:
    img, _ = move(image(((1, 2), (1, 2), 1)), (3,))
    img = img.apply_all([RegisterBrokerRecord(3, uuid.UUID(int=3), 3, (), None, True)])
    changes = [reassignment.PartitionChangeRecord(TID, 0, isr=(3, 1, 2))]
    assert reassignment.complete_after(img, changes) == changes


def test_several_partitions_in_one_request_each_get_their_answer() -> None:
    img = image(((1, 2), (1, 2), 1), ((2, 3), (2, 3), 2))
    records, results = reassignment.alter_reassignments(
        img, [("t", 0, (3, 4)), ("t", 1, None), ("t", 0, (1,)), ("u", 0, (1,))])
    assert [r.error for r in results] == [None, "NO_REASSIGNMENT_IN_PROGRESS", "INVALID_REQUEST",
                                          "UNKNOWN_TOPIC_OR_PARTITION"]
    assert len(records) == 1


def test_preferred_election() -> None:
    img = image(((1, 2), (1, 2), 2), ((1, 2), (2,), 2), ((1, 2), (1, 2), 1))
    records, results = reassignment.elect_leaders(img, reassignment.PREFERRED,
                                                  [("t", 0), ("t", 1), ("t", 2)])
    assert [r.error for r in results] == [None, "PREFERRED_LEADER_NOT_AVAILABLE",
                                          "ELECTION_NOT_NEEDED"]
    after = img.apply_all(records)
    assert part(after).leader == 1 and part(after).leader_epoch == 1
    _, every = reassignment.elect_leaders(img, reassignment.PREFERRED)
    assert [(r.partition, r.error) for r in every] == [(0, None),
                                                       (1, "PREFERRED_LEADER_NOT_AVAILABLE")]


def test_unclean_election() -> None:
    img = image(((1, 2), (1,), 1), ((2, 3), (2,), 2), ((1, 2), (1, 2), 1), fenced=frozenset({1}),
                brokers=3)
    img = img.apply_all(elections.without_broker(img, 1))
    assert part(img).leader == -1
    img = img.apply_all([RegisterBrokerRecord(3, uuid.UUID(int=3), 3, (), None, True)])
    records, results = reassignment.elect_leaders(img, reassignment.UNCLEAN,
                                                  [("t", 0), ("t", 1), ("t", 2), ("t", 9)])
    assert [r.error for r in results] == [None, "ELECTION_NOT_NEEDED", "ELECTION_NOT_NEEDED",
                                          "UNKNOWN_TOPIC_OR_PARTITION"]
    after = img.apply_all(records)
    assert (part(after).leader, part(after).isr) == (2, (2,))
    img = img.apply_all(elections.without_broker(img, 2))
    img = img.apply_all([RegisterBrokerRecord(2, uuid.UUID(int=2), 2, (), None, True)])
    _, results = reassignment.elect_leaders(img, reassignment.UNCLEAN, [("t", 0)])
    assert results[0].error == "ELIGIBLE_LEADERS_NOT_AVAILABLE"
