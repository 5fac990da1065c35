"""Running a topology against a cluster: :class:`StreamsApp`.

Start: the application's internal topics are made when missing (changelogs compacted, with as
many partitions as their sub-topology has tasks; repartition topics likewise), and the
partition counts of topics read together are checked (:meth:`Topology.partition_counts`).

Membership: the application is a consumer group named by its id, subscribed to every topic
it reads, with the range assignor: co-partitioned topics then hand partition P of each to the
same instance, which runs task (sub-topology, P). Several instances of one application share
the tasks; when one joins or leaves, the group rebalances and every task moves with its input
partition: its new owner restores the task's stores from their changelogs
(:mod:`tidelog.streams.restore`; nothing but the checkpointed tail when it ran the task
before) before it processes anything.

Loop, per generation: restore the tasks' stores, start each input partition at the group's
committed offset (the log start when there is none, Kafka Streams' default), then poll,
process (:class:`~tidelog.streams.task.Task`), hand the outputs to the guarantee, and commit
every ``commit_interval_ms``, on a rebalance and on stop (:mod:`tidelog.streams.guarantee`).
After a commit the stores are flushed and their checkpoints written (at-least-once; with
exactly-once a store's checkpoint is removed once it is restored and written again only after
the last commit of a clean end, and a commit that had to be aborted closes the tasks, whose
stores are then rebuilt from their changelogs).

Stop: :meth:`StreamsApp.run` returns when ``stop`` is set, after a last commit, closing the
stores and leaving the group (the other instances take over at once).

Crash behaviour: an error (a record no serde can read, an output that could not be written,
a bug in a user function) ends :meth:`run` with the exception and no commit after it:
nothing the application has not finished with is marked done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tidelog.streams.errors import MissingTopicError, StreamsError
from tidelog.streams.guarantee import AT_LEAST_ONCE, Guarantee, TaskCorrupted, make_guarantee
from tidelog.streams.restore import Restored, restore
from tidelog.streams.stores import (
    KeyValueStore,
    MemoryStore,
    RocksStore,
    remove_checkpoint,
    write_checkpoint,
)
from tidelog.streams.task import Task
from tidelog.streams.topology import Topology

if TYPE_CHECKING:
    from tidelog.client.cluster import Cluster
    from tidelog.client.consumer import Consumer
    from tidelog.client.group import GroupMember

log = logging.getLogger("tidelog.streams")


@dataclass
class StreamsConfig:
    state_dir: Path
    guarantee: str = AT_LEAST_ONCE
    commit_interval_ms: int = 1000
    #: Replication factor of the internal topics (-1: the broker's default).
    replication_factor: int = -1
    #: Keep state in memory (restored from the changelog at every start) instead of RocksDB.
    in_memory: bool = False
    #: Kafka Streams' record cache: an aggregate writes each key's latest change at each
    #: commit instead of every change (the same table, far fewer output records).
    cache: bool = True
    session_timeout_ms: int = 10_000
    join_timeout_s: float = 60.0
    #: Called with every restore done (a program reports it on stderr).
    on_restore: Callable[[Restored], None] | None = None
    #: Called with the task ids after every rebalance.
    on_assign: Callable[[list[str]], None] | None = None


@dataclass
class StreamsStats:
    processed: int = 0
    commits: int = 0
    dropped_late: int = 0
    restored: int = 0
    generations: int = 0
    tasks: list[str] = field(default_factory=list)


class StreamsApp:
    """One instance of a stream-processing application."""

    def __init__(self, topology: Topology, cluster: Cluster, config: StreamsConfig) -> None:
        self.topology = topology
        self.cluster = cluster
        self.config = config
        self.stats = StreamsStats()
        self.tasks: dict[tuple[int, int], Task] = {}
        self._counts: dict[int, int] = {}
        #: what the last commit recorded (a commit with nothing new is skipped)
        self._committed: dict[tuple[str, int], int] = {}

    @property
    def application_id(self) -> str:
        return self.topology.application_id

    # -- topics ------------------------------------------------------------------------------

    async def prepare_topics(self) -> dict[int, int]:
        """Check the input topics and make the internal ones; tasks per sub-topology."""
        from tidelog.client.admin import Admin
        from tidelog.client.errors import BrokerError
        from tidelog.protocol.errors import ErrorCode

        admin = Admin(self.cluster)
        existing = await admin.list_topics()
        known: dict[str, int] = {}
        for topic in self.topology.source_topics:
            if topic in existing:
                known[topic] = existing[topic]
            elif topic not in self.topology.repartitions:
                raise MissingTopicError(f"topic {topic!r} does not exist (the application "
                                        "reads it)")
        counts = self.topology.partition_counts(known)
        wanted: dict[str, tuple[int, dict[str, str]]] = {}
        for topic in self.topology.repartitions:
            wanted[topic] = (known[topic], {})
        for sub in self.topology.subs:
            for changelog in sub.stores.values():
                wanted[changelog] = (counts[sub.id], {"cleanup.policy": "compact"})
        for topic, (partitions, configs) in sorted(wanted.items()):
            if topic in existing:
                if existing[topic] != partitions and topic in self.topology.changelogs:
                    raise StreamsError(
                        f"changelog {topic!r} has {existing[topic]} partitions, the "
                        f"application needs {partitions}")
                continue
            try:
                await admin.create_topic(topic, partitions, self.config.replication_factor,
                                         configs)
            except BrokerError as exc:
                if exc.code != ErrorCode.TOPIC_ALREADY_EXISTS:  # another instance made it
                    raise
        for topic in wanted:
            await self.cluster.topic(topic)  # wait until every partition has a leader
        self._counts = counts
        return counts

    # -- stores ------------------------------------------------------------------------------

    def _task_dir(self, task_id: str) -> Path:
        return self.config.state_dir / self.application_id / task_id

    def _open_store(self, task_id: str, name: str) -> KeyValueStore:
        if self.config.in_memory:
            return MemoryStore()
        return RocksStore(self._task_dir(task_id) / name)

    def _checkpoint(self, task_id: str, name: str) -> Path:
        return self._task_dir(task_id) / f"{name}.checkpoint"

    async def _open_task(self, sub_id: int, partition: int, read_committed: bool) -> Task:
        sub = self.topology.subs[sub_id]
        task_id = f"{sub_id}_{partition}"
        stores: dict[str, KeyValueStore] = {}
        try:
            for name, changelog in sorted(sub.stores.items()):
                store = self._open_store(task_id, name)
                stores[name] = store
                done = await restore(self.cluster, store, name, changelog, partition,
                                     self._checkpoint(task_id, name),
                                     read_committed=read_committed)
                self.stats.restored += done.records
                if read_committed:
                    # Exactly-once: from now on the store may hold writes of a transaction
                    # that will be aborted; only a clean close checkpoints it again.
                    remove_checkpoint(self._checkpoint(task_id, name))
                if self.config.on_restore is not None:
                    self.config.on_restore(done)
        except BaseException:
            for store in stores.values():
                store.close()
            raise
        task = Task(sub, partition, stores, caching=self.config.cache)
        task.init()
        return task

    async def _checkpoint_tasks(self, tasks: list[Task], read_committed: bool) -> None:
        """Flush the stores and record how far their changelogs go (everything sent has
        been acknowledged, or committed: the task is the one writer of its changelog
        partitions)."""
        from tidelog.client.offsets import LATEST, list_offsets

        by_changelog: dict[str, list[int]] = {}
        for task in tasks:
            for changelog in task.sub.stores.values():
                by_changelog.setdefault(changelog, []).append(task.partition)
        ends = {changelog: await list_offsets(self.cluster, changelog, parts, LATEST,
                                              isolation_level=int(read_committed))
                for changelog, parts in by_changelog.items()}
        for task in tasks:
            for name, store in task.local.items():
                store.flush()
                end = ends[task.sub.stores[name]][task.partition][0]
                write_checkpoint(self._checkpoint(task.id, name), end)

    def _instance_id(self) -> str:
        """This instance's id, kept in its state directory: a restarted instance has the
        same transactional id, so its producer fences the one that died (Kafka Streams'
        process id)."""
        import uuid

        path = self.config.state_dir / self.application_id / "instance.id"
        try:
            found = path.read_text().strip()
        except OSError:
            found = ""
        if found:
            return found
        path.parent.mkdir(parents=True, exist_ok=True)
        found = uuid.uuid4().hex[:12]
        path.write_text(found + "\n")
        return found

    def _close_tasks(self) -> None:
        for task in self.tasks.values():
            for store in task.local.values():
                store.close()
        self.tasks = {}

    # -- running -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Process until ``stop`` is set (see the module docstring)."""
        from tidelog.client.group import GroupConfig, GroupMember

        await self.prepare_topics()
        member = GroupMember(self.cluster, self.application_id, self.topology.source_topics,
                             GroupConfig(session_timeout_ms=self.config.session_timeout_ms,
                                         assignors=("range",),
                                         join_timeout_s=self.config.join_timeout_s))
        guarantee = make_guarantee(self.config.guarantee, self.cluster, member,
                                   f"{self.application_id}-{self._instance_id()}")
        await guarantee.start()
        try:
            while not stop.is_set():
                join = asyncio.ensure_future(member.join())
                if not await _first(join, stop):
                    return
                assignment = join.result()
                self.stats.generations += 1
                if not await self._generation(member, guarantee, assignment, stop):
                    return
        finally:
            self._close_tasks()
            with contextlib.suppress(Exception):
                await guarantee.close()
            await member.leave()

    async def _generation(self, member: GroupMember, guarantee: Guarantee,
                          assignment: dict[str, list[int]], stop: asyncio.Event) -> bool:
        """Run one generation's tasks; True to rejoin, False when stopped."""
        from tidelog.client.consumer import Consumer, ConsumerConfig
        from tidelog.client.offsets import EARLIEST, OffsetSpec

        parts = sorted((t, p) for t, ps in assignment.items() for p in ps
                       if t in self.topology.source_topics)
        wanted = sorted({(self.topology.sub_of(t).id, p) for t, p in parts})
        # Stores kept over a rebalance would have to be checkpointed and reopened anyway.
        self._close_tasks()
        self._committed = {}
        for sub_id, p in wanted:
            self.tasks[(sub_id, p)] = await self._open_task(sub_id, p,
                                                            guarantee.read_committed)
        self.stats.tasks = sorted(t.id for t in self.tasks.values())
        if self.config.on_assign is not None:
            self.config.on_assign(self.stats.tasks)
        log.info("%s: generation %d, tasks %s", self.application_id, member.generation,
                 ", ".join(self.stats.tasks) or "none")
        if not parts:
            idle = asyncio.ensure_future(member.rebalance_needed.wait())
            await _first(idle, stop)
            return not stop.is_set()
        committed = await member.committed(parts)
        consumer = Consumer(self.cluster, ConsumerConfig(
            max_wait_ms=min(200, self.config.commit_interval_ms),
            isolation_level=int(guarantee.read_committed)))
        await consumer.assign([
            (t, p, OffsetSpec("absolute", committed[(t, p)]) if committed[(t, p)] >= 0
             else OffsetSpec("beginning", EARLIEST)) for t, p in parts])
        interval = self.config.commit_interval_ms / 1000
        next_commit = time.monotonic() + interval
        try:
            while True:
                if stop.is_set() or member.rebalance_needed.is_set():
                    if await self._commit(guarantee) and not guarantee.checkpoint_while_running:
                        # Exactly-once: a clean end, everything committed: checkpoint now.
                        await self._checkpoint_tasks(list(self.tasks.values()), True)
                    return not stop.is_set()
                await self._poll_once(consumer, guarantee)
                if time.monotonic() >= next_commit:
                    ok = await self._commit(guarantee)
                    next_commit = time.monotonic() + interval
                    if not ok:
                        return True
        except TaskCorrupted as exc:
            # The stores hold writes of the aborted transaction and have no checkpoint
            # (exactly-once removes it while running): reopened, they are rebuilt.
            log.warning("%s: %s", self.application_id, exc)
            self._close_tasks()
            return not stop.is_set()

    async def _poll_once(self, consumer: Consumer, guarantee: Guarantee) -> None:
        for fetched in await consumer.poll():
            sub = self.topology.sub_of(fetched.topic)
            task = self.tasks.get((sub.id, fetched.partition))
            if task is None:
                continue
            records = fetched.records
            process, topic = task.process, fetched.topic
            for record in records:
                process(topic, record.offset, record.key, record.value, record.timestamp)
            for out in task.take():
                await guarantee.send(out)
            self.stats.processed += len(records)

    async def _commit(self, guarantee: Guarantee) -> bool:
        offsets: dict[tuple[str, int], int] = {}
        for task in self.tasks.values():
            for topic, offset in task.offsets.items():
                offsets[(topic, task.partition)] = offset
        if offsets == self._committed:
            return True  # nothing processed since the last commit
        dropped = sum(t.dropped for t in self.tasks.values())
        for task in self.tasks.values():
            task.flush()
            for out in task.take():
                await guarantee.send(out)
            for out in task.take_changelog():
                await guarantee.send(out)
        await guarantee.flush()
        if guarantee.checkpoint_while_running and self.tasks:
            await self._checkpoint_tasks(list(self.tasks.values()), False)
        ok = await guarantee.commit(offsets)
        if ok:
            self.stats.commits += 1
            self._committed = offsets
        self.stats.dropped_late = dropped
        return ok


async def _first(work: asyncio.Future[Any], stop: asyncio.Event) -> bool:
    """Wait for ``work`` unless ``stop`` comes first (then it is cancelled); True when it
    finished."""
    stop_wait: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait({work, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop_wait.cancel()
    if work not in done:
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await work
        return False
    return True
