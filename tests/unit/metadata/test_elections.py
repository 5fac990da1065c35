"""Controller elections: a fenced broker leaves ISRs and leadership, a returning one takes back
leaderless partitions, preferred leaders return, AlterPartition is fenced by epochs."""

from __future__ import annotations

import uuid

import pytest
from tidelog.metadata import elections
from tidelog.metadata.errors import ControllerError
from tidelog.metadata.image import MetadataImage
from tidelog.metadata.records import (
    ConfigRecord,
    Endpoint,
    PartitionRecord,
    RegisterBrokerRecord,
    TopicRecord,
)

TID = uuid.UUID(int=7)


def image(*partitions: tuple[tuple[int, ...], tuple[int, ...], int], fenced: set[int] = frozenset(),
          unclean: bool = False) -> MetadataImage:
    records: list = [
        RegisterBrokerRecord(b, uuid.UUID(int=b), b, (Endpoint("PLAINTEXT", "h", 9000 + b),),
                             None, b in fenced)
        for b in (1, 2, 3)
    ]
    records.append(TopicRecord("t", TID))
    if unclean:
        records.append(ConfigRecord(2, "t", "unclean.leader.election.enable", "true"))
    for i, (replicas, isr, leader) in enumerate(partitions):
        records.append(PartitionRecord(TID, i, replicas, isr, leader))
    return MetadataImage().apply_all(records)


def part(img: MetadataImage, p: int = 0):  # type: ignore[no-untyped-def]
    pimg = img.partition("t", p)
    assert pimg is not None
    return pimg


def test_fenced_leader_moves_to_the_next_in_sync_replica() -> None:
    img = image(((1, 2, 3), (1, 2, 3), 1), ((2, 1, 3), (2, 3), 2))
    after = img.apply_all(elections.without_broker(img, 1))
    assert (part(after).leader, part(after).isr, part(after).leader_epoch) == (2, (2, 3), 1)
    assert part(after, 1).isr == (2, 3) and part(after, 1).leader == 2  # 1 was not in its ISR


def test_last_isr_member_stays_and_the_partition_goes_offline() -> None:
    img = image(((1, 2), (1,), 1))
    after = img.apply_all(elections.without_broker(img, 1))
    assert part(after).leader == -1 and part(after).isr == (1,)
    back = after.apply_all(elections.with_broker(after, 1))
    assert part(back).leader == 1 and part(back).leader_epoch == 2


def test_unclean_election_takes_any_live_replica() -> None:
    img = image(((1, 2), (1,), 1), unclean=True)
    after = img.apply_all(elections.without_broker(img, 1))
    assert part(after).leader == 2 and part(after).isr == (2,)


def test_preferred_leader_returns_when_in_sync() -> None:
    img = image(((1, 2, 3), (1, 2, 3), 2), ((3, 1, 2), (1, 2), 1))
    moves = elections.preferred_leaders(img)
    assert [(r.partition, r.leader) for r in moves] == [(0, 1)]


def test_alter_partition_is_fenced_by_epochs() -> None:
    img = image(((1, 2, 3), (1, 2, 3), 1))
    after = img.apply_all(elections.alter_partition(img, TID, 0, 1, 0, 0, (1, 3)))
    assert part(after).isr == (1, 3) and part(after).partition_epoch == 1
    with pytest.raises(ControllerError) as stale:
        elections.alter_partition(after, TID, 0, 1, 0, 0, (1,))
    assert stale.value.error_name == "INVALID_UPDATE_VERSION"
    with pytest.raises(ControllerError) as not_leader:
        elections.alter_partition(after, TID, 0, 2, 0, 1, (2,))
    assert not_leader.value.error_name == "FENCED_LEADER_EPOCH"
    with pytest.raises(ControllerError) as bad:
        elections.alter_partition(after, TID, 0, 1, 0, 1, (2, 3))
    assert bad.value.error_name == "INVALID_REQUEST"


def test_alter_partition_refuses_a_fenced_joiner() -> None:
    img = image(((1, 2, 3), (1, 2), 1), fenced={3})
    with pytest.raises(ControllerError) as refused:
        elections.alter_partition(img, TID, 0, 1, 0, 0, (1, 2, 3))
    assert refused.value.error_name == "INELIGIBLE_REPLICA"
