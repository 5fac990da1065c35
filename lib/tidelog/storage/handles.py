"""A bounded LRU cache of open OS handles (file descriptors and index mmaps).

A broker holds thousands of segments; keeping each one's log fd and index mappings open would
exhaust the process's descriptor limit. Every storage handle is therefore opened through one
:class:`HandleCache` shared by all logs of a LogManager: a handle is *pinned* while in use (a
``with cache.pin(key, opener)`` block) and the least recently used unpinned handles are closed
when more than ``capacity`` are open. A pinned handle is never closed under its user, even from
another thread (flushes run on a worker thread); the cache may then run over capacity until the
pins are released.

Invariants: at most one open handle per key; a discarded key (file deleted, resized or
renamed) is closed as soon as its last pin goes, and the next ``pin`` opens a fresh one.
Crash behaviour: none; the cache holds no state that outlives the process.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar


class Handle(Protocol):
    def close(self) -> None: ...


H = TypeVar("H", bound=Handle)


class FdHandle:
    """An OS file descriptor as a closable handle."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)


class _Slot:
    __slots__ = ("doomed", "handle", "pins")

    def __init__(self, handle: Handle) -> None:
        self.handle = handle
        self.pins = 0
        self.doomed = False


class HandleCache:
    """LRU cache of at most ``capacity`` unpinned open handles (minimum 4: one operation may
    pin a log fd and both index mappings at once)."""

    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = max(4, capacity)
        self._slots: OrderedDict[str, _Slot] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, key: str) -> bool:
        return key in self._slots

    @contextmanager
    def pin(self, key: str, opener: Callable[[], H]) -> Iterator[H]:
        """Yield the open handle for ``key`` (opening it with ``opener`` if needed), pinned."""
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                slot = _Slot(opener())
                self._slots[key] = slot
                self._evict_locked()
            else:
                self._slots.move_to_end(key)
            slot.pins += 1
        try:
            yield slot.handle  # type: ignore[misc]  # the opener for a key always returns H
        finally:
            with self._lock:
                slot.pins -= 1
                if slot.doomed and slot.pins == 0:
                    slot.handle.close()
                else:
                    self._evict_locked()

    def discard(self, key: str) -> None:
        """Close the handle for ``key`` now, or when its last pin is released."""
        with self._lock:
            slot = self._slots.pop(key, None)
            if slot is None:
                return
            if slot.pins:
                slot.doomed = True
            else:
                slot.handle.close()

    def close_all(self) -> None:
        for key in list(self._slots):
            self.discard(key)

    def _evict_locked(self) -> None:
        if len(self._slots) <= self.capacity:
            return
        for key in list(self._slots):
            if len(self._slots) <= self.capacity:
                return
            slot = self._slots[key]
            if slot.pins == 0:
                del self._slots[key]
                slot.handle.close()
