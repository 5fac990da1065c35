"""Errors raised by the segment store.

Every failure the storage layer raises on purpose is a :class:`StorageError` (a
:class:`~tidelog.errors.TidelogError`), so the broker and the tools can map it to a Kafka error
code or an exit code. Low-level exceptions (struct.error, ValueError from mmap, ...) never escape
on malformed files; OSError from the operating system (disk full, permissions) does, because it
is not a property of the data.
"""

from __future__ import annotations

from tidelog.errors import TidelogError


class StorageError(TidelogError):
    """Base class of the storage layer's errors."""


class OffsetOutOfRangeError(StorageError):
    """A read or a start offset outside [log start offset, log end offset]."""

    def __init__(self, message: str, offset: int, log_start_offset: int, log_end_offset: int):
        super().__init__(message)
        self.offset = offset
        self.log_start_offset = log_start_offset
        self.log_end_offset = log_end_offset


class InvalidBatchError(StorageError):
    """An append was refused before anything was written (size, offsets, empty input)."""


class RecordTooLargeError(InvalidBatchError):
    """A batch is larger than ``max.message.bytes`` (Kafka's MESSAGE_TOO_LARGE)."""


class InvalidRecordError(InvalidBatchError):
    """A record a log refuses by policy (Kafka's INVALID_RECORD): a record without a key on a
    compacted topic."""


class CorruptIndexError(StorageError):
    """An offset or time index file that cannot be read (size not a multiple of the entry).

    ``position`` is the byte offset of the problem in the file, or -1 when unknown.
    """

    def __init__(self, message: str, position: int = -1) -> None:
        super().__init__(message)
        self.position = position


class CheckpointError(StorageError):
    """A checkpoint, partition.metadata or meta.properties file that does not parse."""


class InvalidConfigError(StorageError):
    """A log configuration value that is missing its form or range; names the key."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"invalid value for {key}: {reason}")
        self.key = key
        self.reason = reason


class LogDirError(StorageError):
    """A log directory that cannot be used (bad meta.properties, clashing ids, not a dir)."""
