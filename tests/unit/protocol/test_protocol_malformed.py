"""Malformed input: every decoder raises only ProtocolError subclasses, never a crash."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protocol_strategies import body_strategy
from tidelog.protocol import (
    ProtocolError,
    RequestHeader,
    TrailingBytesError,
    TruncatedMessageError,
    decode_request,
    decode_response,
    encode_request,
    join_parts,
)
from tidelog.protocol.apis import SCHEMAS, SUPPORTED_VERSIONS
from tidelog.protocol.exceptions import MalformedMessageError
from tidelog.protocol.primitives import read_uvarint

PRODUCE_V9 = join_parts(encode_request(
    RequestHeader(0, 9, 1, "c"),
    {"acks": 1, "timeout_ms": 100, "topic_data": [
        {"name": "t", "partition_data": [{"index": 0, "records": b"batch"}]}]},
))


def _decode_or_protocol_error(frame: bytes) -> None:
    # Only ProtocolError is allowed out; anything else fails the test.
    with contextlib.suppress(ProtocolError):
        decode_request(frame)


def test_every_truncation_of_a_request_is_a_protocol_error() -> None:
    for cut in range(len(PRODUCE_V9)):
        with pytest.raises(ProtocolError):
            decode_request(PRODUCE_V9[:cut])


def test_trailing_bytes_after_a_request_are_ignored_as_kafka_does() -> None:
    _, plain = decode_request(PRODUCE_V9)
    _, padded = decode_request(PRODUCE_V9 + b"\x00\x01\x02")
    assert padded.acks == plain.acks == 1
    assert bytes(padded.topic_data[0].partition_data[0].records) == b"batch"


def test_librdkafka_all_topics_metadata_v12_with_three_extra_bytes() -> None:
    # librdkafka 2.x (confluent-kafka 2.16, librdkafka issue 5049) writes the null topics
    # array of an all-topics Metadata v9+ request as 4 zero bytes where the compact nullable
    # array is the single byte 0x00: the body's three fields come out as zeros and its real
    # last three bytes (allow auto-creation, include authorized operations, no tags) are left.
    header = bytes.fromhex("0003 000c 00000007 0004") + b"rdk_" + b"\x00"
    body = b"\x00\x00\x00\x00" + b"\x01\x00\x00"
    head, req = decode_request(header + body)
    assert (head.api_key, head.api_version, head.correlation_id) == (3, 12, 7)
    assert req.topics is None  # all topics


def test_trailing_bytes_after_a_response_are_an_error() -> None:
    # Our own client stays strict: a response longer than its schema is a broker bug.
    frame = bytes.fromhex("00000001" "0000" "00000000") + b"\x00"  # ApiVersions v0 + 1 byte
    with pytest.raises(TrailingBytesError) as info:
        decode_response(18, 0, frame)
    assert info.value.position == len(frame) - 1


def test_lying_array_count_is_rejected_before_allocating() -> None:
    # Metadata v1 with a topics count of 2**31-1 and no elements.
    frame = bytes.fromhex("0003 0001 00000001 ffff") + struct.pack(">i", (1 << 31) - 1)
    with pytest.raises(TruncatedMessageError):
        decode_request(frame)


def test_negative_lengths_and_bad_utf8() -> None:
    with pytest.raises(MalformedMessageError):  # client_id length -2
        decode_request(bytes.fromhex("0003 0001 00000001 fffe"))
    with pytest.raises(MalformedMessageError):  # topic name is not UTF-8
        decode_request(bytes.fromhex("0003 0001 00000001 ffff 00000001 0001 ff"))
    with pytest.raises(MalformedMessageError):  # null name in a non-nullable v1 string
        decode_request(bytes.fromhex("0003 0001 00000001 ffff 00000001 ffff"))


def test_overlong_varint() -> None:
    with pytest.raises(MalformedMessageError):
        read_uvarint(memoryview(b"\xff\xff\xff\xff\xff\x01"), 0)
    with pytest.raises(MalformedMessageError):
        read_uvarint(memoryview(b"\xff\xff\xff\xff\x7f"), 0)  # > 32 bits


def test_tagged_field_that_lies_about_its_size() -> None:
    # ApiVersions v3 request with a known-size mismatch: unknown tags are skipped, but a
    # size running past the frame is an error.
    base = bytes.fromhex("0012 0003 00000001 0000 00" "01 01")  # header v2, two "" strings
    decode_request(base + bytes.fromhex("00"))
    with pytest.raises(TruncatedMessageError):
        decode_request(base + bytes.fromhex("01 05 09 00"))  # tag 5 claims 9 bytes


def test_unknown_tags_are_skipped() -> None:
    frame = bytes.fromhex("0012 0003 00000001 0000 00" "02 61 02 62" "02 07 02 abcd 09 00")
    _, body = decode_request(frame)
    assert (body.client_software_name, body.client_software_version) == ("a", "b")


def test_known_tag_must_use_its_whole_size() -> None:
    # ApiVersions v3 response, tag 1 (int64) declared with 9 bytes.
    frame = bytes.fromhex("00000001 0000 01 00000000 01 01 09 000000000000000500")
    with pytest.raises(MalformedMessageError):
        decode_response(18, 3, frame)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes(frame: bytes) -> None:
    _decode_or_protocol_error(frame)


@settings(max_examples=80, deadline=None)
@given(key=st.sampled_from(sorted(SCHEMAS)), noise=st.binary(max_size=48))
def test_random_bodies_behind_valid_headers(key: int, noise: bytes) -> None:
    lo, _ = SUPPORTED_VERSIONS[key]  # type: ignore[index]
    _decode_or_protocol_error(struct.pack(">hhih", key, lo, 1, -1) + noise)
    _decode_or_protocol_error(struct.pack(">hhih", key, lo, 1, -1) + b"\x00" + noise)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_valid_requests(data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(SCHEMAS)))
    lo, hi = SUPPORTED_VERSIONS[key]  # type: ignore[index]
    version = data.draw(st.integers(lo, hi))
    body = data.draw(body_strategy(SCHEMAS[key].request, version))
    frame = bytearray(join_parts(encode_request(RequestHeader(key, version, 1, "x"), body)))
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(frame) - 1))
        frame[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(frame)))
    _decode_or_protocol_error(bytes(frame[:cut]))
    _decode_or_protocol_error(bytes(frame))


@pytest.mark.parametrize("version", [0, 9, 12])
def test_wide_metadata_answers_round_trip_and_every_cut_is_an_error(version: int) -> None:
    """Metadata partitions are read with their fixed-width fields merged into one unpack and
    replica arrays by a cached per-count unpacker (the fast paths a 5,000-partition describe
    relies on): the values come back as written, and a cut anywhere is a ProtocolError."""
    from tidelog.protocol import ApiKey, ResponseHeader, encode_response

    parts = [{"error_code": p % 3, "partition_index": p, "leader_id": p % 4 - 1,
              "leader_epoch": p * 7, "replica_nodes": list(range(p % 4)),
              "isr_nodes": list(range(p % 3)), "offline_replicas": []} for p in range(6)]
    body = {"brokers": [{"node_id": 1, "host": "h", "port": 9092, "rack": None}],
            "controller_id": 1, "cluster_id": "c",
            "topics": [{"error_code": 0, "name": "t", "is_internal": False,
                        "partitions": parts}]}
    frame = join_parts(encode_response(ResponseHeader(5), ApiKey.METADATA, version, body))
    _, decoded = decode_response(ApiKey.METADATA, version, frame)
    got = decoded.topics[0].partitions
    fields = ("error_code", "partition_index", "leader_id", "replica_nodes", "isr_nodes")
    if version >= 7:
        fields += ("leader_epoch",)
    assert [{f: getattr(g, f) for f in fields} for g in got] == \
        [{f: p[f] for f in fields} for p in parts]
    for cut in range(4, len(frame)):
        with pytest.raises(ProtocolError):
            decode_response(ApiKey.METADATA, version, frame[:cut])
