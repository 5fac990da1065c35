"""Seeded simulation runs of the Raft quorum (see simulation.py for the model and invariants).

The normal suite runs ``DEFAULT_SEEDS`` seeds; set ``TIDELOG_SIM_SEEDS=N`` for N seeds (for
example 5000 before a release), or ``TIDELOG_SIM_SEED=S`` to replay one seed. A failure names
the broken invariant and prints the command that replays the seed exactly.
"""

from __future__ import annotations

import os

import pytest
from fake_disk import FakeDisk
from simulation import (
    InvariantViolation,
    SimParams,
    Simulation,
    main,
    params_for_seed,
    run_seed,
)
from tidelog.raft import Entry, HardState

DEFAULT_SEEDS = 300


def _seeds() -> list[int]:
    one = os.environ.get("TIDELOG_SIM_SEED")
    if one is not None:
        return [int(one)]
    return list(range(int(os.environ.get("TIDELOG_SIM_SEEDS", DEFAULT_SEEDS))))


def test_seeds() -> None:
    """Every seed keeps every invariant and recovers after the faults stop."""
    failures = []
    for seed in _seeds():
        try:
            run_seed(seed, params_for_seed(seed))
        except InvariantViolation as exc:
            failures.append(str(exc))
            if len(failures) >= 3:
                break
    assert not failures, "\n\n".join(failures)


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
        sim.fail("ElectionSafety", "two leaders")
    text = str(info.value)
    assert "ElectionSafety violated (seed 3" in text
    assert "python tests/sim/simulation.py --seed 3 --trace" in text


def test_no_faults_commits_everything() -> None:
    """Without faults every proposal commits and every voter applies the same sequence."""
    params = SimParams.without_faults(voters=3, observers=1, fault_ticks=100)
    sim = Simulation(11, params)
    sim.run()
    applied = [n.applied for n in sim.nodes.values()]
    longest = max(applied, key=len)
    assert len(longest) > 50
    for seq in applied:
        assert seq == longest[: len(seq)]


def test_fake_disk_loses_unsynced_writes_on_a_crash() -> None:
    disk = FakeDisk()
    disk.append([Entry(0, 1, b"a")])
    disk.save_hard_state(HardState(1, 1, 0))
    disk.sync()
    disk.append([Entry(1, 1, b"b")])
    disk.save_hard_state(HardState(1, 1, 2))
    assert [e.data for e in disk.read(0, 9)] == [b"a", b"b"]  # visible before the crash
    disk.crash(keep=0)
    state = disk.load()
    assert [e.data for e in state.entries] == [b"a"] and state.hard_state == HardState(1, 1, 0)
    assert [e.data for e in disk.read(0, 9)] == [b"a"]
    disk.append([Entry(1, 2, b"c")])
    disk.truncate(1)
    disk.crash(keep=1)  # a prefix of the unsynced writes may survive
    assert [e.data for e in disk.load().entries] == [b"a", b"c"]


def test_replay_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--seed", "5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("seed 5: ok {") and "1 seeds ok" in out
