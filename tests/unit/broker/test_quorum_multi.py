"""Three MetadataQuorum nodes over real DiskRaftStorage, wired by an in-memory network that
the test drives: replication, commit waits, a proposal lost to a new leader, and a restart
that keeps the committed image."""

from __future__ import annotations

import asyncio
import random
import uuid
from pathlib import Path

import pytest
from tidelog.broker.quorum import DiskRaftStorage, MetadataQuorum
from tidelog.broker.quorum.metadata_quorum import LeaderNotReadyError, NotCommittedError
from tidelog.metadata.errors import MetadataError
from tidelog.metadata.records import ClusterIdRecord, TopicRecord
from tidelog.raft.config import RaftConfig
from tidelog.raft.messages import Message

VOTERS = (1, 2, 3)


class Net:
    def __init__(self, tmp: Path, snapshot_bytes: int = 20 << 20) -> None:
        self.tmp = tmp
        self.snapshot_bytes = snapshot_bytes
        self.queue: list[Message] = []
        self.cut: set[int] = set()
        self.nodes: dict[int, MetadataQuorum] = {}
        for i in VOTERS:
            self.open(i)

    def open(self, i: int) -> MetadataQuorum:
        q = MetadataQuorum(DiskRaftStorage(self.tmp / f"n{i}"), RaftConfig(i, VOTERS),
                           send=self.queue.append, rng=random.Random(i),
                           snapshot_bytes=self.snapshot_bytes)
        q.drain()  # the committed prefix it already has (what MetadataQuorum.open does)
        self.nodes[i] = q
        return q

    def deliver(self) -> None:
        while self.queue:
            msg = self.queue.pop(0)
            if msg.src in self.cut or msg.dst in self.cut or msg.dst not in self.nodes:
                continue
            self.nodes[msg.dst].step(msg)

    def run(self, ticks: int) -> None:
        for _ in range(ticks):
            for i, q in self.nodes.items():
                if i not in self.cut:
                    q.tick()
            self.deliver()

    def leader(self) -> MetadataQuorum:
        for _ in range(200):
            leaders = [q for i, q in self.nodes.items() if q.node.is_leader and i not in self.cut]
            if len(leaders) == 1 and leaders[0].applied >= leaders[0].node.high_watermark > 0:
                return leaders[0]
            self.run(1)
        raise AssertionError("no leader")


def test_replicates_and_waits(tmp_path: Path) -> None:
    net = Net(tmp_path)
    lead = net.leader()
    cid = str(uuid.uuid4())
    last = lead.propose([ClusterIdRecord(cid)])
    # the working image has it at once, the committed one after replication
    assert lead.working_image.cluster_id == cid and lead.image.cluster_id is None

    async def wait() -> None:
        task = asyncio.create_task(lead.wait_applied(last + 1, 5, lead.node.epoch))
        for _ in range(20):
            await asyncio.sleep(0)
            net.run(1)
        await task

    asyncio.run(wait())
    net.run(5)
    assert all(q.image.cluster_id == cid for q in net.nodes.values())


def test_a_proposal_lost_to_a_new_leader_is_reported(tmp_path: Path) -> None:
    net = Net(tmp_path)
    old = net.leader()
    net.cut.add(old.node.id)  # isolated: its proposal can never commit
    epoch = old.node.epoch
    last = old.propose([TopicRecord("lost", uuid.uuid4())])
    new = net.leader()
    new.propose([TopicRecord("kept", uuid.uuid4())])
    net.run(5)
    net.cut.clear()
    net.run(60)  # the old leader rejoins, truncates its proposal, takes the new entries

    async def wait() -> None:
        await old.wait_applied(last + 1, 5, epoch)

    assert old.applied > last
    with pytest.raises(NotCommittedError):
        asyncio.run(wait())
    assert old.image.topic("lost") is None and old.image.topic("kept") is not None
    assert old.working_image.topic("lost") is None  # no stale pending image either


def test_restart_keeps_the_committed_image(tmp_path: Path) -> None:
    net = Net(tmp_path)
    lead = net.leader()
    lead.propose([TopicRecord("t", uuid.uuid4())])
    net.run(10)
    for q in net.nodes.values():
        q.close()
    again = Net(tmp_path)
    assert all(q.image.topic("t") is not None for q in again.nodes.values())
    assert again.leader().node.epoch > lead.node.epoch


def test_a_new_leader_builds_on_the_previous_leaders_entries(tmp_path: Path) -> None:
    """A new leader's log may end in its predecessor's proposal, not committed yet: it is in
    neither its image nor its own pending changes until the new epoch's first entry commits.
    Until then the new leader refuses changes (retriable) instead of checking them against an
    image without that entry; a second CreateTopic of one name was committed so, and every
    node then failed to replay it."""
    net = Net(tmp_path)
    old = net.leader()
    f, g = (q for q in net.nodes.values() if q is not old)
    net.cut.add(g.node.id)
    last = old.propose([TopicRecord("once", uuid.uuid4())])
    # step message by message until the follower holds the entry, then isolate the old leader
    # before the follower's next fetch tells it so (the entry stays uncommitted)
    for _ in range(200):
        if f.node.log_end_offset > last:
            break
        for q in (old, f):
            q.tick()
        while net.queue and f.node.log_end_offset <= last:
            msg = net.queue.pop(0)
            if msg.dst in net.nodes and msg.src not in net.cut and msg.dst not in net.cut:
                net.nodes[msg.dst].step(msg)
    assert f.node.log_end_offset > last and old.node.high_watermark <= last
    net.queue.clear()
    net.cut = {old.node.id}
    new = None
    for _ in range(400):
        for q in (f, g):
            q.tick()
        while net.queue and new is None:
            msg = net.queue.pop(0)
            if msg.dst in net.nodes and msg.src not in net.cut and msg.dst not in net.cut:
                net.nodes[msg.dst].step(msg)
            new = next((q for q in (f, g) if q.node.is_leader), None)
        if new is not None:
            break
    assert new is f, "the follower with the longer log was elected"
    assert not new.leader_ready and new.working_image.topic("once") is None
    with pytest.raises(LeaderNotReadyError):
        new.propose([TopicRecord("once", uuid.uuid4())])
    net.run(20)  # the new epoch's first entry commits, and the predecessor's with it
    assert new.leader_ready and new.image.topic("once") is not None
    with pytest.raises(MetadataError):  # now checked against an image that has it
        new.propose([TopicRecord("once", uuid.uuid4())])


def test_a_follower_far_behind_catches_up_from_the_leaders_snapshot(tmp_path: Path) -> None:
    """The leader snapshots and trims its log while a follower is cut off; the follower is
    sent the snapshot (a Kafka .checkpoint file), resets its image to it and then follows the
    log again; a restart of it loads the snapshot and only the log after it."""
    net = Net(tmp_path, snapshot_bytes=1024)
    lead = net.leader()
    lagging = next(q for q in net.nodes.values() if q is not lead)
    net.cut.add(lagging.node.id)
    for i in range(100):  # 24 bytes each: two snapshots
        lead.propose([TopicRecord(f"t{i}", uuid.uuid4())])
        net.run(2)
    assert lead.node.snapshot.end_offset > lagging.node.log_end_offset  # trimmed past it
    files = sorted((tmp_path / f"n{lead.node.id}" / "__cluster_metadata-0").glob("*.checkpoint"))
    assert len(files) == 1
    net.cut.clear()
    net.run(40)
    assert lagging.image == lead.image and lagging.image.topic("t99") is not None
    assert lagging.node.snapshot.end_offset > 0
    lead.propose([TopicRecord("after", uuid.uuid4())])
    net.run(10)
    assert lagging.image.topic("after") is not None
    image = lagging.image
    lagging.close()
    again = net.open(lagging.node.id)
    assert again.image == image and again.storage.log_end_offset > again.node.snapshot.end_offset
