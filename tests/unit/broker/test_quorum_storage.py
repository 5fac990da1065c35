"""The Raft I/O layer on disk: DiskRaftStorage and the one-voter MetadataQuorum."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from tidelog.broker.quorum import DiskRaftStorage, MetadataQuorum
from tidelog.broker.quorum.storage import QUORUM_STATE_FILE
from tidelog.metadata.errors import MetadataError
from tidelog.metadata.log import MetadataLog
from tidelog.metadata.records import ClusterIdRecord, TopicRecord
from tidelog.raft import Entry, HardState, Snapshot


def entries(start: int, epoch: int, n: int) -> list[Entry]:
    return [Entry(start + i, epoch, b"x%d" % (start + i), batch_end=i == n - 1) for i in range(n)]


def test_append_read_truncate_and_reload(tmp_path: Path) -> None:
    st = DiskRaftStorage(tmp_path)
    st.append(entries(0, 1, 3))
    st.append([Entry(3, 2, b"c", control=True)])
    st.append(entries(4, 2, 2))
    st.save_hard_state(HardState(2, 1, 4))
    st.sync()
    assert [e.offset for e in st.read(1, 5)] == [1, 2, 3, 4]
    st.truncate(4)
    st.sync()
    st.close()
    state = DiskRaftStorage(tmp_path).load()
    assert state.hard_state == HardState(2, 1, 4)
    assert [(e.offset, e.epoch, e.control) for e in state.entries] == [
        (0, 1, False), (1, 1, False), (2, 1, False), (3, 2, True)
    ]
    assert state.entries[2].batch_end and not state.entries[1].batch_end


def test_hard_state_is_written_by_sync_only(tmp_path: Path) -> None:
    st = DiskRaftStorage(tmp_path)
    st.save_hard_state(HardState(5, 2, 0))
    assert not (st.dir / QUORUM_STATE_FILE).exists()
    st.sync()
    assert DiskRaftStorage(tmp_path).load().hard_state == HardState(5, 2, 0)


def test_corrupt_quorum_state_is_refused(tmp_path: Path) -> None:
    st = DiskRaftStorage(tmp_path)
    (st.dir / QUORUM_STATE_FILE).write_bytes(b"{not json")
    with pytest.raises(MetadataError, match="quorum state"):
        st.load()


def test_snapshot_moves_log_start(tmp_path: Path) -> None:
    st = DiskRaftStorage(tmp_path)
    st.append(entries(0, 1, 4))
    st.save_snapshot(Snapshot(10, 1, b"img"))
    st.append(entries(10, 1, 1))
    st.sync()
    state = DiskRaftStorage(tmp_path).load()
    assert state.snapshot == Snapshot(10, 1, b"img")
    assert [e.offset for e in state.entries] == [10]


def test_single_voter_commits_at_once_and_restarts(tmp_path: Path) -> None:
    q = MetadataQuorum.open(tmp_path, node_id=1)
    assert q.node.is_leader and q.leader_id == 1
    cid = uuid.uuid4()
    last = q.append([ClusterIdRecord(str(cid))])
    assert q.applied == last + 1 and q.image.cluster_id == str(cid)
    epoch = q.node.epoch
    q.close()
    q2 = MetadataQuorum.open(tmp_path, node_id=1)
    assert q2.image.cluster_id == str(cid)
    assert q2.node.epoch == epoch + 1  # a restart is a new election
    status = q2.status()
    assert status.leader_id == 1 and status.high_watermark == q2.next_offset
    q2.close()


def test_rejected_records_write_nothing(tmp_path: Path) -> None:
    q = MetadataQuorum.open(tmp_path, node_id=1)
    end = q.next_offset
    with pytest.raises(MetadataError):
        q.append([TopicRecord("t", uuid.uuid4())] * 2)  # the same topic twice
    assert q.next_offset == end
    q.close()


def test_takes_over_a_stand_in_metadata_log(tmp_path: Path) -> None:
    """A data dir written by the one-voter stand-in (MetadataLog) opens unchanged."""
    cid = uuid.uuid4()
    with MetadataLog.open(tmp_path) as ml:
        ml.append([ClusterIdRecord(str(cid)), TopicRecord("t", uuid.uuid4())])
    q = MetadataQuorum.open(tmp_path, node_id=3)
    assert q.image.cluster_id == str(cid) and q.image.topic("t") is not None
    q.close()
    # and the stand-in reader still replays what the quorum wrote (control batches skipped)
    with MetadataLog.open(tmp_path) as ml:
        assert ml.image.topic("t") is not None


def test_torn_tail_is_cut_on_open(tmp_path: Path) -> None:
    q = MetadataQuorum.open(tmp_path, node_id=1)
    q.append([ClusterIdRecord(str(uuid.uuid4()))])
    end = q.next_offset
    q.close()
    seg = sorted((tmp_path / "__cluster_metadata-0").glob("*.log"))[-1]
    with open(seg, "ab") as fh:
        fh.write(b"\x00\x00\x00\x00\x00\x00\x00\x09\x00\x00\x01\x00garbage")
    q2 = MetadataQuorum.open(tmp_path, node_id=1)
    assert q2.next_offset == end + 1  # the torn bytes are gone; one new control entry
    q2.close()
