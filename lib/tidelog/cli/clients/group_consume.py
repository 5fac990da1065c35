"""log-consume ``-g GROUP``: consume as a member of a consumer group.

The topics (``-t``, or ``--pattern`` matched once at start) are the member's subscription;
the group's coordinator and its leader decide which partitions this process reads
(:class:`~tidelog.client.group.GroupMember`). Each assigned partition starts at the group's
committed offset, or at the ``-o`` position when the group has none for it.

At-least-once: after every fetch round the records are written and stdout is flushed, *then*
the next offsets are committed. A crash between the two repeats those records to the next
owner; nothing is ever skipped. The writing happens in a worker thread, so a slow reader of
stdout never stops the heartbeats (the member stays in its group) nor delays Ctrl-C/SIGTERM: on
a stop the member commits what was flushed and leaves at once. On a rebalance (the heartbeat
says so, or a commit is refused) the member commits what it wrote, drops its partitions and
rejoins. On exit (``-c``, ``-e``, Ctrl-C, closed stdout) it commits and leaves the group, so
the other members take over its partitions at once instead of after the session timeout.

``-e`` exits once every partition assigned to this member reached its end (a member with no
partitions exits at once). Output formats are log-consume's (:mod:`tidelog.cli.clients.fmt`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from tidelog.cli.clients.common import Stop, make_cluster, run_async
from tidelog.cli.clients.consume import ConsumeSettings, resolve_topics
from tidelog.cli.clients.fmt import Formatter, record_json, render_keyed, render_values
from tidelog.cli.errors import UsageError
from tidelog.cli.runner import Program

if TYPE_CHECKING:
    from tidelog.client.cluster import Cluster
    from tidelog.client.consumer import Consumer, Fetched
    from tidelog.client.group import GroupMember
    from tidelog.client.offsets import OffsetSpec

#: How long a member without partitions waits before it looks at the group again.
_IDLE_S = 0.5


def consume_group(prog: Program, settings: ConsumeSettings, group: str) -> int:
    """Run log-consume -g GROUP; returns the exit status."""
    if settings.partitions:
        raise UsageError("-p cannot be used with -g: the group assigns the partitions")
    if not group:
        raise UsageError("-g needs a group id")
    return run_async(lambda stop: _run(prog, settings, group, stop))


async def _run(prog: Program, s: ConsumeSettings, group: str, stop: Stop) -> int:
    from tidelog.client.group import GroupConfig, GroupMember
    from tidelog.client.offsets import parse_offset

    try:
        spec = parse_offset(s.offset)
    except Exception as exc:
        raise UsageError(str(exc)) from None
    cluster = make_cluster(s.bootstrap, s.timeout)
    member: GroupMember | None = None
    try:
        topics = await resolve_topics(cluster, s)
        member = GroupMember(cluster, group, topics, GroupConfig(
            join_timeout_s=max(s.timeout, 30.0)))
        session = _Session(prog, s, cluster, member, spec, stop)
        await session.run()
    finally:
        if member is not None:
            await member.leave()
        await cluster.close()
    return 0


class _Session:
    """The consume loop of one member across rebalances."""

    def __init__(self, prog: Program, s: ConsumeSettings, cluster: Cluster,
                 member: GroupMember, spec: OffsetSpec, stop: Stop) -> None:
        self.prog, self.s, self.cluster, self.member = prog, s, cluster, member
        self.spec, self.stop = spec, stop
        self.formatter = Formatter(s.format, s.null) if s.format is not None else None
        self.left = s.count
        #: Next offsets written to stdout and not committed yet.
        self.pending: dict[tuple[str, int], int] = {}

    @property
    def done(self) -> bool:
        return self.stop.requested or (self.left is not None and self.left <= 0)

    async def _until(self, work: asyncio.Future[Any]) -> bool:
        """Wait for ``work`` unless Ctrl-C or a rebalance comes first (then it is
        cancelled); True when it finished."""
        waits: set[asyncio.Future[Any]] = {
            asyncio.ensure_future(self.stop.event.wait()),
            asyncio.ensure_future(self.member.rebalance_needed.wait())}
        try:
            done, _ = await asyncio.wait({work, *waits}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        if work not in done:
            work.cancel()
            return False
        return True

    async def run(self) -> None:
        try:
            while not self.done:
                join = asyncio.ensure_future(self.member.join())
                stop_wait = asyncio.ensure_future(self.stop.event.wait())
                try:
                    done, _ = await asyncio.wait({join, stop_wait},
                                                 return_when=asyncio.FIRST_COMPLETED)
                finally:
                    stop_wait.cancel()
                if join not in done:
                    join.cancel()
                    return
                assignment = join.result()
                if not await self._consume_generation(assignment):
                    return
        finally:
            await self._commit()

    async def _consume_generation(self, assignment: dict[str, list[int]]) -> bool:
        """Read the assigned partitions until a rebalance (True: rejoin) or the end (False)."""
        from tidelog.client.consumer import Consumer, ConsumerConfig
        from tidelog.client.offsets import OffsetSpec

        parts = [(t, p) for t, ps in sorted(assignment.items()) for p in ps]
        self.prog.diag.info(f"group {self.member.group_id}: generation "
                            f"{self.member.generation}, {len(parts)} partitions")
        if not parts:
            if self.s.exit_at_end:
                return False
            idle = asyncio.ensure_future(asyncio.sleep(3600))
            await self._until(idle)
            return not self.done
        committed = await self.member.committed(parts)
        wait = int(min(self.s.max_wait_ms, self.s.timeout * 500))
        consumer = Consumer(self.cluster, ConsumerConfig(
            max_wait_ms=wait, isolation_level=int(self.s.read_committed)))
        await consumer.assign([
            (t, p, OffsetSpec("absolute", committed[(t, p)]) if committed[(t, p)] >= 0
             else self.spec) for t, p in parts])
        while not self.done:
            if self.s.exit_at_end and consumer.all_at_end:
                return False
            if self.member.rebalance_needed.is_set():
                await self._commit()
                return True
            poll = asyncio.ensure_future(consumer.poll())
            if not await self._until(poll):
                await self._commit()
                return not self.stop.requested
            result: list[Fetched] = poll.result()
            chunks, written = self._render(consumer, result)
            if not await self._emit(chunks):
                return False  # stopped while writing: these records stay uncommitted
            self.pending.update(written)
            await self._commit()
        return False

    async def _emit(self, chunks: list[bytes]) -> bool:
        """Write ``chunks`` to stdout and flush it in a worker thread, so heartbeats and
        signals are handled while a slow reader holds the pipe (a write blocking the event
        loop past the session timeout got the member dropped from its group). False when a
        stop came first: the write still completes (the process waits for it at exit), but
        its records are not committed, so the next owner reads them again."""
        out = self.prog.out

        def write() -> None:
            for chunk in chunks:
                out.write(chunk)
            out.flush()

        writing: asyncio.Future[Any] = asyncio.get_running_loop().run_in_executor(None, write)
        stop_wait: asyncio.Future[Any] = asyncio.ensure_future(self.stop.event.wait())
        try:
            done, _ = await asyncio.wait({writing, stop_wait},
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop_wait.cancel()
        if writing in done:
            writing.result()  # StdoutClosed and write errors surface here
            return True
        return False

    def _render(self, consumer: Consumer, fetched_list: list[Fetched]
                ) -> tuple[list[bytes], dict[tuple[str, int], int]]:
        """The output of one fetch round, and the next offsets it covers."""
        s = self.s
        chunks: list[bytes] = []
        written: dict[tuple[str, int], int] = {}
        for fetched in fetched_list:
            key = (fetched.topic, fetched.partition)
            if self.formatter is None and not s.json and s.key_delimiter is None \
                    and self.left is None:
                chunks.append(fetched.joined_values(s.delimiter))
                written[key] = consumer.partitions[key].position
                continue
            records = fetched.records
            if self.left is not None:
                records = records[:self.left]
                self.left -= len(records)
            if not records:
                continue
            if s.json:
                chunks.append(b"".join(
                    record_json(fetched.topic, fetched.partition, r, s.base64)
                    for r in records))
            elif self.formatter is not None:
                chunks.append(self.formatter.render(fetched.topic, fetched.partition, records))
            elif s.key_delimiter is not None:
                chunks.append(render_keyed(records, s.delimiter, s.key_delimiter, s.null))
            else:
                chunks.append(render_values([r.value for r in records], s.delimiter, s.null))
            written[key] = records[-1].offset + 1
        return chunks, written

    async def _commit(self) -> None:
        """Commit what was written (after the flush that put it on stdout)."""
        if not self.pending:
            return
        offsets, self.pending = self.pending, {}
        try:
            if not await self.member.commit(offsets):
                self.prog.diag.info(f"group {self.member.group_id}: commit refused "
                                    "(rebalancing); the next owner re-reads those records")
        except Exception as exc:  # a failed commit repeats records, never loses them
            self.prog.diag.warning(f"group {self.member.group_id}: commit failed: {exc}")
