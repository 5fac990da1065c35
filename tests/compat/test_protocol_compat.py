"""Protocol details real clients depend on (issue 9, "Protocol"), each seen with an unmodified
client at its default settings: confluent-kafka (librdkafka 2.16), kafka-python, kcat."""

from __future__ import annotations

import time

import confluent_kafka as ck
from compat_common import TIMEOUT
from confluent_kafka.admin import AdminClient, NewTopic
from logd_harness import Logd


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
