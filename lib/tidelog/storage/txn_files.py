"""Kafka's transaction files of a partition directory: ``.txnindex`` and ``.snapshot``.

``<base offset>.txnindex`` (one per segment that holds abort markers): fixed 34-byte entries,
one per aborted transaction whose marker lies in that segment, in marker order::

    version int16 (0) | producerId int64 | firstOffset int64 | lastOffset int64
    | lastStableOffset int64

``<offset>.snapshot`` (Kafka's producer state snapshot, version 1): the producers with an
open transaction as of ``offset`` (written when a segment rolls, named after the new
segment's base offset, and on a clean close, at the log end)::

    version int16 (1) | crc uint32 (CRC32C of everything after it) | count int32
    | count x (producerId int64 | epoch int16 | lastSequence int32 | lastOffset int64
               | offsetDelta int32 | timestamp int64 | coordinatorEpoch int32
               | currentTxnFirstOffset int64)

Crash behaviour: files are written whole to a ``.tmp`` name and renamed, never fsynced (they
are derived data): a missing or corrupt snapshot is skipped and an older one (or the log
from its start) is scanned instead; a ``.txnindex`` is rewritten from the log's memory when
segments change, and read back leniently (a torn last entry is dropped).
"""

from __future__ import annotations

import bisect
import logging
import os
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path

from tidelog.records.crc import crc32c
from tidelog.storage.txn_state import AbortedTxn, OpenTxn

log = logging.getLogger("tidelog.storage.txn")

TXN_INDEX_SUFFIX = ".txnindex"
SNAPSHOT_SUFFIX = ".snapshot"
_ENTRY = struct.Struct(">hqqqq")
ENTRY_SIZE = _ENTRY.size  # 34
_SNAP_HEAD = struct.Struct(">hIi")
_SNAP_ENTRY = struct.Struct(">qhiqiqiq")
_DIGITS = 20


def file_name(offset: int, suffix: str) -> str:
    return f"{offset:0{_DIGITS}d}{suffix}"


def offsets_with(directory: Path, suffix: str) -> list[int]:
    """The offsets naming the ``suffix`` files of ``directory``, sorted."""
    found = []
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    for name in names:
        stem = name[: -len(suffix)]
        if name.endswith(suffix) and len(stem) == _DIGITS and stem.isdigit():
            found.append(int(stem))
    return sorted(found)


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# -- .txnindex ------------------------------------------------------------------------------


def encode_index(entries: Iterable[AbortedTxn]) -> bytes:
    return b"".join(
        _ENTRY.pack(0, e.producer_id, e.first_offset, e.last_offset, e.last_stable_offset)
        for e in entries
    )


def decode_index(data: bytes) -> list[AbortedTxn]:
    whole = len(data) - len(data) % _ENTRY.size
    return [
        AbortedTxn(pid, first, last, lso)
        for _, pid, first, last, lso in _ENTRY.iter_unpack(data[:whole])
    ]


def read_indexes(directory: Path) -> list[AbortedTxn]:
    entries: list[AbortedTxn] = []
    for base in offsets_with(directory, TXN_INDEX_SUFFIX):
        entries += decode_index((directory / file_name(base, TXN_INDEX_SUFFIX)).read_bytes())
    return entries


def append_index(directory: Path, base: int, entry: AbortedTxn) -> None:
    with open(directory / file_name(base, TXN_INDEX_SUFFIX), "ab") as fh:
        fh.write(encode_index([entry]))


def rewrite_indexes(directory: Path, bases: Sequence[int], entries: Sequence[AbortedTxn]
                    ) -> None:
    """Make the ``.txnindex`` files say exactly ``entries``, each in the file of the segment
    (``bases``, sorted) holding its marker; files of other offsets go."""
    by_base: dict[int, list[AbortedTxn]] = {}
    for e in entries:
        i = bisect.bisect_right(bases, e.last_offset) - 1
        if i >= 0:
            by_base.setdefault(bases[i], []).append(e)
    for base in offsets_with(directory, TXN_INDEX_SUFFIX):
        if base not in by_base:
            (directory / file_name(base, TXN_INDEX_SUFFIX)).unlink(missing_ok=True)
    for base, group in by_base.items():
        path = directory / file_name(base, TXN_INDEX_SUFFIX)
        data = encode_index(group)
        if not path.exists() or path.read_bytes() != data:
            _write(path, data)


# -- .snapshot ------------------------------------------------------------------------------


def encode_snapshot(open_txns: Iterable[OpenTxn]) -> bytes:
    body = b"".join(
        _SNAP_ENTRY.pack(t.producer_id, t.producer_epoch, -1, t.first_offset, 0, -1, -1,
                         t.first_offset)
        for t in open_txns
    )
    count = len(body) // _SNAP_ENTRY.size
    tail = struct.pack(">i", count) + body
    return struct.pack(">hI", 1, crc32c(tail)) + tail


def decode_snapshot(data: bytes) -> list[OpenTxn] | None:
    """The open transactions of a snapshot, or None when it is not one we can trust
    (version, CRC, size)."""
    if len(data) < _SNAP_HEAD.size:
        return None
    version, crc, count = _SNAP_HEAD.unpack_from(data)
    if version != 1 or crc32c(data[6:]) != crc or count < 0 or \
            len(data) != _SNAP_HEAD.size + count * _SNAP_ENTRY.size:
        return None
    txns = []
    for pid, epoch, _, _, _, _, _, first in _SNAP_ENTRY.iter_unpack(data[_SNAP_HEAD.size:]):
        if first >= 0:
            txns.append(OpenTxn(pid, epoch, first))
    return txns


def write_snapshot(directory: Path, offset: int, open_txns: Iterable[OpenTxn]) -> None:
    _write(directory / file_name(offset, SNAPSHOT_SUFFIX), encode_snapshot(open_txns))


def latest_snapshot(directory: Path, at_most: int) -> tuple[int, list[OpenTxn]] | None:
    """The newest readable snapshot at or below ``at_most``; newer ones are deleted (a
    truncation or a crash cut the log below them)."""
    for offset in reversed(offsets_with(directory, SNAPSHOT_SUFFIX)):
        path = directory / file_name(offset, SNAPSHOT_SUFFIX)
        if offset > at_most:
            path.unlink(missing_ok=True)
            continue
        try:
            txns = decode_snapshot(path.read_bytes())
        except OSError as exc:
            log.warning("%s: %s", path, exc)
            txns = None
        if txns is not None:
            return offset, txns
        log.warning("%s: not a readable producer snapshot; scanning the log instead", path)
    return None


def delete_snapshots_below(directory: Path, offset: int) -> None:
    """Drop snapshots below ``offset`` except the newest of them (still a starting point)."""
    older = [o for o in offsets_with(directory, SNAPSHOT_SUFFIX) if o < offset]
    for o in older[:-1]:
        (directory / file_name(o, SNAPSHOT_SUFFIX)).unlink(missing_ok=True)
