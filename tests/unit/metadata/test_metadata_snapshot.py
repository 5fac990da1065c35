"""Metadata snapshots as Kafka's .checkpoint files: the image round trip, Kafka's own files,
torn and malformed snapshots."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_metadata_image import _op, _workload
from tidelog.metadata import frames
from tidelog.metadata.errors import MetadataError
from tidelog.metadata.image import EMPTY_IMAGE, MetadataDelta
from tidelog.metadata.records import (
    AccessControlEntryRecord,
    ClientQuotaRecord,
    ClusterIdRecord,
    ConfigRecord,
    FeatureLevelRecord,
    UserScramCredentialRecord,
    decode_record,
)
from tidelog.metadata.snapshot import (
    checkpoint_name,
    decode_checkpoint,
    encode_checkpoint,
    image_records,
    load_image,
)
from tidelog.records.reader import iter_decoded_batches

KAFKA_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "kafka-logdir"


@settings(max_examples=40, deadline=None)
@given(st.lists(_op, max_size=25))
def test_a_snapshot_rebuilds_the_image(plan: list[tuple[str, str, int, int]]) -> None:
    image = EMPTY_IMAGE
    for batch in _workload(plan):
        image = image.apply_all(batch)
    image = image.apply_all([
        ClusterIdRecord("c"), FeatureLevelRecord("metadata.version", 19),
        ConfigRecord(4, "", "log.retention.ms", "5"),
        UserScramCredentialRecord("u", 1, b"s", b"k", b"v", 4096),
        AccessControlEntryRecord(uuid.UUID(int=9), 2, "t", 3, "User:u", "*", 3, 3),
        ClientQuotaRecord((("client-id", None), ("user", "u")), "producer_byte_rate", 1024.0),
        ClientQuotaRecord((("user", None),), "request_percentage", 50.0),
    ])
    data = encode_checkpoint(image_records(image), epoch=3, last_timestamp=5, timestamp_ms=7)
    assert load_image(data) == image
    assert EMPTY_IMAGE.apply_all(list(image_records(image))) == image


def test_the_layout_is_kafkas() -> None:
    records = [ClusterIdRecord("c")] + [FeatureLevelRecord(f"f{i}", 1) for i in range(2500)]
    data = encode_checkpoint(records, epoch=4, last_timestamp=11, timestamp_ms=12)
    batches = list(iter_decoded_batches(data))
    assert [b.header.base_offset for b in batches] == [0, 1, 1001, 2001, 2502]
    assert all(b.header.partition_leader_epoch == 4 for b in batches)
    assert [b.header.is_control for b in batches] == [True, False, False, False, True]
    header = next(batches[0].records())
    assert frames.decode_control(header.key, header.value)[1].last_contained_log_timestamp == 11
    assert decode_checkpoint(data) == records
    assert checkpoint_name(4928, 1) == "00000000000000004928-0000000001.checkpoint"


def test_kafkas_bootstrap_checkpoint_is_read() -> None:
    data = (KAFKA_DIR / "bootstrap.checkpoint").read_bytes()
    assert decode_checkpoint(data) == [FeatureLevelRecord("metadata.version", 19)]
    assert load_image(data).features == {"metadata.version": 19}


def test_a_snapshot_of_kafkas_image_round_trips() -> None:
    delta = MetadataDelta(EMPTY_IMAGE)
    log = (KAFKA_DIR / "__cluster_metadata-0" / "00000000000000000000.log").read_bytes()
    for batch in iter_decoded_batches(log):
        if not batch.header.is_control:
            for r in batch.records():
                assert r.value is not None
                delta.replay(decode_record(r.value))
    image = delta.apply()
    assert load_image(encode_checkpoint(image_records(image), epoch=1, last_timestamp=0,
                                        timestamp_ms=0)) == image


def test_every_cut_of_a_snapshot_is_refused() -> None:
    data = encode_checkpoint([ClusterIdRecord("c"), FeatureLevelRecord("f", 1)], epoch=1,
                             last_timestamp=0, timestamp_ms=0)
    for cut in range(len(data)):
        with pytest.raises(MetadataError):
            decode_checkpoint(data[:cut])


def test_headers_and_footers_are_checked() -> None:
    def parts(records: list[FeatureLevelRecord]) -> list[bytes]:
        data = encode_checkpoint(records, epoch=1, last_timestamp=0, timestamp_ms=0)
        return [data[b.position:b.next_position] for b in iter_decoded_batches(data)]

    header, body, footer = parts([FeatureLevelRecord("f", 1)])
    with pytest.raises(MetadataError, match="not a SnapshotHeader"):
        decode_checkpoint(footer + body + footer)
    with pytest.raises(MetadataError, match="before the SnapshotHeader"):
        decode_checkpoint(body + footer)
    with pytest.raises(MetadataError, match="after the SnapshotFooter"):
        decode_checkpoint(header + footer + body)
    with pytest.raises(MetadataError, match="does not end with a SnapshotFooter"):
        decode_checkpoint(header + body)
