"""The engine of log-reassign: plan, execute, cancel, verify and watch replica moves; elect
leaders (kafka-reassign-partitions and kafka-leader-election in one program).

Plans are kafka-reassign-partitions' JSON (:mod:`tidelog.cli.clients.reassign_plan`), read
from a FILE or ``-`` (stdin), so ``log-reassign plan ... | log-reassign execute -`` works.

Output (stdout):

* ``plan``: the plan, one JSON document (``{"version": 1, "partitions": [...]}``); a note on
  stderr says how many partitions and replicas it moves.
* ``execute``: the assignment the planned partitions had before, as a plan (save it to roll
  back: ``log-reassign execute rollback.json``); the moves started, per partition, on stderr.
* ``cancel``: the partitions whose move was cancelled and the replicas they are back on
  (TOPIC, PARTITION, REPLICAS); ``--json``: ``{"partitions": [{"topic", "partition",
  "replicas"}]}``.
* ``verify``: TOPIC, PARTITION, REPLICAS, TARGET, ADDING, REMOVING, STATE (``moving``,
  ``done`` or, for a plan's partition that is not moving and not where the plan puts it,
  ``differs``); ``--json``: ``{"done": bool, "partitions": [{"topic", "partition", "replicas",
  "target", "adding_replicas", "removing_replicas", "state"}]}``.
* ``watch``: a progress bar on stderr when it is a terminal (bytes moved of the total, per
  partition and overall, rate, ETA); ``--json``: one object per poll (JSON lines) ``{"done",
  "bytes_moved", "bytes_total", "percent", "rate", "eta_seconds", "partitions": [{"topic",
  "partition", "bytes_moved", "bytes_total", "done"}]}``. It reaches 100% exactly when the
  controller reports the last move done, and exits then.
* ``elect``: TOPIC, PARTITION, LEADER, RESULT (``elected``, ``not needed`` or the error);
  ``--json``: ``{"partitions": [{"topic", "partition", "leader", "error"}]}``.

Bytes moved (watch): a new replica's log size (DescribeLogDirs on its broker) against the
leader's, per replica being added; a partition counts as done (its total) once its move is.

Exit status (tidelog(7)'s table): 0 ok; 11 (IN_PROGRESS) from ``verify`` while replicas still
move (Kafka's --verify exits 0 then); 1 when a plan's partition is not where the plan puts it
and nothing moves it, or a broker refused; 5 when a topic or partition named does not exist.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tidelog.cli.clients.common import Stop, Waits, make_cluster, run_async
from tidelog.cli.clients.reassign_plan import Move, balanced, parse_plan, plan_json
from tidelog.cli.errors import CliError, UsageError
from tidelog.cli.exit_codes import ExitCode
from tidelog.cli.runner import Program
from tidelog.cli.tables import write_table
from tidelog.protocol.errors import error_name

if TYPE_CHECKING:
    from tidelog.client.cluster import Cluster
    from tidelog.client.errors import BrokerError
    from tidelog.client.reassignments import Ongoing

ACTIONS = ("plan", "execute", "cancel", "verify", "watch", "elect")
#: How often watch polls the controller and the brokers.
WATCH_INTERVAL_S = 1.0


@dataclass
class ReassignSettings:
    bootstrap: str
    action: str
    args: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    brokers: list[int] | None = None
    remove_brokers: list[int] = field(default_factory=list)
    preferred: bool = False
    unclean: bool = False
    interval: float = WATCH_INTERVAL_S
    #: execute: replication throttle for the moving replicas, bytes per second.
    throttle: int | None = None
    json: bool = False
    timeout: float = 30.0


def reassign(prog: Program, settings: ReassignSettings) -> int:
    """Run log-reassign; returns the exit status."""
    s = settings
    if s.action not in ACTIONS:
        raise UsageError(f"unknown action {s.action!r} (use {', '.join(ACTIONS)})")
    if s.action == "execute" and len(s.args) != 1:
        raise UsageError("execute needs one plan: FILE, or - for stdin")
    if s.action in ("cancel", "verify", "watch") and len(s.args) > 1:
        raise UsageError(f"{s.action} takes at most one plan (FILE or -)")
    if s.action == "elect" and s.preferred == s.unclean:
        raise UsageError("elect needs exactly one of --preferred and --unclean")
    if s.action != "elect" and (s.preferred or s.unclean):
        raise UsageError("--preferred and --unclean are elect's")
    if s.action != "execute" and s.throttle is not None:
        raise UsageError("--throttle is execute's")
    if s.action != "plan" and (s.topics or s.brokers is not None or s.remove_brokers):
        raise UsageError("--topics, --brokers and --remove-broker are plan's")
    if s.action == "plan" and s.args:
        s.topics = [*s.topics, *s.args]
    plan = _read_plan(s.args[0]) if s.action != "plan" and s.action != "elect" and s.args \
        else None
    waits = Waits(prog.diag)
    # watch runs as long as the moves do; --timeout bounds each of its steps instead
    whole = None if s.action == "watch" else s.timeout
    return run_async(lambda stop: _run(prog, s, plan, stop, waits), timeout=whole, waits=waits)


def _read_plan(source: str) -> list[Move]:
    import orjson

    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        raise CliError(f"{source}: {exc.strerror or exc}") from None
    name = "stdin" if source == "-" else source
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"{name}: not JSON: {exc}") from None
    return parse_plan(doc, name)


async def _run(prog: Program, s: ReassignSettings, plan: list[Move] | None, stop: Stop,
               waits: Waits) -> int:
    cluster = make_cluster(s.bootstrap, s.timeout, waits)
    try:
        if s.action == "plan":
            return await _plan(prog, cluster, s)
        if s.action == "execute":
            assert plan is not None
            return await _execute(prog, cluster, s, plan)
        if s.action == "cancel":
            return await _cancel(prog, cluster, s, plan)
        if s.action == "verify":
            return await _verify(prog, cluster, s, plan)
        if s.action == "watch":
            return await _watch(prog, cluster, s, plan, stop)
        return await _elect(prog, cluster, s)
    finally:
        await cluster.close()


async def _assignment(cluster: Cluster, topics: list[str] | None
                      ) -> dict[str, dict[int, tuple[int, ...]]]:
    """topic -> partition -> replicas, from Metadata (every topic when None)."""
    await cluster.refresh(topics, auto_create=False)
    wanted = set(cluster.topics) if topics is None else set(topics)
    return {name: {p: info.partitions[p].replicas for p in sorted(info.partitions)}
            for name, info in sorted(cluster.topics.items()) if name in wanted}


def _exit_for(error: BrokerError) -> int:
    from tidelog.protocol.errors import ErrorCode

    if error.code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
        return ExitCode.NOT_FOUND
    return ExitCode.ERROR


# -- plan ---------------------------------------------------------------------------------------

async def _plan(prog: Program, cluster: Cluster, s: ReassignSettings) -> int:
    topics = sorted(set(t for item in s.topics for t in item.split(",") if t)) or None
    current = await _assignment(cluster, topics)
    missing = sorted(set(topics or ()) - set(current))
    if missing:
        raise CliError(f"no such topic: {', '.join(missing)}", ExitCode.NOT_FOUND)
    pool = s.brokers if s.brokers is not None else sorted(cluster.brokers)
    pool = [b for b in pool if b not in s.remove_brokers]
    moves: list[Move] = []
    for topic, parts in current.items():
        moves += balanced(parts, pool, topic)
    changed = [m for m in moves if m.replicas != current[m.topic][m.partition]]
    added = sum(len(set(m.replicas) - set(current[m.topic][m.partition])) for m in changed)
    prog.diag.note(f"{len(changed)} of {len(moves)} partitions change, {added} replicas move, "
                   f"over brokers {','.join(map(str, pool))}")
    prog.out.json(plan_json(moves))
    return 0


# -- execute ------------------------------------------------------------------------------------

async def _execute(prog: Program, cluster: Cluster, s: ReassignSettings, plan: list[Move]
                   ) -> int:
    from tidelog.client import reassignments

    current = await _assignment(cluster, sorted({m.topic for m in plan}))
    status = 0
    known = []
    for m in plan:
        if m.partition not in current.get(m.topic, {}):
            prog.diag.error(f"{m.topic}-{m.partition} does not exist")
            status = max(status, ExitCode.NOT_FOUND)
        else:
            known.append(m)
    rollback = [Move(m.topic, m.partition, current[m.topic][m.partition]) for m in known]
    if s.throttle is not None:
        await _set_throttles(prog, cluster, s.throttle, known, current)
    results = await reassignments.alter(
        cluster, [(m.topic, m.partition, m.replicas) for m in known],
        timeout_ms=int(s.timeout * 1000))
    started = 0
    for m in known:
        error = results.get((m.topic, m.partition))
        if error is not None:
            prog.diag.error(str(error))
            status = max(status, _exit_for(error))
        elif m.replicas != current[m.topic][m.partition]:
            started += 1
            prog.diag.info(f"{m.topic}-{m.partition}: {_ids(current[m.topic][m.partition])} "
                           f"-> {_ids(m.replicas)}")
    prog.diag.note(f"moving {started} partitions; the assignment before is on stdout (keep "
                   "it to roll back)")
    prog.out.json(plan_json(rollback))
    return status


async def _set_throttles(prog: Program, cluster: Cluster, rate: int, moves: list[Move],
                         current: dict[str, dict[int, tuple[int, ...]]]) -> None:
    """Kafka's throttle layout: the rate on every broker a move touches; on the leader side
    the replicas a partition has now (any of them may lead), on the follower side the ones
    it gains. Lists are appended to, so other moves' throttles stay."""
    from tidelog.client import reassignments as r
    from tidelog.replication.throttle import (
        FOLLOWER_RATE,
        FOLLOWER_REPLICAS,
        LEADER_RATE,
        LEADER_REPLICAS,
    )

    leader: dict[str, list[str]] = {}
    follower: dict[str, list[str]] = {}
    brokers: set[int] = set()
    for m in moves:
        before = current[m.topic][m.partition]
        if m.replicas == before:
            continue
        brokers |= set(before) | set(m.replicas)
        leader.setdefault(m.topic, []).extend(f"{m.partition}:{b}" for b in before)
        follower.setdefault(m.topic, []).extend(
            f"{m.partition}:{b}" for b in m.replicas if b not in before)
    for b in sorted(brokers):
        await r.alter_configs(cluster, r.BROKER_RESOURCE, str(b), [
            (LEADER_RATE, r.OP_SET, str(rate)), (FOLLOWER_RATE, r.OP_SET, str(rate))])
    for topic in sorted(leader):
        entries = [(LEADER_REPLICAS, r.OP_APPEND, ",".join(leader[topic]))]
        if follower.get(topic):
            entries.append((FOLLOWER_REPLICAS, r.OP_APPEND, ",".join(follower[topic])))
        await r.alter_configs(cluster, r.TOPIC_RESOURCE, topic, entries)
    if brokers:
        prog.diag.note(f"throttled to {rate} bytes/s on brokers "
                       f"{','.join(map(str, sorted(brokers)))} until the moves are done")


async def _remove_throttles(prog: Program, cluster: Cluster, topics: list[str] | None) -> None:
    """Once nothing moves any more: the throttles execute --throttle set go (every broker's
    rates, the throttled-replica lists of ``topics``, every topic when None)."""
    from tidelog.client import reassignments as r
    from tidelog.replication.throttle import (
        FOLLOWER_RATE,
        FOLLOWER_REPLICAS,
        LEADER_RATE,
        LEADER_REPLICAS,
    )

    if await r.ongoing(cluster, None):
        return  # another move may still want its throttle
    await cluster.refresh(topics, auto_create=False)
    for b in sorted(cluster.brokers):
        await r.alter_configs(cluster, r.BROKER_RESOURCE, str(b), [
            (LEADER_RATE, r.OP_DELETE, None), (FOLLOWER_RATE, r.OP_DELETE, None)])
    for topic in sorted(cluster.topics if topics is None else set(topics) & set(cluster.topics)):
        await r.alter_configs(cluster, r.TOPIC_RESOURCE, topic, [
            (LEADER_REPLICAS, r.OP_DELETE, None), (FOLLOWER_REPLICAS, r.OP_DELETE, None)])
    prog.diag.info("replication throttles removed")


def _plan_topics(plan: list[Move] | None) -> list[str] | None:
    return None if plan is None else sorted({m.topic for m in plan})


def _ids(replicas: tuple[int, ...] | list[int]) -> str:
    return ",".join(map(str, replicas)) or "-"


# -- cancel -------------------------------------------------------------------------------------

async def _cancel(prog: Program, cluster: Cluster, s: ReassignSettings, plan: list[Move] | None
                  ) -> int:
    from tidelog.client import reassignments

    wanted = None if plan is None else [(m.topic, m.partition) for m in plan]
    moving = await reassignments.ongoing(cluster, wanted)
    results = await reassignments.alter(cluster, [(t, p, None) for t, p in sorted(moving)],
                                        timeout_ms=int(s.timeout * 1000))
    status = 0
    done: list[dict[str, Any]] = []
    for (t, p), ongoing in sorted(moving.items()):
        error = results.get((t, p))
        if error is not None and error_name(error.code) != "NO_REASSIGNMENT_IN_PROGRESS":
            prog.diag.error(str(error))
            status = max(status, _exit_for(error))
            continue
        restored = [r for r in ongoing.replicas if r not in ongoing.adding]
        done.append({"topic": t, "partition": p, "replicas": restored})
    if s.json:
        prog.out.json({"partitions": done})
    else:
        write_table(prog.out, ["TOPIC", "PARTITION", "REPLICAS"],
                    [[d["topic"], d["partition"], _ids(d["replicas"])] for d in done])
    prog.diag.note(f"cancelled {len(done)} moves")
    await _remove_throttles(prog, cluster, _plan_topics(plan))
    return status


# -- verify -------------------------------------------------------------------------------------

async def _states(cluster: Cluster, plan: list[Move] | None
                  ) -> tuple[list[dict[str, Any]], dict[tuple[str, int], Ongoing]]:
    from tidelog.client import reassignments

    wanted = None if plan is None else [(m.topic, m.partition) for m in plan]
    moving = await reassignments.ongoing(cluster, wanted)
    rows: list[dict[str, Any]] = []
    if plan is None:
        for (t, p), o in sorted(moving.items()):
            rows.append(_state_row(t, p, o.replicas, o.target, o))
        return rows, moving
    current = await _assignment(cluster, sorted({m.topic for m in plan}))
    for m in plan:
        replicas = current.get(m.topic, {}).get(m.partition)
        if replicas is None:
            raise CliError(f"{m.topic}-{m.partition} does not exist", ExitCode.NOT_FOUND)
        rows.append(_state_row(m.topic, m.partition, replicas, m.replicas,
                               moving.get((m.topic, m.partition))))
    return rows, moving


def _state_row(topic: str, p: int, replicas: tuple[int, ...], target: tuple[int, ...],
               ongoing: Ongoing | None) -> dict[str, Any]:
    if ongoing is not None:
        state = "moving"
    else:
        state = "done" if tuple(replicas) == tuple(target) else "differs"
    return {"topic": topic, "partition": p, "replicas": list(replicas), "target": list(target),
            "adding_replicas": list(ongoing.adding) if ongoing else [],
            "removing_replicas": list(ongoing.removing) if ongoing else [], "state": state}


async def _verify(prog: Program, cluster: Cluster, s: ReassignSettings, plan: list[Move] | None
                  ) -> int:
    rows, _ = await _states(cluster, plan)
    states = {r["state"] for r in rows}
    if s.json:
        prog.out.json({"done": states <= {"done"}, "partitions": rows})
    else:
        write_table(prog.out, ["TOPIC", "PARTITION", "REPLICAS", "TARGET", "ADDING",
                               "REMOVING", "STATE"],
                    [[r["topic"], r["partition"], _ids(r["replicas"]), _ids(r["target"]),
                      _ids(r["adding_replicas"]), _ids(r["removing_replicas"]), r["state"]]
                     for r in rows])
    if "moving" in states:
        prog.diag.note(f"{sum(r['state'] == 'moving' for r in rows)} partitions still moving")
        return ExitCode.IN_PROGRESS
    if "differs" in states:
        prog.diag.error("partitions not where the plan puts them and not moving: " + ", ".join(
            f"{r['topic']}-{r['partition']}" for r in rows if r["state"] == "differs"))
        return ExitCode.ERROR
    prog.diag.note("every move is done" if rows else "no replicas are moving")
    await _remove_throttles(prog, cluster, _plan_topics(plan))
    return 0


# -- watch --------------------------------------------------------------------------------------

@dataclass
class _Watched:
    topic: str
    partition: int
    bytes_moved: int = 0
    bytes_total: int = 0
    done: bool = False


async def _sizes(cluster: Cluster, node: int, topic: str, partitions: list[int]
                 ) -> dict[int, int]:
    from tidelog.client.admin import DESCRIBE_RETRY, Admin
    from tidelog.client.errors import ClientError

    try:
        views = await Admin(cluster).describe_log_dirs(node, topic, partitions,
                                                       policy=DESCRIBE_RETRY)
    except ClientError:
        return {}  # a broker that does not answer now: its share counts as not moved yet
    return {p: v.size for p, v in views.items()}


async def _measure(cluster: Cluster, watched: dict[tuple[str, int], _Watched],
                   moving: dict[tuple[str, int], Ongoing]) -> None:
    """Bytes moved and to move of every partition still moving."""
    await cluster.refresh(sorted({t for t, _ in moving}), auto_create=False)
    asks: dict[tuple[int, str], list[int]] = {}
    for (t, p), o in moving.items():
        info = cluster.topics.get(t)
        leader = info.partitions[p].leader if info is not None and p in info.partitions else -1
        for node in ([leader] if leader >= 0 else []) + list(o.adding):
            asks.setdefault((node, t), []).append(p)
    sizes = {key: await _sizes(cluster, key[0], key[1], ps) for key, ps in asks.items()}
    for (t, p), o in moving.items():
        w = watched[(t, p)]
        info = cluster.topics.get(t)
        leader = info.partitions[p].leader if info is not None and p in info.partitions else -1
        full = sizes.get((leader, t), {}).get(p)
        if full is None:
            continue  # the leader did not say: keep the last figures
        w.bytes_total = full * len(o.adding)
        w.bytes_moved = sum(min(full, sizes.get((b, t), {}).get(p, 0)) for b in o.adding)


def _report(watched: dict[tuple[str, int], _Watched], started: float, first_moved: int
            ) -> dict[str, Any]:
    total = sum(w.bytes_total for w in watched.values())
    moved = sum(w.bytes_moved for w in watched.values())
    done = all(w.done for w in watched.values())
    elapsed = max(time.monotonic() - started, 1e-6)
    rate = max(moved - first_moved, 0) / elapsed
    # 100% means "the controller says done", never "the bytes are there"
    percent = 100.0 if done else (min(99.9, 100.0 * moved / total) if total else 0.0)
    eta = 0.0 if done else ((total - moved) / rate if rate > 0 else None)
    return {"done": done, "bytes_moved": moved, "bytes_total": total,
            "percent": round(percent, 1), "rate": round(rate), "eta_seconds":
                None if eta is None else round(eta, 1),
            "partitions": [{"topic": w.topic, "partition": w.partition,
                            "bytes_moved": w.bytes_moved, "bytes_total": w.bytes_total,
                            "done": w.done} for w in watched.values()]}


async def _watch(prog: Program, cluster: Cluster, s: ReassignSettings, plan: list[Move] | None,
                 stop: Stop) -> int:
    import asyncio

    from tidelog.client import reassignments

    wanted = None if plan is None else [(m.topic, m.partition) for m in plan]
    moving = await reassignments.ongoing(cluster, wanted)
    keys = sorted(moving) if plan is None else [(m.topic, m.partition) for m in plan]
    watched = {k: _Watched(*k, done=k not in moving) for k in keys}
    bar = _Bar(watched) if prog.diag.level >= 0 and sys.stderr.isatty() and not s.json \
        else None
    started = time.monotonic()
    first_moved: int | None = None
    try:
        while True:
            if moving:
                await _measure(cluster, watched, moving)
            for key, w in watched.items():
                if key not in moving and not w.done:
                    w.done = True
                if w.done:
                    w.bytes_moved = w.bytes_total
            if first_moved is None:
                first_moved = sum(w.bytes_moved for w in watched.values())
            report = _report(watched, started, first_moved)
            if s.json:
                prog.out.json(report)
                prog.out.flush()
            if bar is not None:
                bar.update(report)
            if report["done"] or stop.requested:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.event.wait(), s.interval)
            moving = await reassignments.ongoing(cluster, wanted)
    finally:
        if bar is not None:
            bar.close()
    if not stop.requested:
        prog.diag.note(f"done: {report['bytes_moved']} bytes moved")
        await _remove_throttles(prog, cluster, _plan_topics(plan) or sorted({t for t, _ in keys}))
    return 0


class _Bar:
    """The terminal view of watch: one bar overall and one per partition (rich, stderr)."""

    def __init__(self, watched: dict[tuple[str, int], _Watched]) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[pct]}"),
            DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
            console=Console(stderr=True), transient=False,
        )
        self._all = self._progress.add_task("overall", total=None, pct="")
        self._parts = {k: self._progress.add_task(f"{k[0]}-{k[1]}", total=None, pct="")
                       for k in watched}
        self._progress.start()

    def update(self, report: dict[str, Any]) -> None:
        self._progress.update(self._all, total=report["bytes_total"] or None,
                              completed=report["bytes_moved"], pct=f"{report['percent']}%")
        for part in report["partitions"]:
            task = self._parts[(part["topic"], part["partition"])]
            pct = "100%" if part["done"] else (
                f"{min(99.9, 100 * part['bytes_moved'] / part['bytes_total']):.1f}%"
                if part["bytes_total"] else "")
            self._progress.update(task, total=part["bytes_total"] or None,
                                  completed=part["bytes_moved"], pct=pct)

    def close(self) -> None:
        self._progress.stop()


# -- elect --------------------------------------------------------------------------------------

def _partitions_named(args: list[str]) -> tuple[list[str], list[tuple[str, int]]]:
    whole, single = [], []
    for arg in args:
        topic, sep, part = arg.rpartition(":")
        if sep and topic and part.isdigit():
            single.append((topic, int(part)))
        else:
            whole.append(arg)
    return whole, single


async def _elect(prog: Program, cluster: Cluster, s: ReassignSettings) -> int:
    from tidelog.client import reassignments

    kind = reassignments.PREFERRED if s.preferred else reassignments.UNCLEAN
    asked: list[tuple[str, int]] | None = None
    status = 0
    if s.args:
        whole, asked = _partitions_named(s.args)
        if whole:
            current = await _assignment(cluster, whole)
            for t in whole:
                if t not in current:
                    prog.diag.error(f"no such topic: {t}")
                    status = ExitCode.NOT_FOUND
                asked += [(t, p) for p in current.get(t, {})]
        if not asked:
            return status
    results = await reassignments.elect(cluster, kind, asked, timeout_ms=int(s.timeout * 1000))
    await cluster.refresh(sorted({t for t, _ in results}), auto_create=False)
    rows: list[dict[str, Any]] = []
    for (t, p), error in sorted(results.items()):
        info = cluster.topics.get(t)
        leader = info.partitions[p].leader if info is not None and p in info.partitions else -1
        name = None if error is None else error_name(error.code)
        if error is not None and name != "ELECTION_NOT_NEEDED":
            prog.diag.error(str(error))
            status = max(status, _exit_for(error))
        rows.append({"topic": t, "partition": p, "leader": leader, "error": name})
    if s.json:
        prog.out.json({"partitions": rows})
    else:
        write_table(prog.out, ["TOPIC", "PARTITION", "LEADER", "RESULT"], [
            [r["topic"], r["partition"], r["leader"] if r["leader"] >= 0 else "none",
             "elected" if r["error"] is None else
             "not needed" if r["error"] == "ELECTION_NOT_NEEDED" else r["error"]]
            for r in rows])
    return status
