"""Metadata and control records in Kafka's binary format: round trips, bytes Kafka wrote,
malformed input."""

from __future__ import annotations

import functools
import uuid
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from metadata_strategies import records
from tidelog.metadata import frames
from tidelog.metadata.errors import MetadataError
from tidelog.metadata.records import (
    ClusterIdRecord,
    ConfigRecord,
    FeatureLevelRecord,
    MetadataRecord,
    NoOpRecord,
    PartitionRecord,
    ProducerIdsRecord,
    TopicRecord,
    decode_record,
    encode_record,
)
from tidelog.protocol.codec import compile_body
from tidelog.protocol.messages.kraft import LEADER_CHANGE, RECORDS
from tidelog.protocol.schema import MessageSchema
from tidelog.records.reader import iter_decoded_batches

KAFKA_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "kafka-logdir"
KAFKA_LOG = KAFKA_DIR / "__cluster_metadata-0" / "00000000000000000000.log"


@settings(max_examples=150, deadline=None)
@given(records)
def test_every_record_round_trips(record: MetadataRecord) -> None:
    data = encode_record(record)
    assert data[0] == frames.FRAME_VERSION
    assert decode_record(data) == record


@functools.cache
def _kafka_records(path: Path) -> tuple[int, list[tuple[bool, bytes | None, bytes]]]:
    batches = 0
    out = []
    for batch in iter_decoded_batches(path.read_bytes()):
        batches += 1
        for r in batch.records():
            assert r.value is not None
            out.append((batch.header.is_control, None if r.key is None else bytes(r.key),
                        bytes(r.value)))
    return batches, out


def test_every_record_kafka_wrote_decodes_and_encodes_to_the_same_bytes() -> None:
    batches, recs = _kafka_records(KAFKA_LOG)
    assert batches == 4814
    names: Counter[str] = Counter()
    for is_control, key, value in recs:
        if is_control:
            kind, body = frames.decode_control(key, value)
            assert frames.encode_control(kind, body) == (key, value)
            names["control"] += 1
            continue
        assert key is None
        rs, version, body = frames.decode_metadata(value)
        assert frames.encode_metadata(rs.api_key, version, body) == value
        names[rs.name] += 1
    assert names["NoOpRecord"] == 4801 and names["PartitionRecord"] == 54
    assert names["control"] == 1 and names["RegisterControllerRecord"] == 1
    assert len(names) == 14


def test_records_tidelog_keeps_decode_into_its_types() -> None:
    _, recs = _kafka_records(KAFKA_LOG)
    kept: Counter[type] = Counter()
    for is_control, _key, value in recs:
        if is_control:
            continue
        rs, _, _ = frames.decode_metadata(value)
        record = decode_record(value)  # every type Kafka wrote here is one tidelog reads
        kept[type(record)] += 1
        assert encode_record(record) == value or rs.name in {
            # fields tidelog does not keep (directories, features, log dirs, ZK readiness)
            "PartitionRecord", "PartitionChangeRecord", "RegisterBrokerRecord",
            "RegisterControllerRecord", "BrokerRegistrationChangeRecord"}  # or a version
        assert decode_record(encode_record(record)) == record
    assert kept[NoOpRecord] == 4801 and kept[PartitionRecord] == 54
    assert kept[TopicRecord] == 5 and kept[ProducerIdsRecord] == 1 and kept[ConfigRecord] == 3


def test_bootstrap_checkpoint_holds_header_feature_level_and_footer() -> None:
    batches, recs = _kafka_records(KAFKA_DIR / "bootstrap.checkpoint")
    assert batches == 3
    header, feature, footer = recs
    assert frames.decode_control(header[1], header[2])[0] == 3  # SnapshotHeader
    assert decode_record(feature[2]) == FeatureLevelRecord("metadata.version", 19)
    assert encode_record(FeatureLevelRecord("metadata.version", 19)) == feature[2]
    assert frames.decode_control(footer[1], footer[2])[0] == 4  # SnapshotFooter


def test_leader_change_is_what_kafka_writes() -> None:
    _, recs = _kafka_records(KAFKA_LOG)
    (key, value), = [(k, v) for c, k, v in recs if c]
    assert key == frames.control_key(LEADER_CHANGE)
    assert frames.leader_change_value(1, [1], [1]) == value


def test_cluster_id_is_a_noop_to_kafka() -> None:
    data = encode_record(ClusterIdRecord("q1w2e3r4t5y6u7i8o9p0"))
    assert data[:3] == b"\x01\x14\x00"  # frame 1, NoOpRecord (20), version 0
    # Kafka's NoOpRecord has no fields: its reader skips the unknown tagged field
    kafka_noop = MessageSchema("NoOpRecord", (), (0, 0x7FFF))
    assert compile_body(kafka_noop, 0).read_exact(memoryview(data), 3).to_dict() == {}
    assert decode_record(encode_record(NoOpRecord())) == NoOpRecord()


def test_golden_topic_record() -> None:
    tid = uuid.UUID("00000000-0000-0000-0000-000000000001")
    assert encode_record(TopicRecord("t", tid)).hex() == (
        "010200" + "0274" + "00" * 15 + "01" + "00")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "cut off"),
        (b"\x02\x02\x00", "frame version 2"),
        (b"\x01\x63\x00\x00", "unknown metadata record type 99"),
        (b"\x01\x02\x05\x00", "TopicRecord version 5 is outside"),
        (b'{"type":"topic"}', "needs converting"),
        (encode_record(NoOpRecord()) + b"\x00", "bytes left"),
        (b"\x01\x02\x00\x05ab", "TopicRecord v0"),
    ],
)  # fmt: skip
def test_malformed_values_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        decode_record(data)


def test_every_cut_of_every_record_type_raises_metadata_error() -> None:
    _, recs = _kafka_records(KAFKA_LOG)
    seen: set[int] = set()
    for is_control, _key, value in recs:
        if is_control or value[1] in seen:
            continue
        seen.add(value[1])
        for cut in range(len(value)):
            with pytest.raises(MetadataError):
                frames.decode_metadata(value[:cut])
    assert len(seen) == 13  # API keys (BrokerRegistrationChange comes in two versions)


def test_values_tidelog_refuses_name_the_field() -> None:
    bad = frames.encode_metadata(2, 0, {"name": "", "topic_id": uuid.uuid4()})
    with pytest.raises(MetadataError, match="name must not be empty"):
        decode_record(bad)
    with pytest.raises(MetadataError, match="cannot encode"):
        frames.encode_metadata(15, 0, {"broker_id": "x"})


def test_every_kafka_schema_encodes_its_defaults() -> None:
    for rs in RECORDS.values():
        for version in range(rs.versions[0], rs.versions[1] + 1):
            value = frames.encode_metadata(rs.api_key, version, {})
            assert frames.decode_metadata(value)[0] is rs
