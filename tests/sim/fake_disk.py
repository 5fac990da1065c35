"""A fake disk for the Raft simulation: writes are lost on a crash unless synced.

It implements :class:`tidelog.raft.RaftStorage` with two copies: ``current`` (what reads see,
every write applied) and ``durable`` (what survives a crash). Writes queue in ``pending``
until :meth:`FakeDisk.sync` applies them to ``durable``. :meth:`FakeDisk.crash` keeps a prefix
of the pending writes (chosen by the caller's seeded RNG, possibly none) and drops the rest,
as a real disk may have written some of them out on its own, in order.
"""

from __future__ import annotations

from typing import Any

from tidelog.raft import HardState, PersistentState, Snapshot
from tidelog.raft.storage import MemoryStorage


class FakeDisk:
    """A RaftStorage whose writes are lost on a crash unless synced (or a lucky prefix)."""

    def __init__(self) -> None:
        self.durable = MemoryStorage()
        self.current = MemoryStorage()
        self.pending: list[tuple[str, Any]] = []

    def load(self) -> PersistentState:
        return self.durable.load()

    def _write(self, op: str, arg: Any) -> None:
        self.pending.append((op, arg))
        _apply(self.current, op, arg)

    def save_snapshot(self, snapshot: Snapshot) -> None:
        self._write("snapshot", snapshot)

    def truncate(self, end_offset: int) -> None:
        self._write("truncate", end_offset)

    def append(self, entries: Any) -> None:
        self._write("append", tuple(entries))

    def read(self, start: int, end: int) -> Any:
        return self.current.read(start, end)

    def save_hard_state(self, state: HardState) -> None:
        self._write("hard", state)

    def sync(self) -> None:
        for op, arg in self.pending:
            _apply(self.durable, op, arg)
        self.pending.clear()

    def crash(self, keep: int) -> None:
        """Lose every pending write but the first ``keep``."""
        for op, arg in self.pending[:keep]:
            _apply(self.durable, op, arg)
        self.pending.clear()
        self.current = MemoryStorage()
        for op, arg in (
            ("snapshot", self.durable.snapshot),
            ("append", tuple(self.durable.entries)),
            ("hard", self.durable.hard_state),
        ):
            _apply(self.current, op, arg)


def _apply(storage: MemoryStorage, op: str, arg: Any) -> None:
    if op == "snapshot":
        storage.save_snapshot(arg)
    elif op == "truncate":
        storage.truncate(arg)
    elif op == "append":
        storage.append(arg)
    else:
        storage.hard_state = arg
