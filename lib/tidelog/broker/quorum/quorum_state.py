"""``quorum-state``: the Raft hard state in Kafka's JSON format (``FileQuorumStateStore``).

Format written (Kafka's ``data_version`` 0, what a KRaft node of kraft.version 0 writes)::

    {"clusterId":"","leaderId":-1,"leaderEpoch":E,"votedId":V,"appliedOffset":0,
     "currentVoters":[{"voterId":1}],"highWatermark":H,"data_version":0}

``votedId`` is -1 when the node has not voted in epoch E. ``highWatermark`` is tidelog's own
key (Kafka's reader looks up the fields it knows and ignores others): the high watermark is a
hint tidelog's Raft node clamps to its log on load, so a file without it (one Kafka wrote)
just means the committed prefix is found again once a leader commits. tidelog does not
record the leader it follows, so ``leaderId`` is written as -1.

Read: Kafka's ``data_version`` 0 and 1 (1 replaces ``currentVoters`` with
``votedDirectoryId``), and the JSON of earlier tidelog versions (``{"epoch", "voted_for",
"high_watermark"}``), which is converted on the next write. A Kafka file naming a leader of
its epoch but no vote is read as a vote for that leader: a node that knew a leader in an
epoch must not vote for anyone else in it, and this makes sure it will not.

Anything else (bad JSON, a data_version above 1, missing or mistyped fields, negative epoch)
raises MetadataError naming the file: a node must not vote twice by forgetting.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from tidelog.metadata.errors import MetadataError
from tidelog.raft.types import HardState

QUORUM_STATE_FILE = "quorum-state"
DATA_VERSION = 0


def encode_hard_state(state: HardState, voters: Sequence[int] = ()) -> bytes:
    """The bytes of ``quorum-state`` for ``state`` (Kafka's data_version 0)."""
    return orjson.dumps({
        "clusterId": "",
        "leaderId": -1,
        "leaderEpoch": state.epoch,
        "votedId": -1 if state.voted_for is None else state.voted_for,
        "appliedOffset": 0,
        "currentVoters": [{"voterId": v} for v in sorted(voters)],
        "highWatermark": state.high_watermark,
        "data_version": DATA_VERSION,
    })


def _int(obj: dict[str, Any], key: str, default: int | None = None) -> int:
    value = obj.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise MetadataError(f"{key!r} must be an integer, not {value!r}")
    return value


def decode_hard_state(raw: bytes) -> HardState:
    """Parse ``quorum-state`` (Kafka's or an earlier tidelog's); raise MetadataError."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MetadataError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise MetadataError("not a JSON object")
    if "data_version" not in obj and "voted_for" in obj:  # earlier tidelog versions
        voted = obj["voted_for"]
        state = HardState(_int(obj, "epoch"), None if voted is None else _int(obj, "voted_for"),
                          _int(obj, "high_watermark", 0))
    else:
        version = _int(obj, "data_version")
        if not 0 <= version <= 1:
            raise MetadataError(f"data_version {version} is not 0 or 1 (what tidelog reads)")
        voted_id = _int(obj, "votedId", -1)
        leader_id = _int(obj, "leaderId", -1)
        if voted_id < 0 and leader_id >= 0:
            voted_id = leader_id  # see the module docstring
        state = HardState(_int(obj, "leaderEpoch"), None if voted_id < 0 else voted_id,
                          _int(obj, "highWatermark", 0))
    if state.epoch < 0 or state.high_watermark < 0:
        raise MetadataError("negative epoch or high watermark")
    return state


def read_hard_state(path: Path) -> tuple[HardState, bool]:
    """The hard state in ``path`` (the initial one when the file does not exist), and whether
    the file is in the JSON format of earlier tidelog versions (rewritten on the next sync)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return HardState(), False
    try:
        return decode_hard_state(raw), b'"data_version"' not in raw
    except MetadataError as exc:
        raise MetadataError(f"{path}: unreadable quorum state: {exc}") from None
