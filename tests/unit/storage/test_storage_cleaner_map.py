"""The cleaner's dedupe map against a dict model (Hypothesis), its exact paths for 64-bit
collisions of k1, and its memory per key against ENTRY_COST."""

from __future__ import annotations

import tracemalloc
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tidelog.storage import cleaner_map
from tidelog.storage.cleaner_map import ENTRY_COST, OffsetMap, stand_ins

_FIXTURE = [HealthCheck.function_scoped_fixture]

# A batch: (uniform: every key one length and the offsets a range) or not, keys by index into
# a small pool (so keys repeat), offsets ascending from a running counter.
_pool = st.lists(st.binary(min_size=0, max_size=40), min_size=1, max_size=12, unique=True)
_batch = st.tuples(
    st.booleans(),
    st.lists(st.one_of(st.none(), st.integers(0, 11)), min_size=1, max_size=12),
    st.integers(0, 3),  # gap before the batch
    st.integers(-3, 3),  # ``first`` relative to the batch's first offset
)


def _check(m: OffsetMap, model: dict[bytes, int], pool: Sequence[bytes], top: int) -> None:
    assert [m.get(k) for k in pool] == [model.get(k, -1) for k in pool]
    assert m.latest(list(pool)) == [model.get(k, -1) for k in pool]
    assert len(m) == len(model)
    assert m.sorted_offsets().tolist() == sorted(model.values())
    assert m.latest_offset == top


def _run(pool: list[bytes], batches: list[tuple[bool, list[int | None], int, int]],
         memory: int) -> None:  # fmt: skip
    m = OffsetMap(memory)
    model: dict[bytes, int] = {}
    offset, top = 0, -1
    for uniform, picks, gap, first_delta in batches:
        offset += gap
        keys: list[bytes | None] = [None if i is None else pool[i % len(pool)] for i in picks]
        if uniform:
            present = [k for k in keys if k is not None] or [pool[0]]
            size = len(present[0])
            keys = [k for k in present if len(k) == size]
            offsets: Sequence[int] = range(offset, offset + len(keys))
            key_size = size
        else:
            offsets, key_size = list(range(offset, offset + len(keys))), -1
        first = offset + first_delta
        m.put_batch(offsets, keys, first, key_size)
        for o, k in zip(offsets, keys, strict=True):
            if k is not None and o >= first:
                model[k] = o
                top = max(top, o)
        offset += len(keys)
        if m.full:
            assert len(model) >= m.capacity
    _check(m, model, [*pool, b"absent", b"", b"x" * 7], top)
    m.clear()
    assert len(m) == 0 and m.get(pool[0]) == -1 and m.latest_offset == -1


@settings(max_examples=60, deadline=None, suppress_health_check=_FIXTURE)
@given(pool=_pool, batches=st.lists(_batch, min_size=1, max_size=25),
       small=st.booleans())  # fmt: skip
def test_the_map_answers_as_a_dict(pool: list[bytes], batches: list[tuple[bool, list[int | None], int, int]], small: bool) -> None:  # noqa: E501
    # A small map merges its buffer after every record or few; a large one once, when asked.
    _run(pool, batches, ENTRY_COST * (20 if small else 100_000))


def _colliding_stand_ins(length: int, data: bytes | bytearray, count: int) -> tuple[
        np.ndarray, np.ndarray]:  # fmt: skip
    """Exact stand-ins of keys of at most 7 bytes (k2: the key's bytes and its length) whose
    k1 is one of three values, so every path for keys sharing a k1 runs (as a 64-bit collision
    of k1 would make it run)."""
    assert length <= 7
    code = np.full(count, length << 56, dtype=np.uint64)
    raw = np.frombuffer(data, dtype=np.uint8).reshape(count, length).astype(np.uint64)
    for i in range(length):
        code |= raw[:, i] << np.uint64(8 * i)
    return code % np.uint64(3), code


@settings(max_examples=60, deadline=None, suppress_health_check=_FIXTURE)
@given(pool=st.lists(st.binary(max_size=7), min_size=1, max_size=12, unique=True),
       batches=st.lists(_batch, min_size=1, max_size=25), small=st.booleans())  # fmt: skip
def test_keys_sharing_k1_stay_apart(
    monkeypatch: pytest.MonkeyPatch, pool: list[bytes],
    batches: list[tuple[bool, list[int | None], int, int]], small: bool,
) -> None:  # fmt: skip
    monkeypatch.setattr(cleaner_map, "stand_ins", _colliding_stand_ins)
    _run(pool, batches, ENTRY_COST * (20 if small else 100_000))


def test_stand_ins_are_exact_for_short_keys_and_apart_from_long_ones() -> None:
    short = [b"", b"\x00", b"\x00\x00", b"a", b"a\x00", b"x" * 15]
    pairs = {tuple(int(v[0]) for v in stand_ins(len(k), k, 1)) for k in short}
    assert len(pairs) == len(short)  # a trailing zero byte makes another key
    long_k2 = stand_ins(16, b"y" * 16, 1)[1]
    assert int(long_k2[0]) >> 63 == 1
    assert all(int(stand_ins(len(k), k, 1)[1][0]) >> 63 == 0 for k in short)


@pytest.mark.parametrize("key_size", [13, 40])
def test_memory_per_key_stays_within_entry_cost(key_size: int) -> None:
    """Filled to capacity with distinct keys (the worst case: every merge inserts), the map's
    peak allocations stay within capacity * ENTRY_COST."""
    m = OffsetMap(ENTRY_COST * 40_000)
    keys = [(b"%0*d" % (key_size, i)) for i in range(m.capacity + 200)]
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        offset = 0
        while not m.full:
            batch = tuple(keys[offset : offset + 100])
            m.put_batch(range(offset, offset + len(batch)), batch, 0, key_size)
            offset += len(batch)
        m.sorted_offsets()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert len(m) >= m.capacity
    # One batch may pass the capacity (the map is checked between batches).
    assert peak <= (m.capacity + 100) * ENTRY_COST
    assert peak >= m.capacity * 24  # the table's three arrays, at least: the test measures
