"""Whole messages: header + body, for both sides of a connection (sans-I/O).

Server side: :func:`decode_request` (frame -> header, body) and :func:`encode_response`.
A request may carry bytes after its body's last field; they are ignored, as Kafka's broker
ignores them. Responses are decoded exactly: bytes left over there are an error.
Client side: :func:`encode_request` and :func:`decode_response`. Frames are payloads without
the int32 size prefix (what :class:`~tidelog.protocol.framing.FrameDecoder` yields); encoders
return *parts* (bytes chunks and the caller's records objects) to pass to
:func:`~tidelog.protocol.framing.frame`.

The header version follows from the body version's flexibility (request header v2 / response
header v1 when flexible) except that ApiVersions responses always use header v0.

Unknown API keys and unsupported versions raise :class:`UnknownApiKeyError` /
:class:`UnsupportedVersionError` carrying the parsed header; :func:`answer_unsupported` builds
the answer Kafka gives (for ApiVersions: a v0 body with UNSUPPORTED_VERSION and the supported
range, so the client downgrades; for anything else: no answer, close the connection).
"""

from __future__ import annotations

from collections.abc import Mapping, Sized
from typing import TYPE_CHECKING, Any

from tidelog.protocol.apis import ApiKey, schema_for, version_range
from tidelog.protocol.codec import Writer, compile_body, decode_body
from tidelog.protocol.data import Struct
from tidelog.protocol.errors import ErrorCode
from tidelog.protocol.exceptions import (
    EncodeError,
    UnknownApiKeyError,
    UnsupportedRequestError,
    UnsupportedVersionError,
)
from tidelog.protocol.header import (
    RequestHeader,
    ResponseHeader,
    read_request_prefix,
    read_response_header,
    response_header_flexible,
    skip_tagged_fields,
    write_request_header,
    write_response_header,
)
from tidelog.protocol.schema import ApiSchema

if TYPE_CHECKING:  # a type only: importing tidelog.records at run time costs every
    # program ~0.3 s of startup (its package builds varint tables)
    from tidelog.records.crc import BytesLike

Body = Struct | Mapping[str, Any]


def _view(frame: BytesLike) -> memoryview:
    view = memoryview(frame)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def _checked_schema(api_key: int, version: int) -> ApiSchema:
    schema = schema_for(api_key)
    rng = version_range(api_key)
    if schema is None or rng is None:
        raise EncodeError(f"unknown API key {api_key}")
    if not rng[0] <= version <= rng[1]:
        raise EncodeError(f"{schema.name} v{version} is outside the supported {rng[0]}-{rng[1]}")
    return schema


def decode_request(frame: BytesLike) -> tuple[RequestHeader, Struct]:
    """Decode a request frame. Records fields in the body are memoryview slices of ``frame``."""
    buf = _view(frame)
    header, pos = read_request_prefix(buf)
    schema = schema_for(header.api_key)
    rng = version_range(header.api_key)
    if schema is None or rng is None:
        raise UnknownApiKeyError(f"unknown API key {header.api_key}", header)
    if not rng[0] <= header.api_version <= rng[1]:
        raise UnsupportedVersionError(
            f"{schema.name} v{header.api_version} is not supported "
            f"(supported: {rng[0]}-{rng[1]})",
            header,
        )
    if schema.is_flexible(header.api_version):
        pos = skip_tagged_fields(buf, pos)
    # Lenient as Kafka: bytes after the request's last field are ignored, never an error
    # (librdkafka 2.x encodes an all-topics Metadata v9+ request with 3 bytes too many).
    return header, decode_body(schema.request, header.api_version, buf, pos, exact=False)


def encode_request(header: RequestHeader, body: Body) -> list[Sized]:
    """Encode a request (without the size prefix) as parts."""
    schema = _checked_schema(header.api_key, header.api_version)
    out = Writer()
    write_request_header(out, header, schema.is_flexible(header.api_version))
    compile_body(schema.request, header.api_version).write(out, body)
    return out.finish()


def encode_response(
    header: RequestHeader | ResponseHeader, api_key: int, version: int, body: Body
) -> list[Sized]:
    """Encode a response (without the size prefix) as parts; records stay the caller's objects."""
    schema = _checked_schema(api_key, version)
    out = Writer()
    flexible = response_header_flexible(api_key, schema.is_flexible(version))
    write_response_header(out, header.correlation_id, flexible)
    compile_body(schema.response, version).write(out, body)
    return out.finish()


def decode_response(api_key: int, version: int, frame: BytesLike) -> tuple[ResponseHeader, Struct]:
    """Decode a response frame to a request of ``api_key`` at ``version``."""
    schema = _checked_schema(api_key, version)
    buf = _view(frame)
    header, pos = read_response_header(
        buf, response_header_flexible(api_key, schema.is_flexible(version))
    )
    return header, decode_body(schema.response, version, buf, pos)


def answer_unsupported(error: UnsupportedRequestError) -> list[Sized] | None:
    """The response Kafka sends for an unsupported request, or None: close the connection.

    An ApiVersions request at a version the broker does not know gets an ApiVersions v0 body
    (response header v0) with UNSUPPORTED_VERSION and the ApiVersions range, so librdkafka
    (opens with v3) and kafka-python (opens with v4) retry at a version in range.
    """
    header = error.header
    if header.api_key != ApiKey.API_VERSIONS or not isinstance(error, UnsupportedVersionError):
        return None
    lo, hi = version_range(ApiKey.API_VERSIONS) or (0, 0)
    body = Struct(
        error_code=int(ErrorCode.UNSUPPORTED_VERSION),
        api_keys=[Struct(api_key=int(ApiKey.API_VERSIONS), min_version=lo, max_version=hi)],
    )
    return encode_response(header, ApiKey.API_VERSIONS, 0, body)
