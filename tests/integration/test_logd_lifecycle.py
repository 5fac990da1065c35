"""logd's life: start-up defaults and configuration errors, clean shutdown on SIGTERM and
SIGINT, restarts that keep topics and records, and recovery after kill -9 that loses no
acknowledged acks=all record."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from kafka_wire import WireClient, batch, fetch_body, produce_body, values_of
from logd_harness import ROOT, Logd
from tidelog.protocol import ApiKey, ErrorCode

K = ApiKey


def run_logd(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "tidelog.tools.logd", *args], cwd=ROOT, capture_output=True,
        text=True, timeout=20, env=full_env, check=False,
    )


def test_bad_configuration_exits_2_with_one_clear_line(tmp_path: Path) -> None:
    cases = [
        (["--listen", "nowhere"], {}, "--listen"),
        (["--config", str(tmp_path / "missing.toml")], {}, "missing.toml"),
        ([], {"TIDELOG_NUM_PARTITIONS": "0"}, "TIDELOG_NUM_PARTITIONS"),
        (["--log-flush", "sometimes"], {}, "log_flush"),
        (["--node-id", "x"], {}, "node"),
    ]
    for args, env, needle in cases:
        result = run_logd("--data-dir", str(tmp_path / "d"), *args, env=env)
        assert result.returncode == 2, (args, result.stderr)
        assert needle in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "d").exists()


def test_address_in_use_exits_1(logd: Logd, tmp_path: Path) -> None:
    result = run_logd("--data-dir", str(tmp_path / "other"), "--listen", logd.bootstrap)
    assert result.returncode == 1
    assert "cannot listen" in result.stderr


def test_no_arguments_uses_the_default_data_dir(tmp_path: Path) -> None:
    broker = Logd(tmp_path, bare=True,
                  env={"XDG_DATA_HOME": str(tmp_path / "xdg"), "TIDELOG_LISTEN": "127.0.0.1:0"})
    broker.start()
    try:
        with WireClient(broker.bootstrap) as c:
            md = c.request(K.METADATA, 4, {"topics": [{"name": "first-use"}]})
            assert md.topics[0].error_code == 0
            res = c.request(K.PRODUCE, 7, produce_body("first-use", batch([b"x"])))
            assert res.responses[0].partition_responses[0].error_code == 0
        assert broker.stop(signal.SIGINT) == 0
    finally:
        broker.kill()
    data = tmp_path / "xdg" / "tidelog"
    assert (data / "first-use-0").is_dir()
    assert (data / "__cluster_metadata-0").is_dir()
    assert (data / ".kafka_cleanshutdown").is_file()


def test_restart_keeps_topics_configs_and_records(tmp_path: Path) -> None:
    broker = Logd(tmp_path, "--num-partitions", "3").start()
    # A first start says the directory is new, not that a shutdown was unclean.
    first_start = broker.new_log()
    assert "new, empty" in first_start and "unclean" not in first_start, first_start
    try:
        with WireClient(broker.bootstrap) as c:
            md = c.request(K.METADATA, 9, {"topics": [{"name": "keep"}]})
            assert len(md.topics[0].partitions) == 3
            c.request(K.INCREMENTAL_ALTER_CONFIGS, 0, {"resources": [
                {"resource_type": 2, "resource_name": "keep", "configs": [
                    {"name": "retention.bytes", "config_operation": 0, "value": "123456789"}]}]})
            for p in range(3):
                res = c.request(K.PRODUCE, 7, produce_body("keep", batch([b"p%d" % p]), p))
                assert res.responses[0].partition_responses[0].error_code == 0
            cluster = c.request(K.DESCRIBE_CLUSTER, 0, {}).cluster_id
            first_pid = c.request(K.INIT_PRODUCER_ID, 0, {
                "transactional_id": None, "transaction_timeout_ms": 1}).producer_id
        assert broker.stop() == 0
        assert (broker.data_dir / ".kafka_cleanshutdown").is_file()
        broker.start()
        assert "after a clean shutdown" in broker.new_log()
        with WireClient(broker.bootstrap) as c:
            assert c.request(K.DESCRIBE_CLUSTER, 0, {}).cluster_id == cluster
            md = c.request(K.METADATA, 9, {"topics": [{"name": "keep"}],
                                           "allow_auto_topic_creation": False})
            assert len(md.topics[0].partitions) == 3
            for p in range(3):
                res = c.request(K.FETCH, 11, fetch_body("keep", 0, partition=p))
                assert values_of(res.responses[0].partitions[0].records) == [b"p%d" % p]
            desc = c.request(K.DESCRIBE_CONFIGS, 1, {"resources": [
                {"resource_type": 2, "resource_name": "keep",
                 "configuration_keys": ["retention.bytes"]}]})
            assert desc.results[0].configs[0].value == "123456789"
            # The producer-id blocks survive too: no id is handed out twice.
            pid = c.request(K.INIT_PRODUCER_ID, 0, {"transactional_id": None,
                                                    "transaction_timeout_ms": 1}).producer_id
            assert pid > first_pid
        assert broker.stop() == 0
    finally:
        broker.kill()


def test_kill_9_loses_no_acknowledged_acks_all_record(tmp_path: Path) -> None:
    broker = Logd(tmp_path).start()
    acked: dict[int, list[tuple[int, list[bytes]]]] = {0: [], 1: [], 2: []}
    stop = threading.Event()
    try:
        with WireClient(broker.bootstrap) as c:
            c.request(K.CREATE_TOPICS, 4, {"topics": [
                {"name": "durable", "num_partitions": 3, "replication_factor": 1}]})

        def producer(partition: int) -> None:
            n = 0
            try:
                with WireClient(broker.bootstrap, timeout=5) as c:
                    while not stop.is_set():
                        values = [b"%d-%d-%d" % (partition, n, i) for i in range(50)]
                        res = c.request(K.PRODUCE, 7, produce_body(
                            "durable", batch(values), partition=partition, acks=-1))
                        p = res.responses[0].partition_responses[0]
                        if p.error_code == 0:
                            acked[partition].append((p.base_offset, values))
                        n += 1
            except (ConnectionError, OSError):
                return  # the broker died under us: unacknowledged requests may be lost

        threads = [threading.Thread(target=producer, args=(p,)) for p in range(3)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while sum(len(v) for v in acked.values()) < 60 and time.monotonic() < deadline:
            time.sleep(0.02)
        broker.kill()
        stop.set()
        for t in threads:
            t.join(10)
        assert all(acked.values()), "every producer got acknowledgements before the kill"
        broker.start()
        assert "after an unclean shutdown" in broker.new_log()
        with WireClient(broker.bootstrap) as c:
            for partition, batches in acked.items():
                got: list[bytes | None] = []
                offset = 0
                while True:
                    res = c.request(K.FETCH, 11, fetch_body("durable", offset,
                                                            partition=partition))
                    vals = values_of(res.responses[0].partitions[0].records)
                    if not vals:
                        break
                    got += vals
                    offset += len(vals)
                for base, values in batches:
                    assert got[base:base + len(values)] == values
        assert broker.stop() == 0
    finally:
        stop.set()
        broker.kill()


def test_sigterm_finishes_in_flight_requests(tmp_path: Path) -> None:
    broker = Logd(tmp_path).start()
    try:
        with WireClient(broker.bootstrap) as c:
            c.request(K.CREATE_TOPICS, 4, {"topics": [
                {"name": "inflight", "num_partitions": 1, "replication_factor": 1}]})
            c.send(K.FETCH, 11, fetch_body("inflight", 0, max_wait_ms=10000))
            time.sleep(0.2)
            assert broker.proc is not None
            broker.proc.send_signal(signal.SIGTERM)
            _, res = c.receive()  # answered (empty) instead of dropped
            assert res.responses[0].partitions[0].error_code == ErrorCode.NONE
        assert broker.stop() == 0
        assert "stopped cleanly" in broker.log()
    finally:
        broker.kill()


def test_idempotent_retries_are_recognised_after_a_restart(tmp_path: Path) -> None:
    broker = Logd(tmp_path).start()
    try:
        with WireClient(broker.bootstrap) as c:
            c.request(K.CREATE_TOPICS, 4, {"topics": [
                {"name": "idem-restart", "num_partitions": 1, "replication_factor": 1}]})
            init = c.request(K.INIT_PRODUCER_ID, 1, {"transactional_id": None,
                                                     "transaction_timeout_ms": 1000})
            pid, epoch = init.producer_id, init.producer_epoch
            sent = batch([b"once"], producer_id=pid, producer_epoch=epoch, base_sequence=0)
            res = c.request(K.PRODUCE, 7, produce_body("idem-restart", sent))
            assert res.responses[0].partition_responses[0].base_offset == 0
        broker.kill()  # the answer may be lost: the producer retries after the restart
        broker.start()
        with WireClient(broker.bootstrap) as c:
            res = c.request(K.PRODUCE, 7, produce_body("idem-restart", sent))
            p = res.responses[0].partition_responses[0]
            assert (p.error_code, p.base_offset) == (0, 0)
            gap = batch([b"gap"], producer_id=pid, producer_epoch=epoch, base_sequence=5)
            res = c.request(K.PRODUCE, 7, produce_body("idem-restart", gap))
            assert res.responses[0].partition_responses[0].error_code == (
                ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
            res = c.request(K.FETCH, 11, fetch_body("idem-restart", 0))
            assert values_of(res.responses[0].partitions[0].records) == [b"once"]
        assert broker.stop() == 0
    finally:
        broker.kill()


def test_topic_retention_and_segment_configs_apply(tmp_path: Path) -> None:
    broker = Logd(tmp_path, "--log-retention-check-interval-ms", "100", "--log-flush",
                  "interval", "--log-flush-interval-ms", "50").start()
    try:
        with WireClient(broker.bootstrap) as c:
            res = c.request(K.CREATE_TOPICS, 4, {"topics": [
                {"name": "short", "num_partitions": 1, "replication_factor": 1, "configs": [
                    {"name": "segment.bytes", "value": "2000"},
                    {"name": "retention.bytes", "value": "4000"}]},
                {"name": "young", "num_partitions": 1, "replication_factor": 1, "configs": [
                    {"name": "segment.bytes", "value": "2000"},
                    {"name": "retention.ms", "value": "300"}]}]})
            assert [t.error_code for t in res.topics] == [0, 0]
            for topic in ("short", "young"):
                for i in range(30):
                    res = c.request(K.PRODUCE, 7, produce_body(topic, batch([b"%03d" % i * 100])))
                    assert res.responses[0].partition_responses[0].error_code == 0

            def start_offset(topic: str) -> int:
                p = c.request(K.LIST_OFFSETS, 2, {"replica_id": -1, "topics": [
                    {"name": topic, "partitions": [{"partition_index": 0, "timestamp": -2}]}],
                }).topics[0].partitions[0]
                return int(p.offset)

            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and (start_offset("short") == 0
                                                   or start_offset("young") == 0):
                time.sleep(0.05)
            assert start_offset("short") > 0
            assert start_offset("young") > 0
            res = c.request(K.FETCH, 11, fetch_body("short", 0))
            p = res.responses[0].partitions[0]
            assert p.error_code == ErrorCode.OFFSET_OUT_OF_RANGE
            assert p.log_start_offset == start_offset("short")
            assert p.high_watermark == 30
        assert len(list((broker.data_dir / "short-0").glob("*.log"))) <= 3
        assert broker.stop() == 0
    finally:
        broker.kill()


def test_connection_and_frame_limits(tmp_path: Path) -> None:
    broker = Logd(tmp_path, "--max-connections", "2", "--max-request-size", "2048",
                  "--message-max-bytes", "1024").start()
    try:
        with WireClient(broker.bootstrap) as a, WireClient(broker.bootstrap) as b:
            assert a.request(K.API_VERSIONS, 2, {}).error_code == 0
            assert b.request(K.API_VERSIONS, 2, {}).error_code == 0
            with WireClient(broker.bootstrap) as third:
                third.send(K.API_VERSIONS, 2, {})
                try:
                    third.read_frame()
                    refused = False
                except (ConnectionError, OSError):
                    refused = True
                assert refused
            # A frame above max_request_size closes that connection only.
            a.send(K.PRODUCE, 7, produce_body("big", batch([b"x" * 4000])))
            try:
                a.read_frame()
                closed = False
            except (ConnectionError, OSError):
                closed = True
            assert closed
            assert b.request(K.API_VERSIONS, 2, {}).error_code == 0
        assert "refusing" in broker.log()
        assert "frame size" in broker.log()
        assert broker.stop() == 0
    finally:
        broker.kill()


def test_idle_connections_are_closed_but_long_polls_are_not(tmp_path: Path) -> None:
    broker = Logd(tmp_path, "--connections-max-idle-ms", "300").start()
    try:
        with WireClient(broker.bootstrap) as busy, WireClient(broker.bootstrap) as idle:
            busy.request(K.CREATE_TOPICS, 4, {"topics": [
                {"name": "idle", "num_partitions": 1, "replication_factor": 1}]})
            assert idle.request(K.API_VERSIONS, 2, {}).error_code == 0
            # A long poll outlasting the idle timeout is still answered.
            res = busy.request(K.FETCH, 11, fetch_body("idle", 0, max_wait_ms=900))
            assert res.responses[0].partitions[0].error_code == 0
            time.sleep(0.3)
            try:
                idle.request(K.API_VERSIONS, 2, {})
                closed = False
            except (ConnectionError, OSError):
                closed = True
            assert closed
        assert "idle" in broker.log()
        assert broker.stop() == 0
    finally:
        broker.kill()


def test_unknown_partition_dirs_are_renamed_aside_not_deleted(tmp_path: Path) -> None:
    """A partition dir Apache Kafka wrote (tests/fixtures), in a data dir whose metadata does
    not know its topic: logd renames it to Kafka's ``<dir>.<uuid hex>-stray`` with every byte
    kept, warns once (not again at the next start), and kcat -L does not list it."""
    import re
    import shutil

    fixture = ROOT / "tests" / "fixtures" / "kafka-logdir" / "TestTopicPatient-0"
    broker = Logd(tmp_path)
    broker.data_dir.mkdir()
    shutil.copytree(fixture, broker.data_dir / "TestTopicPatient-0")
    broker.start()
    try:
        strays = [p for p in broker.data_dir.iterdir() if p.name.endswith("-stray")]
        assert len(strays) == 1, sorted(p.name for p in broker.data_dir.iterdir())
        assert re.fullmatch(r"TestTopicPatient-0\.[0-9a-f]{32}-stray", strays[0].name)
        assert not (broker.data_dir / "TestTopicPatient-0").exists()
        for original in fixture.iterdir():
            assert (strays[0] / original.name).read_bytes() == original.read_bytes()
        first = broker.log()
        assert first.count("-stray") == 1 and "TestTopicPatient-0" in first, first
        assert "deleting" not in first
        listing = subprocess.run(["kcat", "-b", broker.bootstrap, "-L"], capture_output=True,
                                 text=True, timeout=60, check=True).stdout
        assert "TestTopicPatient" not in listing
        broker.restart()
        assert "-stray" not in broker.new_log() and "skipping" not in broker.new_log()
        assert strays[0].is_dir()
        assert broker.stop() == 0
    finally:
        broker.kill()


def test_full_disk_metadata_answers_match_the_log(tmp_path: Path) -> None:
    """The data dir on a small tmpfs that a filler file makes full: kafka-python's admin
    client creates topics until the metadata log or its quorum-state cannot be written. Each
    creation is answered as the log holds it (whatever was reported created is there after a
    restart, whatever failed is not), and once there is space again the next change works
    without a restart (it used to fail with "not committed yet" until one)."""
    import errno
    import os

    import pytest
    from kafka.admin import KafkaAdminClient, NewTopic

    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], check=True,
                   capture_output=True, timeout=30)
    broker = Logd(mnt)
    try:
        broker.start()
        filler = mnt / "filler"
        with filler.open("wb", buffering=0) as fh:
            try:
                while True:
                    fh.write(b"\0" * 4096)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        created, failed = set(), set()
        for i in range(40):
            try:
                admin.create_topics([NewTopic(f"t{i}", 1, 1)])
                created.add(f"t{i}")
            except Exception:  # kafka-python raises the broker's error per topic
                failed.add(f"t{i}")
        assert failed, "the disk never filled up"
        filler.unlink()
        admin.create_topics([NewTopic("after", 1, 1)])
        assert set(admin.list_topics()) == created | {"after"}
        admin.close()
        broker.restart()
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        assert set(admin.list_topics()) == created | {"after"}
        admin.close()
        assert broker.stop() == 0
    finally:
        broker.kill()
        subprocess.run(["umount", "-l", str(mnt)], check=False, capture_output=True,
                       timeout=30)


def test_request_memory_is_bounded_broker_wide(tmp_path: Path) -> None:
    """Eight connections send 6 MiB requests with queued_max_request_bytes 8 MiB: the broker
    says once that the budget is spent (the accounting itself is checked in
    tests/unit/broker/test_connection_memory.py), serves kcat -L meanwhile, and reads every
    request in the end (no connection waits forever)."""
    import socket
    import struct
    import threading

    size = 6 << 20
    broker = Logd(tmp_path, "--queued-max-request-bytes", str(8 << 20)).start()
    try:
        # ApiVersions v0 with 6 MiB of zeros after it: answered or refused, never stuck.
        body = b"\x00\x12\x00\x00\x00\x00\x00\x01\xff\xff"
        body += bytes(size - len(body))
        frame = struct.pack(">i", size) + body
        go = threading.Event()
        done: list[bool] = []

        def client() -> None:
            with socket.create_connection(("127.0.0.1", broker.port), timeout=60) as s:
                s.sendall(frame[:-1])
                assert go.wait(60)
                s.sendall(frame[-1:])
                s.recv(1)  # an answer, or the connection closed: either way it was read
                done.append(True)

        threads = [threading.Thread(target=client, daemon=True) for _ in range(8)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while "queued_max_request_bytes" not in broker.log():
            assert time.monotonic() < deadline, broker.log()
            time.sleep(0.02)
        listing = subprocess.run(["kcat", "-b", broker.bootstrap, "-L"], capture_output=True,
                                 text=True, timeout=60, check=False)
        assert listing.returncode == 0 and "1 brokers" in listing.stdout, listing.stderr
        go.set()
        for t in threads:
            t.join(60)
        assert len(done) == 8
        assert broker.stop() == 0
    finally:
        broker.kill()


def test_connections_per_ip_leave_room_for_other_hosts(tmp_path: Path) -> None:
    """Idle sockets from 127.0.0.2 take their max_connections_per_ip and no more; kcat from
    127.0.0.1 still gets in although the idle ones asked for every connection there is."""
    import socket

    broker = Logd(tmp_path, "--max-connections", "6", "--max-connections-per-ip", "3").start()
    idle: list[socket.socket] = []
    try:
        for _ in range(6):
            s = socket.socket()
            s.settimeout(60)
            s.bind(("127.0.0.2", 0))
            s.connect(("127.0.0.1", broker.port))
            idle.append(s)
        deadline = time.monotonic() + 60
        while broker.log().count("connections open from 127.0.0.2") < 3:
            assert time.monotonic() < deadline, broker.log()
            time.sleep(0.02)
        for s in idle[3:]:
            assert s.recv(1) == b""  # closed at once
        listing = subprocess.run(["kcat", "-b", broker.bootstrap, "-L"], capture_output=True,
                                 text=True, timeout=60, check=False)
        assert listing.returncode == 0 and "1 brokers" in listing.stdout, listing.stderr
        assert broker.stop() == 0
    finally:
        for s in idle:
            s.close()
        broker.kill()


def test_data_dir_of_an_earlier_tidelog_is_converted_to_kafkas_metadata_format(
    tmp_path: Path,
) -> None:
    """A data dir an earlier tidelog wrote (JSON metadata records, tests/fixtures): the first
    start converts its metadata log and quorum-state to Kafka's format, keeps the old log
    aside, and serves the same topics, records and group offsets; the next start converts
    nothing."""
    import shutil

    import orjson
    from tidelog.metadata.records import decode_record
    from tidelog.records.reader import iter_decoded_batches

    fixture = ROOT / "tests" / "fixtures" / "tidelog-json-logdir"
    broker = Logd(tmp_path)
    shutil.copytree(fixture, broker.data_dir)
    broker.start()
    try:
        first = broker.log()
        assert "converted" in first and "Kafka's format" in first, first
        meta = broker.data_dir / "__cluster_metadata-0"
        (backup,) = broker.data_dir.glob("__cluster_metadata-0.json-*-stray")
        assert (backup / "00000000000000000000.log").read_bytes() == (
            fixture / "__cluster_metadata-0" / "00000000000000000000.log").read_bytes()
        out = subprocess.run(
            ["kcat", "-b", broker.bootstrap, "-C", "-t", "orders", "-e", "-q", "-f", "%s\n"],
            capture_output=True, text=True, timeout=60, check=True).stdout
        assert sorted(out.split()) == sorted(f"order-{i}" for i in range(1, 21))
        groups = subprocess.run(
            [sys.executable, "-m", "tidelog.tools.log_groups", "-b", broker.bootstrap,
             "describe", "fixture-group", "--json"],
            capture_output=True, text=True, timeout=60, check=True).stdout
        rows = [orjson.loads(line) for line in groups.splitlines()]
        offsets = {(r["partition"], r["current_offset"]) for r in rows}
        assert offsets == {(0, 10), (1, 10)}, groups
        broker.restart()
        assert "convert" not in broker.new_log()
        assert broker.stop() == 0
        state = orjson.loads((meta / "quorum-state").read_bytes())
        assert state["data_version"] == 0 and state["leaderEpoch"] >= 1
        data = b"".join(p.read_bytes() for p in sorted(meta.glob("*.log")))
        kinds = set()
        for batch in iter_decoded_batches(data):
            for r in batch.records():
                if not batch.header.is_control:
                    kinds.add(type(decode_record(r.value)).__name__)
        assert {"ClusterIdRecord", "TopicRecord", "PartitionRecord",
                "RegisterBrokerRecord"} <= kinds
    finally:
        broker.kill()


def test_kafka_kraft_data_dir_starts_and_serves_its_topics(tmp_path: Path) -> None:
    """logd on a copy of a data dir Apache Kafka wrote (KRaft combined mode, tests/fixtures):
    it replays Kafka's metadata log, keeps the cluster id of meta.properties, leads the
    partitions Kafka's controlled shutdown left leaderless and serves their records to kcat;
    it restarts on what it wrote itself."""
    import shutil

    fixture = ROOT / "tests" / "fixtures" / "kafka-logdir"
    broker = Logd(tmp_path)
    shutil.copytree(fixture, broker.data_dir)
    for path in [broker.data_dir, *broker.data_dir.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    broker.start()
    try:
        assert "of cluster q1w2e3r4t5y6u7i8o9p0" in broker.log(), broker.log()
        listing = subprocess.run(["kcat", "-b", broker.bootstrap, "-L"], capture_output=True,
                                 text=True, timeout=60, check=True).stdout
        assert 'topic "TestTopicPatient" with 1 partitions' in listing, listing
        assert "leader -1" not in listing, listing
        out = subprocess.run(
            ["kcat", "-b", broker.bootstrap, "-C", "-t", "TestTopicPatient", "-e", "-q",
             "-f", "%o %S\n"], capture_output=True, text=True, timeout=60, check=True).stdout
        assert [line.split()[0] for line in out.splitlines()] == ["0", "1", "2"], out
        broker.restart()
        assert "of cluster q1w2e3r4t5y6u7i8o9p0" in broker.new_log()
        assert broker.stop() == 0
    finally:
        broker.kill()


def test_metadata_snapshot_trims_the_log_and_is_loaded_on_restart(tmp_path: Path) -> None:
    """With a small metadata.log.max.record.bytes.between.snapshots, creating topics makes
    logd write Kafka's <offset>-<epoch>.checkpoint and start its metadata log after it; a
    restart loads the snapshot and still serves every topic and its records."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from tidelog.metadata.snapshot import decode_checkpoint

    broker = Logd(tmp_path, env={
        "TIDELOG_METADATA_LOG_MAX_RECORD_BYTES_BETWEEN_SNAPSHOTS": "2048"})
    broker.start()
    try:
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        admin.create_topics([NewTopic(f"snap{i}", 2, 1) for i in range(30)])
        admin.close()
        subprocess.run(["kcat", "-P", "-b", broker.bootstrap, "-t", "snap7", "-p", "1"],
                       input="kept\n", text=True, timeout=60, check=True)
        meta = broker.data_dir / "__cluster_metadata-0"
        assert "snapshot" in broker.log()
        broker.restart()
        (checkpoint,) = meta.glob("*.checkpoint")
        offset, epoch = (int(x) for x in checkpoint.name.split(".")[0].split("-"))
        assert offset > 0 and epoch >= 1
        assert len(decode_checkpoint(checkpoint.read_bytes())) > 20
        listing = subprocess.run(["kcat", "-b", broker.bootstrap, "-L"], capture_output=True,
                                 text=True, timeout=60, check=True).stdout
        assert all(f'topic "snap{i}" with 2 partitions' in listing for i in range(30))
        out = subprocess.run(["kcat", "-C", "-b", broker.bootstrap, "-t", "snap7", "-p", "1",
                              "-e", "-q"], capture_output=True, text=True, timeout=60,
                             check=True).stdout
        assert out == "kept\n"
        assert broker.stop() == 0
    finally:
        broker.kill()
