"""MetadataLog: append and replay across close/reopen, torn tails, unreadable logs."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from tidelog.metadata import controller_ops as ops
from tidelog.metadata.errors import MetadataError
from tidelog.metadata.image import EMPTY_IMAGE
from tidelog.metadata.log import METADATA_LOG_DIR, MetadataLog
from tidelog.metadata.records import (
    ClusterIdRecord,
    ConfigRecord,
    PartitionRecord,
    ProducerIdsRecord,
    RemoveTopicRecord,
    TopicRecord,
    encode_record,
)
from tidelog.records.builder import build_batch
from tidelog.records.record import NewRecord

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "kafka-logdir"


def _segment(data_dir: Path) -> Path:
    return data_dir / METADATA_LOG_DIR / "00000000000000000000.log"


def test_empty_log(tmp_path: Path) -> None:
    with MetadataLog.open(tmp_path) as log:
        assert log.next_offset == 0
        assert log.replay() == EMPTY_IMAGE
        assert log.path == tmp_path / METADATA_LOG_DIR


def test_append_and_replay_across_reopen(tmp_path: Path) -> None:
    with MetadataLog.open(tmp_path) as log:
        assert log.append([ClusterIdRecord("cluster-1")]) == 0
        last = log.append(ops.create_topic(log.image, "t", 3, 1, {"retention.ms": "9"}, [1]))
        assert last == 5 and log.next_offset == 6  # topic + config + 3 partitions
        records, block = ops.allocate_producer_ids(log.image, 1)
        assert log.append(records) == 6
        image = log.image
    assert image.cluster_id == "cluster-1" and image.next_producer_id == block.next_block_start
    with MetadataLog.open(tmp_path) as log:
        assert log.next_offset == 7
        assert log.replay() == image
        assert log.image.log_config("t").retention_ms == 9
        # Appends continue after the replayed records.
        assert log.append(ops.delete_topic(log.image, "t")) == 7
    with MetadataLog.open(tmp_path) as log:
        assert log.image.topic("t") is None and log.image.cluster_id == "cluster-1"


def test_one_batch_per_append(tmp_path: Path) -> None:
    with MetadataLog.open(tmp_path) as log:
        log.append(ops.create_topic(log.image, "a", 2, 1, {}, [1]))
        log.append(ops.create_topic(log.image, "b", 2, 1, {}, [1]))
    from tidelog.records.reader import iter_decoded_batches

    data = _segment(tmp_path).read_bytes()
    batches = list(iter_decoded_batches(data))
    assert [(b.header.base_offset, b.header.records_count) for b in batches] == [(0, 3), (3, 3)]
    assert all(b.header.compression == 0 for b in batches)


def test_records_that_do_not_fit_are_not_written(tmp_path: Path) -> None:
    with MetadataLog.open(tmp_path) as log:
        log.append([TopicRecord("t", uuid.UUID(int=5))])
        with pytest.raises(MetadataError):
            log.append([TopicRecord("t", uuid.UUID(int=6))])
        with pytest.raises(MetadataError):
            log.append([PartitionRecord(uuid.UUID(int=5), 0, (1,), (1,), 1),
                        ConfigRecord(2, "missing", "retention.ms", "1")])  # fmt: skip
        with pytest.raises(MetadataError):
            log.append([])
        assert log.next_offset == 1
        assert log.image.topic("t") is not None and log.image.partition("t", 0) is None
    with MetadataLog.open(tmp_path) as log:
        assert log.next_offset == 1


def test_torn_tail_is_cut_whole(tmp_path: Path) -> None:
    with MetadataLog.open(tmp_path) as log:
        log.append(ops.create_topic(log.image, "keep", 2, 1, {}, [1]))
        kept = log.image
        size_before = _segment(tmp_path).stat().st_size
        log.append(ops.create_topic(log.image, "torn", 4, 1, {}, [1]))
    full = _segment(tmp_path).read_bytes()
    assert len(full) > size_before
    # Cut the second batch at several points: each time it vanishes whole.
    for cut in (size_before + 1, size_before + 61, (size_before + len(full)) // 2, len(full) - 1):
        work = tmp_path / f"cut{cut}"
        shutil.copytree(tmp_path / METADATA_LOG_DIR, work / METADATA_LOG_DIR)
        with open(_segment(work), "r+b") as f:
            f.truncate(cut)
        with MetadataLog.open(work) as log:
            assert log.replay() == kept
            assert log.next_offset == 3
            assert log.recovery_report.bytes_truncated == cut - size_before
            # The log takes new appends where the valid prefix ends.
            assert log.append(ops.create_topic(log.image, "after", 1, 1, {}, [1])) == 4
        with MetadataLog.open(work) as log:
            assert log.image.topic_names() == ["after", "keep"]


def test_garbage_tail_is_cut(tmp_path: Path) -> None:
    with MetadataLog.open(tmp_path) as log:
        log.append([ProducerIdsRecord(1, 1000)])
    with open(_segment(tmp_path), "ab") as f:
        f.write(b"\x00" * 7 + b"garbage that is no batch at all" * 3)
    with MetadataLog.open(tmp_path) as log:
        assert log.image.next_producer_id == 1000 and log.next_offset == 1


def _append_raw(data_dir: Path, values: list[bytes | None]) -> None:
    """Write a batch whose values bypass MetadataLog's checks."""
    with MetadataLog.open(data_dir) as log:
        plog = log._plog
        plog.append(bytearray(build_batch([NewRecord(v) for v in values])), leader_epoch=0)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([b"\x01\x02"], "offset 0: metadata record frame is cut off"),
        ([b"\x01\x7f\x00\x00"], "unknown metadata record type 127"),
        ([b'{"type":"no_op","version":0}'], "the data dir needs converting"),
        ([None], "offset 0 is null"),
        ([encode_record(RemoveTopicRecord(uuid.UUID(int=1)))], "unknown topic id"),
    ],
)  # fmt: skip
def test_unreadable_records_stop_replay(
    tmp_path: Path, values: list[bytes | None], message: str
) -> None:
    _append_raw(tmp_path, values)
    with MetadataLog.open(tmp_path) as log, pytest.raises(MetadataError) as info:
        log.replay()
    assert message in str(info.value)
    assert METADATA_LOG_DIR in str(info.value)


def test_kafka_metadata_log_replays(tmp_path: Path) -> None:
    # Apache Kafka's own __cluster_metadata holds Kafka's binary records, as ours does now
    shutil.copytree(FIXTURES / METADATA_LOG_DIR, tmp_path / METADATA_LOG_DIR)
    for path in (tmp_path / METADATA_LOG_DIR).iterdir():
        path.chmod(0o644)
    (tmp_path / METADATA_LOG_DIR).chmod(0o755)
    with MetadataLog.open(tmp_path) as log:
        image = log.replay()
    assert image.topic_names() == [
        "Retry.TestTopicPatient", "TestTopicPatient", "__consumer_offsets",
        "batch2.work.notification.SHR_PROD.persistence",
        "subscription.matching.SHR_PROD.persistence"]
    topic = image.topic("__consumer_offsets")
    assert topic is not None and len(topic.partitions) == 50
    # Kafka's controlled shutdown at the end of the log: fenced, no partition led
    assert image.brokers[1].fenced and image.brokers[1].broker_epoch == 8
    assert all(p.leader == -1 and p.isr == (1,) for p in topic.partitions.values())
    assert image.features == {"metadata.version": 19} and image.next_producer_id == 1000
    assert image.configs[(2, "__consumer_offsets")]["cleanup.policy"] == "compact"
    assert image.cluster_id is None  # Kafka keeps it in meta.properties only
