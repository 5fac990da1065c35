"""How far a follower cuts its log so that it never keeps records the leader does not have.

The follower asks the leader where its latest epoch ends (OffsetForLeaderEpoch, KIP-101 /
KIP-279), or the leader says so unasked in a Fetch answer (``diverging_epoch``, KIP-595). Both
give ``(epoch, end_offset)``: the largest epoch the leader has that is at most the one asked
about, and where the leader's log of it ends. :func:`truncation_offset` turns that answer and
the follower's own leader-epoch cache into the offset to truncate to:

* the leader knows no such epoch (``end_offset`` -1): cut to the high watermark, the one
  offset every replica agreed on;
* the follower has that epoch too: cut to where the shorter of the two logs of it ends;
* the follower does not have it (its own largest epoch below is older): cut to where its own
  log of that older epoch ends, and ask again with it (``complete`` False) — each round moves
  to an older epoch, so the rounds end.

A follower never cuts below its log start offset here (storage starts an empty log there).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple


class Truncation(NamedTuple):
    offset: int
    #: False: truncate, then ask the leader again about the follower's (new) latest epoch.
    complete: bool


def truncation_offset(
    leader_epoch: int,
    leader_end_offset: int,
    end_offset_for_epoch: Callable[[int], tuple[int, int]],
    log_end_offset: int,
    high_watermark: int,
) -> Truncation:
    """Where to truncate given the leader's answer ``(leader_epoch, leader_end_offset)``.

    ``end_offset_for_epoch(e)`` is the follower's own answer for epoch ``e``."""
    if leader_end_offset < 0 or leader_epoch < 0:
        return Truncation(min(high_watermark, log_end_offset), True)
    mine_epoch, mine_end = end_offset_for_epoch(leader_epoch)
    if mine_epoch == leader_epoch:
        return Truncation(min(leader_end_offset, mine_end, log_end_offset), True)
    if mine_epoch < 0:
        # nothing of ours is that old: whatever we have is newer than anything agreed on
        return Truncation(min(leader_end_offset, log_end_offset), True)
    return Truncation(min(leader_end_offset, mine_end, log_end_offset), False)
