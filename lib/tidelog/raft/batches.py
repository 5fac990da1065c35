"""Raft entries as Kafka record batches: how the Raft log lives in ``__cluster_metadata-0``.

Format (what the I/O layer writes and reads back; pure functions, no I/O):

* One proposal (a run of entries ending with ``batch_end``) is one uncompressed v2 record
  batch: ``baseOffset`` is the first entry's offset, ``partitionLeaderEpoch`` the entries'
  epoch, one record per entry with a null key and the entry's data as value (a metadata
  record in Kafka's format, as :mod:`tidelog.metadata.log` writes them).
* A control entry (the marker a new leader appends) is a one-record *control* batch whose key
  is Kafka's control record key for LEADER_CHANGE (version 0, type 2) and whose value is the
  marker (Kafka's LeaderChangeMessage, :func:`tidelog.metadata.frames.leader_change_value`).
  :class:`~tidelog.metadata.log.MetadataLog` already skips control batches on replay.
* Timestamps are CreateTime, given by the caller (Raft has no clock).

Decoding checks every batch (size, magic, CRC; the records layer raises CorruptRecordError on a
torn or corrupt batch, which names the byte position) and raises RaftError for batches that
are valid Kafka but not a Raft log (a null value, mixed epochs, a gap between offsets).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from tidelog.raft.errors import RaftError
from tidelog.raft.types import Entry
from tidelog.records.builder import build_batch
from tidelog.records.crc import BytesLike
from tidelog.records.reader import iter_decoded_batches
from tidelog.records.record import NewRecord

#: Kafka's control record key: int16 version 0, int16 type 2 (LEADER_CHANGE).
LEADER_CHANGE_KEY = struct.pack(">hh", 0, 2)


def split_batches(entries: Sequence[Entry]) -> list[Sequence[Entry]]:
    """Group entries into proposals (a trailing incomplete run is a group of its own)."""
    groups: list[Sequence[Entry]] = []
    start = 0
    for i, entry in enumerate(entries):
        if entry.batch_end or entry.control:
            groups.append(entries[start : i + 1])
            start = i + 1
    if start < len(entries):
        groups.append(entries[start:])
    return groups


def encode_entries(entries: Sequence[Entry], *, timestamp_ms: int) -> list[bytes]:
    """One record batch per proposal of ``entries`` (which must be consecutive)."""
    out = []
    for group in split_batches(entries):
        first = group[0]
        if first.control:
            records = [NewRecord(first.data, LEADER_CHANGE_KEY, (), timestamp_ms)]
        else:
            records = [NewRecord(e.data, None, (), timestamp_ms) for e in group]
        out.append(
            build_batch(
                records,
                base_offset=first.offset,
                partition_leader_epoch=first.epoch,
                is_control=first.control,
            )
        )
    return out


def decode_entries(buf: BytesLike, *, expect_offset: int | None = None) -> list[Entry]:
    """The entries of the record batches in ``buf``, in order.

    ``expect_offset`` is where the first entry must be (the log start, when reading a whole
    log back); offsets must then be consecutive.
    """
    out: list[Entry] = []
    nxt = expect_offset
    for batch in iter_decoded_batches(buf):
        h = batch.header
        if nxt is not None and h.base_offset != nxt:
            raise RaftError(f"raft log batch at offset {h.base_offset}, expected {nxt}")
        records = list(batch.records())
        if not records:
            raise RaftError(f"raft log batch at offset {h.base_offset} holds no record")
        control = h.is_control
        for i, record in enumerate(records):
            if record.value is None:
                raise RaftError(f"raft log entry at offset {record.offset} has a null value")
            out.append(
                Entry(
                    record.offset,
                    h.partition_leader_epoch,
                    record.value,
                    control=control,
                    batch_end=i == len(records) - 1,
                )
            )
        nxt = h.next_offset
    return out
