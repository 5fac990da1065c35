"""The leader-epoch cache of one partition: which leader epoch started at which offset.

Kept as a short in-memory list of :class:`EpochEntry` (epochs and start offsets strictly
increase) mirrored to the partition's ``leader-epoch-checkpoint`` file on every change (atomic
rewrite, see :mod:`tidelog.storage.checkpoint`). It answers Kafka's OffsetForLeaderEpoch
question (:meth:`end_offset_for_epoch`) that followers use to find where to truncate.

Crash behaviour: the file is replaced atomically; on open the log truncates the cache to its
recovered log end offset, and recovery re-adds epochs seen in recovered batches.
"""

from __future__ import annotations

import logging
from pathlib import Path

from tidelog.storage.checkpoint import (
    EpochEntry,
    read_leader_epoch_checkpoint,
    write_leader_epoch_checkpoint,
)
from tidelog.storage.errors import CheckpointError

log = logging.getLogger("tidelog.storage.epoch_cache")

UNDEFINED_EPOCH = -1
UNDEFINED_EPOCH_OFFSET = -1


class LeaderEpochCache:
    def __init__(self, path: Path, entries: list[EpochEntry] | None = None) -> None:
        self.path = Path(path)
        self._entries: list[EpochEntry] = list(entries or [])
        #: What the file holds, so an unchanged cache is not rewritten (and fsynced).
        self._saved: list[EpochEntry] | None = list(self._entries) if entries is not None else None

    @classmethod
    def load(cls, path: Path) -> LeaderEpochCache:
        """Read ``path``; a missing file is an empty cache, a malformed one is logged and
        dropped (recovery rebuilds what the batches still say)."""
        try:
            entries = read_leader_epoch_checkpoint(path)
        except FileNotFoundError:
            return cls(path)
        except CheckpointError as exc:
            log.warning("ignoring malformed leader epoch checkpoint: %s", exc)
            return cls(path)
        return cls(path, entries)

    @property
    def entries(self) -> list[EpochEntry]:
        return list(self._entries)

    @property
    def latest_epoch(self) -> int:
        return self._entries[-1].epoch if self._entries else UNDEFINED_EPOCH

    def _save(self) -> None:
        if self._saved == self._entries:
            return
        write_leader_epoch_checkpoint(self.path, self._entries)
        self._saved = list(self._entries)

    def assign(self, epoch: int, start_offset: int, *, persist: bool = True) -> bool:
        """Record that ``epoch`` starts at ``start_offset`` if it is newer than the latest.

        Entries that conflict (epoch or start offset not below the new one) are dropped first,
        as Kafka does. Returns whether the cache changed.
        """
        if epoch < 0:
            return False
        if self._entries and self._entries[-1].epoch >= epoch:
            return False
        kept = [e for e in self._entries if e.epoch < epoch and e.start_offset < start_offset]
        kept.append(EpochEntry(epoch, start_offset))
        self._entries = kept
        if persist:
            self._save()
        return True

    def truncate_from_end(self, end_offset: int, *, persist: bool = True) -> None:
        """Drop entries starting at ``end_offset`` or later (the log was cut there)."""
        kept = [e for e in self._entries if e.start_offset < end_offset]
        if kept != self._entries:
            self._entries = kept
            if persist:
                self._save()

    def truncate_from_start(self, start_offset: int, *, persist: bool = True) -> None:
        """The log now starts at ``start_offset``: the epoch covering it starts there."""
        below = [e for e in self._entries if e.start_offset <= start_offset]
        if not below:
            return
        kept = [EpochEntry(below[-1].epoch, start_offset)]
        kept += [e for e in self._entries if e.start_offset > start_offset]
        if kept != self._entries:
            self._entries = kept
            if persist:
                self._save()

    def clear(self, *, persist: bool = True) -> None:
        self._entries = []
        if persist:
            self._save()

    def save(self) -> None:
        self._save()

    def end_offset_for_epoch(self, epoch: int, log_end_offset: int) -> tuple[int, int]:
        """Kafka's OffsetForLeaderEpoch answer: (largest epoch <= ``epoch``, its end offset).

        The end offset is where the next higher epoch starts, or the log end offset when
        ``epoch`` is the latest; (-1, -1) for an unknown or future epoch.
        """
        if epoch == UNDEFINED_EPOCH or not self._entries:
            return UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        if epoch == self._entries[-1].epoch:
            return epoch, log_end_offset
        higher = next((e for e in self._entries if e.epoch > epoch), None)
        if higher is None:
            return UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        floor = [e for e in self._entries if e.epoch <= epoch]
        if not floor:
            return epoch, higher.start_offset
        return floor[-1].epoch, higher.start_offset
