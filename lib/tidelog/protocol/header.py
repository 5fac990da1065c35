"""Request and response headers.

Formats::

    request header v1:  api_key int16, api_version int16, correlation_id int32,
                        client_id nullable string (int16 length)
    request header v2:  v1 + tagged fields (client_id stays a classic string: Kafka's one
                        exception to "flexible means compact")
    response header v0: correlation_id int32
    response header v1: v0 + tagged fields

Which version a message uses follows from whether its API version is flexible; the one
exception is ApiVersions, whose responses always use response header v0 so that a client can
read the answer even when the broker does not support the version it asked for.
Unknown tagged fields in headers are skipped. Malformed input raises ProtocolError subclasses.
"""

from __future__ import annotations

import struct

import tidelog.protocol.primitives as p
from tidelog.protocol.exceptions import TruncatedMessageError
from tidelog.protocol.header_fields import RequestHeader, ResponseHeader

API_VERSIONS_KEY = 18

_PREFIX = struct.Struct(">hhi")  # api_key, api_version, correlation_id
_FIXED = _PREFIX.size


def read_request_prefix(buf: memoryview) -> tuple[RequestHeader, int]:
    """Read the fields every request header version shares (through client_id).

    Returns the header and the position after client_id; the caller decides whether a
    tagged-field section follows (it depends on the API version's flexibility).
    """
    if len(buf) < _FIXED:
        raise TruncatedMessageError("frame shorter than a request header", 0)
    api_key, api_version, correlation_id = _PREFIX.unpack_from(buf, 0)
    client_id, pos = p.read_string(buf, _FIXED, False, True)
    return RequestHeader(api_key, api_version, correlation_id, client_id), pos


def skip_tagged_fields(buf: memoryview, pos: int) -> int:
    """Skip a header's tagged-field section (no tagged header field is used by tidelog)."""
    count, pos = p.read_uvarint(buf, pos)
    for _ in range(count):
        start = pos
        _tag, pos = p.read_uvarint(buf, pos)
        size, pos = p.read_uvarint(buf, pos)
        pos += size
        if pos > len(buf):
            raise TruncatedMessageError("header tagged field is cut off", start)
    return pos


def write_request_header(out: bytearray, header: RequestHeader, flexible: bool) -> None:
    out += _PREFIX.pack(header.api_key, header.api_version, header.correlation_id)
    p.write_string(out, header.client_id, False, True)
    if flexible:
        out.append(0)  # no tagged fields


def response_header_flexible(api_key: int, flexible_body: bool) -> bool:
    """Whether a response uses header v1 (tagged fields), with the ApiVersions exception."""
    return flexible_body and api_key != API_VERSIONS_KEY


def read_response_header(buf: memoryview, flexible: bool) -> tuple[ResponseHeader, int]:
    if len(buf) < 4:
        raise TruncatedMessageError("frame shorter than a response header", 0)
    (correlation_id,) = p.INT32.unpack_from(buf, 0)
    pos = 4
    if flexible:
        pos = skip_tagged_fields(buf, pos)
    return ResponseHeader(correlation_id), pos


def write_response_header(out: bytearray, correlation_id: int, flexible: bool) -> None:
    out += p.INT32.pack(correlation_id)
    if flexible:
        out.append(0)


__all__ = [
    "RequestHeader",
    "ResponseHeader",
    "read_request_prefix",
    "read_response_header",
    "response_header_flexible",
    "skip_tagged_fields",
    "write_request_header",
    "write_response_header",
]
