"""A :class:`Ready`: the batch of effects the state machine asks the I/O layer to carry out.

The I/O layer loops: ``if node.has_ready(): r = node.ready()``, then, in this order:

1. ``snapshot``: save it; the log below ``snapshot.end_offset`` is dropped;
2. ``truncate_to``: drop log entries at that offset and after;
3. ``entries``: append them (they follow the log end after step 2);
4. ``hard_state``: save it;
5. if ``must_sync``: make steps 1-4 durable (fdatasync) **before** step 6;
6. send ``messages`` (best effort; loss is tolerated);
7. if ``restore_snapshot``: reset the state machine to ``snapshot``; then apply ``committed``
   in order;
8. ``node.advance(r)``.

Crash behaviour: a crash anywhere before step 5 completes may lose any suffix of steps 1-4;
that is safe because nothing of this Ready was sent or applied yet. Writes are ordered so that
any prefix of them is a consistent state (entries before the hard state that may commit them).
"""

from __future__ import annotations

from dataclasses import dataclass

from tidelog.raft.messages import Message
from tidelog.raft.types import Entry, HardState, Snapshot


@dataclass(frozen=True, slots=True)
class Ready:
    """Effects to persist, send and apply; see the module docstring for their order."""

    messages: tuple[Message, ...] = ()
    snapshot: Snapshot | None = None
    restore_snapshot: bool = False
    truncate_to: int | None = None
    entries: tuple[Entry, ...] = ()
    hard_state: HardState | None = None
    must_sync: bool = False
    committed: tuple[Entry, ...] = ()

    @property
    def log_end(self) -> int | None:
        """The offset after the last entry of this Ready (None without entries)."""
        return self.entries[-1].offset + 1 if self.entries else None
