"""Framing: every Kafka request and response is ``int32 size`` + ``size`` bytes.

:class:`FrameDecoder` is fed arbitrary chunks (as a socket delivers them) and returns each
complete frame's payload as ``bytes`` (one copy out of the receive buffer; decoders then
slice it with memoryviews). A size prefix that is negative or above ``max_frame_size``
raises :class:`FrameSizeError` and leaves the decoder failed, since the stream cannot be
resynchronised: the connection must close. :meth:`FrameDecoder.close` raises
:class:`TruncatedMessageError` if the stream ended inside a frame.

Encoders produce *parts*: bytes chunks and opaque sized objects (records to ``sendfile``).
:func:`frame` prefixes the size computed from ``len()`` of every part; :func:`join_parts`
turns parts that are bytes-like (or convert with ``bytes()``) into one ``bytes``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sized
from typing import TYPE_CHECKING

from tidelog.protocol.exceptions import FrameSizeError, TruncatedMessageError
from tidelog.protocol.primitives import INT32

if TYPE_CHECKING:  # a type only: importing tidelog.records at run time costs every
    # program ~0.3 s of startup (its package builds varint tables)
    from tidelog.records.crc import BytesLike

SIZE_PREFIX = INT32.size
DEFAULT_MAX_FRAME_SIZE = 100 * 1024 * 1024  # Kafka's socket.request.max.bytes default


class FrameDecoder:
    """Split a byte stream into frames (payloads without their size prefix)."""

    def __init__(self, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> None:
        if max_frame_size < 0:
            raise ValueError("max_frame_size must be >= 0")
        self.max_frame_size = max_frame_size
        self._buf = bytearray()
        self._consumed = 0  # stream bytes already handed out, for error positions
        self._error: FrameSizeError | None = None

    @property
    def buffered(self) -> int:
        """Bytes held for a frame not complete yet."""
        return len(self._buf)

    @property
    def pending_size(self) -> int | None:
        """The announced size of the frame being received, once its size prefix is in (None
        before that): what a reader may reserve before it reads the rest."""
        if len(self._buf) < SIZE_PREFIX or self._error is not None:
            return None
        (size,) = INT32.unpack_from(self._buf, 0)
        return int(size)

    def feed(self, data: BytesLike) -> list[bytes]:
        """Add ``data``; return every frame it completes, in order."""
        if self._error is not None:
            raise self._error
        buf = self._buf
        buf += data
        frames: list[bytes] = []
        start = 0
        n = len(buf)
        with memoryview(buf) as view:
            while n - start >= SIZE_PREFIX:
                (size,) = INT32.unpack_from(view, start)
                if size < 0 or size > self.max_frame_size:
                    self._error = FrameSizeError(
                        f"frame size {size} outside 0..{self.max_frame_size}",
                        self._consumed + start,
                    )
                    break
                end = start + SIZE_PREFIX + size
                if end > n:
                    break
                frames.append(bytes(view[start + SIZE_PREFIX : end]))
                start = end
        if start:
            del buf[:start]
            self._consumed += start
        if self._error is not None:
            raise self._error
        return frames

    def close(self) -> None:
        """The stream ended: raise if it ended inside a frame."""
        if self._buf:
            raise TruncatedMessageError(
                f"stream ended with {len(self._buf)} bytes of an incomplete frame",
                self._consumed,
            )


def parts_size(parts: Iterable[Sized]) -> int:
    return sum(len(part) for part in parts)


def frame(parts: Iterable[Sized]) -> list[Sized]:
    """``parts`` preceded by their int32 total size."""
    body = list(parts)
    return [INT32.pack(parts_size(body)), *body]


def join_parts(parts: Iterable[Sized]) -> bytes:
    """Concatenate parts; opaque parts must be bytes-like or support ``bytes(part)``."""
    chunks: list[BytesLike] = []
    for part in parts:
        if isinstance(part, bytes | bytearray | memoryview):
            chunks.append(part)
        else:
            chunks.append(bytes(part))  # type: ignore[call-overload]
    return b"".join(chunks)
