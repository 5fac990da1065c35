"""What a partition knows about transactions: the ongoing ones, the last stable offset (LSO)
and the aborted ones (Kafka's ProducerStateManager and TransactionIndex, the part that
read_committed needs).

Fed batch headers in log order (leader and follower appends alike, and the scan that rebuilds
it after a start or a truncation): the first transactional data batch of a producer id opens
its transaction at that batch's base offset; a control batch (commit or abort marker) closes
it. An abort becomes an :class:`AbortedTxn` (Kafka's ``.txnindex`` entry): producer id, first
offset, the marker's offset, and the LSO when the marker was written (the smallest first
offset of the transactions still open, else the marker's offset + 1).

Invariants: ``lso(hw) <= hw``; the LSO is below the first offset of every open transaction
and of every ended one whose marker is not below the high watermark yet (Kafka's
"unreplicated" transactions: a consumer must not see a transaction's records before its marker
is readable, or it could not tell that they were aborted). Aborted entries are kept in marker
order, for the whole log (they go with the segments holding their markers).

Pure: no I/O; the log holds the lock around every call.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import NamedTuple

from tidelog.records.batch_header import BatchHeader


class AbortedTxn(NamedTuple):
    producer_id: int
    first_offset: int
    last_offset: int  # the abort marker's offset
    last_stable_offset: int


class OpenTxn(NamedTuple):
    producer_id: int
    producer_epoch: int
    first_offset: int


class AbortedRanges:
    """Which transactional batches belong to an aborted transaction: those of its producer
    from its first offset up to its abort marker (what read_committed consumers skip and the
    cleaner drops)."""

    def __init__(self, aborted: Iterable[AbortedTxn]) -> None:
        self._by_pid: dict[int, list[tuple[int, int]]] = {}
        for a in aborted:
            self._by_pid.setdefault(a.producer_id, []).append((a.first_offset, a.last_offset))
        for ranges in self._by_pid.values():
            ranges.sort()

    def __bool__(self) -> bool:
        return bool(self._by_pid)

    def holds(self, header: BatchHeader) -> bool:
        if header.is_control or not header.is_transactional:
            return False
        ranges = self._by_pid.get(header.producer_id)
        if not ranges:
            return False
        i = bisect.bisect_right(ranges, (header.base_offset, 1 << 63)) - 1
        return i >= 0 and ranges[i][0] <= header.base_offset < ranges[i][1]


class TxnState:
    def __init__(self, open_txns: Iterable[OpenTxn] = (),
                 aborted: Iterable[AbortedTxn] = ()) -> None:
        self.open: dict[int, OpenTxn] = {t.producer_id: t for t in open_txns}
        #: Ended transactions whose marker may still be at or above the high watermark:
        #: (first offset, marker offset).
        self._ending: list[tuple[int, int]] = []
        self.aborted: list[AbortedTxn] = sorted(aborted, key=lambda a: a.last_offset)
        self._marker_offsets = [a.last_offset for a in self.aborted]

    def on_data(self, header: BatchHeader) -> None:
        """A transactional data batch (offsets assigned)."""
        if header.producer_id not in self.open:
            self.open[header.producer_id] = OpenTxn(
                header.producer_id, header.producer_epoch, header.base_offset)

    def on_marker(self, header: BatchHeader, commit: bool) -> AbortedTxn | None:
        """A control batch: ends the producer's open transaction (if any). Returns the
        aborted entry to index for an abort that ended one."""
        txn = self.open.pop(header.producer_id, None)
        if txn is None:
            return None
        marker = header.base_offset
        self._ending.append((txn.first_offset, marker))
        if commit:
            return None
        firsts = [t.first_offset for t in self.open.values()]
        entry = AbortedTxn(txn.producer_id, txn.first_offset, marker,
                           min(firsts) if firsts else marker + 1)
        self.aborted.append(entry)
        self._marker_offsets.append(marker)
        return entry

    def first_unstable(self, hw: int) -> int | None:
        """The smallest first offset of a transaction not decided below ``hw``."""
        if self._ending:
            self._ending = [e for e in self._ending if e[1] >= hw]
        lowest: int | None = None
        for t in self.open.values():
            if lowest is None or t.first_offset < lowest:
                lowest = t.first_offset
        for first, _ in self._ending:
            if lowest is None or first < lowest:
                lowest = first
        return lowest

    def lso(self, hw: int) -> int:
        first = self.first_unstable(hw)
        return hw if first is None or first > hw else first

    def aborted_between(self, fetch_offset: int, upper: int) -> list[AbortedTxn]:
        """Aborted transactions a read of [fetch_offset, upper) must be told of: those whose
        marker is at or after ``fetch_offset`` and that began before ``upper`` (Kafka's
        collectAbortedTxns)."""
        found = []
        for entry in self.aborted[bisect.bisect_left(self._marker_offsets, fetch_offset):]:
            if entry.first_offset < upper:
                found.append(entry)
            if entry.last_stable_offset >= upper:
                break
        return found

    def drop_aborted_from(self, offset: int) -> None:
        """Forget aborts whose marker is at or above ``offset`` (truncation, rebuild)."""
        cut = bisect.bisect_left(self._marker_offsets, offset)
        del self.aborted[cut:]
        del self._marker_offsets[cut:]

    def drop_aborted_below(self, offset: int) -> None:
        """Forget aborts whose marker is below ``offset`` (their segment was deleted)."""
        cut = bisect.bisect_left(self._marker_offsets, offset)
        del self.aborted[:cut]
        del self._marker_offsets[:cut]
