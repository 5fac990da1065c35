"""Dump Kafka's ``.index`` and ``.timeindex`` files and, with ``--verify-index``, check every
entry against the ``.log`` segment of the same base offset in the same directory.

Output (text): ``Dumping <file>`` then ``offset: O position: P`` per offset-index entry or
``timestamp: T offset: O`` per time-index entry (absolute offsets), as kafka-dump-log prints
them; an all-zero preallocated tail is not printed. With verification, every failing entry adds
``Index mismatch: offset: O position: P: <reason>`` (or ``Index mismatch: timestamp: T offset:
O: <reason>``) after the entries. JSON: a ``file`` object, one ``indexEntry`` /
``timeIndexEntry`` object per entry, one ``indexMismatch`` object per failing entry.

What is checked. Offset index: entries increase; a batch of the log starts at ``position``
and holds ``offset`` (Kafka writes the batch's last offset; any offset inside the batch is
accepted). Time index: timestamps never decrease; ``offset`` lies in a batch of the log whose
maxTimestamp equals ``timestamp``. Only the header of each batch is read (no CRC, no record),
so verifying an index of a 1 GiB segment costs one pass over its batch headers. A log that ends
in corrupt data is used up to that point; entries beyond it are mismatches.

Status: an index whose size is not a multiple of its entry size is corrupt data
(:attr:`DumpExit.CORRUPT`); mismatches give :attr:`DumpExit.INDEX_MISMATCH`; a missing log next
to the index is an error (exit 1).
"""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import NamedTuple

from tidelog.cli.dump.kinds import Detected, FileKind
from tidelog.cli.dump.mapped import mapped
from tidelog.cli.dump.settings import DumpExit, DumpOptions
from tidelog.cli.exit_codes import ExitCode
from tidelog.cli.runner import Program
from tidelog.records.batch_header import check_header, parse_header
from tidelog.records.errors import CorruptRecordError
from tidelog.storage.errors import CorruptIndexError
from tidelog.storage.index import read_offset_index, read_time_index


class _Batch(NamedTuple):
    position: int
    base_offset: int
    last_offset: int
    max_timestamp: int


class LogLayout:
    """Where the batches of a segment are: its headers, read once."""

    def __init__(self, batches: list[_Batch], valid_bytes: int, problem: str | None) -> None:
        self.batches = batches
        self.valid_bytes = valid_bytes
        self.problem = problem
        self._by_position = {batch.position: batch for batch in batches}
        self._last_offsets = [batch.last_offset for batch in batches]

    @classmethod
    def scan(cls, path: Path) -> LogLayout:
        batches: list[_Batch] = []
        problem = None
        with mapped(path) as buf:
            size = len(buf)
            pos = 0
            while pos < size:
                try:
                    header = parse_header(buf, pos)
                    check_header(header, size - pos, pos)
                except CorruptRecordError as exc:
                    problem = str(exc)
                    break
                batches.append(
                    _Batch(pos, header.base_offset, header.last_offset, header.max_timestamp)
                )
                pos += header.size
        return cls(batches, pos, problem)

    def at_position(self, position: int) -> _Batch | None:
        return self._by_position.get(position)

    def holding(self, offset: int) -> _Batch | None:
        i = bisect.bisect_left(self._last_offsets, offset)
        if i < len(self.batches) and self.batches[i].base_offset <= offset:
            return self.batches[i]
        return None


def _log_next_to(path: Path, detected: Detected) -> Path:
    if detected.base_offset is not None:
        return path.with_name(f"{detected.base_offset:020d}.log")
    return path.with_suffix(".log")


def _check_offset_entries(
    entries: list[tuple[int, int]], layout: LogLayout, log_name: str
) -> list[tuple[int, int, str]]:
    mismatches = []
    previous: tuple[int, int] | None = None
    for offset, position in entries:
        batch = layout.at_position(position)
        if previous is not None and (offset <= previous[0] or position <= previous[1]):
            reason = (
                f"does not follow the previous entry (offset {previous[0]} position {previous[1]})"
            )
        elif batch is None:
            if position >= layout.valid_bytes:
                reason = f"position is past the last valid batch of {log_name}"
            else:
                reason = f"no batch of {log_name} starts at byte {position}"
        elif not batch.base_offset <= offset <= batch.last_offset:
            reason = (
                f"the batch at byte {position} of {log_name} holds offsets "
                f"{batch.base_offset}..{batch.last_offset}"
            )
        else:
            reason = ""
        if reason:
            mismatches.append((offset, position, reason))
        previous = (offset, position)
    return mismatches


def _check_time_entries(
    entries: list[tuple[int, int]], layout: LogLayout, log_name: str
) -> list[tuple[int, int, str]]:
    mismatches = []
    previous: int | None = None
    for timestamp, offset in entries:
        batch = layout.holding(offset)
        if previous is not None and timestamp < previous:
            reason = f"timestamp is smaller than the previous entry's {previous}"
        elif batch is None:
            reason = f"offset {offset} is in no valid batch of {log_name}"
        elif batch.max_timestamp != timestamp:
            reason = (
                f"the batch holding offset {offset} (byte {batch.position} of {log_name}) "
                f"has maxTimestamp {batch.max_timestamp}"
            )
        else:
            reason = ""
        if reason:
            mismatches.append((timestamp, offset, reason))
        previous = timestamp if previous is None else max(previous, timestamp)
    return mismatches


def dump_index(
    prog: Program, path: Path, shown: str, detected: Detected, opts: DumpOptions
) -> None:
    """Dump (and with ``opts.verify_index`` verify) an offset or time index file."""
    is_time = detected.kind is FileKind.TIME_INDEX
    base_offset = detected.base_offset
    if base_offset is None:
        prog.diag.error(
            f"{shown}: cannot tell the segment's base offset: index files are named "
            "<20-digit base offset>.index or .timeindex"
        )
        prog.fail(ExitCode.ERROR)
        return
    reader = read_time_index if is_time else read_offset_index
    entries: list[tuple[int, int]] = []
    problem: CorruptIndexError | None = None
    try:
        entries.extend(reader(path, base_offset))
    except CorruptIndexError as exc:
        problem = exc
    first_name, second_name = ("timestamp", "offset") if is_time else ("offset", "position")
    if opts.verify_index and opts.quiet:
        pass  # -q --verify-index: only the problems below (mismatches, corrupt data)
    elif opts.json:
        prog.out.json(
            {"type": "file", "file": shown, "kind": detected.kind.value, "baseOffset": base_offset}
        )
        kind = "timeIndexEntry" if is_time else "indexEntry"
        for first, second in entries:
            prog.out.json({"type": kind, "file": shown, first_name: first, second_name: second})
    else:
        prog.out.line(f"Dumping {shown}")
        prog.out.lines([f"{first_name}: {a} {second_name}: {b}" for a, b in entries])
    if problem is not None:
        where = f" at byte {problem.position}" if problem.position >= 0 else ""
        prog.diag.error(f"{shown}: corrupt data{where}: {problem}")
        prog.fail(DumpExit.CORRUPT)
    if opts.verify_index:
        _verify(prog, path, shown, detected, entries, opts, is_time)


def _verify(
    prog: Program,
    path: Path,
    shown: str,
    detected: Detected,
    entries: list[tuple[int, int]],
    opts: DumpOptions,
    is_time: bool,
) -> None:
    log_path = _log_next_to(path, detected)
    try:
        layout = LogLayout.scan(log_path)
    except OSError as exc:
        prog.diag.error(f"{shown}: cannot verify: {log_path}: {exc.strerror or exc}")
        prog.fail(ExitCode.ERROR)
        return
    if layout.problem is not None:
        prog.diag.warning(
            f"{log_path}: verifying against the batches before byte {layout.valid_bytes}: "
            f"{layout.problem}"
        )
    check = _check_time_entries if is_time else _check_offset_entries
    mismatches = check(entries, layout, log_path.name)
    first_name, second_name = ("timestamp", "offset") if is_time else ("offset", "position")
    for first, second, reason in mismatches:
        if opts.json:
            prog.out.json(
                {
                    "type": "indexMismatch",
                    "file": shown,
                    "log": str(log_path),
                    first_name: first,
                    second_name: second,
                    "reason": reason,
                }
            )
        else:
            prog.out.line(
                f"Index mismatch: {first_name}: {first} {second_name}: {second}: {reason}"
            )
    if mismatches:
        prog.diag.error(
            f"{shown}: {len(mismatches)} of {len(entries)} index entries do not match {log_path}"
        )
        prog.fail(DumpExit.INDEX_MISMATCH)
    else:
        prog.diag.info(f"{shown}: all {len(entries)} index entries match {log_path}")
