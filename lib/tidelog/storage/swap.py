"""Kafka's crash-safe file protocol for replacing log segments with cleaned ones.

The log cleaner writes the replacement of a group of segments ``[s1 .. sk]`` as one segment
with s1's base offset under the names ``<base>.log.cleaned``, ``.index.cleaned`` and
``.timeindex.cleaned``, fsyncs it, and then installs it (:func:`install`):

1. ``.log.cleaned`` -> ``.log.swap``, then the indexes ``.cleaned`` -> ``.swap``; fsync the
   directory. The renamed ``.log.swap`` is the commit point: from here on the new segment wins.
2. The old segments' files are deleted (their readers keep their own descriptors).
3. The indexes ``.swap`` -> final name, then the log ``.swap`` -> final name; fsync.

:func:`recover_swaps` runs when a log is opened, before anything else reads the directory:
every ``.log.swap`` is a completed clean, so the old segments it replaces (every segment file,
not a ``.swap``, whose base offset lies in [swap base, swap's next offset)) are deleted and the
swap files get their final names; a swap index that did not make it is rebuilt by the log's
recovery because its file is missing. The log's loader then removes what is left over:
``.cleaned`` files (an interrupted clean), orphan index ``.swap`` files, ``.deleted`` files.
So a kill -9 at any step leaves either the old segments or the new one, never a mix.

The range rule needs the cleaned segment to end where the group ended: the cleaner always
keeps the group's last batch (as an empty batch when none of its records stay, as Kafka keeps
a producer's last batch), so the swap's next offset covers every old segment of the group.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from tidelog.records.batch_header import HEADER_SIZE, parse_header
from tidelog.records.errors import CorruptRecordError
from tidelog.storage.checkpoint import fsync_dir
from tidelog.storage.files import (
    INDEX_SUFFIX,
    LOG_SUFFIX,
    TIME_INDEX_SUFFIX,
    parse_segment_file_name,
)
from tidelog.storage.segment import LogSegment

log = logging.getLogger("tidelog.storage.swap")

CLEANED_SUFFIX = ".cleaned"
SWAP_SUFFIX = ".swap"

#: Called with the name of each step before it runs; the crash tests raise from it.
StepHook = Callable[[str], None]


def _no_hook(step: str) -> None:
    pass


def install(
    directory: Path,
    old: Sequence[LogSegment],
    new: LogSegment,
    hook: StepHook | None = None,
) -> None:
    """Replace ``old`` (contiguous inactive segments) by ``new`` (a flushed ``.cleaned``
    segment whose base offset is old[0]'s). The caller holds the log's lock."""
    step = hook or _no_hook
    assert new.suffix == CLEANED_SUFFIX and new.base_offset == old[0].base_offset
    step("log.cleaned->swap")
    new.rename_file(LOG_SUFFIX, SWAP_SUFFIX)
    new.suffix = SWAP_SUFFIX  # committed: from here on nobody may delete the new files
    step("index.cleaned->swap")
    new.rename_file(INDEX_SUFFIX, SWAP_SUFFIX)
    step("timeindex.cleaned->swap")
    new.rename_file(TIME_INDEX_SUFFIX, SWAP_SUFFIX)
    step("fsync-swap")
    fsync_dir(directory)
    for seg in old:
        step(f"delete-{seg.base_offset}")
        seg.delete()
    step("index.swap->final")
    new.rename_file(INDEX_SUFFIX, "")
    step("timeindex.swap->final")
    new.rename_file(TIME_INDEX_SUFFIX, "")
    step("log.swap->final")
    new.rename_file(LOG_SUFFIX, "")
    new.suffix = ""
    step("fsync-final")
    fsync_dir(directory)


def _next_offset(path: Path) -> int | None:
    """The offset after the last whole batch of a segment file (None if it has none)."""
    next_offset = None
    size = os.stat(path).st_size
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        pos = 0
        while pos + HEADER_SIZE <= size:
            try:
                header = parse_header(os.pread(fd, HEADER_SIZE, pos))
            except CorruptRecordError:
                break
            if header.batch_length < HEADER_SIZE - 12 or pos + header.size > size:
                break
            next_offset = header.next_offset
            pos += header.size
    finally:
        os.close(fd)
    return next_offset


def recover_swaps(directory: Path) -> int:
    """Finish every interrupted install in ``directory`` and remove the leftovers of
    interrupted cleans; returns how many swaps were completed."""
    names = os.listdir(directory)
    swaps: list[tuple[int, int]] = []
    for name in names:
        if name.endswith(LOG_SUFFIX + SWAP_SUFFIX):
            parsed = parse_segment_file_name(name[: -len(SWAP_SUFFIX)])
            if parsed is None:
                continue
            end = _next_offset(directory / name)
            if end is None:
                # An empty swap cannot be placed: the old segments stay (nothing was lost).
                log.warning("%s: removing empty swap file %s", directory, name)
                os.unlink(directory / name)
                continue
            swaps.append((parsed[0], end))
    for name in names:
        if name.endswith(SWAP_SUFFIX):
            continue
        parsed = parse_segment_file_name(name)
        if parsed is not None and any(lo <= parsed[0] < hi for lo, hi in swaps):
            log.info("%s: deleting %s, replaced by an interrupted clean", directory, name)
            os.unlink(directory / name)
    for base, _ in sorted(swaps):
        for suffix in (INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX):
            swap = directory / (f"{base:020d}{suffix}{SWAP_SUFFIX}")
            if swap.exists():
                os.replace(swap, directory / f"{base:020d}{suffix}")
        log.info("%s: completed the swap of cleaned segment %d", directory, base)
    if swaps:
        fsync_dir(directory)
    return len(swaps)

