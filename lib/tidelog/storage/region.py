"""A region of a segment file to send to a consumer: ``sendfile`` it or read it.

:class:`FileRegion` owns its own file descriptor (a ``dup`` of the segment's), so it stays
valid while the log rolls, truncates or deletes the segment; whoever receives one must
``close()`` it (it is a context manager). The region always starts and ends on batch
boundaries. An empty region (``length == 0``) holds no descriptor and ``fileno()`` is -1.
"""

from __future__ import annotations

import os
from types import TracebackType


class FileRegion:
    __slots__ = ("_fd", "first_offset", "length", "next_offset", "position")

    def __init__(
        self, fd: int, position: int, length: int, first_offset: int, next_offset: int
    ) -> None:
        self._fd = fd
        self.position = position
        self.length = length
        #: Base offset of the first batch (the requested offset may be inside it).
        self.first_offset = first_offset
        #: Offset after the last batch of the region (== first_offset when empty).
        self.next_offset = next_offset

    @classmethod
    def empty(cls, offset: int) -> FileRegion:
        return cls(-1, 0, 0, offset, offset)

    def fileno(self) -> int:
        return self._fd

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def read_bytes(self) -> bytes:
        """The region's bytes (for tests and tools; servers should sendfile instead)."""
        if self.length == 0:
            return b""
        if self._fd < 0:
            raise ValueError("read from a closed FileRegion")
        parts = []
        pos, left = self.position, self.length
        while left:
            chunk = os.pread(self._fd, left, pos)
            if not chunk:
                break  # the file was truncated under us: return what is still there
            parts.append(chunk)
            pos += len(chunk)
            left -= len(chunk)
        return b"".join(parts)

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def __enter__(self) -> FileRegion:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # A leaked region must not leak its descriptor too.
        if getattr(self, "_fd", -1) >= 0:
            self.close()

    def __repr__(self) -> str:
        return (
            f"FileRegion(fd={self._fd}, position={self.position}, length={self.length}, "
            f"first_offset={self.first_offset}, next_offset={self.next_offset})"
        )
