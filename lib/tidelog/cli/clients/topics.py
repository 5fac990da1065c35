"""The engine of log-topics: create, list, describe, alter and delete topics.

Output (stdout): ``list`` prints one topic name per line; ``describe`` a table of partitions
(TOPIC, PARTITION, LEADER, REPLICAS, ISR, OFFLINE, LOG-START, HIGH-WATERMARK; replica lists
comma separated, ``-`` for an empty list or an unknown value, ``none`` for a missing leader),
with ``--configs`` a table of TOPIC, CONFIG, VALUE, or with ``--cleaner`` a table of TOPIC,
PARTITION, SIZE, COMPACTED, DIRTY-RATIO, FIRST-DIRTY, LAST-CLEANED (ISO 8601 UTC, ``-`` when
not cleaned since the leader started) and, for a partition whose cleaning failed, ERROR;
tab-separated in a pipe, a rich table on a terminal (:func:`tidelog.cli.tables.write_table`).
``create``, ``alter`` and ``delete`` print nothing on stdout and a note on stderr. With
``--json`` every action prints one JSON object per topic (JSON lines): list ``{"topic",
"partitions"}``, describe the whole description (partitions with ``leader``, ``replicas``,
``isr``, ``offline_replicas``, ``error``, and configs), the others ``{"topic", "action",
"changed"}``.

Degraded clusters: a partition without a leader (or whose leader does not answer) is a row
saying so (leader ``none``, offsets ``-``, a warning on stderr naming the error) and never
fails the command; the exit status stays 0 (Kafka's describe fails whole, a known complaint).
``--under-replicated`` keeps the partitions with fewer in-sync replicas than replicas,
``--unavailable`` those without a leader (both given: either); a topic left without
partitions by the filters is not printed, and with no partition left nothing is (no header).

Idempotent scripts: ``create --if-not-exists`` succeeds (changed false) when the topic is
there, ``delete --if-exists`` / ``alter --if-exists`` when it is not.

Exit status (tidelog(7)'s table): EXISTS (6) when ``create`` meets an existing topic,
NOT_FOUND (5) when a topic to describe, alter or delete does not exist (without the
``--if-*`` flags); 1 for other broker errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tidelog.cli.clients.common import Stop, Waits, make_cluster, run_async
from tidelog.cli.errors import CliError, UsageError
from tidelog.cli.exit_codes import ExitCode
from tidelog.cli.runner import Program
from tidelog.cli.tables import write_table

if TYPE_CHECKING:
    from tidelog.client.admin import Admin, CleanerView

EXIT_EXISTS = ExitCode.EXISTS
EXIT_MISSING = ExitCode.NOT_FOUND
ACTIONS = ("create", "list", "describe", "alter", "delete")


@dataclass
class TopicsSettings:
    bootstrap: str
    action: str
    topics: list[str] = field(default_factory=list)
    partitions: int | None = None
    replication_factor: int | None = None
    configs: list[tuple[str, str]] = field(default_factory=list)
    delete_configs: list[str] = field(default_factory=list)
    if_not_exists: bool = False
    if_exists: bool = False
    show_configs: bool = False
    show_cleaner: bool = False
    internal: bool = False
    json: bool = False
    timeout: float = 30.0
    under_replicated: bool = False
    unavailable: bool = False


def topics(prog: Program, settings: TopicsSettings) -> int:
    """Run log-topics; returns the exit status."""
    s = settings
    if s.action not in ACTIONS:
        raise UsageError(f"unknown action {s.action!r} (use {', '.join(ACTIONS)})")
    if s.action in ("create", "alter", "delete") and not s.topics:
        raise UsageError(f"{s.action} needs at least one TOPIC")
    if s.action == "alter" and s.partitions is None and not s.configs and not s.delete_configs:
        raise UsageError("alter needs --partitions, --config or --delete-config")
    if (s.under_replicated or s.unavailable) and (s.action != "describe" or s.show_configs):
        raise UsageError("--under-replicated and --unavailable filter the partitions of "
                         "describe (without --configs)")
    waits = Waits(prog.diag)
    return run_async(lambda stop: _run(prog, s, stop, waits), timeout=s.timeout, waits=waits)


async def _run(prog: Program, s: TopicsSettings, stop: Stop, waits: Waits) -> int:
    from tidelog.client.admin import Admin

    cluster = make_cluster(s.bootstrap, s.timeout, waits)
    try:
        admin = Admin(cluster, timeout_ms=int(s.timeout * 1000))
        if s.action == "list":
            await _list(prog, admin, s)
        elif s.action == "describe":
            await _describe(prog, admin, s)
        else:
            for topic in s.topics:
                await _change(prog, admin, s, topic)
    finally:
        await cluster.close()
    return 0


async def _list(prog: Program, admin: Admin, s: TopicsSettings) -> None:
    listing = await admin.list_topics(internal=s.internal)
    names = [t for t in listing if not s.topics or t in s.topics]
    if s.json:
        for name in names:
            prog.out.json({"topic": name, "partitions": listing[name]})
    else:
        prog.out.lines(names)


async def _describe(prog: Program, admin: Admin, s: TopicsSettings) -> None:
    from tidelog.client.errors import BrokerError
    from tidelog.protocol.errors import ErrorCode

    names = s.topics or list(await admin.list_topics(internal=s.internal))
    filtered = s.under_replicated or s.unavailable
    rows: list[list[object]] = []
    for name in names:
        try:
            desc = await admin.describe_topic(
                name, configs=s.json or s.show_configs, cleaner=s.show_cleaner
            )
        except BrokerError as exc:
            if exc.code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
                raise CliError(f"topic {name!r} does not exist", EXIT_MISSING) from None
            raise
        if filtered:
            desc.partitions = [
                p for p in desc.partitions
                if (s.under_replicated and p.under_replicated)
                or (s.unavailable and p.unavailable)]
            if not desc.partitions:
                continue
        for p in desc.partitions:
            if p.error is not None:
                prog.diag.warning(f"{name}/{p.partition}: {p.error}")
        if s.json:
            doc = desc.as_dict()
            # tidelog(7)'s vocabulary: a topic's name is "topic" in every program's JSON.
            prog.out.json({"topic": doc.pop("name"), **doc})
        elif s.show_configs:
            rows.extend([name, key, "" if value is None else value]
                        for key, value in sorted(desc.configs.items()))
        elif s.show_cleaner:
            rows.extend(_cleaner_row(name, p.partition, p.cleaner) for p in desc.partitions)
        else:
            rows.extend([
                name, p.partition, p.leader if p.leader >= 0 else "none",
                _ids(p.replicas), _ids(p.isr), _ids(p.offline_replicas),
                _known(p.log_start_offset), _known(p.high_watermark),
            ] for p in desc.partitions)
    if s.json or (filtered and not rows):
        return  # a filter that matches nothing prints nothing, as kafka-topics does
    if s.show_configs:
        write_table(prog.out, ["TOPIC", "CONFIG", "VALUE"], rows)
    elif s.show_cleaner:
        write_table(prog.out, ["TOPIC", "PARTITION", "SIZE", "COMPACTED", "DIRTY-RATIO",
                               "FIRST-DIRTY", "LAST-CLEANED", "ERROR"], rows)
    else:
        write_table(prog.out, ["TOPIC", "PARTITION", "LEADER", "REPLICAS", "ISR", "OFFLINE",
                               "LOG-START", "HIGH-WATERMARK"], rows)


def _ids(nodes: list[int]) -> str:
    """A replica list as one field: comma separated, ``-`` when empty (no empty columns)."""
    return ",".join(map(str, nodes)) if nodes else "-"


def _known(value: int | None) -> object:
    return "-" if value is None else value


def _cleaner_row(topic: str, partition: int, view: CleanerView | None) -> list[object]:
    import datetime

    if view is None:  # no log on its leader yet (nothing was written)
        return [topic, partition, 0, "-", "-", "-", "-", ""]
    last = "-"
    if view.last_cleaned_ms is not None:
        when = datetime.datetime.fromtimestamp(view.last_cleaned_ms / 1000, datetime.UTC)
        last = when.isoformat(timespec="seconds").replace("+00:00", "Z")
    return [
        topic, partition, view.size, "yes" if view.compacted else "no",
        "-" if view.dirty_ratio is None else f"{view.dirty_ratio:.3f}",
        "-" if view.first_dirty_offset is None else view.first_dirty_offset,
        last, view.error or "",
    ]


async def _change(prog: Program, admin: Admin, s: TopicsSettings, topic: str) -> None:
    from tidelog.client.errors import BrokerError
    from tidelog.protocol.errors import ErrorCode

    changed = True
    try:
        if s.action == "create":
            await admin.create_topic(
                topic, s.partitions if s.partitions is not None else -1,
                s.replication_factor if s.replication_factor is not None else -1,
                dict(s.configs),
            )
        elif s.action == "delete":
            await admin.delete_topic(topic)
        else:
            await admin.describe_topic(topic, configs=False)
            if s.partitions is not None:
                await admin.create_partitions(topic, s.partitions)
            if s.configs or s.delete_configs:
                await admin.alter_configs(topic, dict(s.configs), s.delete_configs)
    except BrokerError as exc:
        if exc.code == ErrorCode.TOPIC_ALREADY_EXISTS and s.action == "create":
            if not s.if_not_exists:
                raise CliError(f"topic {topic!r} already exists", EXIT_EXISTS) from None
            changed = False
        elif exc.code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION and s.action != "create":
            if not s.if_exists:
                raise CliError(f"topic {topic!r} does not exist", EXIT_MISSING) from None
            changed = False
        else:
            raise
    if s.json:
        prog.out.json({"topic": topic, "action": s.action, "changed": changed})
    verb = {"create": "created", "delete": "deleted", "alter": "altered"}[s.action]
    if changed:
        prog.diag.note(f"{verb} topic {topic}")
    else:
        prog.diag.info(f"topic {topic} left as it was")
