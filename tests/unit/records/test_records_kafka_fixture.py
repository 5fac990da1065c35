"""Segments written by a real Apache Kafka broker decode fully, and re-encode byte for byte.

Fixtures: ``tests/fixtures/kafka-logdir``, a copy of the team's shared fixtures (read only: each
test copies what it reads into a temporary directory). ``TestTopicPatient-0`` holds 3
idempotent single-record batches of JSON documents (the first with ``//`` comments, as in the
FHIR example it copies); ``__cluster_metadata-0`` holds the KRaft metadata log (one
LeaderChange control batch, then metadata records framed as version 1).
"""

from __future__ import annotations

import json
import re
import shutil
import struct
from pathlib import Path

import pytest
from tidelog.records import (
    DecodedBatch,
    NewRecord,
    build_batch,
    iter_batches,
    iter_decoded_batches,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "kafka-logdir"
SEGMENT = "00000000000000000000.log"

# Kafka's KRaft control record type for a leader change (key: int16 version, int16 type).
LEADER_CHANGE = 2


def _parse_json(value: bytes) -> dict[str, object]:
    # The first document is a FHIR example with "//" comments after values; drop those (a
    # comment follows whitespace, unlike the "//" of a URL) and parse the rest strictly.
    text = re.sub(r"(?m)(?<=\s)//[^\n]*", "", value.decode("utf-8"))
    document = json.loads(text)
    assert isinstance(document, dict)
    return document


def _load(tmp_path: Path, partition: str) -> bytes:
    src = FIXTURES / partition / SEGMENT
    dst = tmp_path / SEGMENT
    shutil.copyfile(src, dst)
    return dst.read_bytes()


def _rebuild(buf: bytes, batch: DecodedBatch) -> bytes:
    h = batch.header
    records = [NewRecord(r.value, r.key, r.headers, r.timestamp) for r in batch.records()]
    return build_batch(
        records,
        base_offset=h.base_offset,
        compression=h.compression,
        producer_id=h.producer_id,
        producer_epoch=h.producer_epoch,
        base_sequence=h.base_sequence,
        partition_leader_epoch=h.partition_leader_epoch,
        is_transactional=h.is_transactional,
        is_control=h.is_control,
        timestamp_type=h.timestamp_type,
    )


def test_patient_topic(tmp_path: Path) -> None:
    buf = _load(tmp_path, "TestTopicPatient-0")
    batches = list(iter_decoded_batches(buf))
    assert len(batches) == 3
    assert batches[-1].next_position == len(buf)
    timestamps = []
    for expected_offset, batch in enumerate(batches):
        h = batch.header
        assert h.base_offset == expected_offset and h.records_count == 1
        assert (h.producer_id, h.producer_epoch, h.base_sequence) == (expected_offset + 1, 0, 0)
        assert h.partition_leader_epoch == 0 and h.compression_name == "none"
        assert not h.is_transactional and not h.is_control
        (record,) = batch.records()
        assert record.offset == expected_offset
        assert record.key is None and record.headers == ()
        assert record.sequence == 0
        assert record.timestamp == h.base_timestamp == h.max_timestamp
        assert record.size == h.size - 61
        assert record.value is not None
        document = _parse_json(record.value)
        assert document["resourceType"] in ("Patient", "Bundle")
        timestamps.append(record.timestamp)
    assert timestamps == sorted(timestamps)


def test_cluster_metadata_log(tmp_path: Path) -> None:
    buf = _load(tmp_path, "__cluster_metadata-0")
    next_offset = 0
    batches = 0
    records = 0
    control = []
    for batch in iter_decoded_batches(buf):
        h = batch.header
        assert h.base_offset == next_offset
        assert h.partition_leader_epoch == 1 and h.producer_id == -1
        decoded = list(batch.records())
        assert [r.offset for r in decoded] == list(range(h.base_offset, h.next_offset))
        if h.is_control:
            control.append(decoded)
        else:
            # Metadata records: no key, value framed as version 1 (an unsigned varint).
            assert all(r.key is None and r.value and r.value[0] == 1 for r in decoded)
        next_offset = h.next_offset
        batches += 1
        records += len(decoded)
        end = batch.next_position
    assert end == len(buf)
    assert (batches, records, next_offset) == (4814, 4929, 4929)
    assert len(control) == 1
    ((leader_change,),) = control
    assert leader_change.key is not None
    assert struct.unpack(">hh", leader_change.key) == (0, LEADER_CHANGE)


@pytest.mark.parametrize("partition", ["TestTopicPatient-0", "__cluster_metadata-0"])
def test_reencoding_is_byte_identical(tmp_path: Path, partition: str) -> None:
    # Our builder writes exactly what Kafka's Java client and KRaft controller wrote.
    buf = _load(tmp_path, partition)
    positions = [pos for pos, _ in iter_batches(buf)]
    for batch in iter_decoded_batches(buf):
        assert _rebuild(buf, batch) == buf[batch.position : batch.next_position]
    assert len(positions) in (3, 4814)
