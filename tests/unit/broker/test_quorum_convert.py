"""Converting an earlier tidelog's JSON metadata log to Kafka's format (and its crash cases)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tidelog.broker.quorum import MetadataQuorum
from tidelog.broker.quorum.convert import CONVERTING_SUFFIX, convert_if_needed
from tidelog.metadata import frames
from tidelog.metadata.errors import MetadataError
from tidelog.metadata.log import METADATA_LOG_CONFIG, METADATA_LOG_DIR
from tidelog.records.builder import build_batch
from tidelog.records.reader import iter_decoded_batches
from tidelog.records.record import NewRecord
from tidelog.storage.log import PartitionLog

OLD = Path(__file__).resolve().parents[2] / "fixtures" / "tidelog-json-logdir"


def _copy(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(OLD, data)
    return data


def _batches(meta: Path) -> list[tuple[int, int, bool, list[bytes]]]:
    data = b"".join(p.read_bytes() for p in sorted(meta.glob("*.log")))
    return [(b.header.base_offset, b.header.partition_leader_epoch, b.header.is_control,
             [bytes(r.value or b"") for r in b.records()]) for b in iter_decoded_batches(data)]


def test_conversion_keeps_offsets_epochs_and_the_image(tmp_path: Path) -> None:
    data = _copy(tmp_path)
    before = _batches(data / METADATA_LOG_DIR)
    assert convert_if_needed(data)
    after = _batches(data / METADATA_LOG_DIR)
    assert [b[:3] for b in after] == [b[:3] for b in before]
    assert [len(b[3]) for b in after] == [len(b[3]) for b in before]
    for _, _, control, values in after:
        for value in values:
            if control:
                assert frames.decode_control(frames.control_key(2), value)[1].leader_id == 1
            else:
                frames.decode_metadata(value)
    (backup,) = data.glob(METADATA_LOG_DIR + ".json-*-stray")
    assert _batches(backup) == before
    assert not convert_if_needed(data)  # done once
    quorum = MetadataQuorum.open(data, node_id=1)
    try:
        image = quorum.image
        assert image.topic_names() == ["__consumer_offsets", "notes", "orders"]
        assert image.cluster_id == (OLD / "meta.properties").read_text().split(
            "cluster.id=")[1].split()[0]
    finally:
        quorum.close()


def test_a_conversion_cut_short_is_redone(tmp_path: Path) -> None:
    data = _copy(tmp_path)
    half = data / (METADATA_LOG_DIR + CONVERTING_SUFFIX)
    half.mkdir()
    (half / "00000000000000000000.log").write_bytes(b"half")
    assert convert_if_needed(data)
    assert not half.exists()
    assert frames.decode_metadata(_batches(data / METADATA_LOG_DIR)[1][3][0])


def test_a_conversion_cut_between_the_renames_is_finished(tmp_path: Path) -> None:
    data = _copy(tmp_path)
    assert convert_if_needed(data)
    converted = _batches(data / METADATA_LOG_DIR)
    (data / METADATA_LOG_DIR).rename(data / (METADATA_LOG_DIR + CONVERTING_SUFFIX))
    assert convert_if_needed(data)
    assert _batches(data / METADATA_LOG_DIR) == converted


def test_a_record_that_does_not_convert_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    plog = PartitionLog.open(data / METADATA_LOG_DIR, METADATA_LOG_CONFIG)
    plog.append(bytearray(build_batch([NewRecord(b'{"type":"no_op","version":0}'),
                                       NewRecord(b'{"type":"bogus","version":0}')])),
                leader_epoch=0)
    plog.close()
    before = _batches(data / METADATA_LOG_DIR)
    with pytest.raises(MetadataError, match=r"cannot convert.*offset 1.*unknown metadata record"):
        convert_if_needed(data)
    assert _batches(data / METADATA_LOG_DIR) == before
    assert sorted(p.name for p in data.iterdir()) == [METADATA_LOG_DIR]


def test_a_kafka_format_log_is_left_alone(tmp_path: Path) -> None:
    quorum = MetadataQuorum.open(tmp_path, node_id=1)
    quorum.close()
    before = _batches(tmp_path / METADATA_LOG_DIR)
    assert before and not convert_if_needed(tmp_path)
    assert _batches(tmp_path / METADATA_LOG_DIR) == before
