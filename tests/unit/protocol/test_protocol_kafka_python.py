"""Cross-check against an encoder nobody here wrote: kafka-python 3.0.12's ``kafka.protocol``.

Requests that kafka-python builds and encodes (with its header) decode with tidelog to the same
fields; kafka-python reads tidelog's responses; the error tables agree. (The random-body check
of every API and version against kafka-python runs inside test_protocol_roundtrip.py, which
already generates those bodies.)
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from protocol_kp import KP
from tidelog.protocol import ResponseHeader, decode_request, encode_response, join_parts
from tidelog.protocol.errors import ErrorCode
from tidelog.protocol.primitives import ZERO_UUID


def _kp_request(name: str) -> Any:
    return next(c for (_, kind), c in KP.items() if kind == "request" and c.__name__ == name)


def _kp_encode_with_header(msg: Any, version: int, correlation_id: int, client_id: str) -> bytes:
    msg.API_VERSION = version
    msg.with_header(correlation_id=correlation_id, client_id=client_id)
    return bytes(msg.encode(header=True))


def test_kafka_python_metadata_v1_and_v12() -> None:
    cls = _kp_request("MetadataRequest")
    for version in (1, 12):
        msg = cls(topics=[cls.MetadataRequestTopic(name="a"), cls.MetadataRequestTopic(name="b")],
                  allow_auto_topic_creation=False)
        header, body = decode_request(_kp_encode_with_header(msg, version, 11, "kp"))
        assert (header.api_key, header.api_version, header.correlation_id, header.client_id) == (
            3, version, 11, "kp")
        assert [t.name for t in body.topics] == ["a", "b"]
        # v1 has no allow_auto_topic_creation: our decoder fills the default.
        assert body.allow_auto_topic_creation is (version < 4)


@pytest.mark.parametrize("version", [3, 7, 9, 10])
def test_kafka_python_produce(version: int) -> None:
    cls = _kp_request("ProduceRequest")
    records = b"\x00" * 8 + b"opaque batch bytes"
    msg = cls(
        transactional_id=None, acks=-1, timeout_ms=1500,
        topic_data=[cls.TopicProduceData(name="events", partition_data=[
            cls.TopicProduceData.PartitionProduceData(index=2, records=records)])],
    )
    header, body = decode_request(_kp_encode_with_header(msg, version, 5, "producer"))
    assert header.api_version == version
    assert (body.acks, body.timeout_ms, body.transactional_id) == (-1, 1500, None)
    [topic] = body.topic_data
    assert topic.name == "events"
    [part] = topic.partition_data
    assert part.index == 2
    assert isinstance(part.records, memoryview)
    assert bytes(part.records) == records


@pytest.mark.parametrize("version", [4, 11, 12, 15])
def test_kafka_python_fetch(version: int) -> None:
    cls = _kp_request("FetchRequest")
    part = cls.FetchTopic.FetchPartition(partition=1, current_leader_epoch=3, fetch_offset=42,
                                         log_start_offset=-1, partition_max_bytes=1 << 20)
    topic_id = uuid.UUID(int=0xABCDEF)
    msg = cls(replica_id=-1, max_wait_ms=500, min_bytes=1, max_bytes=1 << 24,
              isolation_level=1, session_id=0, session_epoch=-1,
              topics=[cls.FetchTopic(topic="events", topic_id=topic_id, partitions=[part])],
              forgotten_topics_data=[], rack_id="r1")
    _, body = decode_request(_kp_encode_with_header(msg, version, 9, "consumer"))
    assert (body.max_wait_ms, body.min_bytes, body.max_bytes) == (500, 1, 1 << 24)
    assert body.isolation_level == 1
    [topic] = body.topics
    # v13+ names topics by id only.
    assert (topic.topic, topic.topic_id) == (
        ("events", ZERO_UUID) if version < 13 else ("", topic_id))
    [p] = topic.partitions
    assert (p.partition, p.fetch_offset, p.partition_max_bytes) == (1, 42, 1 << 20)
    assert p.current_leader_epoch == (3 if version >= 9 else -1)
    assert body.rack_id == ("r1" if version >= 11 else "")


@pytest.mark.parametrize("version", [3, 4])
def test_kafka_python_api_versions(version: int) -> None:
    cls = _kp_request("ApiVersionsRequest")
    msg = cls(client_software_name="kafka-python", client_software_version="3.0.12")
    header, body = decode_request(_kp_encode_with_header(msg, version, 1, "kp"))
    assert header.client_id == "kp"
    assert body.client_software_name == "kafka-python"
    assert body.client_software_version == "3.0.12"


def test_kafka_python_group_and_admin_requests() -> None:
    join = _kp_request("JoinGroupRequest")
    msg = join(group_id="g", session_timeout_ms=10000, rebalance_timeout_ms=30000,
               member_id="", group_instance_id=None, protocol_type="consumer",
               protocols=[join.JoinGroupRequestProtocol(name="range", metadata=b"\x00\x01")])
    _, body = decode_request(_kp_encode_with_header(msg, 5, 2, "kp"))
    assert (body.group_id, body.session_timeout_ms, body.rebalance_timeout_ms) == ("g", 10000,
                                                                                  30000)
    assert [(p.name, p.metadata) for p in body.protocols] == [("range", b"\x00\x01")]

    commit = _kp_request("OffsetCommitRequest")
    part = commit.OffsetCommitRequestTopic.OffsetCommitRequestPartition(
        partition_index=0, committed_offset=99, committed_leader_epoch=4,
        committed_metadata=None)
    msg = commit(group_id="g", generation_id_or_member_epoch=3, member_id="m",
                 group_instance_id=None,
                 topics=[commit.OffsetCommitRequestTopic(name="t", partitions=[part])])
    _, body = decode_request(_kp_encode_with_header(msg, 8, 3, "kp"))
    [t] = body.topics
    assert t.name == "t"
    assert (t.partitions[0].committed_offset, t.partitions[0].committed_leader_epoch) == (99, 4)
    assert t.partitions[0].committed_metadata is None

    create = _kp_request("CreateTopicsRequest")
    topic = create.CreatableTopic(
        name="new", num_partitions=3, replication_factor=1, assignments=[],
        configs=[create.CreatableTopic.CreatableTopicConfig(name="cleanup.policy",
                                                            value="compact")])
    msg = create(topics=[topic], timeout_ms=5000, validate_only=True)
    for version in (4, 5, 7):
        _, body = decode_request(_kp_encode_with_header(msg, version, 4, "kp"))
        [t] = body.topics
        assert (t.name, t.num_partitions, t.replication_factor) == ("new", 3, 1)
        assert [(c.name, c.value) for c in t.configs] == [("cleanup.policy", "compact")]
        assert body.validate_only is True


def test_kafka_python_reads_our_api_versions_response() -> None:
    cls = KP[(18, "response")]
    body = {"error_code": 0, "api_keys": [{"api_key": 3, "min_version": 0, "max_version": 13}],
            "throttle_time_ms": 7}
    frame = join_parts(encode_response(ResponseHeader(77), 18, 3, body))
    got = cls.decode(frame, version=3, header=True)
    assert got.header.correlation_id == 77
    assert got.throttle_time_ms == 7
    assert [(k.api_key, k.min_version, k.max_version) for k in got.api_keys] == [(3, 0, 13)]


# kafka-python keeps a few pre-rename names; tidelog uses Kafka's current ones.
_RENAMED = {
    -1: "UNKNOWN", 0: "NO_ERROR", 6: "NOT_LEADER_FOR_PARTITION", 10: "MESSAGE_SIZE_TOO_LARGE",
    17: "INVALID_TOPIC", 39: "INVALID_REPLICATION_ASSIGNMENT",
}


def test_error_codes_agree_with_kafka_python() -> None:
    import kafka.errors as kerrors

    known = {
        cls.errno: cls
        for cls in vars(kerrors).values()
        if isinstance(cls, type) and issubclass(cls, kerrors.BrokerResponseError)
        and isinstance(getattr(cls, "errno", None), int)
    }
    assert len(known) > 100
    for code, cls in known.items():
        ours = ErrorCode(code)
        assert _RENAMED.get(code, ours.name) == cls.message, code
        if code != 2:  # Kafka's CorruptRecordException is retriable; kafka-python says not
            assert ours.retriable == cls.retriable, code
    assert ErrorCode.CORRUPT_MESSAGE.retriable
    assert max(int(c) for c in ErrorCode) >= 120
