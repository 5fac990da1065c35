"""log-stream: run one of the stream jobs of :mod:`tidelog.cli.clients.stream_jobs` until
stopped, as an instance of a tidelog.streams application (:mod:`tidelog.streams.runtime`).

Several log-stream processes with the same application id (``-a``; by default one made of the
job and its topics) share the work as members of one consumer group; each keeps its tasks'
state under ``--state-dir``. Ctrl-C or SIGTERM: the last records are committed, the group is
left (the other instances take over at once) and the program exits 130.

stdout: nothing, or with ``--json`` one JSON object per event: ``{"event": "assigned",
"application", "tasks"}`` after every rebalance, ``{"event": "restored", "store", "topic",
"partition", "records"}`` for every store restored, and ``{"event": "stopped", "processed",
"commits", "dropped_late"}`` at the end. The same facts go to stderr with ``-v``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tidelog.cli.clients.common import Stop, make_cluster, run_async
from tidelog.cli.errors import CliError, UsageError
from tidelog.cli.exit_codes import ExitCode
from tidelog.cli.runner import Program

if TYPE_CHECKING:
    from tidelog.streams import StreamsBuilder
    from tidelog.streams.restore import Restored


@dataclass
class StreamSettings:
    action: str
    bootstrap: str
    topic: str
    to: str
    application_id: str | None
    state_dir: Path
    by: str = "key"
    table: str | None = None
    left: bool = False
    tumbling: str | None = None
    hopping: str | None = None
    advance: str | None = None
    grace: str = "0s"
    final: bool = False
    guarantee: str = "at_least_once"
    commit_interval_ms: int = 1000
    session_timeout_ms: int = 10_000
    timeout: float = 30.0
    json: bool = False


def build(s: StreamSettings) -> StreamsBuilder:
    """The job's topology, or a UsageError for options that do not fit it."""
    from tidelog.cli.clients.stream_jobs import count_job, join_job, parse_duration, window_job
    from tidelog.streams import StreamsError, TimeWindows

    if s.action != "join" and (s.table is not None or s.left):
        raise UsageError("--table and --left are for join")
    if s.action != "window" and (s.tumbling or s.hopping or s.advance or s.final):
        raise UsageError("--tumbling, --hopping, --advance and --final are for window")
    if s.action == "count":
        return count_job(s.topic, s.to, s.by)
    if s.action == "window":
        if (s.tumbling is None) == (s.hopping is None):
            raise UsageError("window needs one of --tumbling SIZE or --hopping SIZE")
        if s.hopping is not None and s.advance is None:
            raise UsageError("--hopping SIZE needs --advance STEP")
        if s.tumbling is not None and s.advance is not None:
            raise UsageError("--advance is for --hopping")
        grace = parse_duration(s.grace, "--grace")
        try:
            if s.tumbling is not None:
                windows = TimeWindows.tumbling(parse_duration(s.tumbling, "--tumbling"), grace)
            else:
                assert s.hopping is not None and s.advance is not None
                windows = TimeWindows.hopping(parse_duration(s.hopping, "--hopping"),
                                              parse_duration(s.advance, "--advance"), grace)
        except StreamsError as exc:
            raise UsageError(str(exc)) from None
        return window_job(s.topic, s.to, s.by, windows, s.final)
    if s.table is None:
        raise UsageError("join needs --table TOPIC")
    if s.by != "key":
        raise UsageError("join matches records by key: --by is for count and window")
    return join_job(s.topic, s.table, s.to, s.left)


def default_application_id(s: StreamSettings) -> str:
    parts = ["log-stream", s.action, s.topic]
    if s.table is not None:
        parts.append(s.table)
    parts.append(s.to)
    return "-".join(parts)


def run_stream(prog: Program, s: StreamSettings) -> int:
    builder = build(s)
    app_id = s.application_id or default_application_id(s)
    return run_async(lambda stop: _run(prog, s, builder, app_id, stop))


async def _run(prog: Program, s: StreamSettings, builder: StreamsBuilder, app_id: str,
               stop: Stop) -> int:
    from tidelog.streams import StreamsApp, StreamsConfig, StreamsError
    from tidelog.streams.errors import MissingTopicError

    def on_assign(tasks: list[str]) -> None:
        prog.diag.info(f"{app_id}: tasks {', '.join(tasks) or 'none'}")
        if s.json:
            prog.out.json({"event": "assigned", "application": app_id, "tasks": tasks})
            prog.out.flush()

    def on_restore(done: Restored) -> None:
        prog.diag.info(f"restored {done.records} records of {done.changelog}/"
                       f"{done.partition} into store {done.store}")
        if s.json:
            prog.out.json({"event": "restored", "store": done.store, "topic": done.changelog,
                           "partition": done.partition, "records": done.records})
            prog.out.flush()

    topology = builder.build(app_id)
    prog.diag.debug(topology.describe())
    cluster = make_cluster(s.bootstrap, s.timeout)
    app = StreamsApp(topology, cluster, StreamsConfig(
        state_dir=s.state_dir, guarantee=s.guarantee,
        commit_interval_ms=s.commit_interval_ms, session_timeout_ms=s.session_timeout_ms,
        join_timeout_s=max(s.timeout, 30.0),
        on_restore=on_restore, on_assign=on_assign))
    try:
        await app.run(stop.event)
    except StreamsError as exc:
        code = ExitCode.NOT_FOUND if isinstance(exc, MissingTopicError) else ExitCode.ERROR
        raise CliError(str(exc), code) from None
    finally:
        await cluster.close()
        await asyncio.sleep(0)
    stats = app.stats
    prog.diag.info(f"processed {stats.processed} records, {stats.commits} commits, "
                   f"{stats.dropped_late} late records dropped")
    if s.json:
        prog.out.json({"event": "stopped", "processed": stats.processed,
                       "commits": stats.commits, "dropped_late": stats.dropped_late})
    return 0
