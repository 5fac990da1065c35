"""LeaderState: the high watermark over the maximal ISR, and ISR proposals (shrink, expand)."""

from __future__ import annotations

from tidelog.replication import LeaderState


def leader(isr: tuple[int, ...] = (1, 2, 3), hw: int = 0, start: int = 0) -> LeaderState:
    return LeaderState(1, (1, 2, 3), isr, 5, 7, epoch_start_offset=start, high_watermark=hw,
                       now_ms=0)


def test_high_watermark_is_the_smallest_isr_offset() -> None:
    state = leader()
    assert not state.advance_high_watermark(10)  # followers unknown: nothing moves
    state.record_fetch(2, 4, 10, now_ms=1)
    assert not state.advance_high_watermark(10)
    state.record_fetch(3, 6, 10, now_ms=1)
    assert state.advance_high_watermark(10) and state.high_watermark == 4
    state.record_fetch(2, 10, 10, now_ms=2)
    state.advance_high_watermark(8)  # the leader's own share (durable offset) bounds it
    assert state.high_watermark == 6


def test_high_watermark_never_moves_back() -> None:
    state = leader(hw=5)
    state.record_fetch(2, 2, 10, now_ms=1)
    state.record_fetch(3, 2, 10, now_ms=1)
    assert not state.advance_high_watermark(10)
    assert state.high_watermark == 5


def test_lagging_follower_is_proposed_out_and_counts_until_committed() -> None:
    state = leader()
    state.record_fetch(2, 10, 10, now_ms=100)
    state.record_fetch(3, 3, 10, now_ms=100)  # never caught up since the epoch began at 0
    assert state.isr_proposal(500, lag_ms=1000, eligible={1, 2, 3}) is None
    proposal = state.isr_proposal(1001, lag_ms=1000, eligible={1, 2, 3})
    assert proposal == (1, 2)
    # pending: the old (larger) ISR still holds the high watermark back
    assert state.advance_high_watermark(10) and state.high_watermark == 3
    assert state.isr_proposal(2000, lag_ms=1000, eligible={1, 2, 3}) is None  # one at a time
    state.update_isr((1, 2, 3), (1, 2), 8, now_ms=2000)
    assert state.pending_isr is None
    state.advance_high_watermark(10)
    assert state.high_watermark == 10


def test_caught_up_follower_joins_and_counts_at_once() -> None:
    state = leader(isr=(1, 2), hw=4, start=4)
    state.record_fetch(2, 8, 8, now_ms=1)
    state.record_fetch(3, 3, 8, now_ms=1)
    assert state.isr_proposal(2, lag_ms=1000, eligible={1, 2, 3}) is None  # below hw
    state.record_fetch(3, 8, 8, now_ms=3)
    assert state.isr_proposal(4, lag_ms=1000, eligible={1, 2, 3}) == (1, 2, 3)
    assert state.maximal_isr == (1, 2, 3)
    state.proposal_failed()
    assert state.maximal_isr == (1, 2)


def test_fenced_follower_does_not_join() -> None:
    state = leader(isr=(1, 2))
    state.record_fetch(2, 0, 0, now_ms=1)
    state.record_fetch(3, 0, 0, now_ms=1)
    assert state.isr_proposal(2, lag_ms=1000, eligible={1, 2}) is None


def test_caught_up_time_follows_the_previous_fetch() -> None:
    state = leader()
    state.record_fetch(2, 5, 10, now_ms=100)  # behind: not caught up now
    assert state.followers[2].last_caught_up_ms == 0
    state.record_fetch(2, 10, 12, now_ms=200)  # it has what the leader had at the last answer
    assert state.followers[2].last_caught_up_ms == 100
    assert state.lagging(1050, lag_ms=1000) == [3]


def test_fetch_from_a_non_replica_is_ignored() -> None:
    state = leader()
    assert not state.record_fetch(9, 5, 5, now_ms=1)


def test_a_follower_that_stopped_fetching_does_not_rejoin() -> None:
    state = leader(isr=(1, 2, 3))
    state.record_fetch(2, 0, 0, now_ms=10)
    state.record_fetch(3, 0, 0, now_ms=10)
    assert state.isr_proposal(1500, lag_ms=1000, eligible={1, 2, 3}) == (1,)
    state.update_isr((1, 2, 3), (1,), 8, now_ms=1500)
    # their last offsets still reach the (unmoved) high watermark, but they are silent
    assert state.isr_proposal(1600, lag_ms=1000, eligible={1, 2, 3}) is None
    state.record_fetch(2, 0, 0, now_ms=1700)
    assert state.isr_proposal(1700, lag_ms=1000, eligible={1, 2, 3}) == (1, 2)
