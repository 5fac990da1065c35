"""Controller operations: the records they produce and every refusal with its Kafka error."""

from __future__ import annotations

import uuid

import pytest
from tidelog.metadata import controller_ops as ops
from tidelog.metadata.controller_ops import AlterConfigOp, ConfigChange
from tidelog.metadata.errors import ControllerError
from tidelog.metadata.image import EMPTY_IMAGE, MetadataImage
from tidelog.metadata.records import ConfigRecord, PartitionRecord, ProducerIdsRecord, TopicRecord

BROKERS = [1, 2, 3]


def _image_with(
    name: str = "t", partitions: int = 2, rf: int = 2, configs: dict[str, str | None] | None = None
) -> MetadataImage:
    records = ops.create_topic(EMPTY_IMAGE, name, partitions, rf, configs or {}, BROKERS)
    return EMPTY_IMAGE.apply_all(records)


def _refused(error: str, fn: object, *args: object, **kwargs: object) -> ControllerError:
    with pytest.raises(ControllerError) as info:
        fn(*args, **kwargs)  # type: ignore[operator]
    assert info.value.error_name == error, str(info.value)
    return info.value


def test_create_topic_records() -> None:
    tid = uuid.UUID(int=77)
    records = ops.create_topic(
        EMPTY_IMAGE, "orders", 3, 2, {"retention.ms": "100"}, BROKERS, topic_id=tid, start=1
    )
    assert records[0] == TopicRecord("orders", tid)
    assert records[1] == ConfigRecord(2, "orders", "retention.ms", "100")
    parts = records[2:]
    assert [p.partition for p in parts if isinstance(p, PartitionRecord)] == [0, 1, 2]
    assert [p.replicas for p in parts if isinstance(p, PartitionRecord)] == [
        (2, 3), (3, 1), (1, 2),
    ]  # fmt: skip
    for p in parts:
        assert isinstance(p, PartitionRecord)
        assert p.isr == p.replicas and p.leader == p.replicas[0] and p.leader_epoch == 0
    image = EMPTY_IMAGE.apply_all(records)
    assert image.log_config("orders").retention_ms == 100


def test_create_topic_defaults_and_random_id() -> None:
    records = ops.create_topic(
        EMPTY_IMAGE, "x", -1, -1, {}, [4], default_partitions=3, default_replication_factor=1
    )
    assert len(records) == 4
    again = ops.create_topic(EMPTY_IMAGE, "x", 1, 1, {}, [4])
    assert isinstance(records[0], TopicRecord) and isinstance(again[0], TopicRecord)
    assert records[0].topic_id != again[0].topic_id


@pytest.mark.parametrize(
    "name",
    ["", ".", "..", "a" * 250, "has space", "slash/y", "ünïcode", "__cluster_metadata"],
)
def test_invalid_topic_names(name: str) -> None:
    err = _refused("INVALID_TOPIC_EXCEPTION", ops.create_topic, EMPTY_IMAGE, name, 1, 1, {}, [1])
    assert err.error_code == 17


def test_legal_edge_names() -> None:
    for name in ["a" * 249, "A-z_0.9", "...", "__consumer_offsets"]:
        ops.create_topic(EMPTY_IMAGE, name, 1, 1, {}, [1])


def test_topic_already_exists_and_collision() -> None:
    image = _image_with("my.topic")
    err = _refused("TOPIC_ALREADY_EXISTS", ops.create_topic, image, "my.topic", 1, 1, {}, [1])
    assert err.error_code == 36
    err = _refused("INVALID_TOPIC_EXCEPTION", ops.create_topic, image, "my_topic", 1, 1, {}, [1])
    assert "collides" in str(err)


@pytest.mark.parametrize("partitions", [0, -2, ops.MAX_PARTITIONS + 1])
def test_invalid_partitions(partitions: int) -> None:
    err = _refused("INVALID_PARTITIONS", ops.create_topic, EMPTY_IMAGE, "t", partitions, 1, {}, [1])
    assert err.error_code == 37


@pytest.mark.parametrize(("rf", "brokers"), [(0, [1]), (-2, [1]), (2, [1]), (1, [])])
def test_invalid_replication_factor(rf: int, brokers: list[int]) -> None:
    err = _refused(
        "INVALID_REPLICATION_FACTOR", ops.create_topic, EMPTY_IMAGE, "t", 1, rf, {}, brokers
    )
    assert err.error_code == 38


@pytest.mark.parametrize(
    "configs",
    [
        {"retention.ms": "soon"},
        {"segment.bytes": "1"},
        {"no.such.config": "1"},
        {"cleanup.policy": "forever"},
        {"min.insync.replicas": "0"},
        {"compression.type": "brotli"},
        {"unclean.leader.election.enable": "maybe"},
        {"min.cleanable.dirty.ratio": "2"},
        {"retention.ms": None},
    ],
)
def test_invalid_configs(configs: dict[str, str | None]) -> None:
    err = _refused("INVALID_CONFIG", ops.create_topic, EMPTY_IMAGE, "t", 1, 1, configs, [1])
    assert err.error_code == 40


def test_delete_topic() -> None:
    image = _image_with()
    topic = image.topic("t")
    assert topic is not None
    by_name = ops.delete_topic(image, "t")
    assert ops.delete_topic(image, topic_id=topic.topic_id) == by_name
    assert EMPTY_IMAGE.apply_all([]) == image.apply_all(by_name)
    _refused("UNKNOWN_TOPIC_OR_PARTITION", ops.delete_topic, image, "nope")
    err = _refused("UNKNOWN_TOPIC_ID", ops.delete_topic, image, topic_id=uuid.UUID(int=9))
    assert err.error_code == 100
    _refused("INVALID_REQUEST", ops.delete_topic, image)
    _refused("INVALID_REQUEST", ops.delete_topic, image, "t", topic_id=topic.topic_id)


def test_create_partitions() -> None:
    image = _image_with(partitions=2, rf=2)
    records = ops.create_partitions(image, "t", 4, BROKERS)
    assert [r.partition for r in records if isinstance(r, PartitionRecord)] == [2, 3]
    assert all(isinstance(r, PartitionRecord) and len(r.replicas) == 2 for r in records)
    image = image.apply_all(records)
    topic = image.topic("t")
    assert topic is not None and len(topic.partitions) == 4
    _refused("UNKNOWN_TOPIC_OR_PARTITION", ops.create_partitions, image, "nope", 5, BROKERS)
    _refused("INVALID_PARTITIONS", ops.create_partitions, image, "t", 4, BROKERS)
    _refused("INVALID_PARTITIONS", ops.create_partitions, image, "t", 3, BROKERS)
    _refused(
        "INVALID_PARTITIONS", ops.create_partitions, image, "t", ops.MAX_PARTITIONS + 1, BROKERS
    )
    _refused("INVALID_REPLICATION_FACTOR", ops.create_partitions, image, "t", 5, [1])


def test_alter_configs_set_delete_append_subtract() -> None:
    image = _image_with(configs={"retention.ms": "100"})
    records = ops.alter_configs(
        image,
        2,
        "t",
        [
            ConfigChange("retention.ms", AlterConfigOp.DELETE),
            ConfigChange("segment.bytes", AlterConfigOp.SET, "2000"),
            ConfigChange("cleanup.policy", AlterConfigOp.APPEND, "compact"),
        ],
    )
    assert records == [
        ConfigRecord(2, "t", "cleanup.policy", "delete,compact"),
        ConfigRecord(2, "t", "retention.ms", None),
        ConfigRecord(2, "t", "segment.bytes", "2000"),
    ]
    image = image.apply_all(records)
    records = ops.alter_configs(
        image, 2, "t", [ConfigChange("cleanup.policy", AlterConfigOp.SUBTRACT, "delete")]
    )
    assert records == [ConfigRecord(2, "t", "cleanup.policy", "compact")]
    # Setting a value to what it already is changes nothing.
    same = ops.alter_configs(
        image, 2, "t", [ConfigChange("segment.bytes", AlterConfigOp.SET, "2000")]
    )
    assert same == []
    assert ops.alter_configs(image, 2, "t", [ConfigChange("x.y", AlterConfigOp.DELETE)]) == []


def test_alter_configs_refusals() -> None:
    image = _image_with()
    set_ = AlterConfigOp.SET
    _refused("UNKNOWN_TOPIC_OR_PARTITION", ops.alter_configs, image, 2, "nope", [])
    _refused("INVALID_REQUEST", ops.alter_configs, image, 8, "x", [])
    _refused("INVALID_REQUEST", ops.alter_configs, image, 4, "b1", [])
    twice = [ConfigChange("retention.ms", set_, "1"), ConfigChange("retention.ms", set_, "2")]
    _refused("INVALID_REQUEST", ops.alter_configs, image, 2, "t", twice)
    for change in [
        ConfigChange("retention.ms", set_, "x"),
        ConfigChange("retention.ms", set_, None),
        ConfigChange("", set_, "1"),
        ConfigChange("unknown.config", set_, "1"),
        ConfigChange("retention.ms", AlterConfigOp.APPEND, "1"),
        ConfigChange("cleanup.policy", AlterConfigOp.APPEND, "bogus"),
    ]:
        _refused("INVALID_CONFIG", ops.alter_configs, image, 2, "t", [change])


def test_alter_broker_configs() -> None:
    change = [ConfigChange("log.retention.ms", AlterConfigOp.SET, "5")]
    records = ops.alter_configs(EMPTY_IMAGE, 4, "", change)
    assert records == [ConfigRecord(4, "", "log.retention.ms", "5")]
    allowed = frozenset({"log.retention.ms"})
    assert ops.alter_configs(EMPTY_IMAGE, 4, "1", change, valid_broker_configs=allowed)
    bad = [ConfigChange("no.such", AlterConfigOp.SET, "5")]
    _refused(
        "INVALID_CONFIG", ops.alter_configs, EMPTY_IMAGE, 4, "", bad, valid_broker_configs=allowed
    )


def test_allocate_producer_ids() -> None:
    records, block = ops.allocate_producer_ids(EMPTY_IMAGE, 1)
    assert (block.first, block.size, block.next_block_start) == (0, 1000, 1000)
    assert records == [ProducerIdsRecord(1, 1000)]
    image = EMPTY_IMAGE.apply_all(records)
    records, block = ops.allocate_producer_ids(image, 2, 10)
    assert (block.broker_id, block.first, block.size) == (2, 1000, 10)
    assert EMPTY_IMAGE.apply_all(records).next_producer_id == 1010
    _refused("INVALID_REQUEST", ops.allocate_producer_ids, image, 1, 0)
    full = EMPTY_IMAGE.apply(ProducerIdsRecord(1, (1 << 63) - 5))
    _refused("INVALID_REQUEST", ops.allocate_producer_ids, full, 1, 10)
