"""The engine of log-consume: assigned partitions -> records -> stdout.

Topics come from ``-t`` (repeatable) or ``--pattern`` (a regular expression that must match
the whole topic name; matched once at start); partitions from ``-p`` or all of each topic.
Every partition starts at the ``-o`` position (:func:`tidelog.client.offsets.parse_offset`).

Output: see :mod:`tidelog.cli.clients.fmt`. Data is flushed after each fetch round (a batch),
so a reader sees records as they arrive; a closed stdout ends the program quietly.

Stop: ``-c N`` after N records; ``-e`` once every partition reached its high watermark;
otherwise it follows new data (long polls) until Ctrl-C, which exits 130 after flushing.

Leader changes and broker restarts: positions live in this process, so a partition whose
leader moved or whose broker is down is read on from where it was once a leader answers
again (nothing skipped, nothing printed twice); one that has no leader at start is read from
its ``-o`` position once it has one, the others meanwhile. Following (neither ``-e`` nor
``-c``), it waits as long as that takes, as kcat does: a warning on stderr when partitions
become unreachable, a note when they are back (each retry with ``-v``). With ``-e`` or ``-c``
an outage longer than ``--timeout`` ends the program (exit 1).
A topic deleted while it is read ends the program with NOT_FOUND (5); metadata lookups never
ask the broker to create a topic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tidelog.cli.clients.common import Stop, Waits, make_cluster, run_async
from tidelog.cli.clients.fmt import Formatter, record_json, render_keyed, render_values
from tidelog.cli.errors import CliError
from tidelog.cli.exit_codes import ExitCode
from tidelog.cli.runner import Program

if TYPE_CHECKING:
    from tidelog.client.cluster import Cluster
    from tidelog.client.consumer import Consumer

#: Exit status when a topic or partition asked for does not exist.
EXIT_NOT_FOUND = ExitCode.NOT_FOUND


@dataclass
class ConsumeSettings:
    bootstrap: str
    topics: list[str] = field(default_factory=list)
    pattern: str | None = None
    partitions: list[int] = field(default_factory=list)
    offset: str = "beginning"
    exit_at_end: bool = False
    count: int | None = None
    format: bytes | None = None
    delimiter: bytes = b"\n"
    key_delimiter: bytes | None = None
    json: bool = False
    base64: bool = False
    timeout: float = 30.0
    max_wait_ms: int = 500
    #: What a null key or value prints as outside JSON (``-Z``: ``NULL``, as kcat).
    null: bytes = b""
    #: Only records of committed transactions, up to the last stable offset.
    read_committed: bool = False


def consume(prog: Program, settings: ConsumeSettings) -> int:
    """Run log-consume; returns the exit status."""
    return run_async(lambda stop: _consume(prog, settings, stop))


async def _consume(prog: Program, s: ConsumeSettings, stop: Stop) -> int:
    import asyncio

    from tidelog.client.consumer import Consumer, ConsumerConfig
    from tidelog.client.errors import BrokerError
    from tidelog.client.offsets import parse_offset
    from tidelog.protocol.errors import ErrorCode

    try:
        spec = parse_offset(s.offset)
    except Exception as exc:
        from tidelog.cli.errors import UsageError

        raise UsageError(str(exc)) from None
    formatter = Formatter(s.format, s.null) if s.format is not None else None
    waits = Waits(prog.diag)
    cluster = make_cluster(s.bootstrap, s.timeout, waits)
    out = prog.out
    try:
        topics = await resolve_topics(cluster, s)
        assignments = []
        for topic in topics:
            try:
                info = await cluster.topic(topic, auto_create=False, wait_for_leaders=False)
            except BrokerError as exc:
                if exc.code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
                    raise CliError(f"topic {topic!r} does not exist", EXIT_NOT_FOUND) from None
                raise
            parts = s.partitions or sorted(info.partitions)
            for p in parts:
                if p not in info.partitions:
                    raise CliError(f"topic {topic!r} has no partition {p} "
                                   f"(it has {info.count})", EXIT_NOT_FOUND)
                assignments.append((topic, p, spec))
        # A long poll must end well within the request timeout.
        wait = int(min(s.max_wait_ms, s.timeout * 500))
        consumer = Consumer(cluster, ConsumerConfig(max_wait_ms=wait,
                                                    isolation_level=int(s.read_committed)))
        # A partition without a leader (its broker is down) is read once it has one.
        await consumer.assign(assignments, wait_for_leaders=False)
        prog.diag.info(f"consuming {len(assignments)} partitions of {', '.join(topics)}")
        left = s.count
        outage = _Outage(prog, s.timeout, fail=s.exit_at_end or s.count is not None)
        stop_wait = asyncio.ensure_future(stop.event.wait())
        try:
            while not stop.requested:
                if left is not None and left <= 0:
                    break
                if s.exit_at_end and consumer.all_at_end:
                    break
                poll = asyncio.ensure_future(consumer.poll())
                done, _ = await asyncio.wait({poll, stop_wait},
                                             return_when=asyncio.FIRST_COMPLETED)
                if poll not in done:
                    poll.cancel()
                    break
                outage.check(consumer)
                try:
                    round_ = poll.result()
                except BrokerError as exc:
                    if exc.code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
                        # deleted while we read it: say so, and never re-create it
                        raise CliError(f"a topic no longer exists: {exc}",
                                       EXIT_NOT_FOUND) from None
                    raise
                for fetched in round_:
                    if formatter is None and not s.json and s.key_delimiter is None:
                        # The default output needs values only: the fast paths.
                        if left is None and not s.null:
                            out.write(fetched.joined_values(s.delimiter))
                            continue
                        values = fetched.values()
                        if left is not None:
                            values = values[:left]
                            left -= len(values)
                        if values:
                            out.write(render_values(values, s.delimiter, s.null))
                        continue
                    records = fetched.records
                    if left is not None:
                        records = records[:left]
                        left -= len(records)
                    if not records:
                        continue
                    if s.json:
                        out.write(b"".join(
                            record_json(fetched.topic, fetched.partition, r, s.base64)
                            for r in records))
                    elif formatter is not None:
                        out.write(formatter.render(fetched.topic, fetched.partition, records))
                    else:
                        assert s.key_delimiter is not None
                        out.write(render_keyed(records, s.delimiter, s.key_delimiter, s.null))
                out.flush()
        finally:
            stop_wait.cancel()
    finally:
        await cluster.close()
    return 0


class _Outage:
    """Reports a run of failing polls once on stderr, and its end; with ``fail`` set, one
    that outlasts ``timeout`` seconds ends the program."""

    def __init__(self, prog: Program, timeout: float, *, fail: bool) -> None:
        self.prog = prog
        self.timeout = timeout
        self.fail = fail
        self.reported = False

    def check(self, consumer: Consumer) -> None:
        import time

        from tidelog.client.errors import BrokerError
        from tidelog.protocol.errors import ErrorCode

        since = consumer.failing_since
        error = consumer.last_error
        if since is not None and isinstance(error, BrokerError) \
                and error.code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
            # Deleted while we read it (metadata no longer has it): end, as kcat does, rather
            # than wait for leaders that will never come (and never re-create the topic).
            raise CliError(f"a topic no longer exists: {error}", EXIT_NOT_FOUND)
        if since is None:
            if self.reported:
                self.prog.diag.note("all partitions are reachable again; consuming")
                self.reported = False
            return
        if self.fail and time.monotonic() - since > self.timeout:
            raise CliError(f"partitions unreachable for over {self.timeout:g}s: "
                           f"{consumer.last_error}")
        if not self.reported:
            self.reported = True
            self.prog.diag.warning(f"partitions unreachable ({consumer.last_error}); "
                                "waiting for their leaders")


async def resolve_topics(cluster: Cluster, s: ConsumeSettings) -> list[str]:
    """The topics of ``-t`` plus those ``--pattern`` matches; a missing one is reported at
    once (one metadata round, no retries), as is a pattern that matches nothing."""
    from tidelog.cli.errors import UsageError
    from tidelog.protocol.errors import ErrorCode

    topics = list(s.topics)
    if s.pattern is not None:
        try:
            regex = re.compile(s.pattern)
        except re.error as exc:
            raise UsageError(f"bad --pattern {s.pattern!r}: {exc}") from None
        await cluster.refresh(None, auto_create=False)
        topics += sorted(t for t, info in cluster.topics.items()
                         if regex.fullmatch(t) and not info.internal and t not in topics)
        if not topics:
            raise CliError(f"no topic matches {s.pattern!r}", EXIT_NOT_FOUND)
    answer = await cluster.refresh(topics, auto_create=False)
    for entry in answer.topics:
        if entry.error_code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
            raise CliError(f"topic {entry.name!r} does not exist", EXIT_NOT_FOUND)
    return topics
