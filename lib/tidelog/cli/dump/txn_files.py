"""Dump a segment's transaction index (``<20-digit base offset>.txnindex``) as kafka-dump-log
prints it.

Text, after ``Dumping <file>``, one line per aborted transaction (the format is
:mod:`tidelog.storage.txn_files`'s: 34-byte entries)::

    version: 0 producerId: P firstOffset: F lastOffset: L lastStableOffset: S

JSON: a ``file`` object, then one ``abortedTxn`` object per entry with those names. A size
that is not a multiple of 34 bytes means a torn last entry: the whole ones are printed, then
it is reported as corrupt data (:attr:`DumpExit.CORRUPT`). Producer snapshots are
:mod:`tidelog.cli.dump.producer_snapshot`'s.
"""

from __future__ import annotations

from pathlib import Path

from tidelog.cli.dump.kinds import Detected
from tidelog.cli.dump.settings import DumpExit, DumpOptions
from tidelog.cli.runner import Program
from tidelog.storage.txn_files import ENTRY_SIZE, decode_index


def dump_txn_index(prog: Program, path: Path, shown: str, detected: Detected,
                   opts: DumpOptions) -> None:
    data = path.read_bytes()
    docs = [{"version": 0, "producerId": e.producer_id, "firstOffset": e.first_offset,
             "lastOffset": e.last_offset, "lastStableOffset": e.last_stable_offset}
            for e in decode_index(data)]
    if opts.json:
        prog.out.json({"type": "file", "file": shown, "kind": detected.kind.value})
        for doc in docs:
            prog.out.json({"type": "abortedTxn", "file": shown, **doc})
    else:
        prog.out.line(f"Dumping {shown}")
        prog.out.lines([" ".join(f"{k}: {v}" for k, v in doc.items()) for doc in docs])
    torn = len(data) % ENTRY_SIZE
    if torn:
        prog.diag.error(f"{shown}: corrupt data: {torn} bytes of a torn entry at byte "
                        f"{len(data) - torn}")
        prog.fail(DumpExit.CORRUPT)
