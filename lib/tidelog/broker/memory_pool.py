"""The broker-wide budget for request bytes being read and served (Kafka's
``queued.max.request.bytes``).

Invariants: every request frame is counted from the moment its size is known (or it arrived
whole in one receive) until its handler has finished; :attr:`RequestMemoryPool.used` is the sum
of those counts. A connection that starts a frame (its size prefix is in) reserves the whole
announced size with :meth:`RequestMemoryPool.reserve`, which waits while the pool is at or
over its limit; a reservation is granted whole once ``used`` is below the limit, even if it
takes ``used`` past it (as Kafka's non-strict pool does), so a frame larger than what is left
still gets read and no set of half-read frames can wait on each other forever. The overshoot
is therefore at most one frame (``max_request_size``) plus one receive buffer per connection
for requests that arrived whole. A limit of -1 turns the bound off.

Not thread safe: the event loop only. Nothing here fails: a closed connection releases what it
held in its ``finally``.
"""

from __future__ import annotations

import asyncio
import collections
import logging

log = logging.getLogger("tidelog.broker.connection")


class RequestMemoryPool:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def full(self) -> bool:
        return 0 <= self.limit <= self.used

    async def reserve(self, size: int) -> None:
        """Count ``size`` bytes, after waiting (first come, first served) while the pool is
        full."""
        if self.full or self._waiters:
            if not self._waiters:  # one line per episode, not per request
                log.info("queued_max_request_bytes (%d) reached: large requests wait to be "
                         "read until requests being served finish", self.limit)
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                await fut
            except BaseException:
                if fut in self._waiters:
                    self._waiters.remove(fut)
                elif fut.done() and not fut.cancelled():
                    self._wake()  # woken but gone: let the next one have the turn
                raise
            self.used += size
            self._wake()  # still room: the next waiter's turn
            return
        self.used += size

    def take(self, size: int) -> None:
        """Count ``size`` bytes that are already in memory (a frame that arrived whole)."""
        self.used += size

    def release(self, size: int) -> None:
        self.used -= size
        self._wake()

    def _wake(self) -> None:
        # One waiter per release below the limit: it reserves, and the next release wakes the
        # next (waking all would let them all reserve past the limit at once).
        while self._waiters and not self.full:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return
