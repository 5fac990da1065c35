"""The records inside a Kafka record batch v2: what a reader yields and what a builder takes.

Wire format of one record (Kafka's DefaultRecord), after its batch's header::

    length          varint   bytes of everything below
    attributes      int8     unused by Kafka, written 0, ignored on read
    timestampDelta  varlong  timestamp - batch baseTimestamp
    offsetDelta     varint   offset - batch baseOffset
    keyLength       varint   -1 for a null key
    key             bytes
    valueLength     varint   -1 for a null value
    value           bytes
    headerCount     varint
    headers         headerCount x (keyLength varint, key UTF-8, valueLength varint (-1 null), value)

Invariants: null and empty are different everywhere (length -1 versus 0); header keys are
non-null UTF-8 strings; header order and duplicates are kept as written.

Nothing here does I/O or raises: these are plain NamedTuples. Decoding lives in
:mod:`tidelog.records.reader`, encoding in :mod:`tidelog.records.builder`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

Header = tuple[str, bytes | None]


class Record(NamedTuple):
    """One record as read from a batch, with absolute offset and timestamp."""

    #: Absolute offset: the batch's baseOffset + the record's offsetDelta.
    offset: int
    #: Absolute milliseconds: baseTimestamp + timestampDelta, or the batch's maxTimestamp when the
    #: batch is LogAppendTime (as Kafka's reader reports it).
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...]
    #: baseSequence + offsetDelta wrapping at 2**31, or -1 when the batch has no sequence.
    sequence: int
    #: Encoded size in bytes, including the leading length varint (Kafka's
    #: ``DefaultRecord.sizeInBytes()``), so the sizes of a batch's records sum to the
    #: uncompressed records section.
    size: int


class NewRecord(NamedTuple):
    """A record to be built into a batch. ``timestamp`` None means "now" (ms) at build time."""

    value: bytes | None
    key: bytes | None = None
    headers: Sequence[Header] = ()
    timestamp: int | None = None
