"""What this broker tells clients about other brokers' liveness in the moments the committed
metadata has not caught up with a death: Metadata answers only.

The metadata log is the truth about which brokers are fenced and who leads, and it trails the
death of a broker process by the time the controller takes to notice and commit (tens of ms).
librdkafka asks for metadata within a millisecond or two of losing its connection to a leader,
and what it hears then costs it up to two of its 1 s topic scans (measured: 1.0-1.5 s from kill
-9 to the next acknowledged record, with the broker side done after 20-120 ms). Two
adjustments, both in what Metadata answers, never in the metadata, an election or a role:

* **Suspects** (:meth:`BrokerLiveness.suspects`): a broker this node lost a connection to within
  :data:`SUSPECT_WINDOW_S` (its replica fetcher's link to it failed, or its quorum connection
  closed with no heartbeat since) and whose client listener refuses a TCP connection is dead —
  a live broker, even a hung one, keeps its listener; the controller fences it on the same
  evidence a moment later. The partitions it leads are answered LEADER_NOT_AVAILABLE with
  leader -1, as if it were fenced already: a dead broker named leader with no error makes
  librdkafka keep the partition there and stop its fast leader query until its next topic
  scan, while "no leader" keeps it asking every 100 ms.
* **Fenced grace** (:class:`FencedGrace`): a broker fenced within :data:`FENCED_LISTED_S` is
  still listed among the brokers (never as a leader). librdkafka decommissions the handle of a
  broker an answer leaves out, and when the same answer moves a partition off that broker, the
  handle's teardown takes the partition back from its new leader (onto no leader at all) until
  the next 1 s scan. Listed a while longer, the broker goes from a later answer, when nothing
  is delegated to it any more. Kafka lists only live brokers; it fences after a 9 s session
  timeout, so its clients meet neither case.

Invariants: this node is never a suspect; a probe never waits longer than :data:`PROBE_S`;
probes of one address are shared by concurrent requests and their result kept
:data:`PROBE_CACHE_S`, so a burst of Metadata requests costs one connection attempt; outside
the windows answers are exactly the metadata's.

Crash behaviour: memory only; a restarted broker starts with no suspects and no grace (its
first answers are the metadata's).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable

from tidelog.metadata.image import MetadataImage

#: A lost connection makes its broker a suspect for this long (the controller fences a dead
#: process within about a second, after which the metadata says it).
SUSPECT_WINDOW_S = 3.0
#: How long a fenced broker stays listed among a Metadata answer's brokers.
FENCED_LISTED_S = 3.0
#: How long a probe waits for a listener to accept or refuse.
PROBE_S = 0.2
#: How long a probe's result is reused.
PROBE_CACHE_S = 0.05

Clock = Callable[[], float]


class ListenerProbe:
    """Whether a listener refuses TCP connections (only a refusal is evidence of a death: an
    accepted connection, a timeout or any other error proves nothing)."""

    def __init__(self, timeout: float = PROBE_S, cache_s: float = PROBE_CACHE_S,
                 clock: Clock = time.monotonic) -> None:
        self.timeout = timeout
        self.cache_s = cache_s
        self._clock = clock
        self._results: dict[tuple[str, int], tuple[float, bool]] = {}
        self._running: dict[tuple[str, int], asyncio.Task[bool]] = {}

    async def refuses(self, host: str, port: int) -> bool:
        key = (host, port)
        hit = self._results.get(key)
        if hit is not None and self._clock() - hit[0] < self.cache_s:
            return hit[1]
        task = self._running.get(key)
        if task is None:
            task = self._running[key] = asyncio.ensure_future(self._probe(host, port))
            task.add_done_callback(lambda _t: self._running.pop(key, None))
        # shielded: one waiter going away (its client disconnected) must not end the probe
        # the others wait for
        return await asyncio.shield(task)

    async def _probe(self, host: str, port: int) -> bool:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port),
                                               self.timeout)
        except ConnectionRefusedError:
            refused = True
        except (OSError, TimeoutError):
            refused = False
        else:
            writer.close()
            refused = False
        self._results[(host, port)] = (self._clock(), refused)
        return refused


class FencedGrace:
    """When this node first saw each broker incarnation fenced, to keep it listed a while."""

    def __init__(self, grace_s: float = FENCED_LISTED_S, clock: Clock = time.monotonic) -> None:
        self.grace_s = grace_s
        self._clock = clock
        self._fenced_since: dict[tuple[int, uuid.UUID], float] = {}

    def listed(self, broker_id: int, incarnation: uuid.UUID, fenced: bool) -> bool:
        """Whether a Metadata answer lists this broker."""
        key = (broker_id, incarnation)
        if not fenced:
            self._fenced_since.pop(key, None)
            return True
        now = self._clock()
        return now - self._fenced_since.setdefault(key, now) < self.grace_s

    def forget_except(self, present: Iterable[tuple[int, uuid.UUID]]) -> None:
        """Drop incarnations no longer registered (bounded by the registered brokers)."""
        keep = set(present)
        for key in [k for k in self._fenced_since if k not in keep]:
            del self._fenced_since[key]


class BrokerLiveness:
    """This node's view for Metadata answers: suspects and the fenced grace."""

    def __init__(self, me: int, probe: ListenerProbe | None = None,
                 grace: FencedGrace | None = None) -> None:
        self.me = me
        self.probe = probe if probe is not None else ListenerProbe()
        self.grace = grace if grace is not None else FencedGrace()

    async def suspects(self, image: MetadataImage, lost: Iterable[int]) -> set[int]:
        """Of the unfenced brokers in ``lost`` (this node lost a connection to them within
        :data:`SUSPECT_WINDOW_S`), those whose client listener refuses connections."""
        candidates = []
        for bid in sorted(set(lost)):
            b = image.brokers.get(bid)
            if bid != self.me and b is not None and not b.fenced and b.endpoints:
                candidates.append((bid, b.endpoints[0].host, b.endpoints[0].port))
        if not candidates:
            return set()
        refused = await asyncio.gather(*(self.probe.refuses(h, p) for _, h, p in candidates))
        return {bid for (bid, _, _), r in zip(candidates, refused, strict=True) if r}
