"""Read a whole file as a read-only buffer without copying it: mmap, or ``b""`` when empty.

A 1 GiB segment costs address space, not memory: pages are read as the dump walks them. The
view must not outlive the ``with`` block. If a view derived from it is still alive when the
block ends (a decoded batch kept somewhere), the map is left for the garbage collector to close
instead of raising BufferError.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path


@contextmanager
def mapped(path: Path) -> Iterator[memoryview]:
    """The bytes of ``path`` as a memoryview (OSError when it cannot be opened)."""
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        if size == 0:
            yield memoryview(b"")
            return
        region = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    view = memoryview(region)
    try:
        yield view
    finally:
        with suppress(BufferError):
            view.release()
            region.close()
