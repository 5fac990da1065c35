"""The in-memory view of a node's Raft log: a snapshot base plus the entries after it.

Layout: entries ``[start, end)`` are held as a list; everything below ``start`` is summarised
by the snapshot id (``start``, ``start_epoch``). Epochs never decrease along the log, so the
epoch lookups used to find where two logs diverge are binary searches, not scans.

The state machine keeps the whole unsnapshotted log here (the metadata log is small and is
trimmed by snapshots); the I/O layer mirrors every change through a :class:`Ready`. Methods
that would make the log inconsistent (a gap, an epoch going down) raise RaftInvariantError.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from tidelog.raft.errors import RaftInvariantError
from tidelog.raft.types import Entry, Snapshot, SnapshotId


def _epoch_of(entry: Entry) -> int:
    return entry.epoch


class RaftLog:
    """Entries after a snapshot; offsets dense from ``start``, epochs non-decreasing."""

    __slots__ = ("_entries", "start", "start_epoch")

    def __init__(self, snapshot: Snapshot, entries: Sequence[Entry] = ()) -> None:
        self.start = snapshot.end_offset
        self.start_epoch = snapshot.last_epoch
        self._entries: list[Entry] = []
        self.append(entries)

    @property
    def end(self) -> int:
        """The log end offset: the offset the next entry gets."""
        return self.start + len(self._entries)

    @property
    def last_epoch(self) -> int:
        """The epoch of the last entry (or of the snapshot's last entry; 0 when empty)."""
        return self._entries[-1].epoch if self._entries else self.start_epoch

    def epoch_at(self, offset: int) -> int | None:
        """The epoch of the entry at ``offset``; None when it is compacted away or absent.

        ``offset == -1`` (the empty prefix) has epoch 0.
        """
        if offset == self.start - 1:
            return self.start_epoch if offset >= 0 else 0
        if self.start <= offset < self.end:
            return self._entries[offset - self.start].epoch
        return None

    def entry(self, offset: int) -> Entry:
        return self._entries[offset - self.start]

    def slice(self, lo: int, hi: int) -> tuple[Entry, ...]:
        """Entries ``[lo, hi)``, clipped to what the log holds."""
        lo = max(lo, self.start)
        return tuple(self._entries[lo - self.start : max(hi - self.start, 0)])

    def end_for_epoch(self, epoch: int) -> SnapshotId | None:
        """The largest epoch ``e <= epoch`` in this log and the offset where it ends.

        None when the answer lies inside the snapshot (the asker must load a snapshot).
        This is Kafka's OffsetForLeaderEpoch: the end of epoch ``e`` is the first offset with a
        larger epoch, or the log end.
        """
        i = bisect_right(self._entries, epoch, key=_epoch_of)
        if i > 0:
            return SnapshotId(self.start + i, self._entries[i - 1].epoch)
        if epoch >= self.start_epoch:
            return SnapshotId(self.start, self.start_epoch)
        return None

    def append(self, entries: Sequence[Entry]) -> None:
        end, last = self.end, self.last_epoch
        for e in entries:
            if e.offset != end or e.epoch < last:
                raise RaftInvariantError(
                    f"entry ({e.offset}, epoch {e.epoch}) does not follow ({end}, epoch {last})"
                )
            end, last = end + 1, e.epoch
        self._entries.extend(entries)

    def truncate(self, end: int) -> None:
        """Drop the entries at ``end`` and after."""
        if end < self.start:
            raise RaftInvariantError(f"truncation to {end} is below the log start {self.start}")
        del self._entries[end - self.start :]

    def compact(self, end: int) -> SnapshotId:
        """Drop the entries below ``end`` (now covered by a snapshot); return its id."""
        if not self.start < end <= self.end:
            raise RaftInvariantError(f"cannot compact to {end}: log is [{self.start}, {self.end})")
        epoch = self._entries[end - 1 - self.start].epoch
        del self._entries[: end - self.start]
        self.start, self.start_epoch = end, epoch
        return SnapshotId(end, epoch)

    def reset(self, snapshot: SnapshotId) -> None:
        """Replace the whole log by an empty one after ``snapshot`` (snapshot installed)."""
        self._entries.clear()
        self.start, self.start_epoch = snapshot.end_offset, snapshot.last_epoch
