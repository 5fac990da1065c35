"""LogManager: startup, creation, checkpoints, clean-shutdown marker, recovery, bounded fds."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from storage_batches import make_batch
from tidelog.storage.checkpoint import (
    read_meta_properties,
    read_offset_checkpoint,
    read_partition_metadata,
)
from tidelog.storage.config import LogConfig
from tidelog.storage.manager import CLEAN_SHUTDOWN_MARKER, LogManager
from tidelog.storage.topic_partition import TopicPartition

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "kafka-logdir"
TP = TopicPartition("my-topic", 0)
SMALL = LogConfig(segment_bytes=200, segment_index_bytes=4096, retention_bytes=81,
                  retention_ms=-1)


def test_startup_create_and_clean_shutdown(tmp_path: Path) -> None:
    mgr = LogManager(tmp_path, SMALL, node_id=1, cluster_id="abc")
    report = mgr.startup()
    assert report.created_meta_properties and not report.clean_shutdown
    props = read_meta_properties(tmp_path / "meta.properties")
    assert props["node.id"] == "1" and props["cluster.id"] == "abc" and props["version"] == "1"
    plog = mgr.get_or_create_log(TP, topic_id="B3_HiNPgSQ6oxG9ZZ6ED5A")
    assert mgr.get_or_create_log(TP) is plog and mgr.get_log(TP) is plog
    assert read_partition_metadata(tmp_path / "my-topic-0" / "partition.metadata").topic_id == (
        "B3_HiNPgSQ6oxG9ZZ6ED5A"
    )
    for i in range(5):
        plog.append(make_batch(tag=i), leader_epoch=0)
    plog.high_watermark = 4
    assert mgr.run_retention() == 2  # segments [0, 1] and [2, 3]; [4] is active
    assert plog.log_start_offset == 4
    mgr.checkpoint()
    # Kafka leaves out log start offsets equal to the first segment's base offset.
    assert read_offset_checkpoint(tmp_path / "log-start-offset-checkpoint") == {}
    plog.advance_log_start_offset(5)
    plog.high_watermark = 5
    mgr.shutdown()
    assert (tmp_path / CLEAN_SHUTDOWN_MARKER).exists()
    assert read_offset_checkpoint(tmp_path / "recovery-point-offset-checkpoint") == {TP: 5}
    assert read_offset_checkpoint(tmp_path / "log-start-offset-checkpoint") == {TP: 5}
    assert read_offset_checkpoint(tmp_path / "replication-offset-checkpoint") == {TP: 5}

    mgr = LogManager(tmp_path, SMALL, node_id=1)
    report = mgr.startup()
    assert report.clean_shutdown and report.logs_loaded == 1 and not report.recovered
    assert not (tmp_path / CLEAN_SHUTDOWN_MARKER).exists()
    plog2 = mgr.get_log(TP)
    assert plog2 is not None and not plog2.is_loaded  # lazy: nothing read yet
    assert plog2.log_start_offset == 5
    assert (plog2.log_end_offset, plog2.high_watermark) == (5, 5)
    mgr.checkpoint()
    mgr.shutdown()


def test_unclean_startup_recovers(tmp_path: Path) -> None:
    mgr = LogManager(tmp_path, SMALL)
    mgr.startup()
    plog = mgr.get_or_create_log(TP)
    plog.append(make_batch(tag=1), leader_epoch=0)
    plog.flush()
    mgr.checkpoint()
    plog.append(make_batch(tag=2), leader_epoch=0)
    plog.release_handles()
    # Crash: the second batch was torn on its way to disk.
    seg = tmp_path / "my-topic-0" / "00000000000000000000.log"
    seg.write_bytes(seg.read_bytes()[:-10])
    mgr = LogManager(tmp_path, SMALL)
    report = mgr.startup()
    assert not report.clean_shutdown
    assert report.recovered[TP].bytes_truncated == 81 - 10
    again = mgr.get_log(TP)
    assert again is not None and again.log_end_offset == 1


def test_skips_bad_dirs_and_deletes(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES, tmp_path / "d")
    d = tmp_path / "d"
    for root, _dirs, files in os.walk(d):
        os.chmod(root, 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)
    (d / "not_a_partition").mkdir()
    (d / "gone-0.0123abc-delete").mkdir()
    (d / "moving-0.0123abc-future").mkdir()
    bad = d / "broken-0"
    bad.mkdir()
    (bad / "00000000000000000000.log").mkdir()  # a directory where a file should be
    (bad / "00000000000000000000.log" / "x").write_text("x")
    mgr = LogManager(d, LogConfig(), node_id=1, cluster_id="q1w2e3r4t5y6u7i8o9p0")
    report = mgr.startup()
    assert not report.created_meta_properties
    # The metadata log's directory belongs to the metadata layer, not to the LogManager.
    assert set(mgr.logs()) == {TopicPartition("TestTopicPatient", 0)}
    assert {name for name, _ in report.skipped} == {"not_a_partition", "broken-0"}
    assert not (d / "gone-0.0123abc-delete").exists()
    assert (d / "moving-0.0123abc-future").exists()
    patient = mgr.get_log(TopicPartition("TestTopicPatient", 0))
    assert patient is not None and patient.log_end_offset == 3
    assert patient.high_watermark == 3  # from replication-offset-checkpoint
    assert mgr.delete_log(TopicPartition("TestTopicPatient", 0))
    assert mgr.get_log(TopicPartition("TestTopicPatient", 0)) is None
    assert not (d / "TestTopicPatient-0").exists()
    assert any(p.name.startswith("TestTopicPatient-0.") and p.name.endswith("-delete")
               for p in d.iterdir())
    mgr.shutdown()
    assert not any(p.name.endswith("-delete") for p in d.iterdir())


def _fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_open_files_stay_bounded(tmp_path: Path) -> None:
    before = _fd_count()
    mgr = LogManager(tmp_path, LogConfig(segment_bytes=200, segment_index_bytes=4096),
                     max_open_files=32)
    mgr.startup()
    tps = [TopicPartition("t", p) for p in range(200)]
    for tp in tps:
        plog = mgr.get_or_create_log(tp)
        for i in range(3):  # two segments each
            plog.append(make_batch(tag=tp.partition + i), leader_epoch=0)
        assert _fd_count() - before <= 32 + 2
    for tp in tps:
        plog = mgr.get_log(tp)
        assert plog is not None and plog.segment_count == 2
        for offset in range(3):
            with plog.read(offset, 81) as region:
                assert region.first_offset == offset and region.length == 81
                assert _fd_count() - before <= 32 + 3  # +1: the region's own descriptor
    assert len(mgr.handle_cache) <= 32
    mgr.shutdown()
    assert _fd_count() <= before
