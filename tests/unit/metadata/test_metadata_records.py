"""Metadata records: JSON round trips and strict rejection of malformed input."""

from __future__ import annotations

import uuid

import orjson
import pytest
from hypothesis import given, settings
from metadata_strategies import records
from tidelog.errors import TidelogError
from tidelog.metadata.errors import MetadataError
from tidelog.metadata.records import (
    RECORD_TYPES,
    ConfigRecord,
    Endpoint,
    MetadataRecord,
    PartitionChangeRecord,
    PartitionRecord,
    RegisterBrokerRecord,
    TopicRecord,
    decode_json_record,
    encode_json_record,
)
from tidelog.metadata.uuids import random_uuid, uuid_from_str, uuid_to_str

TID = uuid.UUID("0123456789abcdef0123456789abcdef")
TIDS = uuid_to_str(TID)


@settings(max_examples=120, deadline=None)
@given(records)
def test_round_trip(record: MetadataRecord) -> None:
    data = encode_json_record(record)
    assert decode_json_record(data) == record
    assert orjson.loads(data)["type"] == record.TYPE


def test_golden_encoding() -> None:
    record = TopicRecord("events", TID)
    assert orjson.loads(encode_json_record(record)) == {
        "type": "topic",
        "version": 0,
        "name": "events",
        "topic_id": "ASNFZ4mrze8BI0VniavN7w",
    }


def test_every_type_is_registered() -> None:
    assert set(RECORD_TYPES) == {
        "cluster_id", "topic", "partition", "partition_change", "remove_topic", "config",
        "register_broker", "unregister_broker", "producer_ids", "feature_level", "no_op",
        "user_scram_credential", "remove_user_scram_credential", "access_control_entry",
        "remove_access_control_entry", "fence_broker", "unfence_broker",
        "broker_registration_change", "register_controller", "zk_migration_state",
        "begin_transaction", "end_transaction", "abort_transaction", "client_quota",
    }  # fmt: skip


def test_unknown_optional_fields_are_ignored() -> None:
    obj = orjson.loads(encode_json_record(TopicRecord("t", TID)))
    obj["future_field"] = {"anything": [1, 2]}
    assert decode_json_record(orjson.dumps(obj)) == TopicRecord("t", TID)


def test_optional_fields_take_defaults() -> None:
    data = orjson.dumps(
        {"type": "partition", "version": 0, "topic_id": uuid_to_str(TID), "partition": 0,
         "replicas": [1], "isr": [1]}
    )  # fmt: skip
    record = decode_json_record(data)
    assert record == PartitionRecord(TID, 0, (1,), (1,))
    assert isinstance(record, PartitionRecord) and record.leader == -1


def _topic(**changes: object) -> bytes:
    obj: dict[str, object] = {"type": "topic", "version": 0, "name": "t", "topic_id": TIDS}
    obj.update(changes)
    return orjson.dumps({k: v for k, v in obj.items() if v is not ...})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"version": 0}', "no string 'type'"),
        (_topic(type="bogus"), "unknown metadata record type 'bogus'"),
        (_topic(version=...), "'version' must be"),
        (_topic(version=-1), "'version' must be"),
        (_topic(version=True), "'version' must be"),
        (_topic(version=1), "newer than"),
        (_topic(name=...), "missing field(s) name"),
        (_topic(name=5), "topic.name must be a string"),
        (_topic(name=""), "topic.name must not be empty"),
        (_topic(topic_id="short"), "not 22 base64url"),
        (_topic(topic_id=17), "must be a UUID string"),
        (_topic(topic_id="!!!!!!!!!!!!!!!!!!!!!!"), "not valid base64url"),
        (_topic(topic_id="ASNFZ4mrze8BI0VniavN7x"), "canonical"),
    ],
)
def test_malformed_topic_records(data: bytes, message: str) -> None:
    with pytest.raises(MetadataError) as info:
        decode_json_record(data)
    assert message in str(info.value)


def _partition(**changes: object) -> bytes:
    obj: dict[str, object] = {
        "type": "partition", "version": 0, "topic_id": uuid_to_str(TID), "partition": 0,
        "replicas": [1, 2], "isr": [1], "leader": 1,
    }  # fmt: skip
    obj.update(changes)
    return orjson.dumps(obj)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_partition(partition=-1), "outside"),
        (_partition(partition=1 << 31), "outside"),
        (_partition(partition=1.5), "must be an integer"),
        (_partition(partition=True), "must be an integer"),
        (_partition(replicas="1,2"), "must be a list"),
        (_partition(replicas=[1, "2"]), "replicas[1] must be an integer"),
        (_partition(replicas=[1, 1]), "duplicate"),
        (_partition(replicas=[]), "replicas must not be empty"),
        (_partition(isr=[3]), "not a subset"),
        (_partition(leader=2), "not in the isr"),
        (_partition(leader_epoch=-2), "outside"),
        (_partition(removing_replicas=None), "must be a list"),
    ],
)
def test_malformed_partition_records(data: bytes, message: str) -> None:
    with pytest.raises(MetadataError) as info:
        decode_json_record(data)
    assert message in str(info.value)


def _broker(**extra: object) -> dict[str, object]:
    obj: dict[str, object] = {
        "type": "register_broker", "version": 0, "broker_id": 1, "incarnation_id": uuid_to_str(TID)
    }  # fmt: skip
    obj.update(extra)
    return obj


@pytest.mark.parametrize(
    "obj",
    [
        {"type": "config", "version": 0, "resource_type": 3, "resource_name": "x", "name": "a",
         "value": "b"},
        {"type": "config", "version": 0, "resource_type": 2, "resource_name": "", "name": "a",
         "value": "b"},
        {"type": "config", "version": 0, "resource_type": 4, "resource_name": "x", "name": "a",
         "value": "b"},
        {"type": "config", "version": 0, "resource_type": 2, "resource_name": "t", "name": "a"},
        {"type": "config", "version": 0, "resource_type": 200, "resource_name": "t", "name": "a",
         "value": None},
        _broker(endpoints=[{"name": "PLAIN", "host": "h", "port": 70000}]),
        _broker(endpoints=[{"name": "PLAIN", "host": "h"}]),
        _broker(endpoints=["PLAIN://h:1"]),
        _broker(endpoints=[{"name": "A", "host": "h", "port": p} for p in (1, 2)]),
        _broker(fenced=1),
        {"type": "producer_ids", "version": 0, "broker_id": 1, "next_producer_id": -5},
        {"type": "producer_ids", "version": 0, "broker_id": 1, "next_producer_id": 1 << 63},
        {"type": "feature_level", "version": 0, "name": "metadata.version", "feature_level": -1},
        {"type": "partition_change", "version": 0, "topic_id": uuid_to_str(TID), "partition": 0,
         "leader": -3},
    ],
)  # fmt: skip
def test_malformed_other_records(obj: dict[str, object]) -> None:
    with pytest.raises(MetadataError):
        decode_json_record(orjson.dumps(obj))


def test_huge_integers_are_rejected_cleanly() -> None:
    with pytest.raises(MetadataError):
        decode_json_record(b'{"type":"producer_ids","version":0,"broker_id":1,'
                      b'"next_producer_id":123456789012345678901234567890}')  # fmt: skip


def test_constructor_validates_too() -> None:
    with pytest.raises(MetadataError):
        PartitionRecord(TID, 0, (1,), (2,), 1)
    with pytest.raises(MetadataError):
        TopicRecord("t", "not a uuid")  # type: ignore[arg-type]
    with pytest.raises(MetadataError):
        ConfigRecord(2, "t", "", "v")
    with pytest.raises(MetadataError):
        RegisterBrokerRecord(1, TID, endpoints=(Endpoint("", "h", 1),))
    with pytest.raises(MetadataError):
        PartitionChangeRecord(TID, 0, isr=[1])  # type: ignore[arg-type]


def test_metadata_error_is_a_tidelog_error() -> None:
    assert issubclass(MetadataError, TidelogError)


def test_uuid_text_form() -> None:
    assert uuid_to_str(TID) == "ASNFZ4mrze8BI0VniavN7w"
    assert uuid_from_str("ASNFZ4mrze8BI0VniavN7w") == TID
    for _ in range(50):
        value = random_uuid()
        text = uuid_to_str(value)
        assert len(text) == 22 and not text.startswith("-")
        assert value.int not in (0, 1)
        assert uuid_from_str(text) == value
