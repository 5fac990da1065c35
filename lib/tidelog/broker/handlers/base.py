"""What every request handler shares: its signature, the fallback answer, error mapping.

A handler is ``async def handle(core, header, request) -> Struct | None``: it gets the decoded
request body and returns the response body (``None`` means "send no response", which only
Produce with acks=0 uses). A handler answers per-partition and per-topic problems inside its
response; an exception it lets escape is a bug, and the dispatcher answers it with the
handler's *fallback*: ``fallback(request, version, error_code) -> Struct``, the same response
shape with ``error_code`` on every entry, so the client sees an error, never a hang.

:func:`error_of` maps the project's exceptions to Kafka error codes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import NamedTuple

from tidelog.broker.core import BrokerCore
from tidelog.metadata.errors import ControllerError
from tidelog.protocol.data import Struct
from tidelog.protocol.errors import ErrorCode
from tidelog.protocol.header import RequestHeader
from tidelog.records.errors import CorruptRecordError
from tidelog.storage.errors import (
    InvalidBatchError,
    InvalidConfigError,
    InvalidRecordError,
    OffsetOutOfRangeError,
    RecordTooLargeError,
)

HandleFn = Callable[[BrokerCore, RequestHeader, Struct], Awaitable[Struct | None]]
FallbackFn = Callable[[Struct, int, ErrorCode], Struct]


class Handler(NamedTuple):
    handle: HandleFn
    fallback: FallbackFn


def error_of(exc: BaseException) -> ErrorCode:
    """The Kafka error code for an exception raised by storage, records or metadata."""
    if isinstance(exc, ControllerError):
        return ErrorCode(exc.error_code)  # type: ignore[call-arg]  # lookup by value
    if isinstance(exc, RecordTooLargeError):
        return ErrorCode.MESSAGE_TOO_LARGE
    if isinstance(exc, InvalidRecordError):
        return ErrorCode.INVALID_RECORD
    if isinstance(exc, CorruptRecordError | InvalidBatchError):
        return ErrorCode.CORRUPT_MESSAGE
    if isinstance(exc, InvalidConfigError):
        return ErrorCode.INVALID_CONFIG
    if isinstance(exc, OffsetOutOfRangeError):
        return ErrorCode.OFFSET_OUT_OF_RANGE
    if isinstance(exc, OSError):
        return ErrorCode.KAFKA_STORAGE_ERROR
    return ErrorCode.UNKNOWN_SERVER_ERROR


def message_of(exc: BaseException) -> str:
    if isinstance(exc, ControllerError):
        return exc.detail
    return str(exc)
