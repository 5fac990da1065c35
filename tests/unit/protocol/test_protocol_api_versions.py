"""Unsupported requests and the ApiVersions downgrade answer."""

from __future__ import annotations

import struct

import pytest
from kafka.protocol.metadata.api_versions import ApiVersionsResponse as KpApiVersionsResponse
from tidelog.protocol import (
    SUPPORTED_VERSIONS,
    ApiKey,
    ErrorCode,
    FrameDecoder,
    RequestHeader,
    UnknownApiKeyError,
    UnsupportedVersionError,
    answer_unsupported,
    api_versions_entries,
    decode_request,
    decode_response,
    encode_response,
    frame,
    join_parts,
)


def _request(key: int, version: int, correlation_id: int, tail: bytes = b"") -> bytes:
    return struct.pack(">hhih", key, version, correlation_id, 3) + b"cli" + tail


def test_api_versions_v127_gets_the_v0_downgrade_answer() -> None:
    # A flexible ApiVersions request from the future: header v2 + body we cannot know.
    raw = _request(ApiKey.API_VERSIONS, 127, 42, b"\x00\x05hello\x00")
    with pytest.raises(UnsupportedVersionError) as info:
        decode_request(raw)
    assert info.value.header == RequestHeader(18, 127, 42, "cli")
    parts = answer_unsupported(info.value)
    assert parts is not None
    answer = join_parts(frame(parts))
    [payload] = FrameDecoder(1 << 20).feed(answer)
    # Response header v0 (just the correlation id), then an ApiVersions v0 body.
    assert payload == bytes.fromhex("0000002a" "0023" "00000001" "0012" "0000" "0004")
    header, body = decode_response(18, 0, payload)
    assert header.correlation_id == 42
    assert body.error_code == ErrorCode.UNSUPPORTED_VERSION == 35
    assert [(k.api_key, k.min_version, k.max_version) for k in body.api_keys] == [(18, 0, 4)]
    # kafka-python, which opens with v4, reads the answer as v0 because of the error.
    kp = KpApiVersionsResponse.decode(payload, version=4, header=True)
    assert kp.error_code == 35
    assert [(k.api_key, k.max_version) for k in kp.api_keys] == [(18, 4)]


def test_librdkafka_style_v3_opening_is_supported() -> None:
    raw = _request(ApiKey.API_VERSIONS, 3, 1, b"\x00\x08librdkafka\x062.0.2\x00".replace(
        b"\x08librdkafka", b"\x0blibrdkafka"))
    header, body = decode_request(raw)
    assert header.api_version == 3
    assert body.client_software_name == "librdkafka"


def test_unknown_api_key_carries_the_header_and_gets_no_answer() -> None:
    raw = _request(9999, 0, 7)
    with pytest.raises(UnknownApiKeyError) as info:
        decode_request(raw)
    assert info.value.header == RequestHeader(9999, 0, 7, "cli")
    assert answer_unsupported(info.value) is None  # Kafka closes the connection


def test_unsupported_version_of_another_api() -> None:
    with pytest.raises(UnsupportedVersionError) as info:
        decode_request(_request(ApiKey.PRODUCE, 11, 3))  # above the top tidelog serves
    assert info.value.header.api_key == ApiKey.PRODUCE
    assert answer_unsupported(info.value) is None


def test_api_versions_answer_lists_the_table() -> None:
    entries = api_versions_entries()
    assert len(entries) == len(SUPPORTED_VERSIONS)
    assert {(e.api_key, e.min_version, e.max_version) for e in entries} == {
        (int(k), lo, hi) for k, (lo, hi) in SUPPORTED_VERSIONS.items()}
    assert SUPPORTED_VERSIONS[ApiKey.PRODUCE] == (0, 10)  # 0-2 for old tools, as Kafka 3.x
    assert SUPPORTED_VERSIONS[ApiKey.FETCH] == (4, 16)
    frame_bytes = join_parts(encode_response(
        RequestHeader(18, 3, 5, None), 18, 3,
        {"error_code": 0, "api_keys": entries, "throttle_time_ms": 0}))
    kp = KpApiVersionsResponse.decode(frame_bytes, version=3, header=True)
    assert {k.api_key: (k.min_version, k.max_version) for k in kp.api_keys}[3] == (0, 13)
