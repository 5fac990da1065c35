"""--timeout means what it says, waiting says why with -v, and a following log-consume outlives
a broker restart (as kcat does) instead of exiting a few seconds after its broker stops."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from client_tools_env import TIMEOUT, env_for, run, tool
from logd_harness import Logd


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield s.getsockname()[1]


@pytest.fixture
def refused_port() -> int:
    """A port nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _timed(*argv: str) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    env = dict(os.environ)
    env.pop("TIDELOG_BOOTSTRAP", None)
    started = time.monotonic()
    result = subprocess.run([tool(argv[0]), *argv[1:]], capture_output=True, env=env,
                            timeout=TIMEOUT, check=False)
    return time.monotonic() - started, result


@pytest.mark.parametrize("argv", [
    ["log-topics", "create", "t", "--timeout", "2"],
    ["log-topics", "list", "--timeout", "2"],
    ["log-groups", "list", "--timeout", "2"],
    ["log-quorum", "describe", "--status", "--timeout", "2"],
])
def test_a_silent_broker_fails_within_the_timeout(silent_port: int, argv: list[str]) -> None:
    # Before: each of 8 tries waited the whole request timeout (16 s and more).
    elapsed, result = _timed(*argv, "-b", f"127.0.0.1:{silent_port}", "-v")
    assert result.returncode == 1, result.stderr
    assert b"--timeout 2 s" in result.stderr
    assert elapsed < 10, elapsed


def test_connection_refused_says_why_with_v(refused_port: int) -> None:
    _, quiet = _timed("log-topics", "list", "-b", f"127.0.0.1:{refused_port}", "--timeout", "1")
    assert quiet.returncode == 1
    assert b"waiting" not in quiet.stderr
    # long enough for a retry to happen (and be told) on a loaded machine: start-up alone
    # took the whole second once
    _, verbose = _timed("log-topics", "list", "-b", f"127.0.0.1:{refused_port}", "--timeout",
                        "4", "-v")
    assert verbose.returncode == 1
    assert b"to retry: " in verbose.stderr and b"cannot connect" in verbose.stderr


class _Lines:
    """The lines a process writes to a pipe, read by a thread so waits can be bounded."""

    def __init__(self, pipe: IO[bytes] | None) -> None:
        self.lines: list[bytes] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._thread.start()

    def _read(self, pipe: Any) -> None:
        for line in pipe:
            with self._cond:
                self.lines.append(line.rstrip(b"\n"))
                self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[bytes]], bool], what: str,
                 timeout: float = TIMEOUT) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: predicate(self.lines), timeout), (what, self.lines)


def test_following_consumer_survives_a_broker_restart(tmp_path: Path) -> None:
    broker = Logd(tmp_path, "--num-partitions", "1").start()
    consumer = None
    try:
        run(broker, "log-produce", "-t", "tail", stdin=b"before\n")
        consumer = subprocess.Popen([tool("log-consume"), "-t", "tail", "-v"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    env=env_for(broker))
        out, err = _Lines(consumer.stdout), _Lines(consumer.stderr)
        out.wait_for(lambda lines: b"before" in lines, "the first record")
        assert broker.stop() == 0
        err.wait_for(lambda lines: any(b"partitions unreachable" in ln for ln in lines),
                     "a warning")
        # Several waits of the capped backoff: well past the 4 s after which it used to exit.
        err.wait_for(lambda lines: sum(b"waiting 1 s to retry" in ln for ln in lines) >= 3,
                     "three capped retries")
        assert consumer.poll() is None, b"\n".join(err.lines)
        broker.start()
        run(broker, "log-produce", "-t", "tail", stdin=b"after\n")
        out.wait_for(lambda lines: b"after" in lines, "the record produced after the restart")
        assert out.lines == [b"before", b"after"]
        consumer.send_signal(signal.SIGINT)
        assert consumer.wait(TIMEOUT) == 130
    finally:
        if consumer is not None and consumer.poll() is None:
            consumer.kill()
            consumer.wait(5)
        if broker.running:
            broker.stop()
        broker.kill()


def test_bounded_consumer_gives_up_after_the_timeout(tmp_path: Path) -> None:
    broker = Logd(tmp_path, "--num-partitions", "1").start()
    try:
        run(broker, "log-produce", "-t", "bounded", stdin=b"one\n")
        env = env_for(broker)
        consumer = subprocess.Popen([tool("log-consume"), "-t", "bounded", "-c", "2",
                                     "--timeout", "2"], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=env)
        out = _Lines(consumer.stdout)
        out.wait_for(lambda lines: b"one" in lines, "the first record")
        assert broker.stop() == 0
        assert consumer.wait(TIMEOUT) == 1
        assert consumer.stderr is not None
        assert b"partitions unreachable for over 2s" in consumer.stderr.read()
    finally:
        broker.kill()
