"""kafka-python, unmodified with its defaults (idempotence on, acks=all): create a topic with
its admin client, produce and consume 100,000 records with keys and headers, restart logd in
the middle."""

from __future__ import annotations

import time

from compat_common import RECORDS, TIMEOUT
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from logd_harness import Logd


def produce(producer: KafkaProducer, start: int, stop: int) -> None:
    futures = [
        producer.send("kp", key=b"k%d" % (i % 3), value=b"kp-%06d" % i, partition=0,
                      headers=[("i", b"%d" % i)])
        for i in range(start, stop)
    ]
    producer.flush(TIMEOUT)
    offsets = [f.get(timeout=TIMEOUT).offset for f in futures]
    assert offsets == list(range(start, stop))


def test_kafka_python_round_trip_across_a_restart(logd: Logd) -> None:
    admin = KafkaAdminClient(bootstrap_servers=logd.bootstrap)
    admin.create_topics([NewTopic("kp", num_partitions=2, replication_factor=1)])
    assert "kp" in admin.list_topics()
    admin.close()
    producer = KafkaProducer(bootstrap_servers=logd.bootstrap, batch_size=256 * 1024,
                             linger_ms=5)
    half = RECORDS // 2
    produce(producer, 0, half)
    logd.restart()
    produce(producer, half, RECORDS)
    producer.close(TIMEOUT)

    consumer = KafkaConsumer(bootstrap_servers=logd.bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, group_id=None)
    tp = TopicPartition("kp", 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    got = []
    deadline = time.monotonic() + TIMEOUT
    while len(got) < RECORDS and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500, max_records=50_000).values():
            got.extend(records)
    consumer.close()
    assert len(got) == RECORDS
    assert [r.offset for r in got] == list(range(RECORDS))
    assert [r.value for r in got] == [b"kp-%06d" % i for i in range(RECORDS)]
    assert all(r.key == b"k%d" % (i % 3) for i, r in enumerate(got))
    assert got[7].headers == [("i", b"7")]
