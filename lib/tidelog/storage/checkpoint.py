"""Kafka's small text files of a log dir: offset checkpoints, leader epochs, partition and
broker metadata.

Formats, byte-compatible with Apache Kafka:

* offset checkpoints (``recovery-point-offset-checkpoint``, ``log-start-offset-checkpoint``,
  ``replication-offset-checkpoint``): line 1 the version ``0``, line 2 the entry count, then one
  ``topic partition offset`` line per entry.
* ``leader-epoch-checkpoint``: the same frame with ``epoch startOffset`` lines.
* ``partition.metadata``: ``version: 0`` and ``topic_id: <base64url uuid, no padding>`` lines
  (Kafka writes no newline after the last line; either is read).
* ``meta.properties``: Java properties (``key=value``, ``#`` comments).

Every write is atomic: a ``.tmp`` sibling is written and fsynced, renamed over the target and
the directory fsynced, so a crash leaves the old or the new file, never a mix. A malformed file
raises :class:`CheckpointError` naming the file and line.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import NamedTuple

from tidelog.storage.errors import CheckpointError
from tidelog.storage.topic_partition import TopicPartition

CHECKPOINT_VERSION = 0


class EpochEntry(NamedTuple):
    epoch: int
    start_offset: int


class PartitionMetadata(NamedTuple):
    version: int
    topic_id: str


def fsync_dir(path: Path) -> None:
    """fsync a directory so a rename or a new file in it survives a crash."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: tmp file, fsync, rename, fsync the directory."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _read_text(path: Path) -> str:
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc}") from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CheckpointError(f"{path}: not UTF-8 text at byte {exc.start}") from None


def _parse_int(path: Path, lineno: int, text: str, what: str) -> int:
    try:
        if not text.lstrip("-").isdigit():
            raise ValueError
        return int(text)
    except ValueError:
        raise CheckpointError(f"{path} line {lineno}: {what} {text!r} is not an integer") from None


def _read_frame(path: Path, fields: int) -> list[tuple[int, list[str]]]:
    """Check the version and count lines; return (line number, fields) of each entry."""
    path = Path(path)
    text = _read_text(path)
    if not text:
        # Kafka reads an empty checkpoint as no entries (the log cleaner leaves an empty
        # cleaner-offset-checkpoint behind); anything else short of the header is corrupt.
        return []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) < 2:
        raise CheckpointError(f"{path} line {len(lines) + 1}: missing the version or count line")
    version = _parse_int(path, 1, lines[0].strip(), "version")
    if version != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path} line 1: unsupported checkpoint version {version}")
    count = _parse_int(path, 2, lines[1].strip(), "entry count")
    body = lines[2:]
    if count < 0 or len(body) != count:
        raise CheckpointError(f"{path} line 2: expected {count} entries but found {len(body)}")
    entries = []
    for i, line in enumerate(body, start=3):
        parts = line.split()
        if len(parts) != fields:
            raise CheckpointError(
                f"{path} line {i}: expected {fields} fields separated by spaces, got {line!r}"
            )
        entries.append((i, parts))
    return entries


def _frame(lines: list[str]) -> bytes:
    return (f"{CHECKPOINT_VERSION}\n{len(lines)}\n" + "".join(x + "\n" for x in lines)).encode()


def read_offset_checkpoint(path: Path) -> dict[TopicPartition, int]:
    """Entries of an offset checkpoint file. FileNotFoundError if it does not exist."""
    result: dict[TopicPartition, int] = {}
    for lineno, (topic, partition, offset) in _read_frame(path, 3):
        p = _parse_int(path, lineno, partition, "partition")
        o = _parse_int(path, lineno, offset, "offset")
        if p < 0:
            raise CheckpointError(f"{path} line {lineno}: negative partition {p}")
        result[TopicPartition(topic, p)] = o
    return result


def write_offset_checkpoint(path: Path, entries: Mapping[TopicPartition, int]) -> None:
    lines = []
    for tp, offset in entries.items():
        if not tp.topic or any(c.isspace() for c in tp.topic):
            raise CheckpointError(f"{path}: topic name {tp.topic!r} cannot be checkpointed")
        lines.append(f"{tp.topic} {tp.partition} {offset}")
    write_atomically(Path(path), _frame(lines))


def read_leader_epoch_checkpoint(path: Path) -> list[EpochEntry]:
    """Entries of a leader-epoch-checkpoint, checked to increase in epoch and start offset."""
    entries: list[EpochEntry] = []
    for lineno, (epoch, start) in _read_frame(path, 2):
        entry = EpochEntry(
            _parse_int(path, lineno, epoch, "epoch"), _parse_int(path, lineno, start, "offset")
        )
        if entries and (
            entry.epoch <= entries[-1].epoch or entry.start_offset < entries[-1].start_offset
        ):
            raise CheckpointError(f"{path} line {lineno}: {entry} does not follow {entries[-1]}")
        entries.append(entry)
    return entries


def write_leader_epoch_checkpoint(path: Path, entries: Iterable[EpochEntry]) -> None:
    write_atomically(Path(path), _frame([f"{e.epoch} {e.start_offset}" for e in entries]))


def _check_topic_id(path: Path, lineno: int, topic_id: str) -> None:
    try:
        raw = base64.urlsafe_b64decode(topic_id + "=" * (-len(topic_id) % 4))
    except ValueError:
        raw = b""
    if len(raw) != 16 or len(topic_id) != 22:
        raise CheckpointError(f"{path} line {lineno}: {topic_id!r} is not a base64url topic id")


def read_partition_metadata(path: Path) -> PartitionMetadata:
    lines = _read_text(path).splitlines()
    if len(lines) < 2 or not lines[0].startswith("version: "):
        raise CheckpointError(f"{path} line 1: expected 'version: 0'")
    version = _parse_int(path, 1, lines[0][len("version: ") :].strip(), "version")
    if version != 0:
        raise CheckpointError(f"{path} line 1: unsupported version {version}")
    if not lines[1].startswith("topic_id: "):
        raise CheckpointError(f"{path} line 2: expected 'topic_id: <id>'")
    topic_id = lines[1][len("topic_id: ") :].strip()
    _check_topic_id(path, 2, topic_id)
    if any(line.strip() for line in lines[2:]):
        raise CheckpointError(f"{path} line 3: unexpected text after the topic id")
    return PartitionMetadata(version, topic_id)


def write_partition_metadata(path: Path, md: PartitionMetadata) -> None:
    """Write exactly as Kafka does: two lines, no newline after the second."""
    _check_topic_id(path, 2, md.topic_id)
    write_atomically(Path(path), f"version: {md.version}\ntopic_id: {md.topic_id}".encode())


def read_meta_properties(path: Path) -> dict[str, str]:
    """Java-properties ``key=value`` (or ``key: value``) lines; ``#``/``!`` comments skipped."""
    props: dict[str, str] = {}
    for lineno, line in enumerate(_read_text(path).splitlines(), start=1):
        text = line.strip()
        if not text or text[0] in "#!":
            continue
        cut = min((i for i in (text.find("="), text.find(":")) if i >= 0), default=-1)
        if cut <= 0:
            raise CheckpointError(f"{path} line {lineno}: expected key=value, got {line!r}")
        props[text[:cut].strip()] = text[cut + 1 :].strip()
    return props


def write_meta_properties(path: Path, props: Mapping[str, str]) -> None:
    """Write like java.util.Properties.store: a blank comment, a date comment, key=value."""
    lines = ["#", "#" + time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime())]
    for key, value in props.items():
        if any(c in key + value for c in "\n\r") or any(c in key for c in "=: #!"):
            raise CheckpointError(f"{path}: property {key!r}={value!r} cannot be written")
        lines.append(f"{key}={value}")
    write_atomically(Path(path), ("\n".join(lines) + "\n").encode())
