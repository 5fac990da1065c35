"""log-top's loop and its terminal view.

``--once``: two samples ``--interval`` apart (rates need two), one snapshot printed: with
``--json`` one JSON document, else the same tables as plain text (tab separated when stdout is
not a terminal). Without ``--once``: on a terminal (and without ``--json``) a rich Live view
redrawn every ``--interval`` seconds, with keys read from the terminal in cbreak mode (``s``
next sort of the topics, ``u`` only topics with under-replicated or offline partitions,
``q`` quit; a refresh that fails is shown in red over the last good snapshot and tried again
next interval); otherwise one JSON line (``--json``) or one set of tables per interval, until
Ctrl-C or SIGTERM (exit 130, as every program's table says).

The view: a header (cluster, controller, quorum leader, epoch, high watermark and the largest
follower lag, and the under-replicated and offline counts, red when not 0), then BROKERS
(state, replicas, leaders, ready), TOPICS (partitions, under-replicated, offline, records and
bytes in and out per second; a topic with a problem is red), UNDER-REPLICATED PARTITIONS (red;
offline ones bold) and GROUPS (the largest lag first).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tidelog.cli.clients.common import Stop, Waits, make_cluster, run_async
from tidelog.cli.clients.top import (
    REQUEST_TIMEOUT_S,
    SORTS,
    Sample,
    TopSettings,
    snapshot,
    sort_topics,
    take_sample,
)
from tidelog.cli.errors import CliError
from tidelog.cli.runner import Program
from tidelog.client.errors import ClientError

if TYPE_CHECKING:
    from rich.console import RenderableType

    from tidelog.client.cluster import Cluster


def run_top(prog: Program, settings: TopSettings) -> int:
    live = not settings.once and not settings.json and prog.out.is_terminal
    waits = Waits(prog.diag)
    return run_async(lambda stop: _main(prog, settings, stop, waits, live),
                     timeout=settings.timeout + 2 * settings.interval if settings.once
                     else None, waits=waits)


async def _main(prog: Program, s: TopSettings, stop: Stop, waits: Waits, live: bool) -> int:
    cluster = make_cluster(s.bootstrap, s.timeout, waits)
    # one stopped broker must delay a refresh by seconds, not by the whole --timeout
    cluster.request_timeout = min(cluster.request_timeout, REQUEST_TIMEOUT_S)
    cluster.connect_timeout = min(cluster.connect_timeout, REQUEST_TIMEOUT_S)
    # reading only: a topic deleted between two requests must not be created again
    cluster.allow_auto_create = False
    try:
        first = await _sample(prog, cluster, s)
        if not await _sleep(stop, s.interval):
            return 0
        previous = first
        if live:
            return await _live(prog, cluster, s, stop, previous)
        while True:
            current = await _sample(prog, cluster, s)
            doc = snapshot(previous, current, s)
            if s.json:
                prog.out.json(doc)
            else:
                _plain(prog, doc)
            prog.out.flush()
            if s.once or not await _sleep(stop, s.interval):
                return 0
            previous = current
    finally:
        await cluster.close()


async def _sample(prog: Program, cluster: Cluster, s: TopSettings) -> Sample:
    sample = await take_sample(cluster, s)
    for scrape in sample.scrapes:
        if scrape.error is not None:
            prog.diag.info(f"metrics of {scrape.address}: {scrape.error}")
    return sample


async def _sleep(stop: Stop, seconds: float) -> bool:
    """Wait ``seconds``; False when a stop was asked for meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.event.wait(), seconds)
    return not stop.requested


# -- plain text ---------------------------------------------------------------------------


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "-"
    return str(value)


def _tables(doc: dict[str, Any]) -> Iterator[tuple[str, list[str], list[list[object]]]]:
    yield ("BROKERS", ["NODE", "HOST", "STATE", "PARTITIONS", "LEADERS", "READY"],
           [[b["node_id"], f"{b['host']}:{b['port']}" if b["host"] else None, b["state"],
             b["partitions"], b["leaders"], b["ready"]] for b in doc["brokers"]])
    yield ("TOPICS", ["TOPIC", "PARTITIONS", "UNDER-REPLICATED", "OFFLINE", "RECORDS-IN/S",
                      "BYTES-IN/S", "BYTES-OUT/S"],
           [[t["topic"], t["partitions"], t["under_replicated"], t["offline"],
             t["records_in_per_s"], t["bytes_in_per_s"], t["bytes_out_per_s"]]
            for t in doc["topics"]])
    yield ("UNDER-REPLICATED PARTITIONS", ["TOPIC", "PARTITION", "LEADER", "REPLICAS", "ISR"],
           [[p["topic"], p["partition"], p["leader"], p["replicas"], p["isr"]]
            for p in doc["under_replicated_partitions"]])
    yield ("GROUPS", ["GROUP", "STATE", "LAG", "PARTITIONS"],
           [[g["group"], g["state"], g["lag"], g["partitions"]] for g in doc["groups"]])


def _header(doc: dict[str, Any]) -> str:
    q = doc["quorum"]
    quorum = (f"quorum leader {q['leader']} epoch {q['leader_epoch']} high watermark "
              f"{q['high_watermark']} max follower lag {q['max_follower_lag']}"
              if q is not None else "quorum unknown")
    return (f"cluster {doc['cluster_id']}  controller {doc['controller']}  {quorum}  "
            f"under-replicated {doc['under_replicated']}  offline {doc['offline']}")


def _plain(prog: Program, doc: dict[str, Any]) -> None:
    from tidelog.cli.tables import write_table

    prog.out.line(_header(doc))
    for title, columns, rows in _tables(doc):
        prog.out.line("")
        prog.out.line(title)
        write_table(prog.out, columns, [[_fmt(c) for c in row] for row in rows])


# -- the live view --------------------------------------------------------------------------


class ViewState:
    def __init__(self, sort: str) -> None:
        self.sort = sort
        self.problems_only = False
        self.quit = False
        #: Why the last refresh failed (shown above the last good snapshot), if it did.
        self.error: str | None = None

    def key(self, char: str) -> None:
        if char == "s":
            self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        elif char == "u":
            self.problems_only = not self.problems_only
        elif char in ("q", "Q"):
            self.quit = True


def render(doc: dict[str, Any], view: ViewState) -> RenderableType:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    problem = doc["under_replicated"] or doc["offline"]
    parts: list[RenderableType] = [Text(_header(doc), style="bold red" if problem else "bold")]
    if view.error is not None:
        parts.append(Text(view.error, style="bold red"))
    topics = sort_topics(doc["topics"], view.sort)
    if view.problems_only:
        topics = [t for t in topics if t["under_replicated"] or t["offline"]]
    shown = dict(doc, topics=topics)
    for title, columns, rows in _tables(shown):
        table = Table(title=title, title_justify="left", expand=False, box=None,
                      header_style="bold")
        for i, c in enumerate(columns):
            table.add_column(c, justify="left" if i == 0 else "right")
        for row, raw in zip(rows, _raw_rows(title, shown), strict=True):
            table.add_row(*(_fmt(c) for c in row), style=_row_style(title, raw))
        parts.append(table)
    parts.append(Text(f"sort: {view.sort} (s)  only problems: "
                      f"{'on' if view.problems_only else 'off'} (u)  quit (q)", style="dim"))
    return Group(*parts)


def _raw_rows(title: str, doc: dict[str, Any]) -> list[dict[str, Any]]:
    key = {"BROKERS": "brokers", "TOPICS": "topics",
           "UNDER-REPLICATED PARTITIONS": "under_replicated_partitions", "GROUPS": "groups"}
    rows: list[dict[str, Any]] = doc[key[title]]
    return rows


def _row_style(title: str, raw: dict[str, Any]) -> str:
    if title == "BROKERS":
        return "red" if raw["state"] != "up" or raw["ready"] is False else ""
    if title == "TOPICS":
        return "red" if raw["under_replicated"] or raw["offline"] else ""
    if title == "UNDER-REPLICATED PARTITIONS":
        return "bold red" if raw["offline"] else "red"
    return ""


async def _live(prog: Program, cluster: Cluster, s: TopSettings, stop: Stop,
                previous: Sample) -> int:
    from rich.console import Console
    from rich.live import Live

    view = ViewState(s.sort)
    console = Console(file=sys.stdout)
    changed = asyncio.Event()
    doc: dict[str, Any] | None = None
    with _keys(view, changed), Live(console=console, auto_refresh=False,
                                    screen=False) as live:
        while True:
            try:
                current = await _sample(prog, cluster, s)
                doc = snapshot(previous, current, s)
                previous = current
                view.error = None
            except (ClientError, CliError) as exc:  # shown; the next refresh tries again
                view.error = f"cannot refresh: {exc}"
            if doc is not None:
                live.update(render(doc, view), refresh=True)
            deadline = asyncio.get_running_loop().time() + s.interval
            while not view.quit and not stop.requested:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_first(changed, stop), remaining)
                if changed.is_set() and doc is not None:
                    live.update(render(doc, view), refresh=True)
            if view.quit or stop.requested:
                return 0


async def _first(changed: asyncio.Event, stop: Stop) -> None:
    waits = [asyncio.ensure_future(changed.wait()), asyncio.ensure_future(stop.event.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


@contextlib.contextmanager
def _keys(view: ViewState, changed: asyncio.Event) -> Iterator[None]:
    """Keys from the terminal on stdin (cbreak mode, restored on exit); none otherwise."""
    import termios
    import tty

    fd = sys.stdin.fileno() if sys.stdin is not None else -1
    if fd < 0 or not sys.stdin.isatty():
        yield
        return
    saved = termios.tcgetattr(fd)
    loop = asyncio.get_running_loop()

    def readable() -> None:
        import os

        data = os.read(fd, 64).decode("utf-8", "replace")
        for char in data:
            view.key(char)
        changed.set()

    tty.setcbreak(fd)
    loop.add_reader(fd, readable)
    try:
        yield
    finally:
        loop.remove_reader(fd)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
