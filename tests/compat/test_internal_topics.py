"""Internal topics with real clients: kcat and confluent-kafka may read ``__consumer_offsets``
but never write it (INVALID_TOPIC_EXCEPTION, Kafka's answer), and asking for it by name creates it
only as the broker does (offsets_topic_num_partitions partitions, 50 by default), never as a
client's one-partition topic. A forged offset-commit record therefore cannot rewind a group,
not even after a restart (when the broker replays the topic). (kafka-python refuses to send to
an internal topic on its own, so it only commits and reads here.)"""

from __future__ import annotations

import shutil
import subprocess

from compat_common import TIMEOUT
from logd_harness import Logd

OFFSETS = "__consumer_offsets"


def kcat(logd: Logd, *args: str, stdin: bytes | None = None
         ) -> subprocess.CompletedProcess[bytes]:
    exe = shutil.which("kcat")
    assert exe, "kcat is not installed (.ci/run installs it with apt-get)"
    return subprocess.run([exe, "-b", logd.bootstrap, *args], input=stdin,
                          capture_output=True, timeout=TIMEOUT, check=False)


def test_kcat_cannot_write_consumer_offsets_on_a_fresh_broker(logd: Logd) -> None:
    refused = kcat(logd, "-P", "-t", OFFSETS, stdin=b"v1\n")
    assert refused.returncode != 0
    assert b"Invalid topic" in refused.stderr, refused.stderr.decode()
    listing = kcat(logd, "-L", "-t", OFFSETS)
    assert listing.returncode == 0, listing.stderr.decode()
    assert f'topic "{OFFSETS}" with 50 partitions' in listing.stdout.decode()
    # Reading is allowed, and nothing of kcat's is there.
    read = kcat(logd, "-C", "-t", OFFSETS, "-e", "-q")
    assert read.returncode == 0, read.stderr.decode()
    assert read.stdout == b""


def test_confluent_kafka_forged_commit_cannot_rewind_a_group(logd: Logd) -> None:
    from confluent_kafka import KafkaError, Producer
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.structs import OffsetAndMetadata
    from tidelog.broker.groups.schema import (
        OffsetKey,
        OffsetValue,
        encode_offset_key,
        encode_offset_value,
        partition_for,
    )

    producer = KafkaProducer(bootstrap_servers=logd.bootstrap)
    for i in range(10):
        producer.send("orders", b"%d" % i, partition=0)
    producer.close()
    tp = TopicPartition("orders", 0)
    consumer = KafkaConsumer(bootstrap_servers=logd.bootstrap, group_id="billing",
                             enable_auto_commit=False)
    consumer.commit({tp: OffsetAndMetadata(8, "", -1)})
    assert consumer.committed(tp) == 8
    consumer.close()

    errors: list[KafkaError | None] = []
    forger = Producer({"bootstrap.servers": logd.bootstrap})
    forger.produce(OFFSETS, encode_offset_value(OffsetValue(0, -1, "", 0)),
                   key=encode_offset_key(OffsetKey("billing", "orders", 0)),
                   partition=partition_for("billing", 50),
                   on_delivery=lambda err, _msg: errors.append(err))
    assert forger.flush(TIMEOUT) == 0
    assert len(errors) == 1 and errors[0] is not None
    assert errors[0].code() == KafkaError.TOPIC_EXCEPTION, errors[0]
    del forger  # closes it: it must not keep connecting while logd restarts

    logd.restart()
    again = KafkaConsumer(bootstrap_servers=logd.bootstrap, group_id="billing",
                          enable_auto_commit=False)
    try:
        assert again.committed(tp) == 8
    finally:
        again.close()


def test_kafka_python_sees_only_kafkas_internal_topics_as_internal(shared_logd: Logd) -> None:
    """A user topic whose name starts with ``__`` is an ordinary topic, as in Kafka (only
    ``__consumer_offsets`` and ``__transaction_state`` are internal): kafka-python produces to
    it and commits on it, its admin client describes it as not internal and
    ``__consumer_offsets`` as internal, and log-topics list shows the one, not the other."""
    import os
    import sys
    from pathlib import Path

    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.structs import OffsetAndMetadata

    admin = KafkaAdminClient(bootstrap_servers=shared_logd.bootstrap)
    try:
        admin.create_topics([NewTopic("__mine", 1, 1)])
        producer = KafkaProducer(bootstrap_servers=shared_logd.bootstrap)
        try:
            producer.send("__mine", b"mine").get(TIMEOUT)
        finally:
            producer.close()
        # A commit makes the broker create __consumer_offsets, as its coordinator does.
        consumer = KafkaConsumer(bootstrap_servers=shared_logd.bootstrap, group_id="mine",
                                 enable_auto_commit=False)
        try:
            consumer.commit({TopicPartition("__mine", 0): OffsetAndMetadata(1, "", -1)})
        finally:
            consumer.close()
        described = {t["name"]: t["is_internal"]
                     for t in admin.describe_topics(["__mine", OFFSETS])}
    finally:
        admin.close()
    assert described == {"__mine": False, OFFSETS: True}
    env = {**os.environ, "TIDELOG_BOOTSTRAP": shared_logd.bootstrap}
    listed = subprocess.run([str(Path(sys.executable).parent / "log-topics"), "list"],
                            capture_output=True, text=True, env=env, timeout=TIMEOUT,
                            check=True).stdout.split()
    assert "__mine" in listed and OFFSETS not in listed
