"""Dump a file of record batches (a ``.log`` segment or a KRaft ``.checkpoint``) the way
kafka-dump-log does.

Output (text): ``Dumping <file>``, ``Log starting offset: <base offset>`` (segments; KRaft
snapshots print ``Snapshot end offset: O, epoch: E``), then one batch line per batch and, when
asked, one ``| offset: ...`` line per record (see :mod:`.text`). JSON: a ``file`` object, then
one ``batch`` object per batch, its records nested under ``records`` when they are printed.

Walk: each batch header is read and checked in place over the mapped file (no copy): magic,
sizes, counts and codec first, so the next batch can be found; then the CRC, which decides
``isvalid``. A batch with a bad CRC but a sound frame is printed with ``isvalid: false``,
reported on stderr and skipped over (as Kafka's tool does); its records are not decoded. A
frame that cannot be trusted (truncated, bad magic or length) ends the walk after every batch
before it was printed. Either way the file's status is :attr:`DumpExit.CORRUPT`, and the
message names the file and the byte position.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tidelog.cli.dump.kinds import Detected, FileKind
from tidelog.cli.dump.mapped import mapped
from tidelog.cli.dump.settings import DumpExit, DumpOptions
from tidelog.cli.dump.text import batch_json, batch_line, record_json, record_line
from tidelog.cli.runner import Program
from tidelog.records.batch_header import BatchHeader, check_header, compute_crc, parse_header
from tidelog.records.errors import CorruptRecordError
from tidelog.records.reader import decode_batch


def _file_header(prog: Program, shown: str, detected: Detected, size: int, json: bool) -> None:
    if json:
        doc: dict[str, Any] = {"type": "file", "file": shown, "kind": detected.kind.value}
        if detected.kind is FileKind.SNAPSHOT:
            doc["endOffset"] = detected.base_offset
            doc["epoch"] = detected.epoch
        else:
            doc["baseOffset"] = detected.base_offset
        doc["size"] = size
        prog.out.json(doc)
        return
    prog.out.line(f"Dumping {shown}")
    if detected.kind is FileKind.SNAPSHOT:
        if detected.base_offset is not None:
            prog.out.line(f"Snapshot end offset: {detected.base_offset}, epoch: {detected.epoch}")
    elif detected.base_offset is not None:
        prog.out.line(f"Log starting offset: {detected.base_offset}")


def _corrupt(prog: Program, shown: str, position: int, message: str) -> None:
    prog.diag.error(f"{shown}: corrupt data at byte {position}: {message}")
    prog.fail(DumpExit.CORRUPT)


def _emit_batch(
    prog: Program,
    shown: str,
    buf: memoryview,
    pos: int,
    header: BatchHeader,
    valid: bool,
    opts: DumpOptions,
) -> None:
    """Print one batch and, when wanted, its records; report a record that does not decode."""
    iterate = valid and opts.wants_records(header.compression != 0)
    failure: CorruptRecordError | None = None
    if opts.json:
        doc = batch_json(header, pos, valid, shown)
        if iterate:
            records: list[dict[str, Any]] = []
            try:
                for record in decode_batch(buf, pos, verify_crc=False).records():
                    records.append(record_json(header, record, opts.print_data,
                                               opts.cluster_metadata))
            except CorruptRecordError as exc:
                failure = exc
            doc["records"] = records
        prog.out.json(doc)
    else:
        lines = [batch_line(header, pos, valid)]
        if iterate:
            try:
                for record in decode_batch(buf, pos, verify_crc=False).records():
                    lines.append(record_line(header, record, opts.print_data,
                                             opts.cluster_metadata))
            except CorruptRecordError as exc:
                failure = exc
        prog.out.lines(lines)
    if failure is not None:
        position = failure.position if failure.position >= 0 else pos
        _corrupt(prog, shown, position, str(failure))


def dump_batches(
    prog: Program, path: Path, shown: str, detected: Detected, opts: DumpOptions
) -> None:
    """Dump the record batches of ``path`` (``shown`` is how the user named it)."""
    with mapped(path) as buf:
        size = len(buf)
        _file_header(prog, shown, detected, size, opts.json)
        limit = size if opts.max_bytes is None else min(size, opts.max_bytes)
        pos = 0
        unexpanded = 0
        while pos < limit:
            try:
                header = parse_header(buf, pos)
                check_header(header, size - pos, pos)
            except CorruptRecordError as exc:
                _corrupt(prog, shown, pos, str(exc))
                break
            if pos + header.size > limit:
                prog.diag.info(f"{shown}: stopped at byte {pos}, the --max-bytes limit")
                break
            actual = compute_crc(buf, pos, header.size)
            valid = actual == header.crc
            _emit_batch(prog, shown, buf, pos, header, valid, opts)
            if not valid:
                _corrupt(
                    prog,
                    shown,
                    pos,
                    f"record batch fails its CRC (stored {header.crc}, computed {actual}); "
                    "its records are not shown",
                )
            elif opts.print_data and header.compression and not opts.deep_iteration:
                unexpanded += 1
            pos += header.size
        if unexpanded:
            prog.diag.note(
                f"{shown}: {unexpanded} compressed batches printed without their records; "
                "add --deep-iteration to decompress them"
            )
