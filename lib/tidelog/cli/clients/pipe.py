"""log-pipe: consume a topic as a group member, run the values through a command, produce its
output lines to another topic, exactly once.

Each round takes up to ``max_records`` records of the member's partitions (read_committed)
and runs one transaction (:class:`~tidelog.client.transactions.TransactionalProducer`): the
command's output lines go to the output topic and the next input offsets are committed for
the group *in the same transaction*, so a read_committed reader of the output sees every
input's output once: a kill -9 at any moment leaves the open transaction to be aborted (by
the next start, whose init_transactions with the same transactional id fences the old
process, or by ``transaction_timeout_ms``), and the restart reads on from the offsets the
last committed transaction stored (fetched with require_stable, so an abort in progress is
waited for, never raced).

The command (:class:`OneToOne` or :class:`PerChunk`):

- ``one_to_one``: one long-running process; each input value is written to it as a line and
  exactly one output line is read back for it (``sed``, ``tr``, ``jq -c``, ``awk``). The
  output record keeps its input's key (so keyed data stays partitioned by key). Its stdout
  must be line-buffered: it runs under ``stdbuf -oL`` when coreutils' stdbuf is there, and a
  command that writes no line for ``timeout`` seconds is an error. A value holding a newline
  cannot be one line: it is an error, not a guess.
- otherwise: one process per round, the round's values on its stdin (one per line), every
  line of its stdout an output record (``grep``, ``sort``, ``uniq -c``, a script).

A command that exits non-zero (or, one-to-one, dies) aborts the round's transaction and ends
log-pipe with status 1: nothing of that round is visible, and the next run does it again.
The command should be a function of its input lines: a round can run twice (aborted, then
redone), and only the committed run's output counts.

Rebalances: the member finishes the round it is in, then rejoins; a round whose offsets the
group refuses (the member was dropped from the generation: a zombie) is aborted and read
again from the committed offsets. Each running instance of a pipe needs its own
transactional id (default ``log-pipe.GROUP.SOURCE.DEST``; a second instance with the same
id fences the first); it is also the member's static group instance id, so a restarted
instance takes its dead predecessor's place in the group at once. ``exit_at_end`` stops
once every assigned partition reached its last stable offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tidelog.cli.clients.common import Stop, Waits, make_cluster, run_async
from tidelog.cli.errors import CliError, UsageError
from tidelog.cli.runner import Program

if TYPE_CHECKING:
    from tidelog.client.cluster import Cluster
    from tidelog.client.consumer import Consumer
    from tidelog.client.group import GroupMember
    from tidelog.client.offsets import OffsetSpec
    from tidelog.client.transactions import TransactionalProducer
    from tidelog.records.record import Record


@dataclass
class PipeSettings:
    bootstrap: str
    group: str
    source: str
    dest: str
    command: list[str]
    one_to_one: bool = False
    transactional_id: str | None = None
    offset: str = "beginning"
    exit_at_end: bool = False
    max_records: int = 1000
    transaction_timeout_ms: int = 10_000
    timeout: float = 30.0
    json: bool = False

    @property
    def txn_id(self) -> str:
        return self.transactional_id or f"log-pipe.{self.group}.{self.source}.{self.dest}"


@dataclass
class PipeStats:
    records_in: int = 0
    records_out: int = 0
    transactions: int = 0
    aborted: int = 0

    def as_dict(self, s: PipeSettings) -> dict[str, Any]:
        return {"group": s.group, "topic": s.source, "output_topic": s.dest,
                "transactional_id": s.txn_id, "records_in": self.records_in,
                "records_out": self.records_out, "transactions": self.transactions,
                "aborted": self.aborted}


class CommandFailed(CliError):
    """The command exited non-zero, died, or broke the one-line-per-input contract."""


# -- the command ---------------------------------------------------------------------------


def _argv(command: Sequence[str], line_buffered: bool) -> list[str]:
    argv = list(command)
    if line_buffered and (stdbuf := shutil.which("stdbuf")) is not None:
        argv = [stdbuf, "-oL", *argv]
    return argv


async def _spawn(argv: list[str]) -> asyncio.subprocess.Process:
    try:
        return await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    except OSError as exc:
        raise CommandFailed(f"cannot run {argv[-1] if argv else ''!r}: {exc}") from None


class PerChunk:
    """A new process per round: the values on stdin, each stdout line an output."""

    def __init__(self, command: Sequence[str]) -> None:
        self.command = list(command)

    async def run(self, values: list[bytes]) -> list[bytes]:
        proc = await _spawn(self.command)
        data = b"".join(v + b"\n" for v in values)
        out, _ = await proc.communicate(data)
        if proc.returncode != 0:
            raise CommandFailed(f"{self.command[0]} exited with status {proc.returncode}")
        return out.splitlines()

    async def close(self) -> None:
        pass


@dataclass
class OneToOne:
    """One long-running process that answers each input line with one output line."""

    command: list[str]
    #: Seconds without an output line after which the command is taken to be stuck.
    timeout: float = 30.0
    proc: asyncio.subprocess.Process | None = field(default=None, init=False)

    async def run(self, values: list[bytes]) -> list[bytes]:
        for v in values:
            if b"\n" in v:
                raise CommandFailed("--one-to-one: a value holds a newline, so it cannot be "
                                    "one input line (drop --one-to-one to pass whole chunks)")
        if self.proc is None or self.proc.returncode is not None:
            self.proc = await _spawn(_argv(self.command, line_buffered=True))
        proc = self.proc
        assert proc.stdin is not None and proc.stdout is not None
        stdin, stdout = proc.stdin, proc.stdout

        async def feed() -> None:
            stdin.write(b"".join(v + b"\n" for v in values))
            with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                await stdin.drain()

        writer = asyncio.ensure_future(feed())
        out: list[bytes] = []
        try:
            for _ in values:
                try:
                    line = await asyncio.wait_for(stdout.readline(), self.timeout)
                except TimeoutError:
                    raise CommandFailed(
                        f"{self.command[0]} wrote no line for {self.timeout:g} s: with "
                        "--one-to-one it must answer each line at once (line-buffered "
                        "output, e.g. sed -u, grep --line-buffered)") from None
                if not line.endswith(b"\n"):
                    code = await proc.wait()
                    raise CommandFailed(f"{self.command[0]} ended (status {code}) after "
                                        f"{len(out)} of {len(values)} lines")
                out.append(line[:-1])
            await writer
        finally:
            writer.cancel()
        return out

    async def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 5.0)
        except TimeoutError:
            proc.kill()
            await proc.wait()


# -- the pipe -------------------------------------------------------------------------------


def pipe(prog: Program, settings: PipeSettings) -> int:
    """Run log-pipe; returns the exit status."""
    if not settings.command:
        raise UsageError("give the command to run after --")
    if not settings.group:
        raise UsageError("-g needs a group id")
    if settings.source == settings.dest:
        raise UsageError("the output topic must not be the input topic")
    waits = Waits(prog.diag)
    return run_async(lambda stop: _Pipe(prog, settings, stop, waits).run())


class _Pipe:
    def __init__(self, prog: Program, s: PipeSettings, stop: Stop, waits: Waits) -> None:
        self.prog, self.s, self.stop, self.waits = prog, s, stop, waits
        self.stats = PipeStats()
        self.command: OneToOne | PerChunk = (
            OneToOne(s.command, max(s.timeout, 1.0)) if s.one_to_one else PerChunk(s.command))

    async def run(self) -> int:
        from tidelog.client.group import GroupConfig, GroupMember
        from tidelog.client.offsets import parse_offset
        from tidelog.client.transactions import TransactionalProducer

        try:
            spec = parse_offset(self.s.offset)
        except Exception as exc:
            raise UsageError(str(exc)) from None
        cluster = make_cluster(self.s.bootstrap, self.s.timeout, self.waits)
        producer = TransactionalProducer(
            cluster, self.s.txn_id, transaction_timeout_ms=self.s.transaction_timeout_ms,
            timeout_s=self.s.timeout)
        # The transactional id names the instance, so it is the static member id too
        # (KIP-345): a restart after kill -9 takes the dead member's place at once instead
        # of waiting out its session.
        member = GroupMember(cluster, self.s.group, [self.s.source], GroupConfig(
            join_timeout_s=max(self.s.timeout, 30.0), instance_id=self.s.txn_id))
        try:
            await self._source_exists(cluster)
            await producer.init_transactions()
            while not self.stop.requested:
                assignment = await self._until(member.join())
                if assignment is None:
                    break
                parts = [(self.s.source, p) for p in assignment.get(self.s.source, [])]
                if not await self._generation(cluster, member, producer, parts, spec):
                    break
        finally:
            await member.leave()
            await self.command.close()
            await producer.close()
            await cluster.close()
            self.prog.diag.info(
                f"{self.stats.records_in} records in, {self.stats.records_out} out, "
                f"{self.stats.transactions} transactions ({self.stats.aborted} aborted)")
            if self.s.json:
                self.prog.out.json(self.stats.as_dict(self.s))
        return 130 if self.stop.requested else 0

    async def _until(self, work: Any) -> Any:
        """``work``'s result, or None when a stop came first (``work`` is cancelled)."""
        task = asyncio.ensure_future(work)
        stopping = asyncio.ensure_future(self.stop.event.wait())
        try:
            done, _ = await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if task not in done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            return None
        return task.result()

    async def _source_exists(self, cluster: Cluster) -> None:
        from tidelog.cli.exit_codes import ExitCode
        from tidelog.client.errors import BrokerError
        from tidelog.protocol.errors import ErrorCode

        try:
            await cluster.topic(self.s.source, auto_create=False, wait_for_leaders=False)
        except BrokerError as exc:
            if exc.code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
                raise CliError(f"topic {self.s.source!r} does not exist",
                               ExitCode.NOT_FOUND) from None
            raise

    async def _generation(self, cluster: Cluster, member: GroupMember,
                          producer: TransactionalProducer, parts: list[tuple[str, int]],
                          spec: OffsetSpec) -> bool:
        """Pipe the assigned partitions until a rebalance (True: rejoin) or the end."""
        self.prog.diag.info(f"group {self.s.group}: generation {member.generation}, "
                            f"partitions {[p for _, p in parts]}")
        if not parts:
            if self.s.exit_at_end:
                return False
            rebalance = asyncio.ensure_future(member.rebalance_needed.wait())
            return await self._until(rebalance) is not None and not self.stop.requested
        while True:
            consumer = await self._assign(cluster, member, parts, spec)
            outcome = await self._rounds(consumer, member, producer)
            if outcome is not None:
                return outcome
            # the round was aborted: read again from what the group has committed

    async def _assign(self, cluster: Cluster, member: GroupMember,
                      parts: list[tuple[str, int]], spec: OffsetSpec) -> Consumer:
        from tidelog.client.consumer import Consumer, ConsumerConfig
        from tidelog.client.offsets import OffsetSpec

        committed = await member.committed(parts, require_stable=True)
        consumer = Consumer(cluster, ConsumerConfig(
            max_wait_ms=int(min(500, self.s.timeout * 500)), isolation_level=1))
        await consumer.assign([
            (t, p, OffsetSpec("absolute", committed[(t, p)]) if committed[(t, p)] >= 0
             else spec) for t, p in parts])
        return consumer

    async def _rounds(self, consumer: Consumer, member: GroupMember,
                      producer: TransactionalProducer) -> bool | None:
        """Rounds until a rebalance (True), the end or a stop (False), or an aborted round
        (None: start again from the committed offsets)."""
        done: dict[tuple[str, int], int] = {
            k: s.position for k, s in consumer.partitions.items()}
        while True:
            if self.stop.requested:
                return False
            if member.rebalance_needed.is_set():
                return True
            if self.s.exit_at_end and consumer.all_at_end:
                return False
            before = {k: s.position for k, s in consumer.partitions.items()}
            poll = asyncio.ensure_future(consumer.poll())
            rebalance = asyncio.ensure_future(member.rebalance_needed.wait())
            stopping = asyncio.ensure_future(self.stop.event.wait())
            try:
                await asyncio.wait({poll, rebalance, stopping},
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                rebalance.cancel()
                stopping.cancel()
            if not poll.done():
                poll.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await poll
                return not self.stop.requested
            records = self._take(consumer, poll.result(), before)
            offsets = {k: s.position for k, s in consumer.partitions.items()
                       if s.position != done.get(k)}
            if not records:
                continue  # only markers or aborted records passed: committed with the next
            if not await self._transaction(producer, member, records, offsets):
                return None
            done.update(offsets)

    def _take(self, consumer: Consumer, fetched_list: list[Any],
              before: dict[tuple[str, int], int]) -> list[Record]:
        """Up to ``max_records`` records of this poll; the consumer is moved back to the
        first record not taken (it is fetched again next round)."""
        left = self.s.max_records
        taken: list[Record] = []
        for fetched in fetched_list:
            key = (fetched.topic, fetched.partition)
            state = consumer.partitions[key]
            records = fetched.records
            if left <= 0:
                state.position, state.at_end = before[key], False
                continue
            if len(records) > left:
                records = records[:left]
                state.position, state.at_end = records[-1].offset + 1, False
            taken.extend(records)
            left -= len(records)
        return taken

    async def _transaction(self, producer: TransactionalProducer, member: GroupMember,
                           records: list[Record], offsets: dict[tuple[str, int], int]
                           ) -> bool:
        """One round's transaction; False when it was aborted (to be read again)."""
        from tidelog.client.transactions import AbortableTransactionError

        values = [r.value if r.value is not None else b"" for r in records]
        producer.begin_transaction()
        try:
            out = await self.command.run(values)
            if self.s.one_to_one and any(r.key is not None for r in records):
                for record, line in zip(records, out, strict=True):
                    await producer.send(self.s.dest, line, record.key)
            elif out:
                await producer.send_values(self.s.dest, list(out))
            await producer.send_offsets_to_transaction(offsets, member.metadata())
            await producer.commit_transaction()
        except AbortableTransactionError as exc:
            self.prog.diag.info(f"transaction aborted, its input is read again: {exc}")
            await producer.abort_transaction()
            self.stats.aborted += 1
            return False
        except CommandFailed:
            with contextlib.suppress(Exception):
                await producer.abort_transaction()
            raise
        self.stats.transactions += 1
        self.stats.records_in += len(records)
        self.stats.records_out += len(out)
        return True
