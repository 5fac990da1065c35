"""What the user asked ``log-dump-segment`` for, and its own exit codes.

Exit codes (added to the shared table of :mod:`tidelog.cli.exit_codes`; when several files
fail, the largest code wins):

== =====================================================================================
0  every file dumped, nothing wrong
1  a file is missing, unreadable, a directory, or of a type the name does not tell
2  usage error
3  corrupt data: a truncated or damaged batch, record, index or checkpoint file
4  ``--verify-index`` found index entries that do not match the log
== =====================================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from tidelog.cli.exit_codes import FIRST_PROGRAM_CODE


class DumpExit(IntEnum):
    CORRUPT = FIRST_PROGRAM_CODE
    INDEX_MISMATCH = FIRST_PROGRAM_CODE + 1


@dataclass(frozen=True)
class DumpOptions:
    #: Print each record's key and payload (implies a record line per record of an
    #: uncompressed batch).
    print_data: bool = False
    #: Print a line per record, decompressing compressed batches.
    deep_iteration: bool = False
    #: Check every index entry against the log segment next to the index.
    verify_index: bool = False
    #: Stop before the first batch that ends past this many bytes of a log.
    max_bytes: int | None = None
    #: JSON lines instead of kafka-dump-log lines.
    json: bool = False
    #: ``-q``: with ``verify_index``, print only the problems, not every index entry.
    quiet: bool = False
    #: Print payloads as KRaft metadata records (kafka-dump-log --cluster-metadata-decoder).
    cluster_metadata: bool = False

    def wants_records(self, compressed: bool) -> bool:
        """Whether the records of a batch get their own lines."""
        if self.deep_iteration:
            return True
        return self.print_data and not compressed
