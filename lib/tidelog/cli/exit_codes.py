"""The exit-code table shared by every tidelog program.

Codes 0, 1, 2 and 130 mean the same in every program; each program numbers its own extra
outcomes from :data:`FIRST_PROGRAM_CODE` (3) up and documents them in its man page. When a run
meets several problems, programs report the largest code they met (see :func:`worst`), so a
script can test for the most serious one.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit statuses common to all programs."""

    OK = 0
    #: A failure that is not the input's fault: missing or unreadable file, unreachable
    #: broker, error reported by the server.
    ERROR = 1
    #: Bad command line (unknown option, missing argument, bad value); click uses 2 as well.
    USAGE = 2
    #: Interrupted by Ctrl-C (SIGINT): 128 + 2, as shells report it.
    INTERRUPTED = 130


#: The first code a program may define for itself.
FIRST_PROGRAM_CODE = 3


def worst(*codes: int) -> int:
    """The status to exit with after meeting ``codes``: the largest one (0 when none)."""
    return max(codes, default=0)
