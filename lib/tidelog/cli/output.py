"""The stdout writer every program uses for its data.

Format: bytes, text lines (UTF-8, ``\\n``-terminated) or JSON lines (one orjson document per
line). Writes are collected in a buffer and handed to the stream in chunks of at least
``buffer_size`` bytes, so a dump of millions of lines costs few system calls; ``autoflush``
makes every record visible at once (tails and interactive use).

Crash behaviour: when the reader of stdout goes away (``| head``, a closed socket), the next
flush raises :class:`StdoutClosed` after pointing file descriptor 1 at /dev/null, so Python's
own flush at exit cannot print "Exception ignored ... BrokenPipeError". The runner catches
StdoutClosed and ends the program quietly with the status it had so far.

Terminal safety: when stdout is a terminal, control characters in the data (ESC, BEL, CR, the
C1 controls U+0080-U+009F, ... all but newline and tab) are written as visible escapes
(``\\x1b``, ``\\u009b``), so a record value cannot retitle the window, move the cursor or
hide text. In a pipe or a file the bytes are written exactly as they are.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import sys
from typing import Any, BinaryIO, TextIO, cast

import orjson

DEFAULT_BUFFER_SIZE = 64 * 1024

# C0 controls but tab and newline, DEL, and the C1 controls as UTF-8 encodes them.
_CONTROLS = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]")
_TEXT_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _visible(match: re.Match[bytes]) -> bytes:
    raw = match.group()
    if len(raw) == 1:
        return b"\\x%02x" % raw[0]
    return b"\\u%04x" % ord(raw.decode("utf-8"))


def escape_controls(data: bytes) -> bytes:
    """``data`` with every control character but newline and tab written as an escape."""
    return _CONTROLS.sub(_visible, data)


def escape_controls_text(text: str) -> str:
    """The same for text (a table cell): ``\\x1b`` for ESC, ``\\u009b`` for a C1 control."""
    return _TEXT_CONTROLS.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x80
        else f"\\u{ord(m.group()):04x}", text)


class _TextSink:
    """Bytes in, text out: for a sys.stdout without a binary buffer (a StringIO in tests, an
    embedding host). Only what Output calls is provided."""

    def __init__(self, text: TextIO) -> None:
        self._text = text

    def write(self, data: bytes | memoryview) -> int:
        self._text.write(bytes(data).decode("utf-8", "surrogateescape"))
        return len(data)  # bytes consumed, as a binary stream reports

    def flush(self) -> None:
        self._text.flush()

    def isatty(self) -> bool:
        return self._text.isatty()

    def fileno(self) -> int:
        return self._text.fileno()


def _stdout_bytes() -> BinaryIO:
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is not None:
        return cast(BinaryIO, buffer)
    return cast(BinaryIO, _TextSink(sys.stdout))


class StdoutClosed(Exception):
    """The reader of stdout went away; nothing more can be written. Not an error."""


class Output:
    """Buffered writer of data to stdout (or any binary stream)."""

    def __init__(
        self,
        stream: BinaryIO | None = None,
        *,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        autoflush: bool = False,
    ) -> None:
        self._stream: BinaryIO = stream if stream is not None else _stdout_bytes()
        self._parts: list[bytes] = []
        self._pending = 0
        self._buffer_size = buffer_size
        self._autoflush = autoflush
        self._closed = False
        self._terminal: bool | None = None

    @property
    def is_terminal(self) -> bool:
        """Whether a person reads this stream: human tables, colours and escaped control
        characters only then. Asked once: a stream does not stop being a terminal."""
        if self._terminal is None:
            try:
                self._terminal = bool(self._stream.isatty())
            except (ValueError, OSError):
                self._terminal = False
        return self._terminal

    @property
    def closed(self) -> bool:
        """True once the reader went away."""
        return self._closed

    def write(self, data: bytes) -> None:
        """Queue data bytes (control characters escaped on a terminal)."""
        if self.is_terminal:
            data = escape_controls(data)
        self.write_raw(data)

    def write_raw(self, data: bytes) -> None:
        """Queue bytes exactly as they are (output already made safe, such as a drawn table
        whose cells were escaped)."""
        if self._closed:
            raise StdoutClosed
        self._parts.append(data)
        self._pending += len(data)
        if self._autoflush or self._pending >= self._buffer_size:
            self.flush()

    def line(self, text: str) -> None:
        """Queue one text line; a trailing newline is added. Unencodable code points (file
        names with undecodable bytes) are written back as the bytes they came from."""
        self.write(text.encode("utf-8", "surrogateescape") + b"\n")

    def lines(self, texts: list[str]) -> None:
        """Queue several text lines with one buffer append."""
        if texts:
            self.write(("\n".join(texts) + "\n").encode("utf-8", "surrogateescape"))

    def json(self, document: Any) -> None:
        """Queue one JSON document on its own line (JSON lines)."""
        self.write(orjson.dumps(document, option=orjson.OPT_APPEND_NEWLINE))

    def flush(self) -> None:
        """Hand everything queued to the stream; raise StdoutClosed if its reader is gone."""
        if self._closed:
            raise StdoutClosed
        if not self._parts:
            self._flush_stream()
            return
        data = b"".join(self._parts)
        self._parts.clear()
        self._pending = 0
        try:
            self._write_all(data)
        except (BrokenPipeError, ValueError) as exc:
            self._on_closed()
            raise StdoutClosed from exc
        self._flush_stream()

    def _write_all(self, data: bytes) -> None:
        # Why a loop: with PYTHONUNBUFFERED or `python -u`, sys.stdout.buffer is a raw FileIO
        # whose write() may take only part of the data (a signal, a full non-blocking pipe).
        view = memoryview(data)
        while view:
            written = self._stream.write(view)
            if written is None:  # non-blocking stream, nothing taken: wait until writable
                select.select([], [self._stream.fileno()], [])
                continue
            view = view[written:]

    def flush_quietly(self) -> None:
        """Flush, ignoring a closed stdout (used before writing a diagnostic on stderr)."""
        with contextlib.suppress(StdoutClosed):
            self.flush()

    def _flush_stream(self) -> None:
        try:
            self._stream.flush()
        except (BrokenPipeError, ValueError) as exc:
            self._on_closed()
            raise StdoutClosed from exc

    def _on_closed(self) -> None:
        self._closed = True
        self._parts.clear()
        self._pending = 0
        # Why: the interpreter flushes sys.stdout at exit; with the pipe gone that flush would
        # print a BrokenPipeError warning on stderr. Point fd 1 at /dev/null instead (the
        # recipe of the Python docs for SIGPIPE).
        try:
            if self._stream.fileno() != sys.stdout.fileno():
                return
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass
