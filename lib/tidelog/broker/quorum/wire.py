"""The private framing controllers and brokers speak on the quorum port (pure codec, no I/O).

Why not Kafka's KRaft APIs (Vote, BeginQuorumEpoch, Fetch with replica state, ...): tidelog's
quorum is only ever spoken between tidelog nodes, and its messages map one to one onto
:mod:`tidelog.raft.messages`; a small private framing keeps the codec a page long. tidelog(7)
documents it.

Frame: ``uint32 length`` (of what follows), ``uint16 head length``, the head (one JSON
object, key ``k`` names the kind), then the payload (raw bytes, possibly empty). Kinds:

* ``hello`` (first frame of a connection, from the side that connected): ``node`` (its id),
  ``voters`` (its ``--quorum`` text), ``incarnation`` (one id per process start),
  ``cluster`` (the cluster id its metadata holds, null before it has one);
* ``refuse``: ``reason``; the connection is then closed (misconfiguration: see transport);
* a Raft message: ``k`` is its class name (``VoteRequest``, ``FetchResponse``, ...), the
  fields are the message's; ``entries`` travel in the payload as Raft record batches
  (:func:`tidelog.raft.batches.encode_entries`), a snapshot's bytes likewise;
* ``rpc`` (``id``, ``op``, ``args``) and ``reply`` (``id``, ``ok``, then ``result`` or
  ``error`` and ``code``): requests of brokers to the active controller (register,
  heartbeat, forwarded admin operations, quorum description).

Malformed frames raise :class:`WireError` (a TidelogError): the connection is dropped.
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Any

import orjson

from tidelog.errors import TidelogError
from tidelog.raft import messages as m
from tidelog.raft.batches import decode_entries, encode_entries
from tidelog.raft.errors import RaftError
from tidelog.raft.types import Snapshot, SnapshotId
from tidelog.records.errors import CorruptRecordError

FRAME_LEN = struct.Struct(">I")
HEAD_LEN = struct.Struct(">H")
#: The largest frame accepted (a fetch response carries at most max_fetch_entries entries).
MAX_FRAME = 64 << 20

_MESSAGES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        m.VoteRequest, m.VoteResponse, m.BeginQuorumEpoch, m.EndQuorumEpoch, m.FetchRequest,
        m.FetchResponse, m.FetchSnapshotRequest, m.FetchSnapshotResponse,
    )
}


class WireError(TidelogError):
    """A frame that does not decode."""


def frame(head: dict[str, Any], payload: bytes = b"") -> bytes:
    """One frame: length, head length, JSON head, payload."""
    h = orjson.dumps(head)
    if len(h) > 0xFFFF:
        raise WireError("frame head too large")
    return b"".join(
        (FRAME_LEN.pack(HEAD_LEN.size + len(h) + len(payload)), HEAD_LEN.pack(len(h)), h, payload)
    )


def parse_frame(body: bytes) -> tuple[dict[str, Any], bytes]:
    """The head and payload of one frame body (without its length prefix)."""
    if len(body) < HEAD_LEN.size:
        raise WireError(f"frame of {len(body)} bytes has no head")
    (n,) = HEAD_LEN.unpack_from(body)
    if HEAD_LEN.size + n > len(body):
        raise WireError(f"frame head of {n} bytes overruns the frame of {len(body)}")
    try:
        head = orjson.loads(body[HEAD_LEN.size : HEAD_LEN.size + n])
    except orjson.JSONDecodeError as exc:
        raise WireError(f"frame head is not JSON: {exc}") from None
    if not isinstance(head, dict) or not isinstance(head.get("k"), str):
        raise WireError("frame head has no kind")
    return head, body[HEAD_LEN.size + n :]


def encode_message(msg: m.Message) -> bytes:
    """A Raft message as one frame."""
    head: dict[str, Any] = {"k": type(msg).__name__}
    payload = b""
    for f in dataclasses.fields(msg):
        v = getattr(msg, f.name)
        if f.name == "entries":
            payload = b"".join(encode_entries(v, timestamp_ms=0))
            continue
        if f.name == "snapshot":
            head["snapshot"] = None if v is None else [v.end_offset, v.last_epoch]
            payload = b"" if v is None else v.data
            continue
        if isinstance(v, SnapshotId):
            v = [v.end_offset, v.last_epoch]
        elif isinstance(v, m.FetchError):
            v = v.value
        elif isinstance(v, tuple):
            v = list(v)
        head[f.name] = v
    return frame(head, payload)


def decode_message(head: dict[str, Any], payload: bytes) -> m.Message:
    """The Raft message of a frame whose kind is a message class name."""
    cls = _MESSAGES.get(head["k"])
    if cls is None:
        raise WireError(f"unknown message kind {head['k']!r}")
    kwargs: dict[str, Any] = {}
    try:
        for f in dataclasses.fields(cls):
            if f.name == "entries":
                kwargs["entries"] = tuple(decode_entries(payload)) if payload else ()
                continue
            if f.name not in head:
                continue
            v = head[f.name]
            if f.name == "snapshot":
                v = None if v is None else Snapshot(int(v[0]), int(v[1]), payload)
            elif f.name in ("diverging", "snapshot_id"):
                v = None if v is None else SnapshotId(int(v[0]), int(v[1]))
            elif f.name == "error":
                v = m.FetchError(v)
            elif f.name == "preferred_successors":
                v = tuple(int(x) for x in v)
            kwargs[f.name] = v
        msg: m.Message = cls(**kwargs)
    except (TypeError, ValueError, IndexError, CorruptRecordError, RaftError) as exc:
        raise WireError(f"malformed {head['k']}: {exc}") from None
    return msg
