"""Raft entries as record batches in ``__cluster_metadata-0`` (tidelog.raft.batches)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from tidelog.errors import TidelogError
from tidelog.metadata.log import METADATA_LOG_CONFIG, METADATA_LOG_DIR, MetadataLog
from tidelog.metadata.records import (
    ClusterIdRecord,
    MetadataRecord,
    PartitionRecord,
    TopicRecord,
    encode_record,
)
from tidelog.raft import Entry, RaftError
from tidelog.raft.batches import LEADER_CHANGE_KEY, decode_entries, encode_entries, split_batches
from tidelog.records.builder import build_batch
from tidelog.records.reader import iter_decoded_batches
from tidelog.records.record import NewRecord
from tidelog.storage.log import PartitionLog


def proposal(offset: int, epoch: int, *data: bytes) -> list[Entry]:
    last = len(data) - 1
    return [Entry(offset + i, epoch, d, batch_end=i == last) for i, d in enumerate(data)]


def test_one_batch_per_proposal_and_control_batches() -> None:
    entries = [Entry(0, 1, b'{"leader":1}', control=True)]
    entries += proposal(1, 1, b"a", b"b", b"c") + proposal(4, 1, b"d")
    batches = encode_entries(entries, timestamp_ms=1_700_000_000_000)
    assert len(batches) == 3
    headers = [next(iter_decoded_batches(b)).header for b in batches]
    assert [(h.base_offset, h.records_count, h.is_control) for h in headers] == [
        (0, 1, True),
        (1, 3, False),
        (4, 1, False),
    ]
    assert all(h.partition_leader_epoch == 1 for h in headers)
    control = next(next(iter_decoded_batches(batches[0])).records())
    assert control.key == LEADER_CHANGE_KEY and control.timestamp == 1_700_000_000_000
    assert decode_entries(b"".join(batches), expect_offset=0) == entries


def test_split_batches_keeps_an_incomplete_tail() -> None:
    entries = [*proposal(0, 2, b"a", b"b"), Entry(2, 2, b"c", batch_end=False)]
    assert [len(g) for g in split_batches(entries)] == [2, 1]


def test_decode_refuses_what_is_not_a_raft_log() -> None:
    good = encode_entries(proposal(0, 1, b"a"), timestamp_ms=0)[0]
    with pytest.raises(RaftError, match="expected 5"):
        decode_entries(good, expect_offset=5)
    null = build_batch([NewRecord(None, timestamp=0)], partition_leader_epoch=1)
    with pytest.raises(RaftError, match="null value"):
        decode_entries(null)
    with pytest.raises(TidelogError):  # CorruptRecordError from the records layer
        decode_entries(good[:-3])


def test_raft_batches_replay_as_the_metadata_log(tmp_path: Path) -> None:
    """What a Raft leader writes is what MetadataLog replays (control batches skipped)."""
    topic_id = uuid.uuid4()
    records: list[list[MetadataRecord]] = [
        [ClusterIdRecord("c1")],
        [
            TopicRecord("t", topic_id),
            PartitionRecord(topic_id, 0, (1,), (1,), 1, 0, 0),
        ],
    ]
    entries = [Entry(0, 1, b'{"leader":1}', control=True)]
    for rs in records:
        entries += proposal(len(entries), 1, *(encode_record(r) for r in rs))
    plog = PartitionLog.open(tmp_path / METADATA_LOG_DIR, METADATA_LOG_CONFIG)
    for batch in encode_entries(entries, timestamp_ms=0):
        plog.append(bytearray(batch), leader_epoch=1)
    plog.close()
    with MetadataLog.open(tmp_path) as mlog:
        image = mlog.image
        assert image.cluster_id == "c1"
        topic = image.topic("t")
        assert topic is not None and topic.topic_id == topic_id
