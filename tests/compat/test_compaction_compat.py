"""Compacted topics with unmodified clients: kcat writes keys and tombstones (-Z), the cleaner
compacts, kcat and confluent-kafka (default settings) read the latest value per key with the
original offsets; a consumer group's offsets survive the compaction of __consumer_offsets and a
restart; a record without a key is refused with INVALID_RECORD."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import confluent_kafka as ck
import kafka
import pytest
from compat_common import TIMEOUT
from confluent_kafka.admin import AdminClient, NewTopic
from logd_harness import Logd
from test_kcat import kcat

T = TypeVar("T")
#: A broker whose cleaner looks for work every 50 ms instead of every 15 s.
FAST_CLEANER = {"TIDELOG_LOG_CLEANER_BACKOFF_MS": "50"}
COMPACTED = {
    "cleanup.policy": "compact", "segment.bytes": "1024", "min.cleanable.dirty.ratio": "0.01",
    "delete.retention.ms": "0",
}  # fmt: skip


def wait_for(what: str, probe: Callable[[], T], done: Callable[[T], bool]) -> T:
    deadline = time.monotonic() + TIMEOUT
    while True:
        value = probe()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}; last: {value!r}"
        time.sleep(0.2)


@pytest.fixture
def cleaning_logd(tmp_path: Path) -> Logd:
    broker = Logd(tmp_path, env=dict(FAST_CLEANER, TIDELOG_LOG_SEGMENT_BYTES="4096")).start()
    yield broker  # type: ignore[misc]
    try:
        if broker.running:
            assert broker.stop() == 0, broker.log()
    finally:
        broker.kill()
        print(broker.log())


def create(logd: Logd, topic: str, configs: dict[str, str]) -> None:
    admin = AdminClient({"bootstrap.servers": logd.bootstrap})
    futures = admin.create_topics([NewTopic(topic, 1, 1, config=configs)])
    futures[topic].result(TIMEOUT)


def test_kcat_and_confluent_kafka_read_a_compacted_topic(cleaning_logd: Logd) -> None:
    logd = cleaning_logd
    create(logd, "table", COMPACTED)
    # 10 keys, 30 versions each, one kcat call per version so the log has many segments;
    # key k3 is deleted at the end with a tombstone (-Z: an empty value is sent as null).
    expected: dict[bytes, tuple[int, bytes]] = {}
    offset = 0
    for version in range(30):
        lines = b"".join(b"k%d:v%d-%d\n" % (k, k, version) for k in range(10))
        kcat(logd, "-P", "-t", "table", "-K:", stdin=lines)
        for k in range(10):
            expected[b"k%d" % k] = (offset, b"v%d-%d" % (k, version))
            offset += 1
    kcat(logd, "-P", "-t", "table", "-K:", "-Z", stdin=b"k3:\n")
    del expected[b"k3"]
    offset += 1
    # Bigger than segment.bytes: it rolls, so everything before it is in inactive segments,
    # which the cleaner may touch (it never touches the active one).
    big = b"x" * 1100
    kcat(logd, "-P", "-t", "table", "-K:", stdin=b"last:" + big + b"\n")
    expected[b"last"] = (offset, big)

    def kcat_table() -> list[bytes]:
        out = kcat(logd, "-C", "-t", "table", "-e", "-q", "-Z", "-f", "%o %k=%s\n")
        return out.splitlines()

    want = sorted(b"%d %s=%s" % (o, k, v) for k, (o, v) in expected.items())
    got = wait_for("compaction", kcat_table, lambda lines: sorted(lines) == want)
    assert got == sorted(got, key=lambda line: int(line.split()[0]))  # offsets in order

    # The cleaner's view through DescribeLogDirs: cleaned up to the active segment.
    described = subprocess.run(
        [str(Path(sys.executable).parent / "log-topics"), "-b", logd.bootstrap, "describe",
         "table", "--cleaner", "--json"], capture_output=True, timeout=TIMEOUT, check=True,
    )
    view = json.loads(described.stdout)["partitions"][0]["cleaner"]
    assert view["compacted"] and view["last_cleaned_ms"] is not None and view["error"] is None
    assert view["first_dirty_offset"] == offset and view["dirty_ratio"] == 0.0

    consumer = ck.Consumer({
        "bootstrap.servers": logd.bootstrap, "group.id": "table-reader",
        "auto.offset.reset": "earliest", "enable.partition.eof": True,
    })
    consumer.subscribe(["table"])
    seen: list[tuple[int, bytes, bytes]] = []
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error() is not None:
                assert msg.error().code() == ck.KafkaError._PARTITION_EOF, msg.error()
                break
            seen.append((msg.offset(), msg.key(), msg.value()))
    finally:
        consumer.close()
    assert sorted((k, (o, v)) for o, k, v in seen) == sorted(expected.items())

    # kafka-python (default settings) too: empty batches the cleaner leaves are skipped.
    kp = kafka.KafkaConsumer(bootstrap_servers=logd.bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, group_id=None)
    tp = kafka.TopicPartition("table", 0)
    kp.assign([tp])
    kp.seek_to_beginning(tp)
    got_kp: list[tuple[int, bytes, bytes]] = []
    deadline = time.monotonic() + TIMEOUT
    try:
        while len(got_kp) < len(expected) and time.monotonic() < deadline:
            for batch in kp.poll(timeout_ms=1000).values():
                got_kp.extend((m.offset, m.key, m.value) for m in batch)
    finally:
        kp.close()
    assert got_kp == sorted(seen)

    # A record without a key has no place in a compacted topic.
    producer = ck.Producer({"bootstrap.servers": logd.bootstrap})
    errors: list[ck.KafkaError] = []
    producer.produce("table", value=b"no key",
                     on_delivery=lambda err, msg: errors.append(err))
    producer.flush(TIMEOUT)
    assert len(errors) == 1 and errors[0] is not None
    assert errors[0].code() == ck.KafkaError.INVALID_RECORD


def test_group_offsets_survive_compaction_of_consumer_offsets_and_a_restart(
    cleaning_logd: Logd,
) -> None:
    logd = cleaning_logd
    kcat(logd, "-P", "-t", "events", stdin=b"".join(b"e%d\n" % i for i in range(500)))
    consumer = ck.Consumer({
        "bootstrap.servers": logd.bootstrap, "group.id": "committer",
        "enable.auto.commit": False, "auto.offset.reset": "earliest",
    })
    tp = ck.TopicPartition("events", 0)
    try:
        # 400 commits of one partition: many segments of 4 KiB in __consumer_offsets.
        for i in range(1, 401):
            consumer.commit(offsets=[ck.TopicPartition("events", 0, i)], asynchronous=False)
    finally:
        consumer.close()
    checkpoint = logd.data_dir / "cleaner-offset-checkpoint"

    def cleaned() -> str:
        return checkpoint.read_text() if checkpoint.exists() else ""

    wait_for("__consumer_offsets to be cleaned", cleaned, lambda text: "__consumer_offsets" in text)
    logd.restart()
    reader = ck.Consumer({
        "bootstrap.servers": logd.bootstrap, "group.id": "committer",
        "enable.auto.commit": False,
    })
    try:
        committed = reader.committed([tp], timeout=TIMEOUT)
    finally:
        reader.close()
    assert committed[0].offset == 400
    # The group's offsets partition holds much less than the 400 commits it received
    # (about 130 bytes each as written).
    sizes = [sum(f.stat().st_size for f in p.glob("*.log"))
             for p in logd.data_dir.glob("__consumer_offsets-*")]
    assert 0 < max(sizes) < 400 * 60
