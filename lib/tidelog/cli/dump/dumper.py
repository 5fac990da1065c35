"""Dump one file of any supported kind; dump many, going on after each failure.

Every file is independent: a missing or unreadable file is reported (``<file>: <reason>``,
status 1) and the next one is dumped; corrupt data is reported by the kind's dumper with the
byte position (status 3). The run's status is the largest one met (see
:mod:`tidelog.cli.dump.settings`). A file of unknown kind is status 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from tidelog.cli.dump.kinds import Detected, FileKind, detect
from tidelog.cli.dump.settings import DumpOptions
from tidelog.cli.errors import describe
from tidelog.cli.exit_codes import ExitCode
from tidelog.cli.runner import Program

Dumper = Callable[[Program, Path, str, Detected, DumpOptions], None]


def _dumper_for(kind: FileKind) -> Dumper | None:
    # Imported per kind: dumping a checkpoint never loads the record codecs and vice versa.
    if kind in (FileKind.LOG, FileKind.SNAPSHOT):
        from tidelog.cli.dump.segment import dump_batches

        return dump_batches
    if kind in (FileKind.OFFSET_INDEX, FileKind.TIME_INDEX):
        from tidelog.cli.dump.indexes import dump_index

        return dump_index
    if kind is FileKind.PRODUCER_SNAPSHOT:
        from tidelog.cli.dump.producer_snapshot import dump_producer_snapshot

        return dump_producer_snapshot
    if kind is FileKind.LOCK:
        from tidelog.cli.dump.producer_snapshot import dump_lock

        return dump_lock
    if kind is FileKind.TXN_INDEX:
        from tidelog.cli.dump.txn_files import dump_txn_index

        return dump_txn_index
    if kind is FileKind.UNKNOWN:
        return None
    from tidelog.cli.dump.metadata_files import dump_metadata_file

    return dump_metadata_file


def dump_file(prog: Program, shown: str, opts: DumpOptions) -> None:
    """Dump the file the user named ``shown``."""
    path = Path(shown)
    # Fail the same way for every kind when the file cannot be read at all (missing, a
    # directory, no permission), before any output about it.
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        _cannot_read(prog, shown, exc)
        return
    detected = detect(path)
    dumper = _dumper_for(detected.kind)
    if dumper is None:
        prog.diag.error(
            f"{shown}: unknown file type: expected a .log, .index, .timeindex, .txnindex, "
            ".snapshot or .checkpoint file, an offset checkpoint, leader-epoch-checkpoint, "
            "partition.metadata, meta.properties, quorum-state or .lock"
        )
        prog.fail(ExitCode.ERROR)
        return
    prog.diag.debug(f"{shown}: dumping as {detected.kind.value}")
    try:
        dumper(prog, path, shown, detected, opts)
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        _cannot_read(prog, shown, exc)


def _cannot_read(prog: Program, shown: str, exc: OSError) -> None:
    if exc.filename is None:
        exc.filename = shown
    prog.diag.error(describe(exc))
    prog.fail(ExitCode.ERROR)


def dump_files(prog: Program, files: Sequence[str], opts: DumpOptions) -> None:
    """Dump every file in order."""
    for shown in files:
        dump_file(prog, shown, opts)
