"""The engine of log-groups: list, describe, reset offsets of, measure the lag of and delete
consumer groups.

Output (stdout; tab-separated in a pipe, a rich table on a terminal; ``-`` for no value):

* ``list`` -- one group id per line; JSON ``{"group", "protocol_type", "state"}``.
* ``describe GROUP`` -- GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST
  CLIENT-ID per partition the group committed or is assigned; JSON one object per partition
  with exactly ``group, topic, partition, current_offset, log_end_offset, lag, consumer_id,
  host, client_id``. ``--members``: GROUP CONSUMER-ID INSTANCE-ID HOST CLIENT-ID #PARTITIONS
  ASSIGNMENT; ``--state``: GROUP STATE PROTOCOL-TYPE PROTOCOL #MEMBERS.
* ``reset-offsets GROUP`` -- the plan GROUP TOPIC PARTITION CURRENT-OFFSET NEW-OFFSET (JSON
  ``{"group", "topic", "partition", "current_offset", "new_offset"}``); committed only with
  ``--execute``. Partitions: those of ``-t TOPIC`` (or ``TOPIC:P,P``), else every partition
  the group has committed. New offsets are clamped into each log's [start, end].
* ``lag GROUP`` -- the group's total lag (one number; JSON ``{"group", "lag", "partitions"}``);
  with ``--max N`` the exit status is LAG_ABOVE_MAX (8) when the lag exceeds N.
* ``delete GROUP...`` -- nothing on stdout (JSON ``{"group", "deleted"}``).

Exit status (tidelog(7)'s table): NOT_FOUND (5) the group, or a topic or partition of
``reset-offsets -t``, does not exist; GROUP_BUSY (7) the group has members (reset-offsets and
delete refuse, as kafka-consumer-groups does); LAG_ABOVE_MAX (8) ``lag --max`` exceeded; 1
other errors.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tidelog.cli.clients.common import Stop, Waits, make_cluster, run_async
from tidelog.cli.diagnostics import QUIET
from tidelog.cli.errors import CliError, UsageError
from tidelog.cli.exit_codes import ExitCode
from tidelog.cli.runner import Program
from tidelog.cli.tables import write_table

if TYPE_CHECKING:
    from tidelog.client.cluster import Cluster, TopicInfo
    from tidelog.client.group_admin import GroupAdmin, GroupDescription

EXIT_NO_GROUP = ExitCode.NOT_FOUND
EXIT_HAS_MEMBERS = ExitCode.GROUP_BUSY
EXIT_LAG = ExitCode.LAG_ABOVE_MAX
ACTIONS = ("list", "describe", "reset-offsets", "lag", "delete")
RESET_MODES = ("to_earliest", "to_latest", "to_offset", "to_datetime", "shift_by",
               "by_duration")


@dataclass
class GroupsSettings:
    bootstrap: str
    action: str
    groups: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    members: bool = False
    state: bool = False
    to_earliest: bool = False
    to_latest: bool = False
    to_offset: int | None = None
    to_datetime: str | None = None
    shift_by: int | None = None
    by_duration: str | None = None
    execute: bool = False
    max_lag: int | None = None
    #: describe, delete: every group (kafka-consumer-groups --all-groups).
    all_groups: bool = False
    json: bool = False
    timeout: float = 30.0


_DURATION = re.compile(
    r"P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?")
_SHORT = re.compile(r"(?P<n>\d+(?:\.\d+)?)(?P<u>ms|s|m|h|d)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_duration_ms(text: str) -> int:
    """ISO-8601 ``PnDTnHnMnS`` (kafka-consumer-groups' form) or ``90s``, ``15m``, ``2h``,
    ``1d``, ``500ms``."""
    t = text.strip()
    m = _DURATION.fullmatch(t.upper())
    if m and t.upper() not in ("P", "PT"):
        d, h, mi, s = (float(m.group(k) or 0) for k in "dhms")
        return int(((d * 24 + h) * 60 + mi) * 60_000 + s * 1000)
    m = _SHORT.fullmatch(t.lower())
    if m:
        return int(float(m.group("n")) * _UNIT_MS[m.group("u")])
    raise UsageError(f"bad duration {text!r}: use PnDTnHnMnS (e.g. PT1H30M) or 90s, 15m, 2h, 1d")


def parse_datetime_ms(text: str) -> int:
    """An ISO date-time (UTC unless it has an offset) or milliseconds since the epoch."""
    t = text.strip()
    if t.lstrip("-").isdigit():
        return int(t)
    try:
        when = datetime.fromisoformat(t)
    except ValueError:
        raise UsageError(f"bad date-time {text!r}: use ISO 8601, e.g. 2026-01-31T12:00:00"
                         ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def _parse_topic(spec: str) -> tuple[str, list[int] | None]:
    if ":" not in spec:
        return spec, None
    topic, _, parts = spec.partition(":")
    try:
        return topic, [int(p) for p in parts.split(",") if p]
    except ValueError:
        raise UsageError(f"bad topic {spec!r}: use TOPIC or TOPIC:P[,P...]") from None


def groups(prog: Program, settings: GroupsSettings) -> int:
    """Run log-groups; returns the exit status."""
    s = settings
    if s.action not in ACTIONS:
        raise UsageError(f"unknown action {s.action!r} (use {', '.join(ACTIONS)})")
    if s.all_groups and s.groups:
        raise UsageError("give either GROUP or --all-groups")
    if s.all_groups and s.action in ("reset-offsets", "lag"):
        raise UsageError(f"{s.action} takes one GROUP, not --all-groups")
    if s.action != "list" and not s.groups and not s.all_groups:
        raise UsageError(f"{s.action} needs a GROUP (or --all-groups)")
    if s.action in ("describe", "reset-offsets", "lag") and len(s.groups) > 1:
        raise UsageError(f"{s.action} takes one GROUP")
    if s.action == "reset-offsets":
        # ``is``, not ``in``: --to-offset 0 is a mode too, and 0 == False.
        chosen = [m for m in RESET_MODES
                  if (v := getattr(s, m)) is not None and v is not False]
        if len(chosen) != 1:
            raise UsageError("reset-offsets needs exactly one of --to-earliest, --to-latest, "
                             "--to-offset, --to-datetime, --shift-by, --by-duration")
        for spec in s.topics:
            _parse_topic(spec)
        if s.to_datetime is not None:
            parse_datetime_ms(s.to_datetime)
        if s.by_duration is not None:
            parse_duration_ms(s.by_duration)
    if s.members and s.state:
        raise UsageError("use either --members or --state")
    waits = Waits(prog.diag)
    return run_async(lambda stop: _run(prog, s, stop, waits), timeout=s.timeout, waits=waits)


async def _run(prog: Program, s: GroupsSettings, stop: Stop, waits: Waits) -> int:
    from tidelog.client.group_admin import GroupAdmin

    cluster = make_cluster(s.bootstrap, s.timeout, waits)
    try:
        admin = GroupAdmin(cluster)
        if s.all_groups and s.action != "list":
            s.groups = [g.group_id for g in await admin.list_groups()]
        if s.action == "list":
            await _list(prog, admin, s)
        elif s.action == "describe":
            for group in s.groups:
                await _describe(prog, admin, s, group)
        elif s.action == "reset-offsets":
            await _reset(prog, admin, cluster, s)
        elif s.action == "lag":
            return await _lag(prog, admin, s)
        else:
            for group in s.groups:
                await _delete(prog, admin, s, group)
    finally:
        await cluster.close()
    return 0


async def _list(prog: Program, admin: GroupAdmin, s: GroupsSettings) -> None:
    listing = await admin.list_groups()
    if s.json:
        for g in listing:
            prog.out.json({"group": g.group_id, "protocol_type": g.protocol_type,
                           "state": g.state})
    else:
        prog.out.lines([g.group_id for g in listing])


async def _existing(admin: GroupAdmin, group: str) -> GroupDescription:
    desc = await admin.describe(group)
    if desc.state == "Dead":
        raise CliError(f"group {group!r} does not exist", EXIT_NO_GROUP)
    return desc


def _dash(value: object) -> object:
    return "-" if value is None else value


async def _describe(prog: Program, admin: GroupAdmin, s: GroupsSettings, group: str) -> None:
    desc = await _existing(admin, group)
    if s.state:
        doc = {"group": group, "state": desc.state, "protocol_type": desc.protocol_type,
               "protocol": desc.protocol, "members": len(desc.members)}
        if s.json:
            prog.out.json(doc)
        else:
            write_table(prog.out, ["GROUP", "STATE", "PROTOCOL-TYPE", "PROTOCOL", "#MEMBERS"],
                        [[group, desc.state, desc.protocol_type or "-", desc.protocol or "-",
                          len(desc.members)]])
        return
    if s.members:
        rows: list[list[object]] = []
        for m in desc.members:
            count = sum(len(ps) for ps in m.assignment.values())
            if s.json:
                prog.out.json({"group": group, "consumer_id": m.member_id,
                               "group_instance_id": m.instance_id, "host": m.host,
                               "client_id": m.client_id, "assignment": m.assignment})
            rows.append([group, m.member_id, _dash(m.instance_id), m.host, m.client_id, count,
                         " ".join(f"{t}:{','.join(map(str, ps))}"
                                  for t, ps in sorted(m.assignment.items())) or "-"])
        if not s.json:
            write_table(prog.out, ["GROUP", "CONSUMER-ID", "INSTANCE-ID", "HOST", "CLIENT-ID",
                                   "#PARTITIONS", "ASSIGNMENT"], rows)
        return
    lags = await admin.lag(group)
    if s.json:
        for row in lags:
            prog.out.json({"group": group, **row.as_dict()})
        return
    write_table(prog.out, ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET",
                           "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"],
                [[group, r.topic, r.partition, _dash(r.current_offset), r.log_end_offset,
                  _dash(r.lag), _dash(r.consumer_id), _dash(r.host), _dash(r.client_id)]
                 for r in lags])


async def _reset(prog: Program, admin: GroupAdmin, cluster: Cluster, s: GroupsSettings
                 ) -> None:
    from tidelog.client.offsets import list_offsets

    group = s.groups[0]
    desc = await admin.describe(group)
    if desc.members:
        raise CliError(f"group {group!r} has {len(desc.members)} active members: offsets "
                       "can only be reset while it has none (stop its consumers first)",
                       EXIT_HAS_MEMBERS)
    committed = await admin.committed(group)
    wanted: dict[str, list[int]] = {}
    if s.topics:
        for spec in s.topics:
            topic, parts = _parse_topic(spec)
            count = (await _topic(cluster, topic)).count
            missing = sorted(set(parts or ()) - set(range(count)))
            if missing:
                raise CliError(f"topic {topic!r} has no partition {missing[0]} (it has {count})",
                               ExitCode.NOT_FOUND)
            wanted.setdefault(topic, []).extend(range(count) if parts is None else parts)
    else:
        for t, p in sorted(committed):
            wanted.setdefault(t, []).append(p)
        if not wanted:
            raise UsageError(f"group {group!r} has no committed offsets: name the partitions "
                             "with -t TOPIC")
    plan: dict[tuple[str, int], int] = {}
    for topic, parts in wanted.items():
        parts = sorted(set(parts))
        low = await list_offsets(cluster, topic, parts, -2)
        high = await list_offsets(cluster, topic, parts, -1)
        stamps: dict[int, tuple[int, int]] = {}
        if s.to_datetime is not None or s.by_duration is not None:
            when = parse_datetime_ms(s.to_datetime) if s.to_datetime is not None else \
                time.time_ns() // 1_000_000 - parse_duration_ms(s.by_duration or "0s")
            stamps = await list_offsets(cluster, topic, parts, when)
        for p in parts:
            lo, hi = low[p][0], high[p][0]
            cur = committed.get((topic, p))
            if s.to_earliest:
                new = lo
            elif s.to_latest:
                new = hi
            elif s.to_offset is not None:
                new = s.to_offset
            elif s.shift_by is not None:
                new = (cur if cur is not None else hi) + s.shift_by
            else:
                found = stamps[p][0]
                new = hi if found < 0 else found
            plan[(topic, p)] = min(max(new, lo), hi)
    rows = []
    for (topic, p), new in sorted(plan.items()):
        cur = committed.get((topic, p))
        if s.json:
            prog.out.json({"group": group, "topic": topic, "partition": p,
                           "current_offset": cur, "new_offset": new})
        rows.append([group, topic, p, _dash(cur), new])
    # -q: the plan table is a report for a person; --json output is data a script asked for.
    if not s.json and prog.diag.level > QUIET:
        write_table(prog.out, ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET"],
                    rows)
    if s.execute:
        await admin.set_offsets(group, plan)
        prog.diag.note(f"reset {len(plan)} offsets of group {group}")
    else:
        prog.diag.note("dry run: nothing changed (add --execute to commit these offsets)")


async def _topic(cluster: Cluster, topic: str) -> TopicInfo:
    """``topic``'s metadata; a missing topic is reported at once (one metadata round), not
    retried until ``--timeout`` (the retry budget would otherwise wait it out)."""
    from tidelog.client.errors import BrokerError
    from tidelog.protocol.errors import ErrorCode

    answer = await cluster.refresh([topic], auto_create=False)
    for entry in answer.topics:
        if entry.name == topic and entry.error_code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
            raise CliError(f"topic {topic!r} does not exist", ExitCode.NOT_FOUND)
    try:
        return await cluster.topic(topic, auto_create=False)
    except BrokerError as exc:
        if exc.code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
            raise CliError(f"topic {topic!r} does not exist", ExitCode.NOT_FOUND) from None
        raise


async def _lag(prog: Program, admin: GroupAdmin, s: GroupsSettings) -> int:
    group = s.groups[0]
    await _existing(admin, group)
    rows = await admin.lag(group)
    total = sum(r.lag for r in rows if r.lag is not None)
    if s.json:
        prog.out.json({"group": group, "lag": total,
                       "partitions": [{"group": group, **r.as_dict()} for r in rows]})
    else:
        prog.out.line(str(total))
    if s.max_lag is not None and total > s.max_lag:
        prog.diag.warning(f"group {group}: lag {total} is above {s.max_lag}")
        return EXIT_LAG
    return 0


async def _delete(prog: Program, admin: GroupAdmin, s: GroupsSettings, group: str) -> None:
    from tidelog.client.errors import BrokerError
    from tidelog.protocol.errors import ErrorCode

    try:
        await admin.delete(group)
    except BrokerError as exc:
        if exc.code == ErrorCode.GROUP_ID_NOT_FOUND:
            raise CliError(f"group {group!r} does not exist", EXIT_NO_GROUP) from None
        if exc.code == ErrorCode.NON_EMPTY_GROUP:
            raise CliError(f"group {group!r} has active members", EXIT_HAS_MEMBERS) from None
        raise
    if s.json:
        prog.out.json({"group": group, "deleted": True})
    prog.diag.note(f"deleted group {group}")
