"""Hypothesis round trips of every supported API x version, requests and responses."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protocol_strategies import body_strategy

from tidelog.protocol import (
    RequestHeader,
    ResponseHeader,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
    join_parts,
)
from tidelog.protocol.apis import SCHEMAS, SUPPORTED_VERSIONS

CASES = [
    (int(key), version)
    for key, (lo, hi) in SUPPORTED_VERSIONS.items()
    for version in range(lo, hi + 1)
]

_SETTINGS = settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def test_every_api_has_versions() -> None:
    assert len(CASES) > 100
    assert {key for key, _ in CASES} == set(SCHEMAS)


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
