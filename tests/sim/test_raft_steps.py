"""Single steps of the Raft state machine: elections, vote rules, fetch, conflicts, snapshots.

Each test drives one or two nodes by hand (ticks and messages) and looks at the Ready they
produce, so a failure points at one rule.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest
from tidelog.errors import TidelogError
from tidelog.raft import (
    BeginQuorumEpoch,
    EndQuorumEpoch,
    Entry,
    FetchError,
    FetchRequest,
    FetchResponse,
    FetchSnapshotRequest,
    FetchSnapshotResponse,
    HardState,
    MemoryStorage,
    Message,
    NotLeaderError,
    PersistentState,
    RaftConfig,
    RaftConfigError,
    RaftInvariantError,
    RaftLog,
    RaftNode,
    Ready,
    Role,
    Snapshot,
    SnapshotId,
    VoteRequest,
    VoteResponse,
    persist,
)
from tidelog.raft.types import EMPTY_SNAPSHOT

VOTERS = (1, 2, 3)


def entries(*epochs: int, start: int = 0) -> tuple[Entry, ...]:
    return tuple(Entry(start + i, e, b"x%d" % (start + i)) for i, e in enumerate(epochs))


def make(
    node_id: int = 1,
    voters: Sequence[int] = VOTERS,
    *,
    log: Sequence[Entry] = (),
    hard: HardState | None = None,
    snapshot: Snapshot = EMPTY_SNAPSHOT,
    seed: int = 0,
    **cfg: int,
) -> RaftNode:
    state = PersistentState(hard or HardState(), snapshot, tuple(log))
    return RaftNode(RaftConfig(node_id, tuple(voters), **cfg), state, random.Random(seed))


def drain(node: RaftNode, storage: MemoryStorage | None = None) -> list[Ready]:
    readies = []
    while node.has_ready():
        r = node.ready()
        if storage is not None:
            persist(storage, r)
        node.advance(r)
        readies.append(r)
    return readies


def sent(readies: list[Ready]) -> list[Message]:
    return [m for r in readies for m in r.messages]


def ticks(node: RaftNode, n: int) -> list[Ready]:
    out = []
    for _ in range(n):
        node.tick()
        out += drain(node)
    return out


def elect(node: RaftNode) -> None:
    """Make ``node`` (a voter of VOTERS) leader by granting it pre-votes and votes."""
    out = ticks(node, 2 * node.config.election_ticks)
    pre = [m for m in sent(out) if isinstance(m, VoteRequest) and m.pre_vote]
    assert pre, "the node asked for pre-votes"
    for m in pre:
        node.step(VoteResponse(m.dst, node.id, m.epoch, True, True))
    votes = [m for m in sent(drain(node)) if isinstance(m, VoteRequest) and not m.pre_vote]
    for m in votes:
        node.step(VoteResponse(m.dst, node.id, m.epoch, True, False))
    drain(node)
    assert node.role is Role.LEADER


# ------------------------------------------------------------------------------- config, log


@pytest.mark.parametrize(
    "kwargs",
    [
        {"voters": ()},
        {"voters": (1, 1)},
        {"voters": (-1,)},
        {"fetch_wait_ticks": 4, "fetch_timeout_ticks": 4},
        {"election_ticks": 5},
        {"check_quorum_ticks": 5},
        {"max_fetch_entries": 0},
    ],
)
def test_config_refuses_what_cannot_work(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"node_id": 1, "voters": (1, 2, 3), **kwargs}
    with pytest.raises(RaftConfigError):
        RaftConfig(**args)  # type: ignore[arg-type]
    assert issubclass(RaftConfigError, TidelogError)


def test_log_epoch_lookups() -> None:
    log = RaftLog(Snapshot(2, 1), entries(1, 2, 2, 4, start=2))  # offsets 2..5
    assert (log.start, log.end, log.last_epoch) == (2, 6, 4)
    assert log.epoch_at(1) == 1  # the snapshot's last entry
    assert log.epoch_at(0) is None  # compacted
    assert log.epoch_at(5) == 4 and log.epoch_at(6) is None
    assert log.end_for_epoch(2) == SnapshotId(5, 2)
    assert log.end_for_epoch(3) == SnapshotId(5, 2)  # largest epoch <= 3 is 2
    assert log.end_for_epoch(9) == SnapshotId(6, 4)
    assert log.end_for_epoch(1) == SnapshotId(3, 1)
    assert log.end_for_epoch(0) is None  # inside the snapshot
    assert RaftLog(EMPTY_SNAPSHOT).epoch_at(-1) == 0


def test_log_refuses_gaps_and_falling_epochs() -> None:
    log = RaftLog(EMPTY_SNAPSHOT, entries(1, 2))
    with pytest.raises(RaftInvariantError):
        log.append([Entry(3, 2, b"")])  # gap
    with pytest.raises(RaftInvariantError):
        log.append([Entry(2, 1, b"")])  # epoch goes down
    log.compact(1)
    with pytest.raises(RaftInvariantError):
        log.truncate(0)
    with pytest.raises(RaftInvariantError):
        log.compact(5)


def test_memory_storage_round_trip() -> None:
    st = MemoryStorage()
    persist(st, Ready(entries=entries(1, 1, 2), hard_state=HardState(2, 1, 2), must_sync=True))
    persist(st, Ready(truncate_to=2, entries=(Entry(2, 3, b"y"),)))
    persist(st, Ready(snapshot=Snapshot(1, 1, b"s")))
    state = st.load()
    assert state.hard_state == HardState(2, 1, 2)
    assert state.snapshot == Snapshot(1, 1, b"s")
    assert [(e.offset, e.epoch) for e in state.entries] == [(1, 1), (2, 3)]
    assert [e.offset for e in st.read(0, 9)] == [1, 2]
    assert st.syncs == 1
    with pytest.raises(RaftInvariantError):
        st.append([Entry(7, 3, b"")])


# ------------------------------------------------------------------------------- elections


def test_single_voter_elects_itself_and_commits() -> None:
    st = MemoryStorage()
    node = make(1, (1,))
    for _ in range(20):
        node.tick()
        drain(node, st)
    assert node.role is Role.LEADER and node.epoch == 1
    assert st.entries[0].control and st.entries[0].epoch == 1
    last = node.propose([b"a", b"b"])
    assert last == 2
    readies = drain(node, st)
    applied = [e.data for r in readies for e in r.committed if not e.control]
    assert applied == [b"a", b"b"]
    assert node.high_watermark == 3 and st.hard_state == HardState(1, 1, 3)


def test_timeout_asks_for_pre_votes_without_changing_state() -> None:
    node = make(1, election_ticks=10)
    out = ticks(node, 19)  # the randomized timeout is in [10, 20)
    assert node.role is Role.PROSPECTIVE
    pre = sent(out)
    assert {m.dst for m in pre} == {2, 3}
    assert all(isinstance(m, VoteRequest) and m.pre_vote and m.epoch == 1 for m in pre)
    assert node.epoch == 0 and node.voted_for is None
    assert all(r.hard_state is None for r in out)


def test_pre_vote_majority_starts_an_election_with_a_synced_vote() -> None:
    node = make(1)
    ticks(node, 20)
    node.step(VoteResponse(2, 1, 1, True, True))
    readies = drain(node)
    assert node.role is Role.CANDIDATE and node.epoch == 1 and node.voted_for == 1
    (r,) = readies
    assert r.hard_state == HardState(1, 1, 0) and r.must_sync
    assert {(m.dst, m.epoch, m.pre_vote) for m in r.messages if isinstance(m, VoteRequest)} == {
        (2, 1, False),
        (3, 1, False),
    }
    node.step(VoteResponse(3, 1, 1, True, False))
    out = drain(node)
    assert node.role is Role.LEADER
    begins = [m for m in sent(out) if isinstance(m, BeginQuorumEpoch)]
    assert {m.dst for m in begins} == {2, 3}
    assert out[0].entries[0].control and out[0].entries[0].epoch == 1


def test_candidate_times_out_and_retries_with_pre_vote() -> None:
    node = make(1)
    ticks(node, 20)
    node.step(VoteResponse(2, 1, 1, True, True))
    drain(node)
    assert node.role is Role.CANDIDATE
    out = ticks(node, 20)
    assert node.role is Role.PROSPECTIVE and node.epoch == 1
    assert any(isinstance(m, VoteRequest) and m.pre_vote and m.epoch == 2 for m in sent(out))


def test_pre_vote_refused_while_the_leader_is_alive() -> None:
    node = make(2)
    node.step(BeginQuorumEpoch(1, 2, 3))
    drain(node)
    assert node.leader_id == 1 and node.epoch == 3
    node.step(VoteRequest(3, 2, 4, 3, 10, pre_vote=True))
    (resp,) = [m for m in sent(drain(node)) if isinstance(m, VoteResponse)]
    assert not resp.granted and resp.leader_id == 1 and resp.epoch == 3
    assert node.epoch == 3  # a pre-vote never changes the receiver


def test_pre_vote_granted_when_no_leader_and_log_ok() -> None:
    node = make(2, log=entries(1, 1), hard=HardState(1, None, 0))
    node.step(VoteRequest(3, 2, 2, 1, 2, pre_vote=True))
    (resp,) = sent(drain(node))
    assert isinstance(resp, VoteResponse) and resp.granted and resp.epoch == 2
    node.step(VoteRequest(3, 2, 2, 1, 1, pre_vote=True))  # shorter log
    (resp,) = sent(drain(node))
    assert isinstance(resp, VoteResponse) and not resp.granted
    assert node.epoch == 1 and node.voted_for is None


def test_one_vote_per_epoch_persisted_before_the_answer() -> None:
    node = make(2)
    node.step(VoteRequest(1, 2, 5, 0, 0))
    (r,) = drain(node)
    assert r.hard_state == HardState(5, 1, 0) and r.must_sync
    assert r.messages == (VoteResponse(2, 1, 5, True, False, None),)
    node.step(VoteRequest(3, 2, 5, 0, 0))
    (resp,) = sent(drain(node))
    assert isinstance(resp, VoteResponse) and not resp.granted
    node.step(VoteRequest(1, 2, 5, 0, 0))  # the same candidate again: still granted
    (resp,) = sent(drain(node))
    assert isinstance(resp, VoteResponse) and resp.granted


def test_vote_refused_for_a_stale_log_or_epoch() -> None:
    node = make(2, log=entries(1, 2, 2), hard=HardState(2, None, 0))
    node.step(VoteRequest(1, 2, 3, 1, 9))  # older last epoch, longer log
    (resp,) = sent(drain(node))
    assert isinstance(resp, VoteResponse) and not resp.granted
    assert node.epoch == 3 and node.voted_for is None  # the higher epoch was still adopted
    node.step(VoteRequest(1, 2, 2, 2, 3))  # an older epoch
    (resp,) = sent(drain(node))
    assert isinstance(resp, VoteResponse) and not resp.granted and resp.epoch == 3


def test_higher_epoch_deposes_a_leader() -> None:
    node = make(1)
    elect(node)
    node.step(VoteRequest(2, 1, node.epoch + 1, 9, 9))
    drain(node)
    assert node.role is Role.FOLLOWER and node.voted_for == 2


def test_leader_resigns_without_a_quorum_of_fetches() -> None:
    node = make(1, check_quorum_ticks=15)
    elect(node)
    ticks(node, 14)
    assert node.role is Role.LEADER
    ticks(node, 1)
    assert node.role is Role.FOLLOWER and node.leader_id is None


def test_leader_keeps_leading_while_one_follower_fetches() -> None:
    node = make(1, check_quorum_ticks=15)
    elect(node)
    for _ in range(40):
        node.tick()
        node.step(FetchRequest(2, 1, node.epoch, node.log_end_offset, node.last_epoch))
        drain(node)
    assert node.role is Role.LEADER


def test_observer_never_campaigns_and_finds_the_leader() -> None:
    node = make(9)
    out = ticks(node, 50)
    assert node.role is Role.FOLLOWER
    fetches = [m for m in sent(out) if isinstance(m, FetchRequest)]
    assert {m.dst for m in fetches} == {1, 2, 3}  # asks the voters in turn
    assert not any(isinstance(m, VoteRequest) for m in sent(out))
    node.step(FetchResponse(2, 9, 4, 3, 0, 0, FetchError.NOT_LEADER))
    out = drain(node)
    assert node.leader_id == 3 and node.epoch == 4
    assert isinstance(sent(out)[-1], FetchRequest) and sent(out)[-1].dst == 3
    with pytest.raises(NotLeaderError, match="leader is 3"):
        node.propose([b"x"])


# ---------------------------------------------------------------------------- replication


def test_fetch_counts_toward_the_high_watermark_only_in_the_leaders_epoch() -> None:
    node = make(1, log=entries(1, 1), hard=HardState(1, None, 0))
    elect(node)  # epoch 2, control entry at offset 2
    assert node.high_watermark == 0
    node.step(FetchRequest(2, 1, 2, 2, 1))  # follower has the two epoch-1 entries
    drain(node)
    assert node.high_watermark == 0  # a majority has them, but they are not of epoch 2
    node.step(FetchRequest(2, 1, 2, 3, 2))
    readies = drain(node)
    assert node.high_watermark == 3
    assert [e.offset for r in readies for e in r.committed] == [0, 1, 2]


def test_leader_parks_an_idle_fetch_and_answers_on_append() -> None:
    node = make(1)
    elect(node)
    end = node.log_end_offset
    node.step(FetchRequest(2, 1, node.epoch, end, node.last_epoch))
    node.step(FetchRequest(3, 1, node.epoch, end, node.last_epoch))
    drain(node)
    hw = node.high_watermark
    node.step(FetchRequest(2, 1, node.epoch, end, node.last_epoch, hw))
    assert not [m for m in sent(drain(node)) if isinstance(m, FetchResponse)]  # parked
    node.propose([b"p"])
    (resp,) = [m for m in sent(drain(node)) if isinstance(m, FetchResponse)]
    assert resp.dst == 2 and [e.data for e in resp.entries] == [b"p"]


def test_parked_fetch_expires_with_an_empty_answer() -> None:
    node = make(1, fetch_wait_ticks=2)
    elect(node)
    end = node.log_end_offset
    node.step(FetchRequest(2, 1, node.epoch, end, node.last_epoch))
    drain(node)
    node.step(FetchRequest(2, 1, node.epoch, end, node.last_epoch, node.high_watermark))
    drain(node)
    out = ticks(node, 2)
    responses = [m for m in sent(out) if isinstance(m, FetchResponse)]
    assert len(responses) == 1 and responses[0].entries == ()


def test_fetch_response_never_splits_a_proposal() -> None:
    node = make(1, max_fetch_entries=1)
    elect(node)
    node.propose([b"a", b"b", b"c"])
    drain(node)
    node.step(FetchRequest(2, 1, node.epoch, 1, node.epoch))
    (resp,) = [m for m in sent(drain(node)) if isinstance(m, FetchResponse)]
    assert [e.data for e in resp.entries] == [b"a", b"b", b"c"]
    assert [e.batch_end for e in resp.entries] == [False, False, True]


def test_follower_appends_and_learns_the_high_watermark() -> None:
    node = make(2)
    node.step(BeginQuorumEpoch(1, 2, 1))
    (fetch,) = sent(drain(node))
    assert fetch == FetchRequest(2, 1, 1, 0, 0, 0)
    node.step(FetchResponse(1, 2, 1, 1, 0, 0, entries=entries(1, 1), high_watermark=1))
    (r,) = drain(node)
    assert r.entries == entries(1, 1) and r.must_sync
    assert r.hard_state == HardState(1, None, 1)
    assert [e.offset for e in r.committed] == [0]
    assert r.messages == (FetchRequest(2, 1, 1, 2, 1, 1),)  # sent after the sync


def test_stale_and_duplicate_fetch_responses_are_ignored() -> None:
    node = make(2)
    node.step(BeginQuorumEpoch(1, 2, 1))
    drain(node)
    resp = FetchResponse(1, 2, 1, 1, 0, 0, entries=entries(1, 1), high_watermark=0)
    node.step(resp)
    drain(node)
    node.step(resp)  # duplicate: answers a fetch at 0, we are at 2
    assert node.log_end_offset == 2 and not drain(node)
    node.step(FetchResponse(3, 2, 0, None, 2, 1))  # an older epoch
    assert not drain(node)


def test_divergent_follower_truncates_and_catches_up() -> None:
    # leader: epochs 1 1 3 (+ control of 4); follower: 1 1 2 2 from a deposed leader
    leader = make(1, log=entries(1, 1, 3), hard=HardState(3, 1, 2))
    elect(leader)
    follower = make(2, log=entries(1, 1, 2, 2), hard=HardState(3, None, 2))
    st = MemoryStorage()
    st.entries = list(entries(1, 1, 2, 2))
    follower.step(BeginQuorumEpoch(1, 2, leader.epoch))
    for _ in range(6):
        msgs = sent(drain(follower, st))
        for m in msgs:
            leader.step(m)
        for m in sent(drain(leader)):
            if m.dst == 2:
                follower.step(m)
    assert follower.entries(0, 99) == leader.entries(0, 99)
    assert [(e.offset, e.epoch) for e in st.entries] == [(0, 1), (1, 1), (2, 3), (3, 4)]


def test_diverging_answer_names_the_end_of_the_shared_epoch() -> None:
    leader = make(1, log=entries(1, 1, 3), hard=HardState(3, 1, 2))
    elect(leader)
    leader.step(FetchRequest(2, 1, leader.epoch, 4, 2))
    (resp,) = [m for m in sent(drain(leader)) if isinstance(m, FetchResponse)]
    assert resp.diverging == SnapshotId(2, 1) and resp.entries == ()


def test_follower_refuses_to_truncate_committed_entries() -> None:
    node = make(2, log=entries(1, 1, 1), hard=HardState(2, None, 3))
    node.step(BeginQuorumEpoch(1, 2, 2))
    drain(node)
    with pytest.raises(RaftInvariantError, match="committed"):
        node.step(FetchResponse(1, 2, 2, 1, 3, 1, diverging=SnapshotId(1, 1)))


# ------------------------------------------------------------------------------ snapshots


def test_compact_and_install_snapshot() -> None:
    leader = make(1)
    elect(leader)
    leader.propose([b"a", b"b"])
    drain(leader)
    leader.step(FetchRequest(2, 1, leader.epoch, leader.log_end_offset, leader.last_epoch))
    drain(leader)
    assert leader.high_watermark == 3
    snap = leader.compact(3, b"state@3")
    (r,) = drain(leader)
    assert r.snapshot == snap and not r.restore_snapshot and r.must_sync
    assert leader.log_start_offset == 3
    with pytest.raises(RaftInvariantError):
        leader.compact(9, b"")

    st = MemoryStorage()
    st.entries = list(entries(0))  # a stale entry the snapshot replaces
    follower = make(3, log=entries(0), hard=HardState(leader.epoch, None, 0))
    follower.step(BeginQuorumEpoch(1, 3, leader.epoch))
    for _ in range(4):
        for m in sent(drain(follower, st)):
            leader.step(m)
        for m in sent(drain(leader)):
            if m.dst == 3:
                assert not isinstance(m, FetchSnapshotResponse) or m.snapshot == snap
                follower.step(m)
    assert follower.snapshot == snap and follower.log_start_offset == 3
    assert follower.high_watermark == 3 and st.snapshot == snap and st.entries == []


def test_install_ready_restores_the_state_machine() -> None:
    follower = make(2)
    follower.step(BeginQuorumEpoch(1, 2, 1))
    drain(follower)
    follower.step(FetchResponse(1, 2, 1, 1, 0, 0, snapshot_id=SnapshotId(5, 1)))
    (fs,) = sent(drain(follower))
    assert fs == FetchSnapshotRequest(2, 1, 1, SnapshotId(5, 1))
    snap = Snapshot(5, 1, b"five")
    follower.step(FetchSnapshotResponse(1, 2, 1, 1, snap))
    (r,) = drain(follower)
    assert r.snapshot == snap and r.restore_snapshot and r.truncate_to == 5
    assert r.hard_state == HardState(1, None, 5)
    assert r.messages == (FetchRequest(2, 1, 1, 5, 1, 5),)


# ------------------------------------------------------------------------- restart, ready


def test_restart_from_persisted_state() -> None:
    st = MemoryStorage()
    node = make(1, (1,))
    for _ in range(20):
        node.tick()
        drain(node, st)
    node.propose([b"a"])
    drain(node, st)
    again = RaftNode(RaftConfig(1, (1,)), st.load(), random.Random(1))
    assert (again.epoch, again.voted_for, again.high_watermark) == (1, 1, 2)
    assert again.role is Role.FOLLOWER and again.leader_id is None
    (r,) = drain(again, st)
    assert [e.data for e in r.committed] == [st.entries[0].data, b"a"]
    for _ in range(20):
        again.tick()
        drain(again, st)
    assert again.role is Role.LEADER and again.epoch == 2


def test_ready_protocol_misuse_is_refused() -> None:
    node = make(1, (1,))
    node.tick()
    with pytest.raises(RaftInvariantError):
        node.advance(Ready())
    ticks(node, 20)
    node.propose([b"x"])
    node.ready()
    with pytest.raises(RaftInvariantError):
        node.ready()


def test_messages_for_another_node_are_ignored() -> None:
    node = make(1)
    node.step(BeginQuorumEpoch(2, 3, 7))
    assert node.epoch == 0 and not node.has_ready()


def test_quorum_status_on_the_leader() -> None:
    node = make(1)
    elect(node)
    node.step(FetchRequest(2, 1, node.epoch, node.log_end_offset, node.last_epoch))
    node.step(FetchRequest(9, 1, node.epoch, 0, 0))  # an observer
    drain(node)
    status = node.quorum_status()
    assert status.leader_id == 1 and status.role == "leader"
    assert [v.node_id for v in status.voters] == [1, 2, 3]
    assert [o.node_id for o in status.observers] == [9]
    assert status.max_follower_lag == 1  # node 3 never fetched
    assert status.high_watermark == node.high_watermark == 1


def test_a_hinted_leader_is_not_proof_of_life() -> None:
    """Regression: voters re-attaching to a dead leader by each other's hints never elected."""
    node = make(2, log=entries(1, 1), hard=HardState(1, None, 0))
    node.step(BeginQuorumEpoch(3, 2, 1))
    drain(node)
    ticks(node, 11)  # leader 3 silent for longer than election_ticks (before any timeout)
    node.step(VoteRequest(1, 2, 2, 1, 1, pre_vote=True))  # shorter log: refused ...
    (resp,) = [m for m in sent(drain(node)) if isinstance(m, VoteResponse)]
    assert not resp.granted and resp.leader_id is None  # ... without naming the dead leader
    other = make(1, log=entries(1, 1), hard=HardState(1, None, 0))
    other.step(FetchResponse(2, 1, 1, 3, 0, 0, FetchError.NOT_LEADER))  # a hint names 3
    drain(other)
    assert other.leader_id == 3
    other.step(VoteRequest(2, 1, 2, 1, 2, pre_vote=True))
    (resp,) = [m for m in sent(drain(other)) if isinstance(m, VoteResponse)]
    assert resp.granted


def test_leader_reannounces_itself_to_silent_voters() -> None:
    node = make(1, begin_epoch_ticks=3)
    elect(node)
    out = ticks(node, 3)
    begins = [m for m in sent(out) if isinstance(m, BeginQuorumEpoch)]
    assert {m.dst for m in begins} == {2, 3}
    out = ticks(node, 1)
    node.step(FetchRequest(2, 1, node.epoch, node.log_end_offset, node.last_epoch))
    out += drain(node)
    out += ticks(node, 2)  # 2 fetched since: only 3 hears again
    assert {m.dst for m in sent(out) if isinstance(m, BeginQuorumEpoch)} == {3}


def test_leader_fences_an_older_epoch_and_yields_to_a_newer_one() -> None:
    node = make(1)
    elect(node)
    node.step(FetchRequest(2, 1, node.epoch - 1, 0, 0))
    (resp,) = sent(drain(node))
    assert isinstance(resp, FetchResponse) and resp.error is FetchError.FENCED_EPOCH
    assert resp.leader_id == 1 and resp.epoch == node.epoch
    node.step(FetchSnapshotRequest(2, 1, node.epoch - 1, SnapshotId(0, 0)))
    (snap_resp,) = sent(drain(node))
    assert isinstance(snap_resp, FetchSnapshotResponse) and snap_resp.snapshot is None
    node.step(FetchRequest(2, 1, node.epoch + 1, 0, 0))
    (resp,) = sent(drain(node))
    assert node.role is Role.FOLLOWER and node.epoch == resp.epoch
    assert isinstance(resp, FetchResponse) and resp.error is FetchError.NOT_LEADER


def test_follower_answers_fetches_with_its_leader() -> None:
    node = make(2)
    node.step(BeginQuorumEpoch(1, 2, 4))
    drain(node)
    node.step(FetchRequest(9, 2, 0, 0, 0))
    (resp,) = [m for m in sent(drain(node)) if m.dst == 9]
    assert isinstance(resp, FetchResponse)
    assert (resp.error, resp.leader_id, resp.epoch) == (FetchError.NOT_LEADER, 1, 4)


def test_follower_forgets_a_leader_that_resigned() -> None:
    node = make(2)
    node.step(BeginQuorumEpoch(1, 2, 4))
    drain(node)
    node.step(FetchResponse(1, 2, 4, None, 0, 0, FetchError.NOT_LEADER))
    drain(node)
    assert node.leader_id is None and node.epoch == 4


def test_observer_gives_up_on_a_silent_leader() -> None:
    node = make(9, election_ticks=10)
    node.step(FetchResponse(1, 9, 2, 3, 0, 0, FetchError.NOT_LEADER))
    drain(node)
    assert node.leader_id == 3
    out = ticks(node, 20)
    assert node.leader_id is None
    assert {m.dst for m in sent(out) if isinstance(m, FetchRequest)} - {3}


def test_load_drops_entries_that_cannot_follow_the_snapshot() -> None:
    """A crash between saving a loaded snapshot and truncating the old log after it."""
    st = MemoryStorage()
    st.snapshot = Snapshot(4, 5, b"s")
    st.entries = [Entry(4, 3, b"old"), Entry(5, 3, b"old")]
    node = RaftNode(RaftConfig(2, VOTERS), st.load(), random.Random(0))
    assert node.log_end_offset == 4 and node.log_start_offset == 4
    (r,) = drain(node, st)
    assert r.truncate_to == 4 and st.entries == []


def test_resign_hands_over_to_the_most_caught_up_voter() -> None:
    """EndQuorumEpoch: successors campaign in order, and the old leader stays gone."""
    node = make(1)
    elect(node)
    node.step(FetchRequest(3, 1, node.epoch, node.log_end_offset, node.last_epoch))
    drain(node)
    node.resign()
    out = sent(drain(node))
    ends = [m for m in out if isinstance(m, EndQuorumEpoch)]
    assert {m.dst for m in ends} == {2, 3}
    assert all(m.preferred_successors == (3, 2) for m in ends)
    assert node.role is Role.FOLLOWER and node.leader_id is None

    successor = make(3)
    successor.step(BeginQuorumEpoch(1, 3, node.epoch))
    drain(successor)
    successor.step(ends[1] if ends[1].dst == 3 else ends[0])
    drain(successor)
    assert successor.leader_id is None
    first = ticks(successor, 1)  # the first preferred successor campaigns at once
    assert any(isinstance(m, VoteRequest) and m.pre_vote for m in sent(first))
    second = make(2)
    second.step(BeginQuorumEpoch(1, 2, node.epoch))
    drain(second)
    second.step(EndQuorumEpoch(1, 2, node.epoch, (3, 2)))
    drain(second)
    # the second one waits half an election timeout more (election_ticks 10: 1 + 5 ticks)
    assert not any(isinstance(m, VoteRequest) for m in sent(ticks(second, 5)))
    assert any(isinstance(m, VoteRequest) for m in sent(ticks(second, 1)))


def test_stale_messages_do_not_revive_a_resigned_leader() -> None:
    node = make(3)
    node.step(BeginQuorumEpoch(1, 3, 2))
    drain(node)
    node.step(EndQuorumEpoch(1, 3, 2, (3, 2)))
    drain(node)
    node.step(BeginQuorumEpoch(1, 3, 2))  # sent before the resignation, delivered after it
    node.step(FetchResponse(1, 3, 2, 1, 0, 0, high_watermark=0))
    node.step(VoteResponse(2, 3, 2, False, True, 1))  # a pre-vote refusal naming it
    drain(node)
    assert node.leader_id is None


def _following(node_id: int, leader: int) -> RaftNode:
    node = make(node_id, log=entries(1, 1), hard=HardState(1, None, 0))
    node.step(BeginQuorumEpoch(leader, node_id, 1))
    drain(node)
    assert node.leader_id == leader and node.role is Role.FOLLOWER
    return node


def _pre_votes(readies: list[Ready]) -> list[VoteRequest]:
    return [m for m in sent(readies) if isinstance(m, VoteRequest) and m.pre_vote]


def test_a_lost_leader_connection_starts_a_campaign_soon_in_id_order() -> None:
    """leader_unreachable: the first surviving voter campaigns after 1 tick, the next one
    election_ticks // 4 later (so they do not split the vote), not after 10-20 ticks."""
    first, second = _following(2, 1), _following(3, 1)
    for node in (first, second):
        node.leader_unreachable(1)
        drain(node)
    assert _pre_votes(ticks(first, 1)), "the first survivor campaigns at once"
    assert first.role is Role.PROSPECTIVE
    assert not _pre_votes(ticks(second, 2))
    assert _pre_votes(ticks(second, 1)), "the second one 1 + 10 // 4 ticks after the loss"
    # the lost leader is no longer alive here: the other survivor's pre-vote is granted
    second.step(VoteRequest(2, 3, 2, 1, 2, pre_vote=True))
    (resp,) = [m for m in sent(drain(second)) if isinstance(m, VoteResponse)]
    assert resp.granted


def test_a_lost_connection_is_only_a_hint() -> None:
    """A connection to a non-leader means nothing; a leader heard again restores the timer;
    a voter that still hears the leader refuses the early pre-vote."""
    node = _following(2, 1)
    node.leader_unreachable(3)  # not the leader
    assert not _pre_votes(ticks(node, 9))
    node = _following(2, 1)
    node.leader_unreachable(1)
    node.step(FetchResponse(1, 2, 1, 1, 2, 0))  # the leader answers a fetch after all
    drain(node)
    assert not _pre_votes(ticks(node, 9)), "a full election timeout again"
    alive = _following(3, 1)
    alive.step(VoteRequest(2, 3, 2, 1, 2, pre_vote=True))
    (resp,) = [m for m in sent(drain(alive)) if isinstance(m, VoteResponse)]
    assert not resp.granted and resp.leader_id == 1
    observer = make(4)
    observer.step(BeginQuorumEpoch(1, 4, 1))
    drain(observer)
    observer.leader_unreachable(1)
    assert not _pre_votes(ticks(observer, 30)), "an observer never campaigns"
