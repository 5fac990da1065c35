"""Partition replication as pure state: what a leader and a follower decide, without I/O.

:mod:`tidelog.replication.leader` tracks the followers of a partition this broker leads (their
log end offsets, when each last caught up), computes the high watermark and proposes ISR
changes; :mod:`tidelog.replication.follower` decides how far a follower truncates before it
fetches. Times are milliseconds passed in by the caller, so the broker (real clock) and the
simulation in ``tests/sim`` (fake clock) drive the same code. Like :mod:`tidelog.raft`, nothing
here imports a socket, asyncio, a clock or a file API.
"""

from tidelog.replication.follower import truncation_offset
from tidelog.replication.leader import FollowerState, LeaderState

__all__ = ["FollowerState", "LeaderState", "truncation_offset"]
