"""The replica manager: the partitions this broker hosts, their roles, appends, reads, waits.

:class:`ReplicaManager` is what the produce and fetch handlers call (Kafka's
``ReplicaManager.appendRecords`` / ``fetchMessages``). It owns, per hosted partition, a
:class:`~tidelog.broker.replication.partition.Partition` (log, role, delayed produces) and
the idempotent producer state, and per source broker a
:class:`~tidelog.broker.replication.fetcher.ReplicaFetcher`.

Roles follow the metadata this broker has replayed (:meth:`apply_image`, called by the core
on every image change and lazily on first use): a partition whose leader is this broker is
led from its log end offset in the new epoch; any other replica becomes a follower fetching
from the leader (truncating first, by leader epoch); a partition this broker no longer hosts
is dropped. Nothing here guesses a role.

Appends (leader only): batch headers are checked, the producer's sequence checked, the batch
appended as the client sent it (offsets and epoch rewritten in place), then the caller waits:
acks=1 for the leader's own flush policy, acks=all for the high watermark to pass the records
(every ISR member has them durably with the default flush policy) — NOT_ENOUGH_REPLICAS before
the append when the ISR is smaller than ``min.insync.replicas``,
NOT_ENOUGH_REPLICAS_AFTER_APPEND when it shrank below it meanwhile.

Reads: consumers read below the high watermark; follower fetches (``replica_id`` >= 0) read up
to the log end and report the follower's position (:meth:`record_follower_fetch`), which moves
the high watermark and may grow the ISR. ISR changes go to the active controller
(AlterPartition through ``alter_partition``) and count once the metadata has them; until then
a proposal counts as pending (members it adds hold the high watermark back), also when its
outcome is unknown (a timeout): then it is sent again, never dropped on a guess.

Long polls park a future per partition (:meth:`wait_for_data`); appends and high watermark
moves wake them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, NamedTuple

from tidelog.broker.config import BrokerConfig
from tidelog.broker.error_codes import error_of as error_code_of
from tidelog.broker.metrics.counters import BrokerMetrics
from tidelog.broker.producer_state import ProducerStateTable
from tidelog.broker.replication.fetcher import ReplicaFetcher
from tidelog.broker.replication.partition import Partition, now_ms
from tidelog.broker.replication.throttles import Throttles
from tidelog.broker.replication.validation import batch_headers, check_batches, old_message_set
from tidelog.errors import TidelogError
from tidelog.metadata.image import MetadataImage, PartitionImage, TopicImage
from tidelog.protocol.errors import ErrorCode
from tidelog.records.batch_header import iter_batches
from tidelog.replication import LeaderState
from tidelog.storage.config import LogConfig
from tidelog.storage.log import PartitionLog
from tidelog.storage.manager import LogManager
from tidelog.storage.region import FileRegion
from tidelog.storage.topic_partition import TopicPartition

log = logging.getLogger("tidelog.broker.replicas")


class ReadResult(NamedTuple):
    """One partition's answer to a fetch (Kafka's FetchPartitionData)."""

    error: ErrorCode
    high_watermark: int = -1
    log_start_offset: int = -1
    #: Whole batches from the one holding the fetch offset on (None: nothing to send).
    region: FileRegion | None = None
    #: (epoch, end offset) where a follower's log diverges from the leader's.
    diverging: tuple[int, int] | None = None
    last_stable_offset: int = -1
    #: read_committed: (producer id, first offset) of the aborted transactions in the read.
    aborted: list[tuple[int, int]] | None = None


def _epoch_error(current: int, epoch: int) -> ErrorCode | None:
    """A request's ``current_leader_epoch`` against the leader's (-1: not checked)."""
    if current < 0 or current == epoch:
        return None
    return ErrorCode.UNKNOWN_LEADER_EPOCH if current > epoch else ErrorCode.FENCED_LEADER_EPOCH


@dataclasses.dataclass(slots=True)
class AppendResult:
    """One partition's answer to an append (Produce's per-partition fields)."""

    error: ErrorCode = ErrorCode.NONE
    message: str | None = None
    base_offset: int = -1
    log_append_time_ms: int = -1
    log_start_offset: int = -1

#: How much of a log's tail is replayed to rebuild idempotent producer state after a start.
REBUILD_OFFSETS = 5000
REBUILD_BYTES = 32 << 20
#: How often the leader looks for followers to drop from or add to the ISR.
ISR_CHECK_S = 0.25

AlterPartition = Callable[[dict[str, Any]], Awaitable[Any]]
#: AlterPartition refusals that prove the change was not made: the proposal is dropped.
NOT_APPLIED = frozenset({"INELIGIBLE_REPLICA", "INVALID_REQUEST", "UNKNOWN_TOPIC_ID",
                         "UNKNOWN_TOPIC_OR_PARTITION"})
#: Refusals because the partition moved on (epochs): the metadata will bring its state.
SUPERSEDED = frozenset({"FENCED_LEADER_EPOCH", "INVALID_UPDATE_VERSION",
                        "NOT_LEADER_OR_FOLLOWER"})


class ReplicaManager:
    def __init__(
        self,
        config: BrokerConfig,
        logs: LogManager,
        image: Callable[[], MetadataImage],
        log_config_of: Callable[[str], LogConfig],
    ) -> None:
        self.config = config
        self.node_id = config.node_id
        self.logs = logs
        self._image = image
        self._log_config_of = log_config_of
        self.durable = config.log_flush == "always"
        self.partitions: dict[TopicPartition, Partition] = {}
        self._producer_states: dict[TopicPartition, ProducerStateTable] = {}
        self._waiters: dict[TopicPartition, list[asyncio.Future[None]]] = {}
        self._fetchers: dict[int, ReplicaFetcher] = {}
        self._seen_topics: dict[Any, TopicImage] = {}
        self._stopping = False
        self._tasks: set[asyncio.Task[Any]] = set()
        #: Sends an AlterPartition to the active controller (set in a cluster).
        self.alter_partition: AlterPartition | None = None
        #: Called with (partition, is_leader) when this broker's role for a partition changes.
        self.role_listeners: list[Callable[[TopicPartition, bool], None]] = []
        #: Whether this broker acts on the roles the metadata gives it. A clustered broker
        #: starts out False: its image may be stale (it was down) until the metadata shows
        #: this process registered and unfenced (see BrokerCore._image_changed).
        self.taking_roles = not config.is_cluster
        #: Counters for the metrics endpoint (tidelog.broker.metrics; None: not counting).
        self.metrics: BrokerMetrics | None = None
        #: Replication throttles (leader.replication.throttled.rate and friends).
        self.throttles = Throttles(self.node_id, image)

    # -- metadata -------------------------------------------------------------------------------

    def apply_image(self, image: MetadataImage) -> None:
        """Take the roles ``image`` gives this broker (topics whose image changed only)."""
        if not self.taking_roles:
            return
        seen = self._seen_topics
        current: dict[Any, TopicImage] = {}
        for tid, topic in image.topics_by_id.items():
            current[tid] = topic
            if seen.get(tid) is topic:
                continue
            for p, pimg in topic.partitions.items():
                if self.node_id in pimg.replicas:
                    self._apply_partition(topic, p, pimg)
                else:
                    self._drop(TopicPartition(topic.name, p))
        for tid, topic in seen.items():
            if tid not in current:
                for p in topic.partitions:
                    self._drop(TopicPartition(topic.name, p))
        self._seen_topics = current

    def _apply_partition(self, topic: TopicImage, p: int, pimg: PartitionImage) -> Partition:
        tp = TopicPartition(topic.name, p)
        part = self.partitions.get(tp)
        if part is not None and part.topic_id != topic.topic_id:
            self._drop(tp)
            part = None
        if part is None:
            plog = self.logs.get_log(tp)
            if plog is None:
                plog = self.logs.get_or_create_log(
                    tp, self._log_config_of(topic.name), topic.topic_id_str
                )
            if not plog.high_watermark_known:
                # An unset high watermark reads as the log end (the single-replica rule):
                # pin it at the log start — a new log's, or one whose checkpoint a crash
                # lost — or records no follower has would be visible until the first
                # advance (a leader's own share moves it up at once).
                plog.high_watermark = plog.log_start_offset
            part = Partition(tp, topic.topic_id, plog, self.node_id, durable=self.durable)
            part.on_high_watermark = self._high_watermark_moved
            self.partitions[tp] = part
        if part.leader == pimg.leader and part.leader_epoch == pimg.leader_epoch:
            if part.partition_epoch != pimg.partition_epoch:
                self._count_isr_change(part, pimg)
                part.update_isr(pimg.replicas, pimg.isr, pimg.partition_epoch)
            return part
        if pimg.leader == self.node_id:
            self._stop_fetching(tp)
            if self.durable and part.log.recovery_point < part.log.log_end_offset:
                # Records recovered after a crash lie above the checkpointed recovery point:
                # flush them first (once, on the loop: a request may be waiting for this
                # very partition), or the high watermark (the leader's share is its durable
                # offset) stays below acknowledged records until the next append.
                part.log.flush()
            part.make_leader(pimg.replicas, pimg.isr, pimg.leader_epoch, pimg.partition_epoch)
            # a follower's producer state was never kept: rebuild it from the log on first use
            self._producer_states.pop(tp, None)
            log.info("%s: leader in epoch %d (log end %d, high watermark %d)", tp,
                     pimg.leader_epoch, part.log.log_end_offset, part.log.high_watermark)
            self._notify_role(tp, True)
        else:
            was_leader = part.is_leader
            part.make_follower(pimg.leader, pimg.replicas, pimg.isr, pimg.leader_epoch,
                               pimg.partition_epoch)
            self._stop_fetching(tp)
            if pimg.leader >= 0:
                self._fetcher_for(pimg.leader).add(part)
            log.info("%s: follower of %d in epoch %d", tp, pimg.leader, pimg.leader_epoch)
            if was_leader:
                self._notify_role(tp, False)
        self._wake(tp)
        return part

    def _count_isr_change(self, part: Partition, pimg: PartitionImage) -> None:
        """ISR shrinks and expands of led partitions, for the metrics (Kafka counts them on
        the leader)."""
        if self.metrics is not None and part.is_leader:
            self.metrics.isr_changed(len(part.isr), len(pimg.isr))

    def _notify_role(self, tp: TopicPartition, leader: bool) -> None:
        for listener in self.role_listeners:
            try:
                listener(tp, leader)
            except Exception:
                log.exception("%s: role listener failed", tp)

    def _drop(self, tp: TopicPartition) -> None:
        part = self.partitions.pop(tp, None)
        if part is None:
            return
        self._stop_fetching(tp)
        was_leader = part.is_leader
        part.fail_waits(ErrorCode.NOT_LEADER_OR_FOLLOWER)
        part.leader_state = None
        self._producer_states.pop(tp, None)
        self._wake(tp)
        if was_leader:
            self._notify_role(tp, False)

    def forget(self, tp: TopicPartition) -> None:
        """The partition's topic is deleted (its log is about to go)."""
        self._drop(tp)

    def partition(self, topic: str, p: int) -> Partition | None:
        """The hosted partition, in the role the current image gives it (None if this
        broker is no replica of it)."""
        if not self.taking_roles:
            return None
        image = self._image()
        timg = image.topic(topic)
        pimg = timg.partitions.get(p) if timg is not None else None
        if timg is None or pimg is None or self.node_id not in pimg.replicas:
            return None
        part = self.partitions.get(TopicPartition(topic, p))
        if part is None or part.leader_epoch != pimg.leader_epoch or \
                part.partition_epoch != pimg.partition_epoch or part.topic_id != timg.topic_id:
            part = self._apply_partition(timg, p, pimg)
        return part

    def leader_log(self, topic: str, p: int) -> PartitionLog | None:
        """The log of a partition this broker leads, else None."""
        part = self.partition(topic, p)
        return part.log if part is not None and part.is_leader else None

    def missing_partition_error(self, topic: str, p: int) -> ErrorCode:
        """Why :meth:`leader_log` gave None: NOT_LEADER_OR_FOLLOWER when the partition
        exists (clients refresh metadata and go to its leader), else
        UNKNOWN_TOPIC_OR_PARTITION."""
        if self._image().partition(topic, p) is not None:
            return ErrorCode.NOT_LEADER_OR_FOLLOWER
        return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION

    def leader_epoch(self, topic: str, p: int) -> int:
        pimg = self._image().partition(topic, p)
        return pimg.leader_epoch if pimg is not None else -1

    def min_insync_replicas(self, topic: str) -> int:
        raw = self._image().topic_configs(topic).get("min.insync.replicas")
        return int(raw) if raw is not None else self.config.min_insync_replicas

    # -- producer state ---------------------------------------------------------------------

    def producer_state(self, tp: TopicPartition) -> ProducerStateTable:
        table = self._producer_states.get(tp)
        if table is None:
            table = self._producer_states[tp] = ProducerStateTable()
            plog = self.logs.get_log(tp)
            if plog is not None:
                _rebuild_producer_state(tp, plog, table)
        return table

    # -- appends, durability, waits ------------------------------------------------------------

    async def append_records(self, entries: Sequence[tuple[str, int, memoryview | None]],
                             acks: int, timeout_ms: int, version: int) -> list[AppendResult]:
        """Kafka's appendRecords: append each ``(topic, partition, records)`` as its leader,
        then wait for what ``acks`` promises, at most ``timeout_ms`` (0 or less: no bound).

        Every entry is appended before the first await, so requests pipelined on one
        connection append in the order they were sent (what idempotent producers rely on).
        With acks 0 nothing is awaited."""
        results: list[AppendResult] = []
        written: list[tuple[AppendResult, Partition, int]] = []
        for topic, p, records in entries:
            result, part, end = self._append(topic, p, records, acks, version)
            results.append(result)
            if part is not None:
                written.append((result, part, end))
        if acks == 0 or not written:
            return results
        waits = asyncio.gather(
            *(self._acknowledged(part, end, acks) for _, part, end in written),
            return_exceptions=True,
        )
        # A request abandoned while it waits (its connection closed) cancels the gather from
        # wait_for, which never reads the gather's CancelledError; read it here, or asyncio
        # logs "exception was never retrieved" with a traceback for an expected cancellation.
        waits.add_done_callback(_retrieve)
        try:
            codes = await asyncio.wait_for(waits, timeout_ms / 1000 if timeout_ms > 0 else None)
        except TimeoutError:
            log.warning("produce not acknowledged within its timeout of %d ms", timeout_ms)
            codes = [ErrorCode.REQUEST_TIMED_OUT] * len(written)
        for (result, _, _), code in zip(written, codes, strict=True):
            if isinstance(code, BaseException):
                log.error("flush failed: %s", code)
                code = ErrorCode.KAFKA_STORAGE_ERROR
            if code != ErrorCode.NONE:
                result.error = code
        return results

    def _append(self, topic: str, p: int, records: memoryview | None, acks: int, version: int
                ) -> tuple[AppendResult, Partition | None, int]:
        """Append one partition's batches: (result, the partition if written, the offset
        after the records — what acks=all waits for the high watermark to reach)."""
        result = AppendResult()
        part = self.partition(topic, p)
        if part is None or not part.is_leader:
            result.error = self.missing_partition_error(topic, p)
            return result, None, -1
        if not records:
            result.error, result.message = ErrorCode.CORRUPT_MESSAGE, "no record batches"
            return result, None, -1
        old = old_message_set(records)
        if old is not None:
            result.error, result.message = ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, old
            return result, None, -1
        if acks == -1:
            needed = self.min_insync_replicas(topic)
            if len(part.isr) < needed:
                result.error = ErrorCode.NOT_ENOUGH_REPLICAS
                result.message = f"{len(part.isr)} in-sync replicas, min.insync.replicas is " \
                                 f"{needed}"
                return result, None, -1
        plog = part.log
        try:
            headers = batch_headers(records)
            code, why = check_batches(headers, plog.config.log_append_time, version)
            if code != ErrorCode.NONE:
                result.error, result.message = code, why
                return result, None, -1
            table = self.producer_state(part.tp)
            verdict = table.check(headers)
            if verdict.error != ErrorCode.NONE:
                # rare and telling (a producer and this log disagree): worth a line
                log.info("%s: refused a batch of producer %d epoch %d sequence %d: %s (%s)",
                         part.tp, headers[0].producer_id, headers[0].producer_epoch,
                         headers[0].base_sequence, verdict.error.name, verdict.message)
                result.error, result.message = verdict.error, verdict.message
                return result, None, -1
            if verdict.duplicate is not None:
                log.info("%s: a retry of producer %d epoch %d sequence %d, written at %d",
                         part.tp, headers[0].producer_id, headers[0].producer_epoch,
                         headers[0].base_sequence, verdict.duplicate.first_offset)
                # a retry of what was written: acknowledged once those records are
                result.base_offset = verdict.duplicate.first_offset
                result.log_append_time_ms = verdict.duplicate.log_append_time
                result.log_start_offset = plog.log_start_offset
                return result, part, verdict.duplicate.last_offset + 1
            info = plog.append(bytearray(records), leader_epoch=part.leader_epoch)
        except Exception as exc:  # storage, records and OS errors become per-partition codes
            result.error, result.message = error_code_of(exc), str(exc)
            if result.error in (ErrorCode.UNKNOWN_SERVER_ERROR, ErrorCode.KAFKA_STORAGE_ERROR):
                log.error("append to %s failed: %s", part.tp, exc)
            return result, None, -1
        # Offsets were assigned contiguously from info.first_offset, batch after batch.
        offset = info.first_offset
        placed = []
        for h in headers:
            placed.append(h._replace(base_offset=offset))
            offset += h.last_offset_delta + 1
        table.record(placed, info.log_append_time_ms)
        self.appended(part)
        if self.metrics is not None:
            self.metrics.produced(topic, info.last_offset - info.first_offset + 1, len(records))
        result.base_offset = info.first_offset
        result.log_append_time_ms = info.log_append_time_ms
        result.log_start_offset = info.log_start_offset
        return result, part, info.last_offset + 1

    async def _acknowledged(self, part: Partition, end: int, acks: int) -> ErrorCode:
        """acks=1: the leader's own flush policy; acks=all: the high watermark passes
        ``end`` (every ISR member has the records, durably with the default policy)."""
        if acks == -1:
            return await self.replicated_wait(part, end)
        await self.durable_wait(part)
        return ErrorCode.NONE

    def appended(self, part: Partition) -> None:
        """After a leader append: start the flush the policy asks for, move the high
        watermark if it can, wake long polls (followers wait for new data)."""
        if self.durable:
            part.watch_flush(part.log.flush_async())
        else:
            part.maybe_advance_high_watermark()
        self._wake(part.tp)

    async def durable_wait(self, part: Partition) -> None:
        """acks=1: wait until the leader's own appends so far are on disk, if the flush
        policy says acknowledged writes must be."""
        if not self.durable:
            return
        future = part.log.flush_async()
        part.watch_flush(future)
        # Shielded: a waiter that goes away (its connection closed) must not cancel the shared
        # flush future, which storage's group commit resolves for every other waiter too.
        await asyncio.shield(asyncio.wrap_future(future))

    async def replicated_wait(self, part: Partition, offset: int) -> ErrorCode:
        """acks=all: wait until the high watermark reaches ``offset``; then the answer's
        error (NONE, NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS_AFTER_APPEND)."""
        code = await part.wait_for_high_watermark(offset)
        if code == ErrorCode.NONE and len(part.isr) < self.min_insync_replicas(part.tp.topic):
            return ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND
        return code

    def _high_watermark_moved(self, part: Partition) -> None:
        self._wake(part.tp)

    @property
    def stopping(self) -> bool:
        return self._stopping

    def _wake(self, tp: TopicPartition) -> None:
        waiters = self._waiters.pop(tp, None)
        if waiters:
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)

    def wake(self, tp: TopicPartition) -> None:
        self._wake(tp)

    def wake_all(self) -> None:
        """End every fetch wait now (shutdown: long polls answer with what they have)."""
        self._stopping = True
        for tp in list(self._waiters):
            self._wake(tp)

    async def wait_for_data(self, tps: Iterable[TopicPartition], timeout: float) -> None:
        """Return after an append or high watermark move on any of ``tps``, or after
        ``timeout`` seconds."""
        if timeout <= 0 or self._stopping:
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        keys = list(tps)
        for tp in keys:
            self._waiters.setdefault(tp, []).append(fut)
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout)
        except TimeoutError:
            pass
        finally:
            for tp in keys:
                waiters = self._waiters.get(tp)
                if waiters is not None:
                    with contextlib.suppress(ValueError):
                        waiters.remove(fut)
                    if not waiters:
                        del self._waiters[tp]

    # -- reads ---------------------------------------------------------------------------------

    def read(self, topic: str, p: int, fetch_offset: int, *, current_leader_epoch: int,
             last_fetched_epoch: int, replica: int, max_bytes: int, min_one_batch: bool,
             record: bool, read_committed: bool = False, durable_offset: int = -1
             ) -> ReadResult:
        """Kafka's fetchMessages for one partition, on its leader.

        A consumer (``replica`` -1) reads below the high watermark; a follower up to the log
        end, and when ``record`` its ``fetch_offset`` (and ``durable_offset``, what it has
        on disk, when it says) moves the high watermark (once per request: a long poll reads
        again without recording). A follower whose
        ``last_fetched_epoch`` does not end where it thinks gets ``diverging`` instead of
        records. ``max_bytes`` 0 reads nothing unless ``min_one_batch``."""
        part = self.partition(topic, p)
        if part is None or not part.is_leader:
            return ReadResult(self.missing_partition_error(topic, p))
        stale = _epoch_error(current_leader_epoch, part.leader_epoch)
        if stale is not None:
            return ReadResult(stale)
        plog = part.log
        if replica >= 0:
            if last_fetched_epoch >= 0:
                epoch, end = plog.end_offset_for_epoch(last_fetched_epoch)
                if epoch != last_fetched_epoch or end < fetch_offset:
                    return ReadResult(ErrorCode.NONE, plog.high_watermark,
                                      plog.log_start_offset, diverging=(epoch, end))
            if record and fetch_offset <= plog.log_end_offset:
                self.record_follower_fetch(part, replica, fetch_offset, durable_offset)
            limit = plog.log_end_offset
        else:
            limit = plog.high_watermark
        hw, start = plog.high_watermark, plog.log_start_offset
        lso = plog.last_stable_offset
        if read_committed and replica < 0:
            limit = lso  # transactions are read once decided (tidelog.storage.txn_state)
        if fetch_offset > plog.log_end_offset or fetch_offset < start:
            # Between the high watermark and the log end is in range (Kafka): a new leader's
            # high watermark can trail what a consumer already read.
            return ReadResult(ErrorCode.OFFSET_OUT_OF_RANGE, hw, start)
        region = None
        if fetch_offset < limit and (max_bytes > 0 or min_one_batch):
            region = plog.read(fetch_offset, max(max_bytes, 0), max_offset=limit,
                               min_one_batch=min_one_batch)
            if not region.length:
                region.close()
                region = None
        if region is not None and replica >= 0:
            region = self._leader_throttle(part, replica, region)
        aborted = None
        if read_committed and replica < 0:
            aborted = [(a.producer_id, a.first_offset)
                       for a in plog.aborted_transactions(fetch_offset, limit)] \
                if region is not None else []
        return ReadResult(ErrorCode.NONE, hw, start, region, last_stable_offset=lso,
                          aborted=aborted)

    def _leader_throttle(self, part: Partition, replica: int, region: FileRegion
                         ) -> FileRegion | None:
        """A throttled follower's fetch gets nothing while the leader's rate is used up."""
        limit = self.throttles.leader(part.tp.topic, part.tp.partition, replica in part.isr)
        if limit is None:
            return region
        now = self.throttles.clock()
        if limit.exceeded(now):
            region.close()
            return None
        limit.record(region.length, now)
        return region

    # -- follower fetches (leader side) ----------------------------------------------------------

    def record_follower_fetch(self, part: Partition, replica: int, fetch_offset: int,
                              durable_offset: int = -1) -> None:
        """A follower fetched at ``fetch_offset``: it holds everything below it, durably
        below ``durable_offset`` when it says (-1: all of it)."""
        state = part.leader_state
        if state is None:
            return
        if not state.record_fetch(replica, fetch_offset, part.log.log_end_offset, now_ms(),
                                  durable_offset):
            return
        part.maybe_advance_high_watermark()
        if replica not in state.isr:
            self._maybe_alter_isr(part)

    # -- ISR maintenance -------------------------------------------------------------------------

    def _maybe_alter_isr(self, part: Partition) -> None:
        state = part.leader_state
        if state is None or self.alter_partition is None:
            return
        image = self._image()
        eligible = {b for b, img in image.brokers.items() if not img.fenced}
        proposal = state.isr_proposal(now_ms(), self.config.replica_lag_time_max_ms, eligible)
        if proposal is None:
            return
        log.info("%s: proposing ISR %s (was %s)", part.tp, list(proposal), list(state.isr))
        args = {
            "topic_id": str(part.topic_id), "partition": part.tp.partition,
            "leader": self.node_id, "leader_epoch": state.leader_epoch,
            "partition_epoch": state.partition_epoch, "isr": list(proposal),
        }
        self._spawn(self._send_alter_partition(part, state, args))

    async def _send_alter_partition(self, part: Partition, state: LeaderState,
                                    args: dict[str, Any]) -> None:
        assert self.alter_partition is not None
        proposal = tuple(args["isr"])
        said = None
        while True:
            try:
                await self.alter_partition(args)
                break
            except Exception as exc:
                name = getattr(exc, "error_name", None)
                # retried every ISR_CHECK_S while no controller answers: one line per reason
                level = logging.DEBUG if str(exc) == said else logging.INFO
                said = str(exc)
                log.log(level, "%s: ISR change %s not made: %s", part.tp, args["isr"], exc)
                if part.leader_state is not state or state.pending_isr != proposal:
                    return  # settled meanwhile (the metadata, or a newer proposal)
                if name in NOT_APPLIED:
                    state.proposal_failed()  # a later check may propose again
                    return
                if name in SUPERSEDED:
                    return  # the partition changed: the metadata brings it and clears this
            # Outcome unknown (a timeout, a lost connection): the controller may have committed
            # it. Until the metadata says, the maximal ISR must keep counting the proposed
            # members, or the high watermark could pass records a member the controller now has
            # in the ISR (and may elect) lacks (Kafka keeps it pending and retries alike).
            await asyncio.sleep(ISR_CHECK_S)
            if self._stopping or part.leader_state is not state or \
                    state.pending_isr != proposal:
                return
        # The metadata carries the result: once replayed, Partition.update_isr applies it.
        image = self._image()
        pimg = image.partition(part.tp.topic, part.tp.partition)
        if pimg is not None and part.leader_state is state:
            self._apply_partition(image.topic(part.tp.topic), part.tp.partition, pimg)  # type: ignore[arg-type]

    async def run(self) -> None:
        """Check every led partition's followers every :data:`ISR_CHECK_S` (shrinks)."""
        last = now_ms()
        while True:
            await asyncio.sleep(ISR_CHECK_S)
            now = now_ms()
            late, last = now - last, now
            if late > 4 * ISR_CHECK_S * 1000:
                # This process was paused (SIGSTOP, swapping): every follower looks behind
                # only because their fetches were not served. Serve them before judging.
                log.info("the ISR check was %d ms late: skipping one round", late)
                continue
            try:
                for part in list(self.partitions.values()):
                    if part.leader_state is not None and len(part.replicas) > 1:
                        self._maybe_alter_isr(part)
            except Exception:
                log.exception("ISR check failed")

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- fetchers ------------------------------------------------------------------------------

    def _fetcher_for(self, leader: int) -> ReplicaFetcher:
        fetcher = self._fetchers.get(leader)
        if fetcher is None:
            fetcher = self._fetchers[leader] = ReplicaFetcher(self.config, leader,
                                                              self.broker_address,
                                                              self.throttles)
            fetcher.start()
        return fetcher

    def _stop_fetching(self, tp: TopicPartition) -> None:
        for fetcher in self._fetchers.values():
            fetcher.remove(tp)

    def lost_leaders(self, now: float, window_s: float) -> set[int]:
        """Brokers this broker's replica fetcher lost its link to less than ``window_s`` ago
        and has not fetched from since."""
        return {b for b, f in self._fetchers.items()
                if f.lost_at is not None and now - f.lost_at < window_s}

    def broker_address(self, broker: int) -> tuple[str, int] | None:
        b = self._image().brokers.get(broker)
        if b is None or not b.endpoints:
            return None
        return b.endpoints[0].host, b.endpoints[0].port

    async def stop(self) -> None:
        self._stopping = True
        for fetcher in list(self._fetchers.values()):
            await fetcher.stop()
        self._fetchers.clear()
        for task in list(self._tasks):
            task.cancel()
        for part in self.partitions.values():
            part.fail_waits(ErrorCode.NOT_LEADER_OR_FOLLOWER)
        self.wake_all()


def _rebuild_producer_state(tp: TopicPartition, plog: PartitionLog,
                            table: ProducerStateTable) -> None:
    """Replay the batch headers of the log's tail into ``table`` (first use after a start, or
    after becoming leader), so retries of batches written before are still recognised as
    duplicates. Kafka keeps producer snapshots for this; a bounded tail scan is the stand-in:
    the last :data:`REBUILD_OFFSETS` offsets, at most :data:`REBUILD_BYTES` bytes."""
    end = plog.log_end_offset
    offset = max(plog.log_start_offset, end - REBUILD_OFFSETS)
    budget = REBUILD_BYTES
    try:
        while offset < end and budget > 0:
            with plog.read(offset, min(budget, 4 << 20), max_offset=end) as region:
                data = region.read_bytes()
            if not data:
                break
            budget -= len(data)
            headers = [h for _, h in iter_batches(data)]
            table.record(headers, -1)
            offset = headers[-1].next_offset
    except (TidelogError, OSError) as exc:
        log.warning("%s: producer state not rebuilt from the log: %s", tp, exc)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
