"""The engine of log-produce: input bytes -> records -> :class:`tidelog.client.Producer`.

Input: stdin, or the files named, read in chunks of 4 MiB by a reader thread (so a blocked
``tail -F`` pipe never stalls the event loop that sends and lingers) and handed over through a
bounded queue (back-pressure reaches the reader). Records are split on the record delimiter
(``-D``, default newline) with ``bytes.split``; a last record without delimiter counts. With
``-K DELIM`` each record splits at the first DELIM into key and value (no DELIM: null key).
``-k KEY`` gives every record that key. ``--file-per-record`` sends each file whole as one
record, as kcat -P FILE... does. ``--null-value TEXT`` makes a value equal to TEXT a null (a
tombstone). With
``--input-format json`` each record is an object with optional ``key``, ``value``,
``headers`` (object or list of pairs), ``partition`` and ``timestamp``; ``key_encoding`` /
``value_encoding`` ``"base64"`` mark base64 text (what log-consume --json writes).

Speed: records without key and headers go to :meth:`Producer.send_values` a chunk at a time,
which builds batches with the value-only fast path; others go one by one.

Outcome: :class:`ProduceReport` (records, bytes, failed, errors); bad JSON lines count as
failed records and are reported on stderr. Ctrl-C stops reading, flushes what was read, and
the program exits 130.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tidelog.cli.clients.common import Stop, make_cluster, run_async
from tidelog.cli.errors import CliError
from tidelog.cli.exit_codes import ExitCode
from tidelog.cli.runner import Program

CHUNK = 4 << 20
#: Exit status when some records were not written.
EXIT_FAILED_RECORDS = ExitCode.NOT_ALL_WRITTEN


@dataclass
class ProduceSettings:
    bootstrap: str
    topic: str
    files: list[Path] = field(default_factory=list)
    key_delimiter: bytes | None = None
    #: ``-k KEY``: the key of every record.
    key: bytes | None = None
    #: ``--file-per-record``: each file is one record, not split (kcat -P FILE...).
    file_per_record: bool = False
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    partition: int | None = None
    acks: int = -1
    compression: int = 0
    linger_ms: float = 5.0
    batch_size: int = 1_000_000
    idempotent: bool = False
    delimiter: bytes = b"\n"
    null_value: bytes | None = None
    input_format: str = "text"
    timeout: float = 30.0
    json: bool = False
    progress: bool = False


class _Reader:
    """A daemon thread reading the inputs in chunks into an asyncio queue (None ends)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, files: list[Path]) -> None:
        self.loop = loop
        self.files = files
        self.queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue(maxsize=2)
        self.thread = threading.Thread(target=self._run, daemon=True, name="log-produce-input")

    def start(self) -> None:
        self.thread.start()

    def _put(self, item: bytes | BaseException | None) -> None:
        asyncio.run_coroutine_threadsafe(self.queue.put(item), self.loop).result()

    def _run(self) -> None:
        try:
            if not self.files:
                self._pump(sys.stdin.fileno())
            for path in self.files:
                fd = os.open(path, os.O_RDONLY)
                try:
                    self._pump(fd)
                finally:
                    os.close(fd)
            self._put(None)
        except OSError as exc:
            with contextlib.suppress(RuntimeError, concurrent.futures.CancelledError):
                self._put(exc)
        except (RuntimeError, concurrent.futures.CancelledError):
            pass  # the loop is gone or stopped waiting (Ctrl-C): the program is ending

    def _pump(self, fd: int) -> None:
        while True:
            chunk = os.read(fd, CHUNK)
            if not chunk:
                return
            self._put(chunk)


def _b64_or_text(doc: dict[str, Any], name: str) -> bytes | None:
    value = doc.get(name)
    if value is None:
        return None
    if doc.get(f"{name}_encoding") == "base64":
        if not isinstance(value, str):
            raise ValueError(f"{name} with base64 encoding must be a string")
        return base64.b64decode(value, validate=True)
    if isinstance(value, str):
        return value.encode("utf-8")
    return orjson.dumps(value)


def parse_json_record(line: bytes) -> dict[str, Any]:
    """One ``--input-format json`` line as send() arguments; ValueError when malformed."""
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError("a record must be a JSON object")
    headers_doc = doc.get("headers") or {}
    pairs: list[tuple[str, Any]]
    if isinstance(headers_doc, dict):
        pairs = list(headers_doc.items())
    elif isinstance(headers_doc, list):
        pairs = [tuple(p) for p in headers_doc]
    else:
        raise ValueError("headers must be an object or a list of [name, value] pairs")
    b64_headers = doc.get("headers_encoding") == "base64"
    headers: list[tuple[str, bytes | None]] = []
    for pair in pairs:
        if len(pair) != 2 or not isinstance(pair[0], str):
            raise ValueError("each header needs a name and a value")
        name, hv = pair
        if hv is None:
            headers.append((name, None))
        elif b64_headers:
            headers.append((name, base64.b64decode(str(hv), validate=True)))
        else:
            headers.append((name, hv.encode("utf-8") if isinstance(hv, str) else orjson.dumps(hv)))
    partition = doc.get("partition")
    timestamp = doc.get("timestamp")
    if partition is not None and not isinstance(partition, int):
        raise ValueError("partition must be an integer")
    if timestamp is not None and not isinstance(timestamp, int):
        raise ValueError("timestamp must be an integer (ms)")
    try:
        key = _b64_or_text(doc, "key")
        value = _b64_or_text(doc, "value")
    except (ValueError, TypeError) as exc:
        raise ValueError(f"bad base64: {exc}") from None
    return {"key": key, "value": value, "headers": headers, "partition": partition,
            "timestamp": timestamp}


def produce(prog: Program, settings: ProduceSettings) -> int:
    """Run log-produce; returns the exit status."""
    return run_async(lambda stop: _produce(prog, settings, stop))


async def _produce(prog: Program, s: ProduceSettings, stop: Stop) -> int:
    from tidelog.client.errors import BrokerError, ClientError
    from tidelog.client.producer import Producer, ProducerConfig
    from tidelog.protocol.errors import ErrorCode

    for path in s.files:
        if not path.is_file() and not path.exists():
            raise CliError(f"{path}: No such file or directory")
    started = time.monotonic()
    cluster = make_cluster(s.bootstrap, s.timeout)
    bad_input = 0
    try:
        producer = Producer(cluster, ProducerConfig(
            acks=s.acks, compression=s.compression, linger_ms=s.linger_ms,
            batch_size=s.batch_size, idempotent=s.idempotent,
            request_timeout_ms=int(s.timeout * 1000),
        ))
        await producer.start()
        try:
            await producer.topic(s.topic)
        except BrokerError as exc:
            if exc.code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
                raise CliError(f"topic {s.topic!r} does not exist (and the broker does not "
                               "create topics on first use)", ExitCode.NOT_FOUND) from None
            raise
        progress = _Progress(s.files, producer) if s.progress else None
        if s.file_per_record:
            try:
                await _send_files(producer, s, stop, progress)
            finally:
                await producer.flush()
                if progress is not None:
                    progress.close()
            return _report(prog, s, producer, 0, started, stop)
        reader = _Reader(asyncio.get_running_loop(), s.files)
        reader.start()
        delim = s.delimiter
        rest = b""
        stop_wait = asyncio.ensure_future(stop.event.wait())
        try:
            while True:
                getter = asyncio.ensure_future(reader.queue.get())
                done, _ = await asyncio.wait(
                    {getter, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                item = getter.result()
                if isinstance(item, BaseException):
                    raise item
                if item is None:
                    if rest:
                        bad, sent = await _send(producer, s, [rest], prog)
                        bad_input += bad
                        if progress is not None:
                            progress.submitted(sent)
                    break
                if progress is not None:
                    progress.advance(len(item))
                prog.diag.debug(f"read {len(item)} bytes")
                if rest and len(delim) > 1:
                    item = rest + item  # a delimiter may straddle the chunks
                    rest = b""
                pieces = item.split(delim)
                total = len(item) + len(rest)
                if rest:
                    pieces[0] = rest + pieces[0]  # not rest + item: that copies the chunk
                rest = pieces.pop()
                if pieces:
                    # The records' total size follows from the chunk's: no pass over them.
                    payload = total - len(rest) - len(pieces) * len(delim)
                    bad, sent = await _send(producer, s, pieces, prog, payload)
                    bad_input += bad
                    if progress is not None:
                        progress.submitted(sent)
        finally:
            stop_wait.cancel()
            try:
                # Ctrl-C or end of input: everything read so far is still delivered.
                await producer.flush()
            finally:
                if progress is not None:
                    progress.close()
    except ClientError:
        raise
    finally:
        await cluster.close()
    return _report(prog, s, producer, bad_input, started, stop)


async def _send_files(producer: Any, s: ProduceSettings, stop: Stop,
                      progress: _Progress | None) -> None:
    """``--file-per-record``: each file, read whole, is one record's value."""
    for path in s.files:
        if stop.requested:
            return
        data = await asyncio.to_thread(path.read_bytes)
        await producer.send(s.topic, data, s.key, tuple(s.headers), partition=s.partition)
        if progress is not None:
            progress.advance(len(data))
            progress.submitted(1)


def _report(prog: Program, s: ProduceSettings, producer: Any, bad_input: int,
            started: float, stop: Stop) -> int:
    """The summary on stderr (and --json report on stdout); the exit status."""
    stats = producer.stats
    failed = stats.failed + bad_input
    elapsed = time.monotonic() - started
    if s.json:
        report = stats.as_dict()
        report.update(topic=s.topic, failed=failed, invalid_input=bad_input,
                      seconds=round(elapsed, 3), interrupted=stop.requested)
        prog.out.json(report)
    for message in stats.errors[:5]:
        prog.diag.error(message)
    prog.diag.note(
        f"{stats.records} records ({stats.bytes} bytes) written to {s.topic}, "
        f"{failed} failed, in {elapsed:.2f}s"
    )
    if failed:
        prog.diag.error(f"{failed} records were not written")
        return EXIT_FAILED_RECORDS
    return 0


async def _send(producer: Any, s: ProduceSettings, pieces: list[bytes], prog: Program,
                payload: int | None = None) -> tuple[int, int]:
    """Hand one chunk's records to the producer; returns how many input records were bad and
    how many records were handed over."""
    if s.input_format == "json":
        bad = 0
        sent = 0
        for line in pieces:
            if not line.strip():
                continue
            try:
                args = parse_json_record(line)
            except ValueError as exc:
                bad += 1
                prog.diag.error(f"bad input record: {exc}")
                continue
            partition = args["partition"] if args["partition"] is not None else s.partition
            headers = list(s.headers) + args["headers"]
            await producer.send(s.topic, args["value"], args["key"], headers,
                                partition=partition, timestamp=args["timestamp"])
            sent += 1
        return bad, sent
    null = s.null_value
    if s.key_delimiter is None and not s.headers and s.key is None:
        values: list[Any] = pieces if null is None else [
            None if v == null else v for v in pieces]
        if null is None:
            await producer.send_values(s.topic, values, partition=s.partition,
                                       payload_hint=payload)
            return 0, len(values)
        if None not in values:
            await producer.send_values(s.topic, values, partition=s.partition)
            return 0, len(values)
    kd = s.key_delimiter
    headers = tuple(s.headers)
    for piece in pieces:
        key: bytes | None = s.key
        value: bytes | None = piece
        if kd is not None:
            k, sep, v = piece.partition(kd)
            if sep:
                key, value = k, v
        if null is not None and value == null:
            value = None
        await producer.send(s.topic, value, key, headers, partition=s.partition)
    return 0, len(pieces)


class _Progress:
    """Progress on stderr (only on a terminal): the input files' bytes read, and the records
    the broker acknowledged out of those handed to the producer. Reading ends first; the bar
    stays until the last record is acknowledged (or failed), then goes away."""

    def __init__(self, files: list[Path], producer: Any) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        total = sum(p.stat().st_size for p in files if p.is_file())
        self._producer = producer
        self._submitted = 0
        self._bar = Progress(
            TextColumn("{task.description:>9}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"), console=Console(stderr=True), transient=True,
        )
        self._read = self._bar.add_task("read", total=total or None, unit="bytes")
        self._acked = self._bar.add_task("producing", total=0, unit="records acknowledged")
        self._bar.start()
        self._ticker: asyncio.Task[None] | None = asyncio.get_running_loop().create_task(
            self._tick())

    def advance(self, n: int) -> None:
        self._bar.advance(self._read, n)

    def submitted(self, n: int) -> None:
        self._submitted += n
        self._update()

    def _update(self) -> None:
        stats = self._producer.stats
        self._bar.update(self._acked, total=self._submitted,
                         completed=stats.records + stats.failed)

    async def _tick(self) -> None:
        # Acknowledgements arrive on the event loop; show them as they come (10 times a second).
        while True:
            self._update()
            await asyncio.sleep(0.1)

    def close(self) -> None:
        """After the final flush: the last frame shows every record acknowledged."""
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        self._update()
        self._bar.refresh()
        self._bar.stop()
