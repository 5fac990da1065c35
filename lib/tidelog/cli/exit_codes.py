"""The exit-code table shared by every tidelog program (tidelog(7), EXIT STATUS).

One code means one condition in every program: a missing topic is :attr:`ExitCode.NOT_FOUND`
whether log-topics, log-consume, log-produce or log-groups meets it, so a script can test
``[ $? -eq 5 ]`` the same way everywhere. Each man page lists the codes its program can
return; tests/unit/cli checks that tidelog(7)'s table is this enum and tests/tools checks each
condition through the programs themselves. When a run meets several problems, programs report
the largest code they met (see :func:`worst`), so a script can test for the most serious one.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit statuses of all programs."""

    OK = 0
    #: A failure that is not the input's fault: missing or unreadable file, unreachable
    #: broker, error reported by the server, no answer within --timeout.
    ERROR = 1
    #: Bad command line (unknown option, missing argument, bad value); click uses 2 as well.
    USAGE = 2
    #: Corrupt data: a record batch or file that fails its checks.
    CORRUPT = 3
    #: Index entries that do not match their log segment (log-dump-segment --verify-index).
    INDEX_MISMATCH = 4
    #: A topic, partition or group named does not exist.
    NOT_FOUND = 5
    #: A topic to create exists already.
    EXISTS = 6
    #: The consumer group has active members (reset-offsets and delete refuse).
    GROUP_BUSY = 7
    #: The group's lag is above ``log-groups lag --max``.
    LAG_ABOVE_MAX = 8
    #: Some records were not written (log-produce).
    NOT_ALL_WRITTEN = 9
    #: The metadata quorum has no leader (log-quorum).
    NO_LEADER = 10
    #: Replicas are still moving (log-reassign verify).
    IN_PROGRESS = 11
    #: Interrupted by Ctrl-C (SIGINT) or SIGTERM: 128 + 2, as shells report Ctrl-C.
    INTERRUPTED = 130


#: What each code means, worded for man pages and ``--help`` (tidelog(7) prints this table).
MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "success",
    ExitCode.ERROR: "error (unreadable file, unreachable broker, refused, timed out)",
    ExitCode.USAGE: "usage error",
    ExitCode.CORRUPT: "corrupt data",
    ExitCode.INDEX_MISMATCH: "index entries that do not match the log",
    ExitCode.NOT_FOUND: "a topic, partition or group does not exist",
    ExitCode.EXISTS: "the topic to create exists",
    ExitCode.GROUP_BUSY: "the group has active members",
    ExitCode.LAG_ABOVE_MAX: "the group's lag is above --max",
    ExitCode.NOT_ALL_WRITTEN: "some records were not written",
    ExitCode.NO_LEADER: "the quorum has no leader",
    ExitCode.IN_PROGRESS: "replicas are still moving",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C, SIGTERM)",
}

#: The first code a program-specific condition may use; every code is in the table above.
FIRST_PROGRAM_CODE = 3


def worst(*codes: int) -> int:
    """The status to exit with after meeting ``codes``: the largest one (0 when none)."""
    return max(codes, default=0)
