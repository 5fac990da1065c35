"""Time windows: which windows a timestamp falls in, and how a windowed key is stored.

Windows are aligned to the epoch as Kafka Streams' are: a hopping window of ``size`` ms that
advances by ``advance`` ms starts at every multiple of ``advance``; a tumbling window is the
case ``advance == size``. A record at time ``t`` belongs to every window ``[start, start +
size)`` that holds ``t`` (``size / advance`` of them, fewer near the epoch). A window *closes*
when stream time (the largest record timestamp seen by the task) reaches ``end + grace``:
records for a closed window are dropped as late, and a suppressed aggregate emits its final
value then.

Store keys of a windowed aggregate: ``b"w" + start (8 bytes, big-endian) + serialized key``,
so one partition's windows iterate in start order; ``b"t"`` holds the stream time, so it
survives a restore from the changelog along with the windows.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Generic, TypeVar

from tidelog.streams.errors import StreamsError
from tidelog.streams.serde import Serde

K = TypeVar("K")
_START = struct.Struct(">q")
WINDOW_PREFIX = b"w"
STREAM_TIME_KEY = b"t"


@dataclass(frozen=True)
class TimeWindows:
    """Tumbling (``advance`` = ``size``) or hopping windows, in milliseconds."""

    size: int
    advance: int
    grace: int = 0

    @staticmethod
    def tumbling(size_ms: int, grace_ms: int = 0) -> TimeWindows:
        return TimeWindows(size_ms, size_ms, grace_ms).checked()

    @staticmethod
    def hopping(size_ms: int, advance_ms: int, grace_ms: int = 0) -> TimeWindows:
        return TimeWindows(size_ms, advance_ms, grace_ms).checked()

    def checked(self) -> TimeWindows:
        if self.size <= 0 or self.advance <= 0 or self.grace < 0:
            raise StreamsError("window size and advance must be positive and grace not "
                               "negative")
        if self.advance > self.size:
            raise StreamsError(f"a window cannot advance ({self.advance} ms) by more than "
                               f"its size ({self.size} ms)")
        return self

    def starts(self, timestamp: int) -> list[int]:
        """The starts of the windows holding ``timestamp``, earliest first."""
        last = timestamp - timestamp % self.advance
        out = []
        start = last
        while start > timestamp - self.size and start >= 0:
            out.append(start)
            start -= self.advance
        out.reverse()
        return out


@dataclass(frozen=True)
class Windowed(Generic[K]):
    """A key of a windowed table: the record key and its window ``[start, end)``."""

    key: K
    start: int
    end: int


def window_key(start: int, key: bytes) -> bytes:
    return WINDOW_PREFIX + _START.pack(start) + key


def split_window_key(stored: bytes) -> tuple[int, bytes]:
    """(start, serialized key) of a stored window key."""
    return int(_START.unpack_from(stored, 1)[0]), stored[9:]


def pack_time(ms: int) -> bytes:
    return _START.pack(ms)


def unpack_time(data: bytes) -> int:
    return int(_START.unpack(data)[0])


def windowed_serde(inner: Serde[K], size_ms: int) -> Serde[Windowed[K]]:
    """Kafka's time-windowed key layout: the inner key's bytes, then the window start as
    8 big-endian bytes (the end is start + ``size_ms``, which the bytes do not carry)."""

    def to_bytes(w: Windowed[K]) -> bytes:
        data = inner.serialize(w.key)
        return (data or b"") + _START.pack(w.start)

    def from_bytes(data: bytes) -> Windowed[K]:
        if len(data) < 8:
            raise StreamsError("a windowed key has at least 8 bytes")
        start = int(_START.unpack_from(data, len(data) - 8)[0])
        key = inner.deserialize(data[:-8])
        return Windowed(key, start, start + size_ms)  # type: ignore[arg-type]

    return Serde(f"windowed {inner.name}", to_bytes, from_bytes)
