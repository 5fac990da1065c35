"""The whole suite's temporary files on a memory file system (/dev/shm) where there is one.

Every test's ``tmp_path`` (and so every test broker's data dir) is under pytest's base temp
dir. The tests fsync a great deal (each produce's group commit, every segment roll and
checkpoint of the storage tests) and nothing in them cuts power, so the disk's flushes only
cost time: a storage crash test spent a third of its time in fsync and fdatasync. On tmpfs
those return at once; what the tests see of the files is the same (kill -9 keeps the page
cache either way, and lost unflushed writes are simulated by tests/sim's fake disk).

Kept on the default /tmp when /dev/shm is missing, not a tmpfs, not writable or small (a
container's 64 MiB default), or when the run names its own (``--basetemp`` or
``PYTEST_DEBUG_TEMPROOT``). pytest keeps the last three runs' dirs, there as anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Free space /dev/shm must have (a full run writes a few hundred MB at most).
_MIN_FREE = 2 << 30


def _memory_temp_root() -> str | None:
    shm = Path("/dev/shm")
    try:
        with open("/proc/self/mounts") as mounts:
            tmpfs = any(line.split()[1:3] == [str(shm), "tmpfs"] for line in mounts)
        st = os.statvfs(shm)
    except OSError:
        return None
    if not tmpfs or not os.access(shm, os.W_OK | os.X_OK):
        return None
    return str(shm) if st.f_bavail * st.f_frsize >= _MIN_FREE else None


def pytest_configure(config: object) -> None:
    # read lazily by pytest's TempPathFactory at the first tmp_path, after this hook
    root = _memory_temp_root()
    if root is not None and "PYTEST_DEBUG_TEMPROOT" not in os.environ:
        os.environ["PYTEST_DEBUG_TEMPROOT"] = root
