"""Where a consumer starts: the ``-o`` forms of kcat, parsed into an :class:`OffsetSpec`.

Forms: ``beginning`` (also ``earliest``, ``start``), ``end`` (``latest``), ``stored``-less
``N`` (an absolute offset, N >= 0), ``-N`` (N records before the end, clamped to the log
start), ``+N`` (N records after the beginning), ``@MS`` (the first record with a timestamp >=
MS milliseconds since the epoch) and ``@ISO-DATETIME`` (same, from an ISO 8601 date-time;
without a zone it is UTC).

Resolution against the broker (ListOffsets with -2 earliest / -1 latest / a timestamp) lives
in :mod:`tidelog.client.consumer`. Anything else raises :class:`ClientError` naming the form.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tidelog.client.errors import ClientError

EARLIEST = -2
LATEST = -1


@dataclass(frozen=True)
class OffsetSpec:
    #: "beginning", "end", "absolute", "from_end", "from_beginning" or "timestamp".
    kind: str
    value: int = 0


BEGINNING = OffsetSpec("beginning")
END = OffsetSpec("end")


def parse_offset(text: str) -> OffsetSpec:
    """Parse a start position as ``log-consume -o`` takes it."""
    word = text.strip()
    lower = word.lower()
    if lower in ("beginning", "earliest", "start", "oldest"):
        return BEGINNING
    if lower in ("end", "latest", "newest"):
        return END
    if word.startswith("@"):
        stamp = word[1:]
        if stamp.lstrip("-").isdigit():
            return OffsetSpec("timestamp", int(stamp))
        try:
            when = datetime.fromisoformat(stamp)
        except ValueError:
            raise ClientError(f"bad offset {text!r}: after @ give milliseconds or an ISO "
                              "date-time") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return OffsetSpec("timestamp", int(when.timestamp() * 1000))
    if word.startswith("-") and word[1:].isdigit():
        return OffsetSpec("from_end", int(word[1:]))
    if word.startswith("+") and word[1:].isdigit():
        return OffsetSpec("from_beginning", int(word[1:]))
    if word.isdigit():
        return OffsetSpec("absolute", int(word))
    raise ClientError(
        f"bad offset {text!r}: use beginning, end, N, -N, +N, @MS or @ISO-DATETIME"
    )
