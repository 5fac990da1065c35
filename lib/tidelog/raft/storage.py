"""The persistent storage a Raft node needs, as a protocol the I/O layer implements.

In ``logd`` the log is ``__cluster_metadata-0`` (ordinary record batches, one batch per
:class:`Ready`'s entries, control entries as control batches), the hard state a small
checkpoint file, snapshots files named by their end offset and epoch (as KIP-630's
``<offset>-<epoch>.checkpoint``). :class:`MemoryStorage` is the reference implementation:
durable by definition (sync is a no-op), used by tests and benchmarks.

Contract: ``load`` returns what was last made durable by ``sync`` (and possibly some writes
after it, each whole: the Ready ordering makes any such prefix consistent); ``entries`` in the
loaded state start at the snapshot's end offset.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tidelog.raft.errors import RaftInvariantError
from tidelog.raft.ready import Ready
from tidelog.raft.types import EMPTY_SNAPSHOT, Entry, HardState, PersistentState, Snapshot


class RaftStorage(Protocol):
    """Log append/truncate/read, hard state and snapshot persistence."""

    def load(self) -> PersistentState:
        """Everything durable: hard state, latest snapshot and the log after it."""
        ...

    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Keep ``snapshot`` as the latest; drop log entries below its end offset."""
        ...

    def truncate(self, end_offset: int) -> None:
        """Drop log entries at ``end_offset`` and after."""
        ...

    def append(self, entries: Sequence[Entry]) -> None:
        """Append entries that follow the current log end."""
        ...

    def read(self, start: int, end: int) -> Sequence[Entry]:
        """Entries ``[start, end)`` (clipped to the stored log)."""
        ...

    def save_hard_state(self, state: HardState) -> None:
        """Replace the hard state."""
        ...

    def sync(self) -> None:
        """Make every write so far durable."""
        ...


def persist(storage: RaftStorage, ready: Ready) -> None:
    """Carry out steps 1-5 of a Ready (see :mod:`tidelog.raft.ready`) on ``storage``."""
    if ready.snapshot is not None:
        storage.save_snapshot(ready.snapshot)
    if ready.truncate_to is not None:
        storage.truncate(ready.truncate_to)
    if ready.entries:
        storage.append(ready.entries)
    if ready.hard_state is not None:
        storage.save_hard_state(ready.hard_state)
    if ready.must_sync:
        storage.sync()


class MemoryStorage:
    """A RaftStorage held in memory: every write is immediately "durable"."""

    def __init__(self) -> None:
        self.hard_state = HardState()
        self.snapshot = EMPTY_SNAPSHOT
        self.entries: list[Entry] = []
        self.syncs = 0

    @property
    def start(self) -> int:
        return self.snapshot.end_offset

    def load(self) -> PersistentState:
        return PersistentState(self.hard_state, self.snapshot, tuple(self.entries))

    def save_snapshot(self, snapshot: Snapshot) -> None:
        keep_from = snapshot.end_offset - self.start
        if 0 <= keep_from <= len(self.entries):
            del self.entries[:keep_from]
        else:
            # the snapshot is beyond the stored log: nothing stored follows it
            self.entries.clear()
        self.snapshot = snapshot

    def truncate(self, end_offset: int) -> None:
        del self.entries[max(0, end_offset - self.start) :]

    def append(self, entries: Sequence[Entry]) -> None:
        if entries and entries[0].offset != self.start + len(self.entries):
            raise RaftInvariantError(
                f"append at {entries[0].offset} but the stored log ends at "
                f"{self.start + len(self.entries)}"
            )
        self.entries.extend(entries)

    def read(self, start: int, end: int) -> Sequence[Entry]:
        lo = max(start - self.start, 0)
        return self.entries[lo : max(end - self.start, lo)]

    def save_hard_state(self, state: HardState) -> None:
        self.hard_state = state

    def sync(self) -> None:
        self.syncs += 1
