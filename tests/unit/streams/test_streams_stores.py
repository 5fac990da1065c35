"""State stores (RocksDB through rocksdict, and the in-memory one) behave alike; checkpoints
are replaced atomically and an unreadable one means "rebuild"; serdes round-trip and reject
bytes they cannot read with StreamsError; window starts are epoch-aligned."""

from __future__ import annotations

from pathlib import Path

import pytest
from tidelog.streams import INT64, INT_TEXT, JSON, STR, StreamsError, TimeWindows, windowed_serde
from tidelog.streams.restore import apply_changelog
from tidelog.streams.stores import (
    MemoryStore,
    RocksStore,
    read_checkpoint,
    remove_checkpoint,
    write_checkpoint,
)
from tidelog.streams.windows import Windowed


@pytest.mark.parametrize("kind", ["rocks", "memory"])
def test_stores_get_put_delete_prefix_wipe(tmp_path: Path, kind: str) -> None:
    store = RocksStore(tmp_path / "s") if kind == "rocks" else MemoryStore()
    store.put(b"b1", b"x")
    store.put(b"a", b"1")
    store.put(b"b0", b"y")
    store.put(b"c", b"2")
    store.put(b"c", None)
    store.put(b"never", None)
    assert store.get(b"a") == b"1" and store.get(b"c") is None
    assert list(store.items(b"b")) == [(b"b0", b"y"), (b"b1", b"x")]
    assert [k for k, _ in store.items()] == [b"a", b"b0", b"b1"]
    store.flush()
    if isinstance(store, RocksStore):
        store.close()
        store = RocksStore(tmp_path / "s")  # what was written is there after a reopen
        assert store.get(b"b1") == b"x"
    store.wipe()
    assert list(store.items()) == []
    store.put(b"z", b"")
    assert store.get(b"z") == b""
    store.close()


def test_apply_changelog_replays_in_order() -> None:
    store = MemoryStore()
    n = apply_changelog(store, [(b"k", b"1"), (b"j", b"2"), (b"k", b"3"), (b"j", None),
                                (None, b"ignored")])
    assert n == 4 and store.data == {b"k": b"3"}


def test_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "s.checkpoint"
    assert read_checkpoint(path) is None
    write_checkpoint(path, 42)
    assert read_checkpoint(path) == 42
    write_checkpoint(path, 43)
    assert read_checkpoint(path) == 43 and not list(tmp_path.glob("*.tmp"))
    for torn in (b"", b'{"offset": 4', b'{"offset": -1}', b'{"offset": "7"}', b"[]"):
        path.write_bytes(torn)
        assert read_checkpoint(path) is None
    remove_checkpoint(path)
    remove_checkpoint(path)
    assert not path.exists()


def test_serdes_round_trip_and_reject_garbage() -> None:
    for serde, value in [(STR, "héllo"), (INT64, -(2**63)), (INT_TEXT, 12345),
                         (JSON, {"a": [1, None]})]:
        assert serde.deserialize(serde.serialize(value)) == value  # type: ignore[attr-defined]
        assert serde.serialize(None) is None and serde.deserialize(None) is None
    assert INT64.serialize(1) == b"\0" * 7 + b"\1"  # Kafka's LongSerializer
    for serde, bad in [(INT64, b"1234"), (INT_TEXT, b"x"), (JSON, b"{"), (STR, b"\xff")]:
        with pytest.raises(StreamsError, match="not "):
            serde.deserialize(bad)
    w = windowed_serde(STR, 60_000)
    data = w.serialize(Windowed("k", 120_000, 180_000))
    assert data == b"k" + (120_000).to_bytes(8, "big")
    assert w.deserialize(data) == Windowed("k", 120_000, 180_000)
    with pytest.raises(StreamsError):
        w.deserialize(b"short")


def test_window_starts() -> None:
    assert TimeWindows.tumbling(10).starts(25) == [20]
    assert TimeWindows.hopping(10, 5).starts(25) == [20, 25]
    assert TimeWindows.hopping(10, 5).starts(3) == [0]
    assert TimeWindows.hopping(30, 10).starts(35) == [10, 20, 30]


def test_an_unknown_guarantee_is_named() -> None:
    from tidelog.streams.guarantee import make_guarantee

    with pytest.raises(StreamsError, match="unknown processing guarantee 'twice'"):
        make_guarantee("twice", None, None, "app-1")  # type: ignore[arg-type]
