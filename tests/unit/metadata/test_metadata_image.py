"""MetadataImage / MetadataDelta: replay rules, invariants and immutability."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tidelog.metadata import controller_ops as ops
from tidelog.metadata.errors import ControllerError, MetadataError
from tidelog.metadata.image import EMPTY_IMAGE, MetadataDelta, MetadataImage
from tidelog.metadata.records import (
    ClusterIdRecord,
    ConfigRecord,
    FeatureLevelRecord,
    MetadataRecord,
    NoOpRecord,
    PartitionChangeRecord,
    PartitionRecord,
    ProducerIdsRecord,
    RegisterBrokerRecord,
    RemoveTopicRecord,
    TopicRecord,
    UnregisterBrokerRecord,
)
from tidelog.storage.config import LogConfig

T1 = uuid.UUID(int=101)
T2 = uuid.UUID(int=102)


def _topic(name: str = "a", topic_id: uuid.UUID = T1, partitions: int = 2) -> list[MetadataRecord]:
    out: list[MetadataRecord] = [TopicRecord(name, topic_id)]
    out += [PartitionRecord(topic_id, p, (1, 2), (1, 2), 1) for p in range(partitions)]
    return out


def test_topic_and_partitions() -> None:
    image = EMPTY_IMAGE.apply_all(_topic())
    topic = image.topic("a")
    assert topic is not None and topic.topic_id == T1 and sorted(topic.partitions) == [0, 1]
    assert image.topic_by_id(T1) is topic
    assert image.partition("a", 1) is not None
    assert image.partition("a", 2) is None and image.partition("b", 0) is None
    assert image.topic_names() == ["a"]
    assert topic.topic_id_str == "AAAAAAAAAAAAAAAAAAAAZQ"


def test_apply_leaves_the_old_image_unchanged() -> None:
    before = EMPTY_IMAGE.apply_all(_topic())
    after = before.apply(PartitionChangeRecord(T1, 0, isr=(1,)))
    assert before.partition("a", 0).isr == (1, 2)  # type: ignore[union-attr]
    assert after.partition("a", 0).isr == (1,)  # type: ignore[union-attr]
    # Untouched maps are shared, not copied.
    assert after.brokers is before.brokers and after.configs is before.configs
    with pytest.raises(TypeError):
        after.topics_by_id[T2] = after.topics_by_id[T1]  # type: ignore[index]


def test_partition_change_epochs() -> None:
    image = EMPTY_IMAGE.apply_all(_topic())
    image = image.apply(PartitionChangeRecord(T1, 0, isr=(1,)))
    part = image.partition("a", 0)
    assert part is not None and (part.leader, part.leader_epoch, part.partition_epoch) == (1, 0, 1)
    image = image.apply(PartitionChangeRecord(T1, 0, leader=-1))
    part = image.partition("a", 0)
    assert part is not None and (part.leader, part.leader_epoch, part.partition_epoch) == (-1, 1, 2)
    image = image.apply(PartitionChangeRecord(T1, 0, isr=(1, 2), leader=2, replicas=(2, 1)))
    part = image.partition("a", 0)
    assert part is not None and (part.leader, part.leader_epoch, part.replicas) == (2, 2, (2, 1))


def test_remove_topic_drops_partitions_and_configs() -> None:
    image = EMPTY_IMAGE.apply_all([*_topic(), ConfigRecord(2, "a", "retention.ms", "5")])
    assert image.topic_configs("a") == {"retention.ms": "5"}
    image = image.apply(RemoveTopicRecord(T1))
    assert image.topic("a") is None and image.topic_configs("a") == {}
    assert image == EMPTY_IMAGE
    # The name and the id are free again.
    image = image.apply_all(_topic())
    assert image.topic("a") is not None


def test_configs_set_and_delete() -> None:
    image = EMPTY_IMAGE.apply_all(_topic())
    image = image.apply(ConfigRecord(2, "a", "retention.ms", "5"))
    image = image.apply(ConfigRecord(2, "a", "segment.bytes", "1000"))
    assert image.log_config("a").retention_ms == 5
    base = LogConfig(segment_ms=1234, retention_ms=99)
    effective = image.log_config("a", base)
    assert (effective.segment_ms, effective.retention_ms, effective.segment_bytes) == (
        1234,
        5,
        1000,
    )
    image = image.apply(ConfigRecord(2, "a", "retention.ms", None))
    assert image.topic_configs("a") == {"segment.bytes": "1000"}
    image = image.apply(ConfigRecord(2, "a", "segment.bytes", None))
    assert (2, "a") not in image.configs
    image = image.apply(ConfigRecord(4, "", "log.retention.ms", "7"))
    assert image.configs[(4, "")] == {"log.retention.ms": "7"}


def test_brokers_features_producer_ids_cluster_id() -> None:
    inc = uuid.UUID(int=5)
    image = EMPTY_IMAGE.apply_all(
        [
            ClusterIdRecord("c1"),
            RegisterBrokerRecord(1, inc, 0),
            FeatureLevelRecord("metadata.version", 20),
            ProducerIdsRecord(1, 1000),
            NoOpRecord(),
        ]
    )
    assert image.cluster_id == "c1" and image.brokers[1].incarnation_id == inc
    assert image.features == {"metadata.version": 20} and image.next_producer_id == 1000
    image = image.apply_all(
        [
            ClusterIdRecord("c1"),
            FeatureLevelRecord("metadata.version", 0),
            UnregisterBrokerRecord(1),
        ]
    )
    assert image.features == {} and image.brokers == {}


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([TopicRecord("a", T1), TopicRecord("a", T2)], "already exists"),
        ([TopicRecord("a", T1), TopicRecord("b", T1)], "already in use"),
        ([PartitionRecord(T1, 0, (1,), (1,), 1)], "unknown topic id"),
        ([TopicRecord("a", T1), PartitionRecord(T1, 1, (1,), (1,), 1)], "out of order"),
        ([*_topic(partitions=1), PartitionRecord(T1, 0, (1,), (1,), 1)], "out of order"),
        ([PartitionChangeRecord(T1, 0, isr=(1,))], "unknown topic id"),
        ([*_topic(), PartitionChangeRecord(T1, 5, isr=(1,))], "unknown partition 5"),
        ([*_topic(), PartitionChangeRecord(T1, 0, leader=3)], "not a replica"),
        ([*_topic(), PartitionChangeRecord(T1, 0, isr=(3,))], "not a subset"),
        ([*_topic(), PartitionChangeRecord(T1, 0, isr=(2,))], "not in the isr"),
        ([*_topic(), PartitionChangeRecord(T1, 0, replicas=())], "must not be empty"),
        ([RemoveTopicRecord(T1)], "unknown topic id"),
        ([ConfigRecord(2, "nope", "retention.ms", "1")], "unknown topic 'nope'"),
        ([UnregisterBrokerRecord(3)], "unknown broker 3"),
        ([ProducerIdsRecord(1, 1000), ProducerIdsRecord(1, 1000)], "does not advance"),
        ([ProducerIdsRecord(1, 0)], "does not advance"),
        ([ClusterIdRecord("a"), ClusterIdRecord("b")], "change it"),
    ],
)
def test_records_that_do_not_fit(records: list[MetadataRecord], message: str) -> None:
    with pytest.raises(MetadataError) as info:
        EMPTY_IMAGE.apply_all(records)
    assert message in str(info.value)


def test_unknown_record_class() -> None:
    class Strange(NoOpRecord):
        pass

    with pytest.raises(MetadataError):
        MetadataDelta(EMPTY_IMAGE).replay(Strange())


# A small random workload built from controller operations, for the replay property:
# (operation, topic name, a, b).
Step = tuple[str, str, int, int]
_op: st.SearchStrategy[Step] = st.tuples(
    st.sampled_from(["create", "delete", "grow", "config", "isr", "pids", "broker"]),
    st.sampled_from("abcd"),
    st.integers(0, 5),
    st.integers(1, 3),
)


def _records_for(image: MetadataImage, step: Step, n: int) -> list[MetadataRecord]:
    kind, name, a, b = step
    brokers = [1, 2, 3]
    topic = image.topic(name)
    if kind == "create":
        return ops.create_topic(image, name, a, b, {}, brokers, topic_id=uuid.UUID(int=1000 + n))
    if kind == "delete":
        return ops.delete_topic(image, name)
    if kind == "grow":
        total = (len(topic.partitions) if topic else 0) + a
        return ops.create_partitions(image, name, total, brokers)
    if kind == "config":
        change = ops.ConfigChange("retention.ms", ops.AlterConfigOp.SET, str(a * 1000))
        return ops.alter_configs(image, 2, name, [change])
    if kind == "isr":
        if topic is None or a not in topic.partitions:
            return []
        replicas = topic.partitions[a].replicas
        return [PartitionChangeRecord(topic.topic_id, a, isr=replicas[:1], leader=replicas[0])]
    if kind == "pids":
        return ops.allocate_producer_ids(image, b)[0]
    return [RegisterBrokerRecord(b, uuid.UUID(int=n + 7))]


def _workload(plan: list[Step]) -> list[list[MetadataRecord]]:
    image = EMPTY_IMAGE
    batches: list[list[MetadataRecord]] = []
    for n, step in enumerate(plan):
        try:
            records = _records_for(image, step, n)
        except ControllerError:
            continue
        image = image.apply_all(records)
        batches.append(records)
    return batches


@settings(max_examples=40, deadline=None)
@given(st.lists(_op, max_size=25), st.data())
def test_replay_equals_one_by_one(plan: list[Step], data: st.DataObject) -> None:
    batches = _workload(plan)
    flat = [r for batch in batches for r in batch]
    together = EMPTY_IMAGE.apply_all(flat)
    one_by_one = EMPTY_IMAGE
    for record in flat:
        one_by_one = one_by_one.apply(record)
    assert together == one_by_one
    # Any split into deltas gives the same image too.
    cuts = sorted(data.draw(st.lists(st.integers(0, len(flat)), max_size=4)))
    image: MetadataImage = EMPTY_IMAGE
    delta = MetadataDelta(image)
    start = 0
    for cut in [*cuts, len(flat)]:
        for record in flat[start:cut]:
            delta.replay(record)
        image = delta.apply()
        start = max(start, cut)
    assert image == together


def test_kafkas_fencing_records() -> None:
    from tidelog.metadata.records import (
        BeginTransactionRecord,
        BrokerRegistrationChangeRecord,
        EndTransactionRecord,
        FenceBrokerRecord,
        UnfenceBrokerRecord,
    )

    inc = uuid.uuid4()
    image = EMPTY_IMAGE.apply_all([RegisterBrokerRecord(1, inc, 7, fenced=True)])
    assert not image.apply_all([UnfenceBrokerRecord(1, 7)]).brokers[1].fenced
    assert image.apply_all([UnfenceBrokerRecord(1, 7), FenceBrokerRecord(1, 7)]).brokers[1].fenced
    unfenced = image.apply_all([BrokerRegistrationChangeRecord(1, 7, fenced=-1)])
    assert not unfenced.brokers[1].fenced
    assert unfenced.apply_all([BrokerRegistrationChangeRecord(1, 7, 0, 1)]) == unfenced
    assert unfenced.apply_all([BrokerRegistrationChangeRecord(1, 7, fenced=1)]).brokers[1].fenced
    assert image.apply_all([BeginTransactionRecord("x"), EndTransactionRecord()]) == image
    with pytest.raises(MetadataError, match="registered with epoch 7"):
        image.apply_all([UnfenceBrokerRecord(1, 6)])
    with pytest.raises(MetadataError, match="unknown broker 2"):
        image.apply_all([FenceBrokerRecord(2, 7)])
