"""logd answers the protocol as Kafka does: ApiVersions downgrade, Metadata with auto-create,
produce and fetch with their per-partition errors, idempotence, long polling, ordering, acks=0,
and the admin APIs. One broker for the module; every test uses its own topics."""

from __future__ import annotations

import threading
import time

import pytest
from kafka_wire import WireClient, batch, fetch_body, produce_body, values_of
from logd_harness import Logd
from tidelog.protocol import ApiKey, ErrorCode
from tidelog.records.batch_header import TIMESTAMP_TYPE_BIT

K = ApiKey


def create(c: WireClient, name: str, partitions: int = 1, **configs: str) -> None:
    res = c.request(K.CREATE_TOPICS, 4, {"topics": [{
        "name": name, "num_partitions": partitions, "replication_factor": 1,
        "configs": [{"name": k.replace("_", "."), "value": v} for k, v in configs.items()],
    }], "timeout_ms": 1000})
    assert res.topics[0].error_code == 0, res


def test_api_versions_lists_served_apis(shared_logd: Logd) -> None:
    with WireClient(shared_logd.bootstrap) as c:
        for version in (0, 1, 2, 3):
            res = c.request(K.API_VERSIONS, version, {"client_software_name": "t",
                                                     "client_software_version": "1"})
            assert res.error_code == 0
            keys = {e.api_key: (e.min_version, e.max_version) for e in res.api_keys}
            assert keys[K.PRODUCE] == (0, 10)  # v0-2 for old tools, as Kafka 3.x
            assert keys[K.FETCH][0] == 4
            assert keys[K.JOIN_GROUP] == (0, 7)  # the group coordinator


def test_unsupported_api_versions_version_gets_the_downgrade_answer(shared_logd: Logd) -> None:
    with WireClient(shared_logd.bootstrap) as c:
        # ApiVersions v9: header v2 (flexible) as a newer client would send it.
        payload = bytes.fromhex("0012 0009 00000007 0001 61 00") + b"\x00\x00\x00"
        c.send_raw(len(payload).to_bytes(4, "big") + payload)
        frame = c.read_frame()
        assert frame[:4] == (7).to_bytes(4, "big")
        assert int.from_bytes(frame[4:6], "big") == ErrorCode.UNSUPPORTED_VERSION
        # The connection stays usable: the client retries at a supported version.
        assert c.request(K.API_VERSIONS, 3, {}).error_code == 0


def test_metadata_auto_creates_topics(shared_logd: Logd) -> None:
    with WireClient(shared_logd.bootstrap) as c:
        res = c.request(K.METADATA, 12, {"topics": [{"name": "auto-1"}],
                                         "allow_auto_topic_creation": True})
        t = res.topics[0]
        assert (t.error_code, t.name, len(t.partitions)) == (0, "auto-1", 1)
        assert t.partitions[0].leader_id == 1 and t.partitions[0].isr_nodes == [1]
        assert res.brokers[0].port == shared_logd.port
        res = c.request(K.METADATA, 12, {"topics": [{"name": "auto-2"}],
                                         "allow_auto_topic_creation": False})
        assert res.topics[0].error_code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        res = c.request(K.METADATA, 1, {"topics": None})
        assert "auto-1" in {t.name for t in res.topics}
        assert "auto-2" not in {t.name for t in res.topics}
        bad = c.request(K.METADATA, 4, {"topics": [{"name": "bad name!"}]})
        assert bad.topics[0].error_code == ErrorCode.INVALID_TOPIC_EXCEPTION


def test_produce_then_fetch_round_trip(shared_logd: Logd) -> None:
    with WireClient(shared_logd.bootstrap) as c:
        create(c, "rt")
        for version in (3, 7, 9):
            res = c.request(K.PRODUCE, version, produce_body("rt", batch([b"a", b"b"])))
            assert res.responses[0].partition_responses[0].error_code == 0
        offsets = c.request(K.PRODUCE, 8, produce_body("rt", batch([b"c"])))
        assert offsets.responses[0].partition_responses[0].base_offset == 6
        for version in (4, 11, 12):
            res = c.request(K.FETCH, version, fetch_body("rt", 0))
            p = res.responses[0].partitions[0]
            assert p.error_code == 0 and p.high_watermark == 7
            assert values_of(p.records) == [b"a", b"b"] * 3 + [b"c"]
        # Fetching from an offset inside the log returns from that batch on.
        res = c.request(K.FETCH, 11, fetch_body("rt", 6))
        assert values_of(res.responses[0].partitions[0].records) == [b"c"]
        # At the end: nothing, at once when max_wait is 0.
        res = c.request(K.FETCH, 11, fetch_body("rt", 7))
        assert values_of(res.responses[0].partitions[0].records) == []
        res = c.request(K.FETCH, 11, fetch_body("rt", 99))
        assert res.responses[0].partitions[0].error_code == ErrorCode.OFFSET_OUT_OF_RANGE


def test_fetch_max_bytes_still_returns_one_batch(shared_logd: Logd) -> None:
    with WireClient(shared_logd.bootstrap) as c:
        create(c, "big")
        for i in range(3):
            c.request(K.PRODUCE, 7, produce_body("big", batch([bytes([i]) * 1000])))
        res = c.request(K.FETCH, 11, fetch_body("big", 0, max_bytes=10, partition_max_bytes=10))
        assert len(values_of(res.responses[0].partitions[0].records)) == 1
        res = c.request(K.FETCH, 11, fetch_body("big", 0, max_bytes=2500))
        assert len(values_of(res.responses[0].partitions[0].records)) == 2


def test_produce_errors_per_partition(shared_logd: Logd) -> None:
    with WireClient(shared_logd.bootstrap) as c:
        create(c, "small", max_message_bytes="200")
        res = c.request(K.PRODUCE, 7, produce_body("nope", batch([b"x"])))
        assert res.responses[0].partition_responses[0].error_code == (
            ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
        res = c.request(K.PRODUCE, 7, produce_body("small", batch([b"x"]), partition=5))
        assert res.responses[0].partition_responses[0].error_code == (
            ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
        bad = bytearray(batch([b"x"]))
        bad[-1] ^= 0xFF  # breaks the CRC
        res = c.request(K.PRODUCE, 7, produce_body("small", bytes(bad)))
        assert res.responses[0].partition_responses[0].error_code == ErrorCode.CORRUPT_MESSAGE
        res = c.request(K.PRODUCE, 7, produce_body("small", b"\x00" * 30))
        assert res.responses[0].partition_responses[0].error_code == ErrorCode.CORRUPT_MESSAGE
        zstd = batch([b"z"], compression=4)
        res = c.request(K.PRODUCE, 3, produce_body("small", zstd))
        assert res.responses[0].partition_responses[0].error_code == (
            ErrorCode.UNSUPPORTED_COMPRESSION_TYPE)
        odd = bytearray(batch([b"z"]))
        odd[22] |= 0x07  # codec 7 does not exist (attributes' low byte), CRC restamped
        from tidelog.records.batch_header import restamp_crc
        restamp_crc(odd, 0)
        res = c.request(K.PRODUCE, 7, produce_body("small", bytes(odd)))
        assert res.responses[0].partition_responses[0].error_code == ErrorCode.CORRUPT_MESSAGE
        res = c.request(K.PRODUCE, 7, produce_body("small", batch([b"y" * 500])))
        assert res.responses[0].partition_responses[0].error_code == ErrorCode.MESSAGE_TOO_LARGE
        future = int(time.time() * 1000) + 10 * 3_600_000
        from tidelog.records.builder import build_batch
        from tidelog.records.record import NewRecord
        res = c.request(K.PRODUCE, 7, produce_body(
            "small", build_batch([NewRecord(b"z", timestamp=future)])))
        assert res.responses[0].partition_responses[0].error_code == ErrorCode.INVALID_TIMESTAMP
        create(c, "needs-two", min_insync_replicas="2")
        res = c.request(K.PRODUCE, 7, produce_body("needs-two", batch([b"x"]), acks=-1))
        assert res.responses[0].partition_responses[0].error_code == (
            ErrorCode.NOT_ENOUGH_REPLICAS)
        res = c.request(K.PRODUCE, 7, produce_body("needs-two", batch([b"x"]), acks=1))
        assert res.responses[0].partition_responses[0].error_code == 0
        res = c.request(K.PRODUCE, 7, produce_body("small", batch([b"ok"]), acks=5))
        assert res.responses[0].partition_responses[0].error_code == (
            ErrorCode.INVALID_REQUIRED_ACKS)
        # Nothing of the above was written.
        res = c.request(K.FETCH, 11, fetch_body("small", 0))
        assert res.responses[0].partitions[0].high_watermark == 0


def test_log_append_time_topic(shared_logd: Logd) -> None:
    with WireClient(shared_logd.bootstrap) as c:
        create(c, "lat", message_timestamp_type="LogAppendTime")
        before = int(time.time() * 1000)
        res = c.request(K.PRODUCE, 7, produce_body("lat", batch([b"x"])))
        stamp = res.responses[0].partition_responses[0].log_append_time_ms
        assert before - 5 <= stamp <= int(time.time() * 1000) + 5
        data = bytes(c.request(K.FETCH, 11, fetch_body("lat", 0)).responses[0]
                     .partitions[0].records)
        assert data[21 + 1] & TIMESTAMP_TYPE_BIT  # attributes int16 at byte 21: low byte


def test_idempotent_producer_duplicates_and_gaps(shared_logd: Logd) -> None:
    with WireClient(shared_logd.bootstrap) as c:
        create(c, "idem")
        init = c.request(K.INIT_PRODUCER_ID, 1, {"transactional_id": None,
                                                 "transaction_timeout_ms": 1000})
        assert init.error_code == 0 and init.producer_id >= 0
        pid, epoch = init.producer_id, init.producer_epoch

        def send(seq: int, values: list[bytes]) -> tuple[int, int]:
            b = batch(values, producer_id=pid, producer_epoch=epoch, base_sequence=seq)
            p = c.request(K.PRODUCE, 7, produce_body("idem", b)).responses[0]
            return p.partition_responses[0].error_code, p.partition_responses[0].base_offset

        assert send(0, [b"a", b"b"]) == (0, 0)
        assert send(2, [b"c"]) == (0, 2)
        assert send(0, [b"a", b"b"]) == (0, 0)  # a retry: the original offsets, not appended
        assert send(2, [b"c"]) == (0, 2)
        assert send(5, [b"d"])[0] == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
        assert send(3, [b"d"]) == (0, 3)
        res = c.request(K.FETCH, 11, fetch_body("idem", 0))
        assert values_of(res.responses[0].partitions[0].records) == [b"a", b"b", b"c", b"d"]
        other = c.request(K.INIT_PRODUCER_ID, 1, {"transactional_id": None,
                                                  "transaction_timeout_ms": 1000})
        assert other.producer_id != pid


def test_fetch_long_poll_is_woken_by_an_append(shared_logd: Logd) -> None:
    with WireClient(shared_logd.bootstrap) as c, WireClient(shared_logd.bootstrap) as p:
        create(c, "poll")
        timer = threading.Timer(
            0.3, lambda: p.request(K.PRODUCE, 7, produce_body("poll", batch([b"late"]))))
        start = time.monotonic()
        timer.start()
        res = c.request(K.FETCH, 11, fetch_body("poll", 0, max_wait_ms=8000))
        elapsed = time.monotonic() - start
        timer.join()
        assert values_of(res.responses[0].partitions[0].records) == [b"late"]
        assert 0.2 < elapsed < 5
        start = time.monotonic()
        res = c.request(K.FETCH, 11, fetch_body("poll", 1, max_wait_ms=300))
        assert 0.25 < time.monotonic() - start < 5
        assert values_of(res.responses[0].partitions[0].records) == []


def test_responses_keep_request_order_and_acks0_gets_none(shared_logd: Logd) -> None:
    with WireClient(shared_logd.bootstrap) as c:
        create(c, "order")
        c.send(K.FETCH, 11, fetch_body("order", 0, max_wait_ms=400))  # slow
        c.send(K.METADATA, 4, {"topics": None})  # fast, but must come second
        first, _ = c.receive()
        second, _ = c.receive()
        assert first < second
        c.send(K.PRODUCE, 7, produce_body("order", batch([b"quiet"]), acks=0))
        c.pending.pop()  # acks=0: Kafka sends no response
        res = c.request(K.API_VERSIONS, 2, {})
        assert res.error_code == 0
        # visible once durable (log_flush = always): a long poll sees it arrive
        res = c.request(K.FETCH, 11, fetch_body("order", 0, max_wait_ms=10_000))
        assert values_of(res.responses[0].partitions[0].records) == [b"quiet"]


def test_bad_frames_close_only_their_connection(shared_logd: Logd) -> None:
    with WireClient(shared_logd.bootstrap) as good:
        for garbage in (
            (0x7FFFFFF0).to_bytes(4, "big") + b"x",  # above max_request_size
            (-5).to_bytes(4, "big", signed=True),
            (6).to_bytes(4, "big") + b"\x00\x00\x00\x00\x00\x01",  # header cut short
            (12).to_bytes(4, "big") + bytes.fromhex("0003 0063 00000001 0000 0000"),  # v99
            (10).to_bytes(4, "big") + bytes.fromhex("00 0b 0000 00000001 0000"),  # JoinGroup, cut
        ):
            with WireClient(shared_logd.bootstrap) as bad:
                bad.send_raw(garbage)
                with pytest.raises((ConnectionError, OSError)):
                    bad.read_frame()
            assert good.request(K.API_VERSIONS, 2, {}).error_code == 0
    assert "closing connection" in shared_logd.new_log()


def test_admin_apis(shared_logd: Logd) -> None:
    with WireClient(shared_logd.bootstrap) as c:
        create(c, "adm", partitions=2, retention_ms="1000000")
        dup = c.request(K.CREATE_TOPICS, 7, {"topics": [
            {"name": "adm", "num_partitions": 1, "replication_factor": 1},
            {"name": "adm-bad", "num_partitions": 1, "replication_factor": 3},
            {"name": "adm-cfg", "num_partitions": 1, "replication_factor": 1,
             "configs": [{"name": "retention.ms", "value": "soon"}]},
            {"name": "adm-ok", "num_partitions": -1, "replication_factor": -1},
        ], "timeout_ms": 1000})
        codes = [t.error_code for t in dup.topics]
        assert codes == [ErrorCode.TOPIC_ALREADY_EXISTS, ErrorCode.INVALID_REPLICATION_FACTOR,
                         ErrorCode.INVALID_CONFIG, 0]
        assert dup.topics[3].num_partitions == 1
        res = c.request(K.CREATE_PARTITIONS, 1, {"topics": [
            {"name": "adm", "count": 4, "assignments": None},
            {"name": "adm", "count": 1, "assignments": None}], "timeout_ms": 1000,
            "validate_only": False})
        assert [r.error_code for r in res.results] == [0, ErrorCode.INVALID_PARTITIONS]
        md = c.request(K.METADATA, 9, {"topics": [{"name": "adm"}]})
        assert len(md.topics[0].partitions) == 4
        alt = c.request(K.INCREMENTAL_ALTER_CONFIGS, 1, {"resources": [
            {"resource_type": 2, "resource_name": "adm", "configs": [
                {"name": "retention.ms", "config_operation": 1, "value": None},
                {"name": "segment.bytes", "config_operation": 0, "value": "1048576"}]},
            {"resource_type": 2, "resource_name": "nope", "configs": []}],
            "validate_only": False})
        assert [r.error_code for r in alt.responses] == [0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]
        desc = c.request(K.DESCRIBE_CONFIGS, 3, {"resources": [
            {"resource_type": 2, "resource_name": "adm", "configuration_keys": None},
            {"resource_type": 4, "resource_name": "1", "configuration_keys": ["num_partitions"]},
        ]})
        topic_cfg = {e.name: (e.value, e.config_source) for e in desc.results[0].configs}
        assert topic_cfg["segment.bytes"] == ("1048576", 1)
        assert topic_cfg["retention.ms"] == ("604800000", 5)
        assert "min.insync.replicas" in topic_cfg
        assert [e.value for e in desc.results[1].configs] == ["1"]
        cl = c.request(K.DESCRIBE_CLUSTER, 0, {})
        assert cl.error_code == 0 and cl.brokers[0].port == shared_logd.port
        assert cl.cluster_id
        dl = c.request(K.DELETE_TOPICS, 4, {"topic_names": ["adm", "nope"], "timeout_ms": 1000})
        assert [r.error_code for r in dl.responses] == [0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]
        md = c.request(K.METADATA, 9, {"topics": [{"name": "adm"}],
                                       "allow_auto_topic_creation": False})
        assert md.topics[0].error_code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION


def test_list_offsets_and_offset_for_leader_epoch(shared_logd: Logd) -> None:
    with WireClient(shared_logd.bootstrap) as c:
        create(c, "lo")
        from tidelog.records.builder import build_batch
        from tidelog.records.record import NewRecord
        for ts in (1000, 2000, 3000):
            c.request(K.PRODUCE, 7, produce_body("lo", build_batch(
                [NewRecord(b"v", timestamp=ts), NewRecord(b"w", timestamp=ts + 1)])))

        def lookup(ts: int, version: int = 5) -> tuple[int, int, int]:
            p = c.request(K.LIST_OFFSETS, version, {"replica_id": -1, "topics": [
                {"name": "lo", "partitions": [{"partition_index": 0, "timestamp": ts}]}],
            }).topics[0].partitions[0]
            return p.error_code, p.offset, p.timestamp

        assert lookup(-2)[:2] == (0, 0)
        assert lookup(-1)[:2] == (0, 6)
        # Kafka's answer is the record, not its batch: offset 2 holds ts 2000.
        assert lookup(1500) == (0, 2, 2000)
        assert lookup(2001) == (0, 3, 2001)
        assert lookup(9999) == (0, -1, -1)
        assert lookup(-1, version=1)[:2] == (0, 6)
        assert lookup(-3, version=7) == (0, 5, 3001)  # the record holding the max timestamp
        assert lookup(-4, version=8)[:2] == (0, 0)
        assert lookup(-7, version=8)[0] == ErrorCode.INVALID_REQUEST
        ofle = c.request(K.OFFSET_FOR_LEADER_EPOCH, 3, {"replica_id": -1, "topics": [
            {"topic": "lo", "partitions": [
                {"partition": 0, "current_leader_epoch": 0, "leader_epoch": 0}]}]})
        p = ofle.topics[0].partitions[0]
        assert (p.error_code, p.leader_epoch, p.end_offset) == (0, 0, 6)


def test_clients_vanishing_mid_produce_do_not_stall_others(shared_logd: Logd) -> None:
    # A client that closes while its acks=all produce waits for the group-committed flush
    # must not take the flush away from the producers that share it.
    with WireClient(shared_logd.bootstrap) as c:
        create(c, "vanish")
    join_group = (10).to_bytes(4, "big") + bytes.fromhex("000b 0000 00000001 0000")
    for _ in range(30):
        with WireClient(shared_logd.bootstrap) as quitter:
            # A request that closes the connection, then (same packet) an acks=all produce:
            # the produce's wait for the flush is cancelled when the connection goes.
            with quitter.batched():
                quitter.send_raw(join_group)
                quitter.send(K.PRODUCE, 7, produce_body("vanish", batch([b"q" * 1000] * 50)))
            with pytest.raises((ConnectionError, OSError)):
                quitter.read_frame()
    with WireClient(shared_logd.bootstrap, timeout=5) as c:
        res = c.request(K.PRODUCE, 7, produce_body("vanish", batch([b"stays"])))
        assert res.responses[0].partition_responses[0].error_code == 0
