"""Arbitrary, even nonsensical, messages never crash a node with anything but RaftError.

A message is whatever the wire layer decoded; a node must turn nonsense into its own error
(or ignore it) and stay usable: after the barrage it still produces Readies and ticks.
"""

from __future__ import annotations

import random

from tidelog.raft import (
    BeginQuorumEpoch,
    Entry,
    FetchError,
    FetchRequest,
    FetchResponse,
    FetchSnapshotRequest,
    FetchSnapshotResponse,
    HardState,
    MemoryStorage,
    Message,
    PersistentState,
    RaftConfig,
    RaftError,
    RaftNode,
    Snapshot,
    SnapshotId,
    VoteRequest,
    VoteResponse,
    persist,
)


def _int(r: random.Random) -> int:
    return r.choice((-1, 0, 1, 2, 3, 5, 9, 1 << 40, r.randint(-5, 50)))


def _entries(r: random.Random) -> tuple[Entry, ...]:
    start, epoch = _int(r), _int(r)
    out = []
    for i in range(r.randint(0, 4)):
        off = start + i if r.random() < 0.8 else _int(r)
        out.append(Entry(off, epoch + r.randint(-1, 1), b"f", r.random() < 0.1, r.random() < 0.7))
    return tuple(out)


def random_message(r: random.Random, dst: int) -> Message:
    src = r.choice((1, 2, 3, 9, dst))
    sid = SnapshotId(_int(r), _int(r))
    kind = r.randrange(7)
    if kind == 0:
        return VoteRequest(src, dst, _int(r), _int(r), _int(r), r.random() < 0.5)
    if kind == 1:
        return VoteResponse(
            src, dst, _int(r), r.random() < 0.5, r.random() < 0.5, r.choice((None, 1, 2, 3))
        )
    if kind == 2:
        return BeginQuorumEpoch(src, dst, _int(r))
    if kind == 3:
        return FetchRequest(src, dst, _int(r), _int(r), _int(r), _int(r))
    if kind == 4:
        return FetchResponse(
            src,
            dst,
            _int(r),
            r.choice((None, src, 1, 2)),
            _int(r),
            _int(r),
            r.choice(list(FetchError)),
            _entries(r),
            _int(r),
            sid if r.random() < 0.2 else None,
            sid if r.random() < 0.2 else None,
        )
    if kind == 5:
        return FetchSnapshotRequest(src, dst, _int(r), sid)
    snap = Snapshot(_int(r), _int(r), b"s") if r.random() < 0.7 else None
    return FetchSnapshotResponse(src, dst, _int(r), r.choice((None, src)), snap)


def test_random_messages_raise_only_raft_errors() -> None:
    for seed in range(40):
        r = random.Random(seed)
        node_id = r.choice((1, 2, 9))
        log = tuple(Entry(i, 1 + i // 3, b"x") for i in range(r.randint(0, 7)))
        state = PersistentState(HardState(3, None, min(2, len(log))), entries=log)
        node = RaftNode(RaftConfig(node_id, (1, 2, 3)), state, random.Random(seed))
        storage = MemoryStorage()
        storage.entries = list(log)
        errors = 0
        for _ in range(300):
            if r.random() < 0.2:
                node.tick()
            else:
                try:
                    node.step(random_message(r, node_id))
                except RaftError:
                    errors += 1
            while node.has_ready():
                ready = node.ready()
                persist(storage, ready)
                node.advance(ready)
        assert node.high_watermark <= node.log_end_offset
        assert errors < 300
