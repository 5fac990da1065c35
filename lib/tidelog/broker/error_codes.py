"""Kafka error codes for the project's exceptions (storage, records, metadata, OS errors).

Shared by the request handlers and the replica manager, which answer per partition: an
exception never escapes as a crash, it becomes the code a Kafka client expects.
"""

from __future__ import annotations

from tidelog.metadata.errors import ControllerError
from tidelog.protocol.errors import ErrorCode
from tidelog.records.errors import CorruptRecordError
from tidelog.storage.errors import (
    InvalidBatchError,
    InvalidConfigError,
    InvalidRecordError,
    OffsetOutOfRangeError,
    RecordTooLargeError,
    StorageError,
)


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
    if isinstance(exc, OSError) or (
        isinstance(exc, StorageError) and isinstance(exc.__cause__, OSError)
    ):  # the disk failed (ENOSPC, EIO), also under a storage error that explains it
        return ErrorCode.KAFKA_STORAGE_ERROR
    return ErrorCode.UNKNOWN_SERVER_ERROR


def message_of(exc: BaseException) -> str:
    if isinstance(exc, ControllerError):
        return exc.detail
    return str(exc)
