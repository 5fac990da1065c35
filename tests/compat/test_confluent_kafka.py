"""confluent-kafka (librdkafka), unmodified: default settings with 100,000 records and a logd
restart in the middle; every compression codec with idempotence on, keys and headers."""

from __future__ import annotations

import time

import confluent_kafka as ck
import pytest
from compat_common import RECORDS, TIMEOUT
from kafka_wire import WireClient, fetch_body
from logd_harness import Logd
from tidelog.protocol import ApiKey
from tidelog.records.batch_header import iter_batches

CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def consume(logd: Logd, topic: str, count: int) -> list[ck.Message]:
    consumer = ck.Consumer({
        "bootstrap.servers": logd.bootstrap, "group.id": "unused",
        "enable.auto.commit": False, "auto.offset.reset": "earliest",
    })
    consumer.assign([ck.TopicPartition(topic, 0, ck.OFFSET_BEGINNING)])
    got: list[ck.Message] = []
    deadline = time.monotonic() + TIMEOUT
    try:
        while len(got) < count and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=10_000, timeout=1.0):
                assert msg.error() is None, msg.error()
                got.append(msg)
    finally:
        consumer.close()
    return got


def produce(producer: ck.Producer, topic: str, start: int, stop: int, **kwargs: object) -> None:
    for i in range(start, stop):
        while True:
            try:
                producer.produce(topic, value=b"value-%06d" % i, **kwargs)  # type: ignore[arg-type]
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(TIMEOUT) == 0


def test_default_settings_across_a_restart(logd: Logd) -> None:
    errors: list[object] = []
    producer = ck.Producer({"bootstrap.servers": logd.bootstrap, "error_cb": errors.append})
    delivered = []

    def on_delivery(err: object, msg: ck.Message) -> None:
        assert err is None, err
        delivered.append(msg.offset())

    half = RECORDS // 2
    produce(producer, "ck-default", 0, half, on_delivery=on_delivery)
    logd.restart()
    produce(producer, "ck-default", half, RECORDS, on_delivery=on_delivery)
    assert sorted(delivered) == list(range(RECORDS))
    got = consume(logd, "ck-default", RECORDS)
    assert [m.value() for m in got] == [b"value-%06d" % i for i in range(RECORDS)]
    assert [m.offset() for m in got] == list(range(RECORDS))


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_every_codec_idempotent_with_keys_and_headers(shared_logd: Logd, codec: str) -> None:
    logd = shared_logd
    topic = f"ck-{codec}"
    count = 20_000
    producer = ck.Producer({
        "bootstrap.servers": logd.bootstrap, "compression.type": codec,
        "enable.idempotence": True, "linger.ms": 5,
    })
    for i in range(count):
        while True:
            try:
                producer.produce(topic, key=b"key-%d" % (i % 7), value=b"v%d" % i,
                                 headers=[("n", b"%d" % i), ("codec", codec.encode())])
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(TIMEOUT) == 0
    got = consume(logd, topic, count)
    assert len(got) == count
    for i, msg in enumerate(got):
        assert msg.key() == b"key-%d" % (i % 7)
        assert msg.value() == b"v%d" % i
        assert msg.headers() == [("n", b"%d" % i), ("codec", codec.encode())]
    # Stored as the producer sent it: compressed with the codec (librdkafka sends a batch
    # uncompressed when compressing does not shrink it), with a producer id.
    with WireClient(logd.bootstrap) as c:
        res = c.request(ApiKey.FETCH, 11, fetch_body(topic, 0))
    headers = [h for _, h in iter_batches(bytes(res.responses[0].partitions[0].records))]
    assert CODEC_IDS[codec] in {h.compression for h in headers}
    assert headers[0].producer_id >= 0 and headers[0].base_sequence == 0
