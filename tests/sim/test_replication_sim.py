"""Seeded simulation runs of partition replication (see replication_sim.py for the model and
its invariants).

The normal suite runs ``DEFAULT_SEEDS`` seeds; set ``TIDELOG_SIM_SEEDS=N`` for N seeds (for
example 5000 before a release), or ``TIDELOG_SIM_SEED=S`` to replay one seed. A failure names
the broken invariant and prints the command that replays the seed exactly.
"""

from __future__ import annotations

import os

import pytest
import replication_sim
from replication_sim import (
    Batch,
    InvariantViolation,
    SimLog,
    SimParams,
    Simulation,
    main,
    params_for_seed,
    run_seed,
)
from tidelog.replication.follower import Truncation

DEFAULT_SEEDS = 150


def _seeds() -> list[int]:
    one = os.environ.get("TIDELOG_SIM_SEED")
    if one is not None:
        return [int(one)]
    return list(range(int(os.environ.get("TIDELOG_SIM_SEEDS", DEFAULT_SEEDS))))


def test_seeds() -> None:
    """Every seed keeps every invariant and converges after the faults stop."""
    failures = []
    for seed in _seeds():
        try:
            run_seed(seed, params_for_seed(seed))
        except InvariantViolation as exc:
            failures.append(str(exc))
            if len(failures) >= 3:
                break
    assert not failures, "\n\n".join(failures)


def test_seeds_exercise_the_faults() -> None:
    """The runs do reach the interesting states: elections, truncations, ISR changes."""
    totals = {"elections": 0, "truncations": 0, "isr_changes": 0, "crashes": 0}
    for seed in range(20):
        result = run_seed(seed, params_for_seed(seed))
        for k in totals:
            totals[k] += result[k]
    assert all(v >= 5 for v in totals.values()), totals


def test_same_seed_same_run() -> None:
    """A seed replays exactly: same trace, same result."""
    runs = []
    for _ in range(2):
        sim = Simulation(7, params_for_seed(7), trace=True)
        result = sim.run()
        runs.append((result, sim.trace))
    assert runs[0] == runs[1]
    assert runs[0][1], "the trace records events"


def test_failure_names_invariant_and_replay_command() -> None:
    sim = Simulation(3, SimParams())
    with pytest.raises(InvariantViolation) as info:
        sim.fail("OneLeaderPerEpoch", "two leaders")
    text = str(info.value)
    assert "OneLeaderPerEpoch violated (seed 3" in text
    assert "python tests/sim/replication_sim.py --seed 3 --trace" in text


def test_no_faults_acknowledges_and_agrees() -> None:
    """Without faults the producers' records are acknowledged and every replica ends equal."""
    sim = Simulation(11, SimParams.without_faults(replicas=3, min_insync=2))
    result = sim.run()
    assert result["acked"] > 200
    logs = [b.log.batches for b in sim.brokers.values()]
    assert all(log == logs[0] for log in logs)
    assert result["elections"] <= 1 and result["truncations"] == 0


def test_a_follower_that_never_truncates_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The invariants can fail: with followers keeping whatever they have (no truncation by
    leader epoch), a seed soon breaks one."""
    monkeypatch.setattr(replication_sim, "truncation_offset",
                        lambda _e, _end, _f, leo, _hw: Truncation(leo, True))
    with pytest.raises(InvariantViolation) as info:
        for seed in range(60):
            run_seed(seed, params_for_seed(seed))
    assert "violated (seed" in str(info.value)


def test_a_leader_that_ignores_its_followers_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A high watermark that runs ahead of the ISR acknowledges what a failover loses."""
    def advance(self: replication_sim.LeaderState, own_offset: int) -> bool:
        if own_offset > self.high_watermark:
            self.high_watermark = own_offset
            return True
        return False

    monkeypatch.setattr(replication_sim.LeaderState, "advance_high_watermark", advance)
    with pytest.raises(InvariantViolation) as info:
        for seed in range(60):
            run_seed(seed, params_for_seed(seed))
    assert "violated (seed" in str(info.value)


def test_sim_log_crash_keeps_a_prefix_of_unsynced_writes() -> None:
    log = SimLog(durable=True)
    log.append_as_leader(0, (10, 11))
    log.sync_all()
    log.append_as_leader(1, (12,))
    log.append_as_leader(1, (13,))
    log.crash(keep=1)  # the first unsynced append reached the disk, the second did not
    assert [b.values for b in log.batches] == [(10, 11), (12,)]
    assert [(e.epoch, e.start_offset) for e in log.epochs.entries] == [(0, 0), (1, 2)]
    assert log.high_watermark == 3  # no checkpoint yet: the log end, as storage reads it
    log.truncate_to(2)  # synced at once, as storage does
    log.append_as_follower([Batch(2, 3, (99,))])
    log.crash(keep=0)
    assert [b.values for b in log.batches] == [(10, 11)]
    # the epoch cache is written through; recovery cuts it to the recovered log end
    assert [(e.epoch, e.start_offset) for e in log.epochs.entries] == [(0, 0)]


def test_replay_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--seed", "5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("seed 5: ok {") and "1 seeds ok" in out
