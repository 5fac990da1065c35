"""Protocol details real clients depend on (issue 9, "Protocol"), each seen with an unmodified
client at its default settings: confluent-kafka (librdkafka 2.16), kafka-python, kcat."""

from __future__ import annotations

import time

import confluent_kafka as ck
import kafka
from compat_common import TIMEOUT
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec
from kafka_wire import WireClient, produce_body
from logd_harness import Logd
from tidelog.protocol import ApiKey
from tidelog.records.builder import build_batch
from tidelog.records.record import NewRecord


def _create_topics(admin: AdminClient, *names: str, partitions: int = 1) -> None:
    futures = admin.create_topics([NewTopic(n, num_partitions=partitions) for n in names])
    for future in futures.values():
        future.result(TIMEOUT)


def test_confluent_kafka_lists_all_topics(shared_logd: Logd) -> None:
    # librdkafka sends an all-topics Metadata v12 with 3 bytes after the body (its issue
    # 5049); Kafka ignores them, and so must logd, or list_topics() fails.
    admin = AdminClient({"bootstrap.servers": shared_logd.bootstrap})
    _create_topics(admin, "lt-one", "lt-two")
    listed = admin.list_topics(timeout=TIMEOUT)
    assert {"lt-one", "lt-two"} <= set(listed.topics)
    assert listed.topics["lt-one"].error is None
    consumer = ck.Consumer({"bootstrap.servers": shared_logd.bootstrap, "group.id": "lt"})
    try:
        listed = consumer.list_topics(timeout=TIMEOUT)
        assert {"lt-one", "lt-two"} <= set(listed.topics)
    finally:
        consumer.close()


def test_confluent_kafka_subscribes_by_regex(shared_logd: Logd) -> None:
    admin = AdminClient({"bootstrap.servers": shared_logd.bootstrap})
    _create_topics(admin, "rx-a", "rx-b", "other-rx")
    producer = ck.Producer({"bootstrap.servers": shared_logd.bootstrap})
    for topic in ("rx-a", "rx-b", "other-rx"):
        producer.produce(topic, value=topic.encode())
    assert producer.flush(TIMEOUT) == 0
    consumer = ck.Consumer({
        "bootstrap.servers": shared_logd.bootstrap, "group.id": "rx-group",
        "auto.offset.reset": "earliest",
    })
    got: set[str] = set()
    try:
        consumer.subscribe(["^rx-.*"])
        deadline = time.monotonic() + TIMEOUT
        while got != {"rx-a", "rx-b"} and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            got.add(msg.value().decode())
    finally:
        consumer.close()
    assert got == {"rx-a", "rx-b"}


def _two_stamped_records(logd: Logd, topic: str) -> None:
    """One batch (built here so that both records surely share it) of two records with
    timestamps 1234 and 999999999999 at offsets 0 and 1."""
    _create_topics(AdminClient({"bootstrap.servers": logd.bootstrap}), topic)
    batch = build_batch([NewRecord(b"old", timestamp=1234),
                         NewRecord(b"new", timestamp=999_999_999_999)])
    with WireClient(logd.bootstrap) as c:
        answer = c.request(ApiKey.PRODUCE, 7, produce_body(topic, batch))
    assert answer.responses[0].partition_responses[0].error_code == 0


def test_kafka_python_offsets_for_times_lands_on_the_record(shared_logd: Logd) -> None:
    _two_stamped_records(shared_logd, "kp-times")
    tp = kafka.TopicPartition("kp-times", 0)
    consumer = kafka.KafkaConsumer(bootstrap_servers=shared_logd.bootstrap)
    try:
        found = consumer.offsets_for_times({tp: 1235})[tp]
        assert (found.offset, found.timestamp) == (1, 999_999_999_999)  # Kafka's answer
        found = consumer.offsets_for_times({tp: 1234})[tp]
        assert (found.offset, found.timestamp) == (0, 1234)
        assert consumer.offsets_for_times({tp: 10**12})[tp] is None
    finally:
        consumer.close()


def test_confluent_kafka_max_timestamp_is_the_record_holding_it(shared_logd: Logd) -> None:
    # ListOffsets -3 (KIP-734): the offset of the record with the largest timestamp.
    _two_stamped_records(shared_logd, "ck-max-ts")
    admin = AdminClient({"bootstrap.servers": shared_logd.bootstrap})
    tp = ck.TopicPartition("ck-max-ts", 0)
    result = admin.list_offsets({tp: OffsetSpec.max_timestamp()})[tp].result(TIMEOUT)
    assert (result.offset, result.timestamp) == (1, 999_999_999_999)
    result = admin.list_offsets({tp: OffsetSpec.for_timestamp(1235)})[tp].result(TIMEOUT)
    assert (result.offset, result.timestamp) == (1, 999_999_999_999)
