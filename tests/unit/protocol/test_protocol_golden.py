"""Golden bytes written by hand from Kafka's protocol guide, checked in both directions."""

from __future__ import annotations

import uuid

import pytest
from tidelog.protocol import (
    ApiKey,
    RequestHeader,
    ResponseHeader,
    Struct,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
    join_parts,
)
from tidelog.protocol import primitives as p

# ApiVersions v0 request: header v1 (key 18, version 0, correlation 1, client "ab"), no body.
API_VERSIONS_V0_REQUEST = bytes.fromhex("0012 0000 00000001 0002 6162")

# ApiVersions v3 request: header v2 = v1 + empty tag section; body has compact strings.
API_VERSIONS_V3_REQUEST = bytes.fromhex(
    "0012 0003 00000001 0002 6162 00"  # header v2: client_id stays a classic int16 string
    "03 746c"  # client_software_name: compact "tl" (length + 1 = 3)
    "04 312e30"  # client_software_version: compact "1.0"
    "00"  # no tagged fields
)

# ApiVersions v0 response: header v0, error 0, int32-counted array of (key, min, max).
API_VERSIONS_V0_RESPONSE = bytes.fromhex(
    "00000001" "0000" "00000002" "0000 0003 000a" "0012 0000 0004"
)

# ApiVersions v3 response: still response header v0 (Kafka's exception), compact array,
# per-entry tag sections, throttle, then tagged field 1 (finalized_features_epoch = 5).
API_VERSIONS_V3_RESPONSE = bytes.fromhex(
    "00000001"  # header v0: no tag section even though the body is flexible
    "0000"  # error_code
    "02" "0012 0000 0004 00"  # one api key entry + its empty tag section
    "00000000"  # throttle_time_ms
    "01" "01 08 0000000000000005"  # one tagged field: tag 1, 8 bytes, int64 5
)

# Metadata v1 request: header v1 with null client_id; topics ["t"].
METADATA_V1_REQUEST = bytes.fromhex("0003 0001 00000007 ffff" "00000001 0001 74")
METADATA_V1_ALL_TOPICS = bytes.fromhex("0003 0001 00000007 ffff" "ffffffff")

# Produce v3 request with one partition whose records are the 3 opaque bytes "xyz".
PRODUCE_V3_REQUEST = bytes.fromhex(
    "0000 0003 00000002 0001 63"  # header: produce v3, correlation 2, client "c"
    "ffff"  # transactional_id null
    "ffff"  # acks -1
    "00007530"  # timeout_ms 30000
    "00000001" "0001 74"  # one topic "t"
    "00000001" "00000000" "00000003 78797a"  # partition 0, records "xyz"
)


def test_api_versions_v0_request() -> None:
    header, body = decode_request(API_VERSIONS_V0_REQUEST)
    assert header == RequestHeader(ApiKey.API_VERSIONS, 0, 1, "ab")
    assert body.client_software_name == ""  # absent in v0: default
    assert join_parts(encode_request(header, {})) == API_VERSIONS_V0_REQUEST


def test_api_versions_v3_request() -> None:
    header, body = decode_request(API_VERSIONS_V3_REQUEST)
    assert header == RequestHeader(18, 3, 1, "ab")
    assert body == Struct(client_software_name="tl", client_software_version="1.0")
    assert join_parts(encode_request(header, body)) == API_VERSIONS_V3_REQUEST


def test_api_versions_v0_response() -> None:
    body = Struct(
        error_code=0,
        api_keys=[
            Struct(api_key=0, min_version=3, max_version=10),
            Struct(api_key=18, min_version=0, max_version=4),
        ],
    )
    encoded = join_parts(encode_response(ResponseHeader(1), 18, 0, body))
    assert encoded == API_VERSIONS_V0_RESPONSE
    header, decoded = decode_response(18, 0, API_VERSIONS_V0_RESPONSE)
    assert header.correlation_id == 1
    assert decoded.api_keys == body.api_keys
    assert decoded.throttle_time_ms == 0


def test_api_versions_v3_response_uses_header_v0_and_tags() -> None:
    body = {
        "error_code": 0,
        "api_keys": [{"api_key": 18, "min_version": 0, "max_version": 4}],
        "throttle_time_ms": 0,
        "finalized_features_epoch": 5,
    }
    encoded = join_parts(encode_response(RequestHeader(18, 3, 1, "x"), 18, 3, body))
    assert encoded == API_VERSIONS_V3_RESPONSE
    _, decoded = decode_response(18, 3, API_VERSIONS_V3_RESPONSE)
    assert decoded.finalized_features_epoch == 5
    assert decoded.supported_features == []  # tag 0 not sent: default
    assert decoded.zk_migration_ready is False


def test_metadata_v1_request() -> None:
    header, body = decode_request(METADATA_V1_REQUEST)
    assert header == RequestHeader(3, 1, 7, None)
    assert [t.name for t in body.topics] == ["t"]
    assert body.allow_auto_topic_creation is True  # v4+ field: default true
    assert join_parts(encode_request(header, body)) == METADATA_V1_REQUEST
    _, everything = decode_request(METADATA_V1_ALL_TOPICS)
    assert everything.topics is None


def test_produce_v3_request() -> None:
    header, body = decode_request(PRODUCE_V3_REQUEST)
    assert header == RequestHeader(0, 3, 2, "c")
    assert body.transactional_id is None
    assert body.acks == -1
    assert body.timeout_ms == 30000
    [topic] = body.topic_data
    assert topic.name == "t"
    [part] = topic.partition_data
    assert part.index == 0
    assert bytes(part.records) == b"xyz"
    assert join_parts(encode_request(header, body)) == PRODUCE_V3_REQUEST


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, "00"),
        (1, "01"),
        (127, "7f"),
        (128, "8001"),
        (300, "ac02"),
        (16383, "ff7f"),
        (16384, "808001"),
        (0xFFFFFFFF, "ffffffff0f"),
    ],
)
def test_uvarint_boundaries(value: int, encoded: str) -> None:
    out = bytearray()
    p.write_uvarint(out, value)
    assert out.hex() == encoded
    assert p.read_uvarint(memoryview(bytes(out)), 0) == (value, len(out))


@pytest.mark.parametrize(
    ("value", "encoded"),
    [(0, "00"), (-1, "01"), (1, "02"), (-64, "7f"), (64, "8001"), (-(1 << 31), "ffffffff0f")],
)
def test_zigzag_varint(value: int, encoded: str) -> None:
    out = bytearray()
    p.write_varint(out, value)
    assert out.hex() == encoded
    assert p.read_varint(memoryview(bytes(out)), 0) == (value, len(out))


def test_varlong_extremes() -> None:
    for value in (-(1 << 63), (1 << 63) - 1, 0, -1):
        out = bytearray()
        p.write_varlong(out, value)
        assert p.read_varlong(memoryview(bytes(out)), 0) == (value, len(out))


def test_uuid_and_strings() -> None:
    u = uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")
    out = bytearray()
    p.write_uuid(out, u)
    p.write_string(out, None, compact=True, nullable=True)
    p.write_string(out, "é", compact=False, nullable=False)
    assert out.hex() == "00112233445566778899aabbccddeeff" "00" "0002c3a9"
    buf = memoryview(bytes(out))
    assert p.read_uuid(buf, 0) == (u, 16)
    assert p.read_string(buf, 16, True, True) == (None, 17)
    assert p.read_string(buf, 17, False, False) == ("é", 21)
