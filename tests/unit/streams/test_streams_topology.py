"""tidelog.streams' operators run sans-I/O on a fake log and checked against plain Python
models over random inputs: word count (through a repartition topic), stateless operators,
windowed counts (tumbling and hopping, grace, late records, suppression), stream-table and
table-table joins, a restart that restores every store from its changelog, and the errors a
topology can meet (co-partitioning, unreadable records)."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

import pytest
from streams_fake_log import FakeLog
from tidelog.client.murmur2 import partition_for_key
from tidelog.streams import (
    INT64,
    INT_TEXT,
    JSON,
    STR,
    StreamsBuilder,
    StreamsError,
    TimeWindows,
    Windowed,
    windowed_serde,
)

WORDS = ["apple", "pear", "fig", "kiwi", "plum", "lime", "date", "yuzu"]


def lines(rng: random.Random, n: int) -> list[str]:
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randrange(0, 6))) for _ in range(n)]


def word_count(app: str = "wc", caching: bool = False) -> FakeLog:
    b = StreamsBuilder()
    (b.stream("lines", value=STR)
        .flat_map_values(str.split)
        .group_by(lambda _k, w: w, key=STR, value=STR, name="words")
        .count("counts")
        .to_stream()
        .to("counts-out", key=STR, value=INT_TEXT))
    return FakeLog(b.build(app), {"lines": 3, "counts-out": 2}, caching=caching)


@pytest.mark.parametrize("seed", range(5))
def test_word_count_matches_a_model_through_a_repartition(seed: int) -> None:
    rng = random.Random(seed)
    log = word_count()
    text = lines(rng, 200)
    for i, line in enumerate(text):
        log.produce("lines", None, line.encode(), i, partition=rng.randrange(3))
    log.run()
    model = Counter(w for line in text for w in line.split())
    out = {k.decode(): int(v) for k, v in log.latest("counts-out").items()
           if k is not None and v is not None}
    assert out == dict(model)
    # Every update was emitted: one output record per word occurrence.
    assert len(log.read("counts-out")) == sum(model.values())
    # The repartition topic is keyed by word, so each word's count lives in one partition.
    assert sorted(log.topics) == ["counts-out", "lines", "wc-counts-changelog",
                                  "wc-words-repartition"]
    changelog = log.topics["wc-counts-changelog"]
    # One commit: each word's last count only, not every update (the changelog cache).
    assert sum(len(part) for part in changelog) == len(model)
    for word, n in model.items():
        p = partition_for_key(word.encode(), 3)
        assert INT64.deserialize(dict((k, v) for k, v, _ in changelog[p])[word.encode()]) == n


def test_the_record_cache_writes_each_key_once_per_commit() -> None:
    rng = random.Random(3)
    log = word_count(caching=True)
    text = lines(rng, 300)
    for half in (text[:150], text[150:]):
        for i, line in enumerate(half):
            log.produce("lines", None, line.encode(), i, partition=i % 3)
        log.run()  # one commit per task per run
    model = Counter(w for line in text for w in line.split())
    out = log.read("counts-out")
    assert {k.decode(): int(v) for k, v in log.latest("counts-out").items()
            if k is not None and v is not None} == dict(model)
    # At most one output per word per commit, the latest count.
    assert len(model) <= len(out) <= 2 * len(model)


def test_a_restart_restores_the_stores_from_their_changelogs() -> None:
    rng = random.Random(7)
    log = word_count()
    text = lines(rng, 300)
    for i, line in enumerate(text[:150]):
        log.produce("lines", None, line.encode(), i, partition=i % 3)
    log.run()
    log.restart()  # fresh, empty stores: all they know comes from the changelogs
    for i, line in enumerate(text[150:], 150):
        log.produce("lines", None, line.encode(), i, partition=i % 3)
    log.run()
    model = Counter(w for line in text for w in line.split())
    out = {k.decode(): int(v) for k, v in log.latest("counts-out").items()
           if k is not None and v is not None}
    assert out == dict(model)


def test_stateless_operators() -> None:
    b = StreamsBuilder()
    seen: list[tuple[str | None, int]] = []
    nums = b.stream("in", key=STR, value=INT_TEXT)
    small, big, _rest = (nums.peek(lambda k, v: seen.append((k, v)))
                         .filter(lambda _k, v: v >= 0)
                         .branch(lambda _k, v: v < 10, lambda _k, v: v < 100,
                                 lambda _k, _v: True))
    small.map(lambda k, v: (f"{k}!", v * 2)).to("small", key=STR, value=INT_TEXT)
    big.filter_not(lambda _k, v: v % 2 == 1).flat_map(
        lambda k, v: [(k, v), (k, v + 1)]).map_values(str).to("big", key=STR, value=STR)
    log = FakeLog(b.build("sl"), {"in": 1, "small": 1, "big": 1})
    values = [-5, 3, 42, 43, 7, 500, 12]
    for i, v in enumerate(values):
        log.produce("in", b"k%d" % i, str(v).encode(), i)
    log.run()
    assert seen == [(f"k{i}", v) for i, v in enumerate(values)]
    assert log.read("small") == [(b"k1!", b"6", 1), (b"k4!", b"14", 4)]
    assert log.read("big") == [(b"k2", b"42", 2), (b"k2", b"43", 2),
                               (b"k6", b"12", 6), (b"k6", b"13", 6)]


def window_model(records: list[tuple[str, int]], w: TimeWindows, final: bool
                 ) -> tuple[dict[tuple[str, int], int], list[tuple[str, int, int]], int]:
    """Counts per (key, window start) accepted, the final emissions in order, late drops."""
    counts: dict[tuple[str, int], int] = {}
    emitted: list[tuple[str, int, int]] = []
    open_windows: dict[tuple[str, int], int] = {}
    now, dropped = -1, 0
    for key, ts in records:
        now = max(now, ts)
        start = ts - ts % w.advance
        starts = []
        while start > ts - w.size and start >= 0:
            starts.append(start)
            start -= w.advance
        for s in sorted(starts):
            if s + w.size + w.grace <= now:
                dropped += 1
                continue
            counts[(key, s)] = counts.get((key, s), 0) + 1
            open_windows[(key, s)] = counts[(key, s)]
        for (k, s), n in sorted(open_windows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            if s + w.size + w.grace <= now:
                del open_windows[(k, s)]
                emitted.append((k, s, n))
    return counts, emitted, dropped


@pytest.mark.parametrize(("windows", "seed"), [
    (TimeWindows.tumbling(100), 1), (TimeWindows.tumbling(100, grace_ms=50), 2),
    (TimeWindows.hopping(100, 25, grace_ms=30), 3), (TimeWindows.hopping(60, 20), 4)])
def test_windowed_counts_match_a_model(windows: TimeWindows, seed: int) -> None:
    rng = random.Random(seed)
    records, t = [], 0
    for _ in range(300):
        t += rng.randrange(0, 15)
        # Some records are out of order, some of them later than the grace allows.
        records.append((rng.choice("abc"), max(0, t - rng.choice([0, 0, 0, 20, 90]))))
    for final in (False, True):
        b = StreamsBuilder()
        table = b.stream("clicks", key=STR, value=STR).group_by_key(key=STR).windowed_by(
            windows).count("per-window")
        if final:
            table = table.suppress()
        serde = windowed_serde(STR, windows.size)
        table.to_stream().to("out", key=serde, value=INT64)
        log = FakeLog(b.build("win"), {"clicks": 1, "out": 1})
        for key, ts in records:
            log.produce("clicks", key.encode(), b"x", ts)
        log.run()
        counts, emitted, dropped = window_model(records, windows, final)
        out = [(serde.deserialize(k), INT64.deserialize(v)) for k, v, _ in log.read("out")]
        if final:
            got = [(w.key, w.start, n) for w, n in out if w is not None]
            assert sorted(got, key=lambda e: (e[1], e[0])) == emitted
        else:
            latest: dict[tuple[str, int], int] = {}
            for w, n in out:
                assert isinstance(w, Windowed) and n is not None
                latest[(w.key, w.start)] = n
                assert w.end == w.start + windows.size
            assert latest == counts
        assert log.tasks[(0, 0)].dropped == dropped


def test_closed_windows_leave_the_store_and_the_stream_time_survives_a_restart() -> None:
    b = StreamsBuilder()
    b.stream("clicks", key=STR).group_by_key(key=STR).windowed_by(
        TimeWindows.tumbling(10)).count("w").suppress().to_stream().to(
        "out", key=windowed_serde(STR, 10), value=INT64)
    log = FakeLog(b.build("ws"), {"clicks": 1, "out": 1})
    for ts in (1, 2, 11, 25):
        log.produce("clicks", b"k", b"", ts)
    log.run()
    assert len(log.read("out")) == 2  # [0,10) and [10,20) closed at stream time 25
    log.restart()
    log.produce("clicks", b"k", b"", 3)  # late: time 25 was restored with the store
    log.produce("clicks", b"k", b"", 30)  # closes [20,30)
    log.run()
    out = [(windowed_serde(STR, 10).deserialize(k), INT64.deserialize(v))
           for k, v, _ in log.read("out")]
    assert [(w.start, n) for w, n in out if w is not None] == [(0, 2), (10, 1), (20, 1)]
    assert log.tasks[(0, 0)].dropped == 1
    store = log.tasks[(0, 0)].local["w"]
    assert [k for k, _ in store.items(b"w")] == [b"w" + (30).to_bytes(8, "big") + b"k"]


@pytest.mark.parametrize("seed", range(3))
def test_stream_table_join_matches_a_model(seed: int) -> None:
    rng = random.Random(seed)
    b = StreamsBuilder()
    customers = b.table("customers", key=STR, value=JSON, name="customers")
    orders = b.stream("orders", key=STR, value=JSON)
    orders.join(customers, lambda o, c: {**o, "name": c["name"]}).to(
        "enriched", key=STR, value=JSON)
    orders.left_join(customers, lambda o, c: {**o, "name": c and c["name"]}).to(
        "enriched-all", key=STR, value=JSON)
    log = FakeLog(b.build("join"), {"customers": 2, "orders": 2, "enriched": 2,
                                    "enriched-all": 2})
    table: dict[str, str] = {}
    inner, left = defaultdict(list), defaultdict(list)
    for i in range(300):
        cid = f"c{rng.randrange(8)}"
        p = partition_for_key(cid.encode(), 2)
        if rng.random() < 0.3:
            if rng.random() < 0.2:
                table.pop(cid, None)
                log.produce("customers", cid.encode(), None, i, partition=p)
            else:
                table[cid] = f"name{i}"
                log.produce("customers", cid.encode(), JSON.serialize({"name": f"name{i}"}),
                            i, partition=p)
        else:
            log.produce("orders", cid.encode(), JSON.serialize({"n": i}), i, partition=p)
            if cid in table:
                inner[cid].append({"n": i, "name": table[cid]})
            left[cid].append({"n": i, "name": table.get(cid)})
        log.run()  # each record processed as it arrives, as a running application does

    def by_key(topic: str) -> dict[str, list[object]]:
        got = defaultdict(list)
        for k, v, _ in log.read(topic):
            assert k is not None
            got[k.decode()].append(JSON.deserialize(v))
        return got

    assert by_key("enriched") == inner
    assert by_key("enriched-all") == left


def test_table_table_join_follows_both_sides() -> None:
    b = StreamsBuilder()
    users = b.table("users", key=STR, value=STR, name="users")
    counts = b.stream("visits", key=STR).group_by_key(key=STR).count("visits")
    users.join(counts, lambda name, n: f"{name}:{n}").to_stream().to(
        "joined", key=STR, value=STR)
    users.left_join(counts, lambda name, n: f"{name}:{n}").to_stream().to(
        "left", key=STR, value=STR)
    log = FakeLog(b.build("tt"), {"users": 1, "visits": 1, "joined": 1, "left": 1})
    steps: list[tuple[str, bytes, bytes | None]] = [
        ("users", b"u1", b"ann"), ("visits", b"u1", b""), ("visits", b"u2", b""),
        ("users", b"u2", b"bob"), ("visits", b"u1", b""), ("users", b"u1", None)]
    for i, (topic, key, value) in enumerate(steps):
        log.produce(topic, key, value, i)
        log.run()
    # No joined row is a None change (a tombstone), whether or not there was one before.
    assert [(k, v) for k, v, _ in log.read("joined")] == [
        (b"u1", None), (b"u1", b"ann:1"), (b"u2", None), (b"u2", b"bob:1"),
        (b"u1", b"ann:2"), (b"u1", None)]
    assert [(k, v) for k, v, _ in log.read("left")] == [
        (b"u1", b"ann:None"), (b"u1", b"ann:1"), (b"u2", None), (b"u2", b"bob:1"),
        (b"u1", b"ann:2"), (b"u1", None)]


def test_reduce_and_aggregate() -> None:
    b = StreamsBuilder()
    amounts = b.stream("pay", key=STR, value=INT_TEXT).group_by_key(key=STR, value=INT_TEXT)
    amounts.reduce(max, "max").to_stream().to("max", key=STR, value=INT_TEXT)
    amounts.aggregate(lambda: {"n": 0, "sum": 0},
                      lambda _k, v, a: {"n": a["n"] + 1, "sum": a["sum"] + v},
                      name="stats").to_stream().to("stats", key=STR, value=JSON)
    log = FakeLog(b.build("agg"), {"pay": 1, "max": 1, "stats": 1})
    for i, (k, v) in enumerate([("a", 5), ("b", 1), ("a", 9), ("a", 2)]):
        log.produce("pay", k.encode(), str(v).encode(), i)
    log.run()
    assert log.latest("max") == {b"a": b"9", b"b": b"1"}
    assert JSON.deserialize(log.latest("stats")[b"a"]) == {"n": 3, "sum": 16}


def test_topics_read_together_must_be_co_partitioned() -> None:
    b = StreamsBuilder()
    table = b.table("customers", key=STR, value=STR)
    b.stream("orders", key=STR, value=STR).join(table, lambda o, c: o + c).to("out")
    with pytest.raises(StreamsError, match=r"co-partitioned.*customers has 2, orders has 3"):
        FakeLog(b.build("cp"), {"customers": 2, "orders": 3, "out": 1})


def test_an_unreadable_record_is_named_and_not_committed() -> None:
    b = StreamsBuilder()
    b.stream("in", value=INT_TEXT).group_by_key().count("c")
    log = FakeLog(b.build("bad"), {"in": 1})
    log.produce("in", b"k", b"1", 0)
    log.produce("in", b"k", b"one", 1)
    with pytest.raises(StreamsError, match=r"in/0 offset 1: not a decimal integer"):
        log.run()
    assert log.tasks[(0, 0)].offsets == {"in": 1}


def test_names_and_misuse() -> None:
    b = StreamsBuilder()
    b.stream("a").group_by_key().count("same")
    with pytest.raises(StreamsError, match="two stores are named 'same'"):
        b.stream("b").group_by_key().count("same")
    with pytest.raises(StreamsError, match="windowed aggregation"):
        StreamsBuilder().table("t").suppress()
    with pytest.raises(StreamsError, match="advance"):
        TimeWindows.hopping(10, 20)
    with pytest.raises(StreamsError, match="needs an id"):
        StreamsBuilder().build("")
    topo = StreamsBuilder()
    topo.stream("x", key=STR).group_by(lambda _k, v: v, name="g").count("n")
    text = topo.build("app").describe()
    assert "store n (changelog app-n-changelog)" in text
    assert "writes app-g-repartition" in text
