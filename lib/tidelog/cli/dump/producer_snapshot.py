"""Dump Kafka's producer state snapshots (``<20-digit offset>.snapshot``) and identify a log
directory's ``.lock`` file.

Producer snapshot format (Kafka's ProducerStateManager, version 1, big-endian): int16 version,
uint32 CRC-32C of every byte after the CRC field, int32 entry count, then per producer 46
bytes: producerId int64, producerEpoch int16, lastSequence int32, lastOffset int64,
offsetDelta int32 (lastOffset minus the first offset of the producer's last batch), timestamp
int64, coordinatorEpoch int32, currentTxnFirstOffset int64 (-1: no open transaction). The
digits of the name are the log offset the snapshot was taken at.

Output (text), after ``Dumping <file>``, one line per producer::

    producerId: 7 producerEpoch: 0 coordinatorEpoch: -1 currentTxnFirstOffset: -1
    firstSequence: 0 lastSequence: 4 lastOffset: 4 offsetDelta: 4 timestamp: 1700000000000

(on one line; firstSequence is lastSequence - offsetDelta, wrapping as sequences do). JSON: a
``file`` object, then one ``producerSnapshotEntry`` per producer with those names.

A wrong CRC, an unknown version, a count that does not fit the file or bytes left over are
corrupt data (:attr:`DumpExit.CORRUPT`), reported with the byte position; nothing is printed
for the entries then, as none of them can be trusted.

``.lock``: Kafka's (and logd's) log directory lock, empty by design; the dump says whether a
process holds a lock on it now (an fcntl lock, as the JVM's FileChannel.tryLock takes).
"""

from __future__ import annotations

import fcntl
import os
import struct
from pathlib import Path
from typing import Any

from tidelog.cli.dump.kinds import Detected
from tidelog.cli.dump.settings import DumpExit, DumpOptions
from tidelog.cli.runner import Program
from tidelog.records.crc import crc32c

_HEAD = struct.Struct(">hIi")  # version, crc, entry count
_ENTRY = struct.Struct(">qhiqiqiq")
_CRC_FROM = 6  # the CRC covers everything after version and CRC
SNAPSHOT_VERSION = 1
_SEQ_WRAP = 1 << 31


class SnapshotError(ValueError):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


def parse_producer_snapshot(data: bytes) -> list[dict[str, int]]:
    """The entries of a producer state snapshot (SnapshotError if it is not a valid one)."""
    if len(data) < _HEAD.size:
        raise SnapshotError(f"{len(data)} bytes, shorter than the {_HEAD.size}-byte header", 0)
    version, crc, count = _HEAD.unpack_from(data)
    if version != SNAPSHOT_VERSION:
        raise SnapshotError(f"unknown producer snapshot version {version}", 0)
    actual = crc32c(memoryview(data)[_CRC_FROM:])
    if actual != crc:
        raise SnapshotError(f"CRC mismatch: stored {crc}, computed {actual}", 2)
    if count < 0 or _HEAD.size + count * _ENTRY.size != len(data):
        raise SnapshotError(
            f"{count} entries of {_ENTRY.size} bytes do not fill the {len(data)}-byte file",
            _HEAD.size - 4,
        )
    entries = []
    for i in range(count):
        (pid, epoch, last_seq, last_offset, delta, ts, coordinator_epoch,
         txn_first) = _ENTRY.unpack_from(data, _HEAD.size + i * _ENTRY.size)
        entries.append({
            "producerId": pid, "producerEpoch": epoch, "coordinatorEpoch": coordinator_epoch,
            "currentTxnFirstOffset": txn_first,
            "firstSequence": (last_seq - delta) % _SEQ_WRAP if last_seq >= 0 else -1,
            "lastSequence": last_seq, "lastOffset": last_offset, "offsetDelta": delta,
            "timestamp": ts,
        })
    return entries


def dump_producer_snapshot(
    prog: Program, path: Path, shown: str, detected: Detected, opts: DumpOptions
) -> None:
    try:
        entries = parse_producer_snapshot(path.read_bytes())
    except SnapshotError as exc:
        prog.diag.error(f"{shown}: corrupt data at byte {exc.position}: {exc}")
        prog.fail(DumpExit.CORRUPT)
        return
    if opts.json:
        prog.out.json({"type": "file", "file": shown, "kind": detected.kind.value,
                       "offset": detected.base_offset})
        for entry in entries:
            doc: dict[str, Any] = {"type": "producerSnapshotEntry", "file": shown, **entry}
            prog.out.json(doc)
        return
    prog.out.line(f"Dumping {shown}")
    prog.out.lines([" ".join(f"{k}: {v}" for k, v in entry.items()) for entry in entries])


def _held(path: Path) -> bool | None:
    """Whether another process holds an fcntl lock on ``path`` (None: cannot tell)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def dump_lock(prog: Program, path: Path, shown: str, detected: Detected, opts: DumpOptions
              ) -> None:
    size = path.stat().st_size
    held = _held(path)
    state = {True: "held by a running process", False: "not held",
             None: "cannot tell whether it is held"}[held]
    if opts.json:
        prog.out.json({"type": "file", "file": shown, "kind": detected.kind.value,
                       "size": size, "held": held})
        return
    prog.out.line(f"Dumping {shown}")
    prog.out.line(f"log directory lock file, {size} bytes, {state}")
