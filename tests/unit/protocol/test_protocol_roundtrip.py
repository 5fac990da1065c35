"""Hypothesis round trips of every supported API x version, requests and responses, each
body also cross-checked against kafka-python's codec."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protocol_kp import kp_reencode
from protocol_strategies import body_strategy
from tidelog.protocol import (
    RequestHeader,
    ResponseHeader,
    Struct,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
    join_parts,
)
from tidelog.protocol.apis import SCHEMAS, SUPPORTED_VERSIONS
from tidelog.protocol.codec import Writer, compile_body
from tidelog.protocol.messages.admin import CLEANER_TAG_BASE
from tidelog.protocol.schema import Field

CASES = [
    (int(key), version)
    for key, (lo, hi) in SUPPORTED_VERSIONS.items()
    for version in range(lo, hi + 1)
]

_SETTINGS = settings(
    max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def test_every_api_has_versions() -> None:
    assert len(CASES) > 100
    assert {key for key, _ in CASES} == set(SCHEMAS)


def _kafka_fields_only(schema: tuple[Field, ...] | list[Field], body: Struct) -> Struct:
    """``body`` with tidelog's own tagged fields (tags from CLEANER_TAG_BASE, which Kafka's
    readers skip: see test_kafka_python_skips_tidelogs_tagged_fields) at their defaults."""
    out = Struct(**vars(body))
    for fld in schema:
        value = getattr(out, fld.name, None)
        if fld.tag is not None and fld.tag >= CLEANER_TAG_BASE:
            setattr(out, fld.name, fld.default)
        elif isinstance(fld.type, list) and value is not None:
            setattr(out, fld.name, [_kafka_fields_only(fld.type, v) for v in value])
        elif isinstance(fld.type, tuple) and value is not None:
            setattr(out, fld.name, _kafka_fields_only(fld.type, value))
    return out


def _check_kafka_python(api_key: int, kind: str, version: int, body: Struct) -> None:
    """kafka-python (an encoder nobody here wrote) reads our body and re-encodes it
    byte for byte: our schemas agree with Kafka's field by field, version by version."""
    schema = SCHEMAS[api_key].request if kind == "request" else SCHEMAS[api_key].response
    out = Writer()
    compile_body(schema, version).write(out, _kafka_fields_only(schema.fields, body))
    ours = join_parts(out.finish())
    assert kp_reencode(api_key, kind, version, ours) == ours, (kind, version)


APIS = sorted(int(key) for key in SUPPORTED_VERSIONS)


def _versions(api_key: int) -> range:
    lo, hi = SUPPORTED_VERSIONS[api_key]  # type: ignore[index]
    return range(lo, hi + 1)


# One Hypothesis test per API that walks every version inside each example: the same
# coverage as one test per version, at a fraction of Hypothesis' per-test overhead.
@pytest.mark.parametrize("api_key", APIS)
@_SETTINGS
@given(data=st.data())
def test_request_round_trip(api_key: int, data: st.DataObject) -> None:
    for version in _versions(api_key):
        body = data.draw(body_strategy(SCHEMAS[api_key].request, version))
        client_id = data.draw(st.none() | st.text(max_size=5))
        correlation_id = data.draw(st.integers(-(1 << 31), (1 << 31) - 1))
        header = RequestHeader(api_key, version, correlation_id, client_id)
        frame = join_parts(encode_request(header, body))
        got_header, got_body = decode_request(frame)
        assert got_header == header
        assert got_body == body
        # Encoding is deterministic: the decoded form encodes to the same bytes.
        assert join_parts(encode_request(got_header, got_body)) == frame
        _check_kafka_python(api_key, "request", version, body)


@pytest.mark.parametrize("api_key", APIS)
@_SETTINGS
@given(data=st.data())
def test_response_round_trip(api_key: int, data: st.DataObject) -> None:
    for version in _versions(api_key):
        body = data.draw(body_strategy(SCHEMAS[api_key].response, version))
        correlation_id = data.draw(st.integers(-(1 << 31), (1 << 31) - 1))
        header = ResponseHeader(correlation_id)
        frame = join_parts(encode_response(header, api_key, version, body))
        got_header, got_body = decode_response(api_key, version, frame)
        assert got_header.correlation_id == correlation_id
        assert got_body == body
        if api_key != 18 or body.error_code == 0:  # kafka-python reads error answers as v0
            _check_kafka_python(api_key, "response", version, body)


def test_kafka_python_skips_tidelogs_tagged_fields() -> None:
    """DescribeLogDirs answers carry the cleaner's view in tidelog's tagged fields; a Kafka
    client reads the rest of the answer as usual."""
    from protocol_kp import KP

    part = Struct(partition_index=3, partition_size=1234, offset_lag=0, is_future_key=False,
                  cleaner_dirty_ratio=0.25, cleaner_first_dirty_offset=40,
                  cleaner_last_cleaned_ms=1_700_000_000_000, cleaner_error="bad batch")
    body = Struct(throttle_time_ms=0, error_code=0, results=[Struct(
        error_code=0, log_dir="/data", topics=[Struct(name="t", partitions=[part])],
        total_bytes=10, usable_bytes=5)])
    out = Writer()
    compile_body(SCHEMAS[35].response, 4).write(out, body)
    ours = join_parts(out.finish())
    decoded = KP[(35, "response")].decode(ours, version=4)
    result = decoded.results[0]
    assert (result.log_dir, result.total_bytes, result.usable_bytes) == ("/data", 10, 5)
    kp_part = result.topics[0].partitions[0]
    assert (kp_part.partition_index, kp_part.partition_size) == (3, 1234)
    got = decode_response(35, 4, join_parts(encode_response(ResponseHeader(7), 35, 4, body)))
    assert got[1] == body
