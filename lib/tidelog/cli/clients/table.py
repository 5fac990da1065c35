"""log-table: a (compacted) topic read as a table -- the latest value per key, tombstones
removed -- for scripts.

Every partition is read from its start to the end offset it had when the program started
(:class:`Rows` keeps the last record per key; a null value deletes the key; records without
a key are not rows). Then:

* ``get KEY`` prints the value of KEY and a newline (exit 5 when the table has no such row);
* ``dump`` prints every row, in key order: ``KEY<TAB>VALUE`` (``-K`` another delimiter);
* ``watch`` prints the rows as ``dump`` does, then every change as it arrives, until Ctrl-C:
  a deleted row prints with an empty value (``NULL`` with ``-Z``).

``--json``: one object per row (or change) as log-consume writes records: ``{"topic",
"partition", "offset", "timestamp", "key", "value", "headers"}`` (a deletion has value null).
Reading changes nothing in the cluster: no group, no commit, no topic made.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tidelog.cli.clients.common import Stop, Waits, make_cluster, run_async
from tidelog.cli.clients.fmt import record_json
from tidelog.cli.errors import CliError
from tidelog.cli.exit_codes import ExitCode
from tidelog.cli.runner import Program

if TYPE_CHECKING:
    from tidelog.client.consumer import Consumer
    from tidelog.records.record import Record


@dataclass
class TableSettings:
    action: str
    bootstrap: str
    topic: str
    key: str | None = None
    key_delimiter: bytes = b"\t"
    null: bytes = b""
    json: bool = False
    base64: bool = False
    timeout: float = 30.0


class Rows:
    """The latest record per key (sans-I/O)."""

    def __init__(self) -> None:
        self.rows: dict[bytes, tuple[int, Record]] = {}

    def apply(self, partition: int, records: Iterable[Record]) -> list[tuple[int, Record]]:
        """Take ``records``; returns the changes they made (deletions of absent keys are
        not changes)."""
        changes = []
        for record in records:
            if record.key is None:
                continue
            if record.value is None:
                if self.rows.pop(record.key, None) is None:
                    continue
            else:
                self.rows[record.key] = (partition, record)
            changes.append((partition, record))
        return changes

    def sorted(self) -> list[tuple[int, Record]]:
        return [self.rows[k] for k in sorted(self.rows)]


def run_table(prog: Program, s: TableSettings) -> int:
    return run_async(lambda stop: _run(prog, s, stop))


def _render(prog: Program, s: TableSettings, rows: list[tuple[int, Record]]) -> None:
    if s.json:
        prog.out.write(b"".join(record_json(s.topic, p, r, s.base64) for p, r in rows))
    else:
        prog.out.write(b"".join(
            (r.key or b"") + s.key_delimiter + (s.null if r.value is None else r.value) + b"\n"
            for _, r in rows))
    prog.out.flush()


async def _run(prog: Program, s: TableSettings, stop: Stop) -> int:
    from tidelog.client.consumer import Consumer, ConsumerConfig
    from tidelog.client.offsets import BEGINNING
    from tidelog.protocol.errors import ErrorCode

    cluster = make_cluster(s.bootstrap, s.timeout, Waits(prog.diag))
    try:
        # One metadata round: a missing topic is reported at once (as log-consume does).
        answer = await cluster.refresh([s.topic], auto_create=False)
        if any(t.error_code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION for t in answer.topics):
            raise CliError(f"topic {s.topic!r} does not exist", ExitCode.NOT_FOUND)
        info = await cluster.topic(s.topic, auto_create=False)
        consumer = Consumer(cluster, ConsumerConfig(max_wait_ms=int(min(500, s.timeout * 500))))
        await consumer.assign([(s.topic, p, BEGINNING) for p in sorted(info.partitions)])
        rows = Rows()
        while not consumer.all_at_end and not stop.requested:
            for fetched in await consumer.poll():
                rows.apply(fetched.partition, fetched.records)
        if stop.requested:
            return 0
        if s.action == "get":
            assert s.key is not None
            found = rows.rows.get(s.key.encode("utf-8", "surrogateescape"))
            if found is None:
                raise CliError(f"no row with key {s.key!r} in {s.topic}", ExitCode.NOT_FOUND)
            partition, record = found
            if s.json:
                prog.out.write(record_json(s.topic, partition, record, s.base64))
            else:
                prog.out.write((record.value or b"") + b"\n")
            return 0
        _render(prog, s, rows.sorted())
        if s.action == "watch":
            await _watch(prog, s, consumer, rows, stop)
        return 0
    finally:
        await cluster.close()


async def _watch(prog: Program, s: TableSettings, consumer: Consumer, rows: Rows,
                 stop: Stop) -> None:
    stop_wait = asyncio.ensure_future(stop.event.wait())
    try:
        while not stop.requested:
            poll = asyncio.ensure_future(consumer.poll())
            done, _ = await asyncio.wait({poll, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if poll not in done:
                poll.cancel()
                return
            for fetched in poll.result():
                changes = rows.apply(fetched.partition, fetched.records)
                if changes:
                    _render(prog, s, changes)
    finally:
        stop_wait.cancel()
