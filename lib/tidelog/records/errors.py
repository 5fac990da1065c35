"""Errors raised by the record batch codecs.

Decoders never let a low-level exception (struct.error, IndexError, zlib.error, ...) escape on
malformed input: they raise one of these, carrying the byte position where the problem starts
when it is known, so tools can report "corrupt at byte N" and stop after the valid prefix.
"""

from tidelog.errors import TidelogError


class CorruptRecordError(TidelogError):
    """Bytes that do not form a valid record batch (bad size, magic, CRC or encoding).

    ``position`` is the byte offset of the batch (or field) at fault within the buffer that was
    being read, or -1 when unknown.
    """

    def __init__(self, message: str, position: int = -1) -> None:
        super().__init__(message)
        self.position = position


class TruncatedBatchError(CorruptRecordError):
    """The buffer ends before the batch it starts does: a torn write, or more bytes to come."""


class UnsupportedCodecError(CorruptRecordError):
    """The attributes name a compression codec tidelog does not know (only 0-4 exist)."""
