"""The cleaner against a plain model (Hypothesis), and a crash at every step of its swap.

Model: the list of every record appended, (offset, key, value, append time). After any
sequence of appends, rolls and cleans (each clean at a later time), reading the log from the
start must give records of the model at their own offsets, such that:
- every record at or above the cleaner checkpoint is there (the dirty section is untouched);
- below it each key appears at most once, as its latest record there, and the latest record of
  every key is there unless it is a tombstone whose delete horizon may have passed;
- a tombstone is never gone before ``delete.retention.ms`` after it was appended.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tidelog.records import NewRecord, build_batch, iter_decoded_batches, keys
from tidelog.storage.cleaner import clean_log
from tidelog.storage.cleaner_map import ENTRY_COST, OffsetMap
from tidelog.storage.config import LogConfig
from tidelog.storage.log import PartitionLog

T0 = 1_700_000_000_000
RETENTION = 100
CONFIG = LogConfig(
    segment_bytes=400, cleanup_policy="compact", delete_retention_ms=RETENTION,
    index_interval_bytes=0, segment_index_bytes=4096, min_cleanable_dirty_ratio=0.0,
)  # fmt: skip

Rec = tuple[int, bytes, bytes | None]


@pytest.fixture(autouse=True)
def _shapes_at_first_sight(monkeypatch: pytest.MonkeyPatch) -> None:
    """The key scan's shape patterns from the first batch of a shape (uniform batches, the
    single-record ones here among them), so the model checks them as well as the walk."""
    monkeypatch.setattr(keys, "SHAPE_AFTER", 0)


def read_all(plog: PartitionLog) -> list[Rec]:
    out: list[Rec] = []
    offset = plog.log_start_offset
    while offset < plog.log_end_offset:
        with plog.read(offset, 1 << 20) as region:
            data = region.read_bytes()
        for batch in iter_decoded_batches(data):
            for r in batch.records():
                assert r.key is not None
                out.append((r.offset, r.key, r.value))
            offset = batch.header.next_offset
    return out


_op = st.one_of(
    st.tuples(st.just("put"), st.lists(
        st.tuples(st.integers(0, 5), st.one_of(st.none(), st.binary(max_size=6))),
        min_size=1, max_size=4,
    )),
    st.tuples(st.just("roll"), st.none()),
    st.tuples(st.just("clean"), st.tuples(st.integers(0, 3 * RETENTION), st.booleans(),
                                           st.booleans())),
)  # fmt: skip


Op = tuple[str, object]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(_op, max_size=40))
def test_cleaning_matches_the_model(
    tmp_path_factory: pytest.TempPathFactory, ops: list[Op]
) -> None:
    d = tmp_path_factory.mktemp("model") / "t-0"
    now = [T0]
    plog = PartitionLog.open(d, CONFIG, clock_ms=lambda: now[0])
    model: list[tuple[int, bytes, bytes | None, int]] = []
    checkpoint = -1
    for kind, arg in ops:
        if kind == "put":
            recs = [NewRecord(v, b"k%d" % k, (), now[0]) for k, v in arg]
            plog.append(bytearray(build_batch(recs)), leader_epoch=0)
            base = len(model)
            model += [(base + i, r.key, r.value, now[0]) for i, r in enumerate(recs)]  # type: ignore[misc]
        elif kind == "roll":
            plog.roll()
        else:
            advance, small_map, force = arg
            now[0] += advance
            memory = ENTRY_COST * 2 if small_map else 1 << 20
            checkpoint, _, _ = clean_log(
                plog, checkpoint, OffsetMap(memory), now_ms=now[0], force=force
            )
            _check(read_all(plog), model, checkpoint, now[0])
    if model:
        # Long after every horizon, two cleans (the first sets horizons, the second uses
        # them) leave no tombstone below the checkpoint.
        plog.roll()
        now[0] += 10 * RETENTION
        checkpoint, _, _ = clean_log(plog, checkpoint, OffsetMap(1 << 20), now_ms=now[0])
        now[0] += 10 * RETENTION
        checkpoint, _, _ = clean_log(
            plog, checkpoint, OffsetMap(1 << 20), now_ms=now[0], force=True
        )
        got = read_all(plog)
        _check(got, model, checkpoint, now[0])
        assert not [r for r in got if r[2] is None and r[0] < checkpoint]
    plog.close()
    shutil.rmtree(d.parent)


def _check(
    got: list[Rec], model: list[tuple[int, bytes, bytes | None, int]], checkpoint: int, now: int
) -> None:
    by_offset = {o: (k, v) for o, k, v, _ in model}
    offsets = [o for o, _, _ in got]
    assert offsets == sorted(set(offsets)), "offsets strictly increase"
    for o, k, v in got:
        assert by_offset[o] == (k, v), f"offset {o} changed"
    present = set(offsets)
    for o, _, _, _ in model:
        if o >= checkpoint:
            assert o in present, f"dirty record {o} is gone"
    latest: dict[bytes, tuple[int, bytes | None, int]] = {}
    for o, k, v, t in model:
        latest[k] = (o, v, t)
    for k, (o, v, t) in latest.items():
        if o not in present:
            assert v is None and now >= t + RETENTION, f"latest record {o} of {k!r} is gone"
    below = [k for o, k, _ in got if o < checkpoint]
    assert len(below) == len(set(below)), "a key twice below the checkpoint"
    for o, k, _ in got:
        if o < checkpoint:
            newer = [m for m, mk, _, _ in model if mk == k and o < m < checkpoint]
            assert not newer, f"{o} of {k!r} stayed although {newer} is newer"


# -- crash at every step of the swap ----------------------------------------------------------


class Crash(Exception):
    pass


def _build(d: Path) -> PartitionLog:
    plog = PartitionLog.open(d, CONFIG, clock_ms=lambda: T0)
    for i in range(60):
        value = None if i % 17 == 0 else b"v%d" % i
        plog.append(bytearray(build_batch([NewRecord(value, b"k%d" % (i % 7), (), T0)])),
                    leader_epoch=0)
    plog.roll()
    plog.append(bytearray(build_batch([NewRecord(b"end", b"end", (), T0)])), leader_epoch=0)
    return plog


def test_a_crash_at_every_step_recovers_old_or_new(tmp_path: Path) -> None:
    ref = _build(tmp_path / "ref" / "t-0")
    old = read_all(ref)
    steps: list[str] = []
    clean_log(ref, -1, OffsetMap(1 << 20), now_ms=T0, hook=steps.append)
    new = read_all(ref)
    ref.close()
    assert old != new and len(steps) > 20
    for k, step in enumerate(steps):
        d = tmp_path / f"crash{k}" / "t-0"
        plog = _build(d)
        seen = [0]

        def hook(name: str, k: int = k, seen: list[int] = seen) -> None:
            if seen[0] == k:
                raise Crash(name)
            seen[0] += 1

        with pytest.raises(Crash):
            clean_log(plog, -1, OffsetMap(1 << 20), now_ms=T0, hook=hook)
        del plog  # killed: nothing is closed or flushed
        again = PartitionLog.open(d, CONFIG, clock_ms=lambda: T0)
        got = read_all(again)
        # The pass crashed in one group: groups before it are installed, later ones not, so
        # each group is old or new; the whole log is a prefix of new then a suffix of old.
        assert _is_old_or_new_per_group(got, old, new), f"mixed after a crash at {step}"
        assert again.log_end_offset == 61
        names = [p.name for p in d.iterdir()]
        assert not [n for n in names if n.endswith((".cleaned", ".swap"))], names
        # And cleaning again from there reaches the same result as without the crash.
        clean_log(again, -1, OffsetMap(1 << 20), now_ms=T0)
        assert read_all(again) == new
        again.close()


def _is_old_or_new_per_group(got: list[Rec], old: list[Rec], new: list[Rec]) -> bool:
    """``got`` equals new's records below some offset and old's from there on."""
    for cut in sorted({o for o, _, _ in old} | {o for o, _, _ in new} | {1 << 62}):
        if got == [r for r in new if r[0] < cut] + [r for r in old if r[0] >= cut]:
            return True
    return False
