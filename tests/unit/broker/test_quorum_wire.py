"""The quorum framing: every Raft message round-trips; malformed frames raise WireError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tidelog.broker.quorum.wire import (
    FRAME_LEN,
    WireError,
    decode_message,
    encode_message,
    frame,
    parse_frame,
)
from tidelog.raft import Entry, Snapshot, SnapshotId
from tidelog.raft.messages import (
    BeginQuorumEpoch,
    EndQuorumEpoch,
    FetchError,
    FetchRequest,
    FetchResponse,
    FetchSnapshotRequest,
    FetchSnapshotResponse,
    Message,
    VoteRequest,
    VoteResponse,
)

ids = st.integers(0, 1000)
epochs = st.integers(0, 1 << 20)
offsets = st.integers(0, 1 << 40)


@st.composite
def entry_runs(draw: st.DrawFn) -> tuple[Entry, ...]:
    start, epoch = draw(offsets), draw(epochs)
    out: list[Entry] = []
    for _ in range(draw(st.integers(0, 3))):
        n = draw(st.integers(1, 3))
        control = draw(st.booleans())
        if control:
            n = 1
        for i in range(n):
            out.append(Entry(start + len(out), epoch, draw(st.binary(max_size=20)),
                             control=control, batch_end=i == n - 1))
    return tuple(out)


sids = st.builds(SnapshotId, offsets, epochs)
messages: st.SearchStrategy[Message] = st.one_of(
    st.builds(VoteRequest, ids, ids, epochs, epochs, offsets, st.booleans()),
    st.builds(VoteResponse, ids, ids, epochs, st.booleans(), st.booleans(),
              st.none() | ids),
    st.builds(BeginQuorumEpoch, ids, ids, epochs),
    st.builds(EndQuorumEpoch, ids, ids, epochs, st.tuples(ids, ids)),
    st.builds(FetchRequest, ids, ids, epochs, offsets, epochs, offsets),
    st.builds(FetchResponse, ids, ids, epochs, st.none() | ids, offsets, epochs,
              st.sampled_from(FetchError), entry_runs(), offsets, st.none() | sids,
              st.none() | sids),
    st.builds(FetchSnapshotRequest, ids, ids, epochs, sids),
    st.builds(FetchSnapshotResponse, ids, ids, epochs, st.none() | ids,
              st.none() | st.builds(Snapshot, offsets, epochs, st.binary(max_size=50))),
)


@settings(max_examples=200, deadline=None)
@given(messages)
def test_every_message_round_trips(msg: Message) -> None:
    data = encode_message(msg)
    (n,) = FRAME_LEN.unpack_from(data)
    assert n == len(data) - FRAME_LEN.size
    head, payload = parse_frame(data[FRAME_LEN.size:])
    assert decode_message(head, payload) == msg


@pytest.mark.parametrize("body", [
    b"", b"\x00", b"\x00\x09{}", b"\x00\x02{}", b"\x00\x03[1]", b"\x00\x04nope",
])
def test_malformed_frames(body: bytes) -> None:
    with pytest.raises(WireError):
        parse_frame(body)


@pytest.mark.parametrize("head,payload", [
    ({"k": "Nope"}, b""),
    ({"k": "VoteRequest", "src": 1}, b""),  # fields missing
    ({"k": "FetchResponse", "src": 1, "dst": 2, "epoch": 1, "leader_id": 1,
      "fetch_offset": 0, "last_fetched_epoch": 0, "error": 99}, b""),
    ({"k": "FetchResponse", "src": 1, "dst": 2, "epoch": 1, "leader_id": 1,
      "fetch_offset": 0, "last_fetched_epoch": 0}, b"\x00" * 70),  # not a record batch
])
def test_malformed_messages(head: dict[str, object], payload: bytes) -> None:
    with pytest.raises(WireError):
        decode_message(head, payload)


def test_rpc_frames_carry_json_and_bytes() -> None:
    data = frame({"k": "rpc", "id": 7, "op": "heartbeat", "args": {"broker": 4}}, b"xyz")
    head, payload = parse_frame(data[FRAME_LEN.size:])
    assert head["args"] == {"broker": 4} and payload == b"xyz"
