"""Dump the small text files of a log directory: offset checkpoints, leader-epoch-checkpoint,
partition.metadata, meta.properties and quorum-state.

Output (text), after ``Dumping <file>``:

* offset checkpoint: ``topic: T partition: P offset: O`` per entry, in file order;
* leader-epoch-checkpoint: ``epoch: E startOffset: O`` per entry;
* partition.metadata: ``version: 0 topicId: <base64url id>``;
* meta.properties: ``key=value`` per property, in file order;
* quorum-state: the JSON document, indented.

JSON: a ``file`` object, then one ``checkpointEntry`` / ``epochEntry`` object per entry, or one
``partitionMetadata`` / ``metaProperties`` / ``quorumState`` object.

Parsing is the storage layer's (:mod:`tidelog.storage.checkpoint`), so the tool accepts exactly
what the broker accepts; a malformed file is corrupt data (:attr:`DumpExit.CORRUPT`) reported
with the file and line the parser names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from tidelog.cli.dump.kinds import Detected, FileKind
from tidelog.cli.dump.settings import DumpExit, DumpOptions
from tidelog.cli.runner import Program
from tidelog.storage.checkpoint import (
    read_leader_epoch_checkpoint,
    read_meta_properties,
    read_offset_checkpoint,
    read_partition_metadata,
)
from tidelog.storage.errors import CheckpointError


def _read_quorum_state(path: Path) -> dict[str, Any]:
    raw = path.read_bytes()
    try:
        state = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: not JSON: {exc}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a JSON object, found {type(state).__name__}")
    return state


def _render(kind: FileKind, path: Path, shown: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Text lines and JSON objects for one file (raises CheckpointError, OSError)."""
    if kind is FileKind.OFFSET_CHECKPOINT:
        offsets = read_offset_checkpoint(path)
        lines = [
            f"topic: {tp.topic} partition: {tp.partition} offset: {o}" for tp, o in offsets.items()
        ]
        docs = [
            {
                "type": "checkpointEntry",
                "file": shown,
                "topic": tp.topic,
                "partition": tp.partition,
                "offset": o,
            }
            for tp, o in offsets.items()
        ]
        return lines, docs
    if kind is FileKind.LEADER_EPOCH_CHECKPOINT:
        epochs = read_leader_epoch_checkpoint(path)
        lines = [f"epoch: {e.epoch} startOffset: {e.start_offset}" for e in epochs]
        docs = [
            {"type": "epochEntry", "file": shown, "epoch": e.epoch, "startOffset": e.start_offset}
            for e in epochs
        ]
        return lines, docs
    if kind is FileKind.PARTITION_METADATA:
        md = read_partition_metadata(path)
        return [f"version: {md.version} topicId: {md.topic_id}"], [
            {
                "type": "partitionMetadata",
                "file": shown,
                "version": md.version,
                "topicId": md.topic_id,
            }
        ]
    if kind is FileKind.META_PROPERTIES:
        props = read_meta_properties(path)
        return [f"{key}={value}" for key, value in props.items()], [
            {"type": "metaProperties", "file": shown, "properties": props}
        ]
    if kind is FileKind.QUORUM_STATE:
        state = _read_quorum_state(path)
        text = orjson.dumps(state, option=orjson.OPT_INDENT_2).decode()
        return text.split("\n"), [{"type": "quorumState", "file": shown, "state": state}]
    raise ValueError(f"not a metadata file kind: {kind}")


def dump_metadata_file(
    prog: Program, path: Path, shown: str, detected: Detected, opts: DumpOptions
) -> None:
    """Dump one checkpoint or properties file; a malformed one is reported as corrupt."""
    try:
        lines, docs = _render(detected.kind, path, shown)
    except CheckpointError as exc:
        prog.diag.error(f"{shown}: corrupt data: {exc}")
        prog.fail(DumpExit.CORRUPT)
        return
    if opts.json:
        prog.out.json({"type": "file", "file": shown, "kind": detected.kind.value})
        for doc in docs:
            prog.out.json(doc)
    else:
        prog.out.line(f"Dumping {shown}")
        prog.out.lines(lines)
