"""truncation_offset: where a follower cuts its log from the leader's epoch answer."""

from __future__ import annotations

from tidelog.replication import truncation_offset

# The follower's epochs: 0 from 0, 2 from 10, 3 from 20; its log ends at 30.
EPOCHS = [(0, 0), (2, 10), (3, 20)]


def mine(epoch: int) -> tuple[int, int]:
    best = (-1, -1)
    for i, (e, _start) in enumerate(EPOCHS):
        if e <= epoch:
            end = EPOCHS[i + 1][1] if i + 1 < len(EPOCHS) else 30
            best = (e, end)
    return best


def test_same_epoch_cuts_to_the_shorter_log() -> None:
    assert truncation_offset(3, 25, mine, 30, 15) == (25, True)
    assert truncation_offset(3, 40, mine, 30, 15) == (30, True)


def test_leader_knows_an_older_epoch_only() -> None:
    # leader's largest epoch <= 3 is 2, ending at 14: we have epoch 2 up to 20
    assert truncation_offset(2, 14, mine, 30, 15) == (14, True)


def test_follower_lacks_the_leaders_epoch_asks_again() -> None:
    # leader answers epoch 1 (which we never had): cut to where our epoch 0 ends, ask again
    assert truncation_offset(1, 12, mine, 30, 5) == (10, False)


def test_undefined_answer_cuts_to_the_high_watermark() -> None:
    assert truncation_offset(-1, -1, mine, 30, 15) == (15, True)
