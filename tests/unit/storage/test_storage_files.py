"""Names, checkpoint files (golden text, Kafka's fixtures, malformed input), config, indexes."""

from __future__ import annotations

from pathlib import Path

import pytest
from tidelog.storage.checkpoint import (
    EpochEntry,
    PartitionMetadata,
    read_leader_epoch_checkpoint,
    read_meta_properties,
    read_offset_checkpoint,
    read_partition_metadata,
    write_leader_epoch_checkpoint,
    write_meta_properties,
    write_offset_checkpoint,
    write_partition_metadata,
)
from tidelog.storage.config import LogConfig
from tidelog.storage.errors import CheckpointError, CorruptIndexError, InvalidConfigError
from tidelog.storage.files import parse_segment_file_name, segment_file_name
from tidelog.storage.handles import HandleCache
from tidelog.storage.index import OffsetIndex, TimeIndex, read_offset_index, read_time_index
from tidelog.storage.topic_partition import (
    TopicPartition,
    parse_partition_dir_name,
    partition_dir_name,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "kafka-logdir"


def test_partition_dir_names() -> None:
    assert partition_dir_name(TopicPartition("a-b", 3)) == "a-b-3"
    assert parse_partition_dir_name("a-b-3") == TopicPartition("a-b", 3)
    assert parse_partition_dir_name("__consumer_offsets-49") == ("__consumer_offsets", 49)
    for bad in ("a", "a-", "-3", "a-x", "a-b-3.abc-delete", "a-3-future", "t-01", "t-99999999999"):
        assert parse_partition_dir_name(bad) is None, bad


def test_segment_file_names() -> None:
    assert segment_file_name(42, ".log") == "00000000000000000042.log"
    assert segment_file_name(0, ".timeindex") == "00000000000000000000.timeindex"
    assert parse_segment_file_name("00000000000000000042.index") == (42, ".index")
    for bad in ("42.log", "00000000000000000042.txt", "00000000000000000042.log.deleted",
                "0000000000000000004x.log", "leader-epoch-checkpoint"):
        assert parse_segment_file_name(bad) is None, bad
    with pytest.raises(ValueError):
        segment_file_name(1, ".txt")


def test_offset_checkpoint_golden_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "recovery-point-offset-checkpoint"
    entries = {TopicPartition("a.b-c", 0): 17, TopicPartition("x", 12): 0}
    write_offset_checkpoint(path, entries)
    assert path.read_text() == "0\n2\na.b-c 0 17\nx 12 0\n"
    assert read_offset_checkpoint(path) == entries
    write_offset_checkpoint(path, {})
    assert path.read_text() == "0\n0\n"
    assert not (tmp_path / "recovery-point-offset-checkpoint.tmp").exists()


def test_leader_epoch_checkpoint_golden_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "leader-epoch-checkpoint"
    write_leader_epoch_checkpoint(path, [EpochEntry(0, 0), EpochEntry(3, 120)])
    assert path.read_text() == "0\n2\n0 0\n3 120\n"
    assert read_leader_epoch_checkpoint(path) == [EpochEntry(0, 0), EpochEntry(3, 120)]


def test_partition_metadata_and_meta_properties(tmp_path: Path) -> None:
    path = tmp_path / "partition.metadata"
    write_partition_metadata(path, PartitionMetadata(0, "B3_HiNPgSQ6oxG9ZZ6ED5A"))
    # Byte-identical to what Kafka wrote.
    assert path.read_bytes() == (FIXTURES / "TestTopicPatient-0/partition.metadata").read_bytes()
    assert read_partition_metadata(path) == PartitionMetadata(0, "B3_HiNPgSQ6oxG9ZZ6ED5A")
    path.write_text("version: 0\ntopic_id: B3_HiNPgSQ6oxG9ZZ6ED5A\n")
    assert read_partition_metadata(path).topic_id == "B3_HiNPgSQ6oxG9ZZ6ED5A"
    props = tmp_path / "meta.properties"
    write_meta_properties(props, {"version": "1", "node.id": "3", "cluster.id": "abc"})
    text = props.read_text().splitlines()
    assert text[0] == "#" and text[1].startswith("#") and text[2:] == [
        "version=1", "node.id=3", "cluster.id=abc"
    ]
    assert read_meta_properties(props) == {"version": "1", "node.id": "3", "cluster.id": "abc"}


def test_kafka_fixture_files() -> None:
    rp = read_offset_checkpoint(FIXTURES / "recovery-point-offset-checkpoint")
    assert len(rp) == 54 and rp[TopicPartition("__consumer_offsets", 22)] == 0
    hw = read_offset_checkpoint(FIXTURES / "replication-offset-checkpoint")
    assert hw[TopicPartition("TestTopicPatient", 0)] == 3
    assert hw[TopicPartition("__consumer_offsets", 6)] == 13
    assert hw[TopicPartition("batch2.work.notification.SHR_PROD.persistence", 0)] == 0
    assert read_offset_checkpoint(FIXTURES / "log-start-offset-checkpoint") == {}
    assert read_meta_properties(FIXTURES / "meta.properties") == {
        "node.id": "1",
        "directory.id": "XHhkr4tkSsD900pOQ8pPfg",
        "version": "1",
        "cluster.id": "q1w2e3r4t5y6u7i8o9p0",
    }
    assert read_partition_metadata(FIXTURES / "TestTopicPatient-0/partition.metadata") == (
        PartitionMetadata(0, "B3_HiNPgSQ6oxG9ZZ6ED5A")
    )
    epochs = FIXTURES / "TestTopicPatient-0/leader-epoch-checkpoint"
    assert read_leader_epoch_checkpoint(epochs) == [EpochEntry(0, 0)]
    assert read_leader_epoch_checkpoint(
        FIXTURES / "__cluster_metadata-0/leader-epoch-checkpoint"
    ) == [EpochEntry(1, 0)]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("\n", "line 2"),
        ("1\n0\n", "line 1"),
        ("x\n0\n", "line 1"),
        ("0\n2\nt 0 1\n", "line 2"),
        ("0\n1\nt 0\n", "line 3"),
        ("0\n1\nt zero 1\n", "line 3"),
        ("0\n1\nt 0 1x\n", "line 3"),
        ("0\n1\nt 0 1\nu 0 1\n", "line 2"),
    ],
)
def test_malformed_offset_checkpoint(tmp_path: Path, text: str, line: str) -> None:
    path = tmp_path / "cp"
    path.write_text(text)
    with pytest.raises(CheckpointError) as err:
        read_offset_checkpoint(path)
    assert str(path) in str(err.value) and line in str(err.value)


def test_an_empty_checkpoint_has_no_entries(tmp_path: Path) -> None:
    """As in Kafka, whose log cleaner leaves an empty cleaner-offset-checkpoint (issue 9)."""
    path = tmp_path / "cleaner-offset-checkpoint"
    path.write_bytes(b"")
    assert read_offset_checkpoint(path) == {}


def test_malformed_other_files(tmp_path: Path) -> None:
    path = tmp_path / "f"
    for text, line in (("0\n2\n3 0\n1 5\n", "line 4"), ("0\n1\n3\n", "line 3")):
        path.write_text(text)
        with pytest.raises(CheckpointError, match=line):
            read_leader_epoch_checkpoint(path)
    for text in ("version: 1\ntopic_id: B3_HiNPgSQ6oxG9ZZ6ED5A", "version: 0\ntopic_id: nope",
                 "version: 0\n"):
        path.write_text(text)
        with pytest.raises(CheckpointError):
            read_partition_metadata(path)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(CheckpointError):
        read_meta_properties(path)
    path.write_text("novalue\n")
    with pytest.raises(CheckpointError, match="line 1"):
        read_meta_properties(path)


def test_log_config() -> None:
    default = LogConfig()
    assert default.segment_bytes == 1073741824 and default.segment_ms == 604800000
    assert default.segment_index_bytes == 10485760 and default.index_interval_bytes == 4096
    assert default.retention_ms == 604800000 and default.retention_bytes == -1
    assert default.max_message_bytes == 1048588 and default.file_delete_delay_ms == 60000
    assert default.message_timestamp_type == "CreateTime"
    cfg = LogConfig.from_properties(
        {"segment.bytes": "1000", "message.timestamp.type": "LogAppendTime",
         "cleanup.policy": "compact"}
    )
    assert cfg.segment_bytes == 1000 and cfg.log_append_time
    assert LogConfig.from_properties(cfg.to_properties()) == cfg
    layered = LogConfig.from_properties({"retention.ms": "-1"}, base=cfg)
    assert layered.segment_bytes == 1000 and layered.retention_ms == -1
    for key, value in [("segment.bytes", "abc"), ("segment.bytes", "3"), ("retention.ms", "-2"),
                       ("segment.bytes", str(2**31)), ("message.timestamp.type", "Now"),
                       ("flush.messages", "0"), ("segment.ms", "0")]:
        with pytest.raises(InvalidConfigError) as err:
            LogConfig.from_properties({key: value})
        assert err.value.key == key and key in str(err.value)


def test_offset_index_lookups_and_zero_tail(tmp_path: Path) -> None:
    cache = HandleCache(4)
    idx = OffsetIndex(tmp_path / "00000000000000000100.index", 100, 80, cache=cache)
    idx.make_writable()
    assert (tmp_path / "00000000000000000100.index").stat().st_size == 80
    for i in range(1, 8):
        idx.append(100 + 10 * i, 1000 * i)
    assert idx.entries == 7 and not idx.is_full
    assert idx.lookup(99) == (100, 0) and idx.lookup(105) == (100, 0)
    assert idx.lookup(110) == (110, 1000) and idx.lookup(155) == (150, 5000)
    assert idx.lookup(10**9) == (170, 7000)
    assert idx.lookup_position(2500) == (120, 2000) and idx.lookup_position(10) == (100, 0)
    # A preallocated file read by a fresh reader: the zero tail is not entries.
    assert list(read_offset_index(idx.path, 100))[-1] == (170, 7000)
    fresh = OffsetIndex(idx.path, 100, 80, cache=cache)
    assert fresh.entries == 7 and fresh.lookup(135) == (130, 3000)
    idx.truncate_to_position(4000)
    assert idx.entries == 3 and idx.lookup(10**9) == (130, 3000)
    idx.append(140, 4100)
    idx.append(150, 4200)
    idx.append(160, 4300)
    idx.append(170, 4400)
    idx.append(180, 4500)
    idx.append(190, 4600)
    assert not idx.is_full
    idx.append(200, 4700)
    assert idx.is_full and idx.entries == 10
    idx.trim()
    assert idx.path.stat().st_size == 80
    idx.path.write_bytes(b"\0" * 12)
    with pytest.raises(CorruptIndexError) as err:
        list(read_offset_index(idx.path, 100))
    assert err.value.position == 8


def test_time_index_lookups(tmp_path: Path) -> None:
    idx = TimeIndex(tmp_path / "00000000000000000000.timeindex", 0, 12 * 6)
    idx.make_writable()
    assert idx.maybe_append(1000, 5)
    assert not idx.maybe_append(1000, 7)  # timestamps must grow
    assert idx.maybe_append(2000, 9)
    assert idx.maybe_append(3000, 20)
    assert idx.lookup(999) == (-1, 0)
    assert idx.lookup(1500) == (1000, 5) and idx.lookup(3000) == (3000, 20)
    assert list(read_time_index(idx.path, 0)) == [(1000, 5), (2000, 9), (3000, 20)]
    idx.truncate_to_offset(9)
    assert idx.last_entry() == (1000, 5)
    (tmp_path / "bad.timeindex").write_bytes(b"\1" * 13)
    with pytest.raises(CorruptIndexError):
        list(read_time_index(tmp_path / "bad.timeindex", 0))
