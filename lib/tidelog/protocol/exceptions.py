"""Exceptions of the Kafka wire protocol codecs.

Every decoder in :mod:`tidelog.protocol` raises only :class:`ProtocolError` subclasses on bad
input (never struct.error, IndexError, UnicodeDecodeError, ...), each carrying the byte
``position`` within the frame where the problem was found (-1 when unknown).

:class:`UnsupportedRequestError` is different in kind: the frame's header parsed fine, but the
API key or version is one tidelog does not serve. It carries the parsed header so a server can
still answer (ApiVersions) or log who sent it before closing the connection.
"""

from __future__ import annotations

from tidelog.errors import TidelogError
from tidelog.protocol.header_fields import RequestHeader


class ProtocolError(TidelogError):
    """Bytes that are not a valid Kafka protocol message."""

    def __init__(self, message: str, position: int = -1) -> None:
        super().__init__(message if position < 0 else f"{message} (at byte {position})")
        self.position = position


class TruncatedMessageError(ProtocolError):
    """The frame ends before the message does."""


class MalformedMessageError(ProtocolError):
    """A field holds an impossible value: negative length, bad UTF-8, oversized varint, ..."""


class TrailingBytesError(ProtocolError):
    """The message ended before the frame did: sender and receiver disagree on the schema."""


class FrameSizeError(ProtocolError):
    """A frame's int32 size prefix is negative or larger than the configured maximum."""


class UnsupportedRequestError(ProtocolError):
    """The request header names an API key or version this codec does not support."""

    def __init__(self, message: str, header: RequestHeader) -> None:
        super().__init__(message)
        self.header = header


class UnknownApiKeyError(UnsupportedRequestError):
    """The API key is not one tidelog knows."""


class UnsupportedVersionError(UnsupportedRequestError):
    """The API is known but the version is outside the supported range."""


class EncodeError(TidelogError):
    """A value handed to an encoder does not fit its field (a bug in the caller, not input)."""
