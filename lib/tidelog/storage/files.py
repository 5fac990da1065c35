"""Segment file names: the 20-digit zero-padded base offset plus a suffix, as Kafka names them.

``00000000000000000042.log`` holds batches from offset 42 on; ``.index`` and ``.timeindex`` are
its offset and time indexes. Other suffixes Kafka uses in passing (``.deleted``, ``.cleaned``,
``.swap``) are recognised so a store can clean them up. Pure functions: no I/O.
"""

from __future__ import annotations

LOG_SUFFIX = ".log"
INDEX_SUFFIX = ".index"
TIME_INDEX_SUFFIX = ".timeindex"
SEGMENT_SUFFIXES = (LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX)
#: Suffixes of files left behind by an interrupted delete, clean or swap.
LEFTOVER_SUFFIXES = (".deleted", ".cleaned", ".swap", ".tmp")

_DIGITS = 20


def segment_file_name(base_offset: int, suffix: str) -> str:
    """``segment_file_name(42, ".log")`` -> ``"00000000000000000042.log"``."""
    if base_offset < 0:
        raise ValueError(f"base offset must not be negative, got {base_offset}")
    if suffix not in SEGMENT_SUFFIXES:
        raise ValueError(f"unknown segment suffix {suffix!r}")
    return f"{base_offset:0{_DIGITS}d}{suffix}"


def parse_segment_file_name(name: str) -> tuple[int, str] | None:
    """``(base offset, suffix)`` of a segment file name, or None when the name is not one."""
    stem, dot, ext = name.partition(".")
    if not dot or len(stem) != _DIGITS or not stem.isascii() or not stem.isdigit():
        return None
    suffix = "." + ext
    if suffix not in SEGMENT_SUFFIXES:
        return None
    return int(stem), suffix
