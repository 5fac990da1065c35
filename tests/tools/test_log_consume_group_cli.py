"""log-consume -g GROUP as a program: it consumes the partitions the group assigns it,
commits what it wrote (the next run resumes there; with -c exactly as many as it printed),
shares a topic with another member without overlap, and on Ctrl-C commits and leaves so the
other member takes over at once (well before a session timeout)."""

from __future__ import annotations

import json
import select
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from client_tools_env import Logd, env_for, run, tool

TOPIC = "cg"


@pytest.fixture(scope="module")
def cbroker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logd]:
    logd = Logd(tmp_path_factory.mktemp("logd"),
                env={"TIDELOG_GROUP_INITIAL_REBALANCE_DELAY_MS": "0"}).start()
    try:
        run(logd, "log-topics", "create", TOPIC, "--partitions", "4")
        yield logd
        assert logd.stop() == 0, logd.log()
    finally:
        logd.kill()


def produce(logd: Logd, start: int, count: int) -> None:
    lines = "".join(f"v{i}\n" for i in range(start, start + count)).encode()
    run(logd, "log-produce", "-t", TOPIC, stdin=lines)


def described(logd: Logd, group: str, *args: str) -> list[dict[str, Any]]:
    res = run(logd, "log-groups", "describe", group, *args, "--json", check=None)
    if res.returncode != 0:
        return []
    return [json.loads(line) for line in res.stdout.decode().splitlines()]


def wait_for(what: str, check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_resumes_where_the_group_left_off(cbroker: Logd) -> None:
    produce(cbroker, 0, 40)
    first = run(cbroker, "log-consume", "-g", "resume", "-t", TOPIC, "-e").stdout.split()
    assert sorted(first) == sorted(f"v{i}".encode() for i in range(40))
    rows = described(cbroker, "resume")
    assert sum(r["current_offset"] for r in rows) == 40 and all(r["lag"] == 0 for r in rows)
    produce(cbroker, 40, 10)
    again = run(cbroker, "log-consume", "-g", "resume", "-t", TOPIC, "-e").stdout.split()
    assert sorted(again) == sorted(f"v{i}".encode() for i in range(40, 50))


def test_count_commits_exactly_what_was_printed(cbroker: Logd) -> None:
    out = run(cbroker, "log-consume", "-g", "counted", "-t", TOPIC, "-c", "7",
              "-f", "%p %o %s\\n").stdout.decode().splitlines()
    assert len(out) == 7
    rows = {r["partition"]: r["current_offset"] for r in described(cbroker, "counted")}
    printed: dict[int, int] = {}
    for line in out:
        p, o, _ = line.split()
        printed[int(p)] = max(printed.get(int(p), -1), int(o) + 1)
    assert {p: off for p, off in rows.items() if off is not None} == printed
    rest = run(cbroker, "log-consume", "-g", "counted", "-t", TOPIC, "-e").stdout.split()
    assert len(rest) + 7 >= 50 and len(set(rest)) == len(rest)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_two_members_share_and_a_leaving_member_hands_over_at_once(
        cbroker: Logd, tmp_path: Path, stop_signal: signal.Signals) -> None:
    group = f"pair-{stop_signal.name}"

    def start(name: str) -> tuple[subprocess.Popen[bytes], Path]:
        out = tmp_path / f"{name}.out"
        with out.open("wb") as f:
            proc = subprocess.Popen([tool("log-consume"), "-g", group, "-t", TOPIC, "-v"],
                                    stdout=f, stderr=subprocess.DEVNULL, env=env_for(cbroker))
        return proc, out

    def members() -> list[dict[str, Any]]:
        return described(cbroker, group, "--members")

    def owned() -> list[list[int]]:
        return sorted(sorted(m["assignment"].get(TOPIC, [])) for m in members())

    a, a_out = start("a")
    b: subprocess.Popen[bytes] | None = None
    try:
        wait_for("the first member", lambda: owned() == [[0, 1, 2, 3]])
        b, b_out = start("b")

        def split() -> bool:
            shares = owned()
            parts = sorted(p for share in shares for p in share)
            return len(shares) == 2 and all(shares) and parts == [0, 1, 2, 3]

        wait_for("two members splitting the partitions", split)
        produce(cbroker, 100, 40)
        wanted = {f"v{i}".encode() for i in range(100, 140)}

        def seen() -> set[bytes]:
            return set(a_out.read_bytes().split()) | set(b_out.read_bytes().split())

        wait_for("every new record", lambda: seen() >= wanted)
        a.send_signal(stop_signal)
        assert a.wait(20) == 130
        started = time.monotonic()
        wait_for("the other member taking over", lambda: owned() == [[0, 1, 2, 3]], 8)
        assert time.monotonic() - started < 8  # the session timeout (10 s) was not needed
        produce(cbroker, 200, 20)
        wait_for("records after the hand-over",
                 lambda: set(b_out.read_bytes().split()) >= {f"v{i}".encode()
                                                             for i in range(200, 220)})
    finally:
        for proc in (a, b):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()


def test_a_slow_reader_keeps_the_member_in_its_group(cbroker: Logd) -> None:
    """log-consume -g G -e | a reader that stops reading for longer than the session timeout
    (10 s): the member keeps heartbeating meanwhile (it writes off the event loop), so it is
    never dropped from the group, prints every record once, commits, leaves and exits 0. It
    used to be dropped (commit refused, records read twice) and at times never exited."""
    records = [f"slow-{i:06d}".encode() for i in range(40_000)]  # ~480 KB: fills the pipe
    run(cbroker, "log-topics", "create", "slow", "--partitions", "1")
    run(cbroker, "log-produce", "-t", "slow", stdin=b"".join(r + b"\n" for r in records))
    member = subprocess.Popen([tool("log-consume"), "-g", "slowg", "-t", "slow", "-e", "-v"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=env_for(cbroker))
    assert member.stdout is not None
    try:
        # Output has begun once the pipe is readable (read nothing: communicate reads all).
        assert select.select([member.stdout], [], [], 60)[0]
        # The slow reader under test (not a synchronisation): it reads nothing for 12 s.
        time.sleep(12)
        out, err = member.communicate(timeout=60)
    finally:
        member.kill()
    assert member.returncode == 0, err.decode()
    assert out.splitlines() == records
    assert b"commit refused" not in err and err.count(b"generation") == 1, err.decode()
    rows = described(cbroker, "slowg")
    assert [(r["current_offset"], r["consumer_id"]) for r in rows] == [(len(records), None)]
