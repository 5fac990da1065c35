"""Replica fetcher: one task per source broker pulling the partitions it leads for us.

For every partition added (this broker became its follower) the fetcher first **truncates by
leader epoch**: it asks the leader where this replica's latest epoch ends
(OffsetForLeaderEpoch v4 with this broker's id, KIP-101/279) and cuts its log there, so a
returning replica never keeps records the leader does not have. Then it **fetches**: one
Fetch (v12, replica id set, ``current_leader_epoch`` and ``last_fetched_epoch`` per
partition) for all its partitions at once, long-polling up to ``replica_fetch_wait_max_ms``.
Answers are appended as the leader wrote them (offsets and epochs kept); a
``diverging_epoch`` answer cuts the log and the fetch goes on from there; the leader's high
watermark and log start offset are taken over.

Durability (default flush policy ``always``): each append starts an fdatasync (storage's group
commit) and the fetcher fetches on meanwhile; every fetch reports, beside its ``fetch_offset``
(what this replica holds), its ``durable_offset`` (its recovery point: what it has on disk; a
tidelog tagged field), and the leader's high watermark, hence every acks=all answer, counts
only the latter — so followers copy the next records while the last ones are being synced,
instead of one after the other. While a sync runs, fetches ask the leader not to wait for data
(``max_wait_ms`` 0); when such a fetch brings nothing, the next one waits for the syncs to end,
so the leader hears of them at once (it would otherwise learn at the next append). With
``interval`` or ``never`` nothing is reported (Kafka's behaviour: acknowledged from the
followers' page cache).

A partition that joins while a fetch long-polls for the others ends that poll (the request is
dropped with its connection and the next fetch asks for all of them): a new leader's acks=all
answers wait for this replica, which would otherwise join only after up to
``replica_fetch_wait_max_ms``.

Failure behaviour: a connection error or timeout backs off (at most :data:`MAX_BACKOFF_S`)
and retries; a partition whose leader answers that it no longer leads (or a newer epoch) is
paused until the metadata gives it a new leader — the replica manager then moves it to the
right fetcher. A storage error on one partition pauses that partition and is logged; the
others go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable

from tidelog.broker.config import BrokerConfig
from tidelog.broker.replication.link import BrokerLink, LinkError
from tidelog.broker.replication.partition import Partition
from tidelog.broker.replication.throttles import Throttles
from tidelog.protocol.apis import ApiKey
from tidelog.protocol.data import Struct
from tidelog.protocol.errors import ErrorCode
from tidelog.records.batch_header import HEADER_SIZE, parse_header
from tidelog.replication import truncation_offset
from tidelog.replication.throttle import RateLimit
from tidelog.storage.topic_partition import TopicPartition

#: Where a broker listens: (host, port), or None while the metadata does not say.
AddressOf = Callable[[int], tuple[str, int] | None]

log = logging.getLogger("tidelog.broker.fetcher")

FETCH_VERSION = 12
EPOCH_VERSION = 4
MAX_BACKOFF_S = 1.0
#: How long a partition waits after its leader refused it (until the metadata moves it).
PAUSE_S = 0.1
#: How long stop() waits for the loop to end.
STOP_S = 5.0


def _name(code: int) -> str:
    return ErrorCode(code).name  # type: ignore[call-arg]  # lookup by value


@dataclasses.dataclass(slots=True)
class _Fetching:
    part: Partition
    truncate: bool = True
    paused_until: float = 0.0


def whole_batches(data: bytes | memoryview, log_end_offset: int) -> memoryview | None:
    """The complete batches of ``data`` from offset ``log_end_offset`` on (a fetch answer may
    end in a partial batch, and may start before the log end after a retry)."""
    view = memoryview(data)
    pos = start = 0
    total = len(view)
    while pos + HEADER_SIZE <= total:
        header = parse_header(view, pos)
        if pos + header.size > total:
            break
        if header.next_offset <= log_end_offset:
            start = pos + header.size  # already have it
        pos += header.size
    return view[start:pos] if pos > start else None


class ReplicaFetcher:
    """Fetches for this broker (``config.node_id``) from ``leader``, found by ``address_of``."""

    def __init__(self, config: BrokerConfig, leader: int, address_of: AddressOf,
                 throttles: Throttles | None = None) -> None:
        self.config = config
        self.throttles = throttles
        self._clock = time.monotonic if throttles is None else throttles.clock
        self.node_id = config.node_id
        self.durable = config.log_flush == "always"
        self.leader = leader
        self._address_of = address_of
        self.parts: dict[TopicPartition, _Fetching] = {}
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._link: BrokerLink | None = None
        self._stopping = False
        #: The latest flush started per partition after an append (group commit: it covers
        #: the earlier ones); done ones are dropped by :meth:`_syncing`.
        self._syncs: dict[TopicPartition, asyncio.Future[int]] = {}
        #: A fetch sent while syncing came back empty: wait for the syncs before the next.
        self._wait_for_syncs = False
        #: Set by :meth:`add`: the fetch in flight no longer asks for every partition.
        self._joined = asyncio.Event()
        #: When the link to the leader last failed (monotonic), None once a fetch succeeds.
        self.lost_at: float | None = None

    def add(self, part: Partition) -> None:
        self.parts[part.tp] = _Fetching(part)
        self._changed.set()
        self._joined.set()

    def remove(self, tp: TopicPartition) -> None:
        if self.parts.pop(tp, None) is not None:
            self._changed.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """End the loop, at most :data:`STOP_S` later. The flag, not only the cancellation,
        ends it: Python 3.11's wait_for drops a cancellation that arrives as its inner
        request completes, and the loop then went on fetching (a SIGTERM'd broker hung)."""
        self._stopping = True
        self._changed.set()
        if self._link is not None:
            self._link.close()  # a request waiting for an answer fails at once
        task = self._task
        if task is not None:
            task.cancel()
            _, pending = await asyncio.wait({task}, timeout=STOP_S)
            if pending:
                log.warning("fetcher for broker %d did not stop within %.0f s", self.leader,
                            STOP_S)
            elif not task.cancelled():
                with contextlib.suppress(Exception):
                    task.result()
        if self._link is not None:
            self._link.close()

    # -- the loop --------------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = 0.05
        config = self.config
        while not self._stopping:
            now = time.monotonic()
            ready = [f for f in self.parts.values() if f.paused_until <= now]
            if not ready:
                self._changed.clear()
                wait = min((f.paused_until for f in self.parts.values()), default=now + 5) - now
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), max(0.01, wait))
                continue
            address = self._address_of(self.leader)
            if address is None:
                await asyncio.sleep(backoff)
                continue
            link = self._link
            if link is None or (link.host, link.port) != address:
                if link is not None:
                    link.close()
                link = self._link = BrokerLink(*address, client_id=f"replica-{config.node_id}")
            try:
                truncating = [f for f in ready if f.truncate]
                if truncating:
                    await self._truncate(link, truncating)
                fetching = [f for f in ready if not f.truncate and self.parts.get(f.part.tp) is f
                            and not self._throttled(f)]
                if fetching and self.durable:
                    if self._syncing() and self._wait_for_syncs:
                        # the first to finish is news for the leader: the next fetch tells it
                        await asyncio.wait(self._syncs.values(), timeout=MAX_BACKOFF_S,
                                           return_when=asyncio.FIRST_COMPLETED)
                        self._wait_for_syncs = False
                        continue
                    # Records this replica wrote as leader may still be unsynced when it
                    # becomes a follower: sync them too (the fetches report what is on disk).
                    self._sync([f.part for f in fetching if f.part.tp not in self._syncs
                                and f.part.log.recovery_point < f.part.log.log_end_offset])
                self._wait_for_syncs = False
                if fetching:
                    syncing = bool(self._syncs)
                    appended = await self._fetch(link, fetching, wait=not syncing)
                    if self.durable:
                        self._sync(appended)
                        self._wait_for_syncs = syncing and not appended
                backoff = 0.05
                self.lost_at = None
            except LinkError as exc:
                log.debug("fetcher for broker %d: %s", self.leader, exc)
                if self.lost_at is None:
                    self.lost_at = time.monotonic()
                await asyncio.sleep(backoff)
                backoff = min(MAX_BACKOFF_S, backoff * 2)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("fetcher for broker %d failed; retrying", self.leader)
                await asyncio.sleep(MAX_BACKOFF_S)

    # -- syncs ---------------------------------------------------------------------------

    def _sync(self, parts: list[Partition]) -> None:
        """Start an fdatasync of each of ``parts``; the fetcher does not wait for it.

        The first unfinished flush of a partition is the one watched: storage queues later
        appends for the next one (group commit), and a fetch that waits for the syncs should
        report the first as soon as it is done, not only once the queued one is too. When it
        is done, the loop asks again for what is still unsynced."""
        for part in parts:
            known = self._syncs.get(part.tp)
            future = part.log.flush_async()  # always asked: the new records must be covered
            if known is None or known.done():
                self._syncs[part.tp] = asyncio.wrap_future(future)

    def _syncing(self) -> bool:
        """Whether a sync is still running; a failed one pauses its partition."""
        for tp, fut in list(self._syncs.items()):
            if not fut.done():
                continue
            del self._syncs[tp]
            exc = None if fut.cancelled() else fut.exception()
            if exc is not None:
                log.error("%s: cannot sync the log: %s", tp, exc)
                f = self.parts.get(tp)
                if f is not None:
                    self._pause(f, str(exc))
        return bool(self._syncs)

    def _follower_limit(self, f: _Fetching) -> RateLimit | None:
        if self.throttles is None:
            return None
        return self.throttles.follower(f.part.tp.topic, f.part.tp.partition,
                                       self.node_id in f.part.isr)

    def _throttled(self, f: _Fetching) -> bool:
        """A throttled partition waits (paused) while this broker's follower rate is used
        up; the others of the same fetch go on."""
        limit = self._follower_limit(f)
        if limit is None:
            return False
        wait = limit.wait_time(self._clock())
        if wait <= 0:
            return False
        f.paused_until = time.monotonic() + wait
        return True

    def _pause(self, f: _Fetching, why: str) -> None:
        log.debug("%s: paused (%s)", f.part.tp, why)
        f.paused_until = time.monotonic() + PAUSE_S

    # -- truncation ------------------------------------------------------------------------

    async def _truncate(self, link: BrokerLink, todo: list[_Fetching]) -> None:
        asks = []
        for f in todo:
            plog = f.part.log
            if plog.latest_epoch < 0:
                # no epoch known: keep only what every replica agreed on
                plog.truncate_to(min(plog.high_watermark, plog.log_end_offset))
                f.truncate = False
            else:
                asks.append(f)
        if not asks:
            return
        by_topic: dict[str, list[_Fetching]] = {}
        for f in asks:
            by_topic.setdefault(f.part.tp.topic, []).append(f)
        req = Struct(replica_id=self.node_id, topics=[
            Struct(topic=topic, partitions=[
                Struct(partition=f.part.tp.partition, current_leader_epoch=f.part.leader_epoch,
                       leader_epoch=f.part.log.latest_epoch)
                for f in fs
            ]) for topic, fs in by_topic.items()
        ])
        resp = await link.request(ApiKey.OFFSET_FOR_LEADER_EPOCH, EPOCH_VERSION, req, 10.0)
        for t in resp.topics:
            for p in t.partitions:
                found = self.parts.get(TopicPartition(t.topic, p.partition))
                if found is None or not found.truncate:
                    continue
                f = found
                if p.error_code != 0:
                    self._pause(f, _name(p.error_code))
                    continue
                plog = f.part.log
                cut = truncation_offset(p.leader_epoch, p.end_offset, plog.end_offset_for_epoch,
                                        plog.log_end_offset, plog.high_watermark)
                if cut.offset < plog.log_end_offset:
                    log.info("%s: truncating from %d to %d (leader epoch %d ends at %d)",
                             f.part.tp, plog.log_end_offset, cut.offset, p.leader_epoch,
                             p.end_offset)
                    plog.truncate_to(cut.offset)
                f.truncate = not cut.complete

    # -- fetching --------------------------------------------------------------------------

    async def _fetch(self, link: BrokerLink, todo: list[_Fetching], wait: bool
                     ) -> list[Partition]:
        """One Fetch for ``todo`` (long-polling when ``wait``); the partitions appended to."""
        config = self.config
        by_topic: dict[str, list[_Fetching]] = {}
        for f in todo:
            by_topic.setdefault(f.part.tp.topic, []).append(f)
        req = Struct(
            cluster_id=None, replica_id=self.node_id,
            max_wait_ms=config.replica_fetch_wait_max_ms if wait else 0, min_bytes=1,
            max_bytes=config.replica_fetch_response_max_bytes, isolation_level=0,
            session_id=0, session_epoch=-1,
            topics=[Struct(topic=topic, partitions=[
                Struct(partition=f.part.tp.partition, current_leader_epoch=f.part.leader_epoch,
                       fetch_offset=f.part.log.log_end_offset,
                       last_fetched_epoch=f.part.log.latest_epoch,
                       log_start_offset=f.part.log.log_start_offset,
                       partition_max_bytes=config.replica_fetch_max_bytes,
                       durable_offset=min(f.part.log.recovery_point,
                                          f.part.log.log_end_offset) if self.durable else -1)
                for f in fs
            ]) for topic, fs in by_topic.items()],
            forgotten_topics_data=[], rack_id="",
        )
        timeout = config.replica_fetch_wait_max_ms / 1000 + 10.0
        resp = await self._request_unless_joined(link, req, timeout)
        if resp is None:
            return []
        if resp.error_code != 0:
            raise LinkError(f"fetch refused: {_name(resp.error_code)}")
        appended = []
        for t in resp.responses:
            for p in t.partitions:
                found = self.parts.get(TopicPartition(t.topic, p.partition_index))
                if found is None or found.truncate:
                    continue
                f = found
                try:
                    if self._take(f, p):
                        appended.append(f.part)
                except Exception as exc:
                    log.error("%s: cannot take the leader's records: %s", f.part.tp, exc)
                    self._pause(f, str(exc))
        return appended

    async def _request_unless_joined(self, link: BrokerLink, req: Struct, timeout: float
                                     ) -> Struct | None:
        """The fetch's answer, or None if a partition joined before it came (the request is
        dropped, with its connection: an answer to it could still arrive)."""
        self._joined.clear()
        pending = asyncio.ensure_future(link.request(ApiKey.FETCH, FETCH_VERSION, req, timeout))
        joined = asyncio.ensure_future(self._joined.wait())
        try:
            await asyncio.wait({pending, joined}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            joined.cancel()
            if not pending.done():
                pending.cancel()
                link.close()
                if self._link is link:
                    self._link = None
        if pending.done():
            return pending.result()
        await asyncio.wait({pending})  # the dropped request ends at once: its link is closed
        if not pending.cancelled():
            pending.exception()  # retrieved: whatever it was, it no longer matters
        return None

    def _take(self, f: _Fetching, p: Struct) -> bool:
        """Apply one partition's answer; True if records were appended."""
        plog = f.part.log
        code = p.error_code
        if code == ErrorCode.OFFSET_OUT_OF_RANGE:
            if plog.log_end_offset < p.log_start_offset:
                log.info("%s: behind the leader's log start %d: starting there", f.part.tp,
                         p.log_start_offset)
                plog.truncate_fully_and_start_at(p.log_start_offset)
            else:
                f.truncate = True
            return False
        if code != 0:
            self._pause(f, _name(code))
            return False
        diverging = p.diverging_epoch
        if diverging is not None and diverging.end_offset >= 0:
            cut = truncation_offset(diverging.epoch, diverging.end_offset,
                                    plog.end_offset_for_epoch, plog.log_end_offset,
                                    plog.high_watermark)
            log.info("%s: log diverges from the leader at epoch %d: truncating to %d",
                     f.part.tp, diverging.epoch, cut.offset)
            plog.truncate_to(cut.offset)
            f.truncate = not cut.complete
            return False
        appended = False
        records = p.records
        if records:
            batches = whole_batches(records, plog.log_end_offset)
            if batches is not None:
                plog.append(bytearray(batches), leader_epoch=-1, assign_offsets=False)
                appended = True
                limit = self._follower_limit(f)
                if limit is not None:
                    limit.record(len(batches), self._clock())
        end = plog.log_end_offset
        if p.log_start_offset > plog.log_start_offset:
            plog.advance_log_start_offset(min(p.log_start_offset, end))
        plog.high_watermark = min(p.high_watermark, end)
        return appended
