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


class DiskFull:
    """ENOSPC on demand for quorum-state writes and for appends to the metadata log."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import errno

        from tidelog.broker.quorum import storage
        from tidelog.storage.log import PartitionLog

        self.state = False
        self.log = False
        real_write, real_append = storage._write_atomically, PartitionLog.append

        def full() -> OSError:
            return OSError(errno.ENOSPC, "No space left on device")

        def write(path: Path, data: bytes) -> None:
            if self.state:
                raise full()
            real_write(path, data)

        def append(plog: PartitionLog, *args: object, **kwargs: object) -> object:
            if self.log and plog.dir.name == "__cluster_metadata-0":
                raise full()
            return real_append(plog, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(storage, "_write_atomically", write)
        monkeypatch.setattr(PartitionLog, "append", append)


def topics(q: MetadataQuorum) -> set[str]:
    return set(q.image.topic_names())


def test_enospc_on_quorum_state_is_retried_and_the_change_stands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's case: quorum-state cannot be written (the log append could). The change
    is in the log, so it commits and the caller is told so; later changes are not stuck
    behind it, and the high watermark is written again once there is space."""
    disk = DiskFull(monkeypatch)
    q = MetadataQuorum.open(tmp_path, node_id=1)
    disk.state = True
    q.append([TopicRecord("a", uuid.uuid4())])
    q.append([TopicRecord("b", uuid.uuid4())])  # was: "not committed yet" until a restart
    assert topics(q) == {"a", "b"}
    stale = DiskRaftStorage(tmp_path).load().hard_state.high_watermark
    assert stale < q.next_offset
    disk.state = False
    q.append([TopicRecord("c", uuid.uuid4())])
    assert DiskRaftStorage(tmp_path).load().hard_state.high_watermark == q.next_offset
    q.close()
    q2 = MetadataQuorum.open(tmp_path, node_id=1)
    assert topics(q2) == {"a", "b", "c"}
    q2.close()


def test_enospc_on_the_log_fails_the_change_for_good(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The metadata log cannot be appended to: the change fails, and it stays failed (it is
    not in the log, not in the image, and not there after a restart); once there is space
    again the next change goes through without a restart."""
    disk = DiskFull(monkeypatch)
    q = MetadataQuorum.open(tmp_path, node_id=1)
    q.append([TopicRecord("kept", uuid.uuid4())])
    disk.log = disk.state = True
    with pytest.raises(MetadataError, match="not written"):
        q.append([TopicRecord("failed", uuid.uuid4())])
    assert topics(q) == {"kept"}
    with pytest.raises(MetadataError):  # still full: refused again, nothing kept
        q.append([TopicRecord("failed", uuid.uuid4())])
    disk.log = disk.state = False
    q.append([TopicRecord("later", uuid.uuid4())])
    assert topics(q) == {"kept", "later"}
    q.close()
    q2 = MetadataQuorum.open(tmp_path, node_id=1)
    assert topics(q2) == {"kept", "later"}
    q2.close()
