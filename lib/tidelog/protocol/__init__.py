"""The Kafka wire protocol, sans-I/O: bytes in, objects out; objects in, parts out.

Modules: ``primitives`` (field encodings), ``schema`` (the declaration form), ``messages``
(the schemas), ``codec`` (schema -> reader/writer per version), ``data`` (``Struct``, the
decoded form), ``header`` (request/response headers), ``apis`` (API keys and the supported
version table), ``wire`` (whole requests and responses), ``framing`` (size-prefixed frames,
parts), ``errors`` (Kafka error codes), ``exceptions`` (ProtocolError and friends).
"""

from tidelog.protocol.apis import SUPPORTED_VERSIONS, ApiKey, api_versions_entries
from tidelog.protocol.data import Struct
from tidelog.protocol.errors import ErrorCode
from tidelog.protocol.exceptions import (
    EncodeError,
    FrameSizeError,
    MalformedMessageError,
    ProtocolError,
    TrailingBytesError,
    TruncatedMessageError,
    UnknownApiKeyError,
    UnsupportedRequestError,
    UnsupportedVersionError,
)
from tidelog.protocol.framing import FrameDecoder, frame, join_parts
from tidelog.protocol.header import RequestHeader, ResponseHeader
from tidelog.protocol.wire import (
    answer_unsupported,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
)

__all__ = [
    "SUPPORTED_VERSIONS",
    "ApiKey",
    "EncodeError",
    "ErrorCode",
    "FrameDecoder",
    "FrameSizeError",
    "MalformedMessageError",
    "ProtocolError",
    "RequestHeader",
    "ResponseHeader",
    "Struct",
    "TrailingBytesError",
    "TruncatedMessageError",
    "UnknownApiKeyError",
    "UnsupportedRequestError",
    "UnsupportedVersionError",
    "answer_unsupported",
    "api_versions_entries",
    "decode_request",
    "decode_response",
    "encode_request",
    "encode_response",
    "frame",
    "join_parts",
]
