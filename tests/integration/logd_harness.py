"""Run real ``logd`` processes for tests: random port, temporary data dir, bounded waits.

:class:`Logd` starts ``python -m tidelog.tools.logd`` with ``--listen 127.0.0.1:0`` (the kernel
picks a free port, no race), waits for the ``listening on`` log line, and keeps the port across
restarts so clients reconnect to the same address. stderr goes to a file next to the data dir
(shown when a test fails). Every wait is bounded; a broker left running at the end of a test is
killed. ``host``/``port`` listen elsewhere (a network namespace's address) and ``prefix`` runs
the command through something that ``exec``s it, such as ``ip netns exec NAME``, so the
process signalled is logd itself.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Bounds on a loaded two-core machine (a start imports typer, rich and the protocol tables)
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0
_LISTENING = re.compile(r"listening on [0-9.]+:(\d+)")
#: What the shared test brokers run with (the tests' own settings win): no initial rebalance
#: delay, as Kafka's test brokers (group.initial.rebalance.delay.ms=0), so a new group's first
#: member is not kept waiting the default 3 s; the delay has its own tests.
TEST_BROKER_ENV = {"TIDELOG_GROUP_INITIAL_REBALANCE_DELAY_MS": "0"}


class Logd:
    def __init__(
        self, tmp: Path, *args: str, name: str = "logd", env: dict[str, str] | None = None,
        bare: bool = False, host: str = "127.0.0.1", port: int = 0,
        prefix: Sequence[str] = (),
    ) -> None:
        #: ``bare``: no --data-dir/--listen flags (the environment or defaults decide).
        self.bare = bare
        self.name = name
        self.extra_env = env or {}
        self.data_dir = tmp / f"{name}-data"
        self.log_path = tmp / f"{name}.stderr"
        self.args = list(args)
        self.host = host
        self.port = port
        self.prefix = list(prefix)
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0
        self._launched = 0.0

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def command(self) -> list[str]:
        if self.bare:
            return [*self.prefix, sys.executable, "-m", "tidelog.tools.logd", *self.args]
        return [
            *self.prefix, sys.executable, "-m", "tidelog.tools.logd",
            "--data-dir", str(self.data_dir),
            "--listen", f"{self.host}:{self.port}",
            *self.args,
        ]

    def start(self) -> Logd:
        return self.launch().wait_started()

    def launch(self) -> Logd:
        """Start the process without waiting for it to listen (:meth:`wait_started` does):
        a cluster launches all its nodes first, so their start-ups overlap."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        with self.log_path.open("ab") as f:
            self._log_offset = f.tell()
        env = dict(os.environ)
        env.pop("TIDELOG_CONFIG", None)
        env.update(self.extra_env)
        with self.log_path.open("ab") as err:
            self.proc = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=err, cwd=ROOT, env=env,
            )
        self._launched = time.monotonic()
        return self

    def wait_started(self) -> Logd:
        """Wait (bounded, from the launch) for the ``listening on`` line; learn the port."""
        assert self.proc is not None, "not launched"
        deadline = self._launched + START_TIMEOUT_S
        while time.monotonic() < deadline:
            match = _LISTENING.search(self.new_log())
            if match:
                self.port = int(match.group(1))
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"logd exited with {self.proc.returncode}:\n{self.new_log()}")
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"logd did not start in {START_TIMEOUT_S}s:\n{self.new_log()}")

    def new_log(self) -> str:
        """stderr written since the last start."""
        try:
            data = self.log_path.read_bytes()[self._log_offset:]
        except FileNotFoundError:
            return ""
        return data.decode("utf-8", "replace")

    def log(self) -> str:
        return self.log_path.read_text("utf-8", "replace") if self.log_path.exists() else ""

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal a clean shutdown and wait for it; returns the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                # its threads' and tasks' stacks into its log (logd's SIGUSR1 and SIGUSR2), so the
                # failure shows where the shutdown hung
                self.proc.send_signal(signal.SIGUSR1)
                self.proc.send_signal(signal.SIGUSR2)  # and every asyncio task's
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(1)
                self.proc.kill()
                self.proc.wait(5)
                tail = "\n".join(self.log().splitlines()[-60:])
                raise RuntimeError(f"{self.name}: logd did not stop in {STOP_TIMEOUT_S}s; "
                                   f"the end of its log:\n{tail}") from None
        return self.proc.returncode

    def kill(self) -> None:
        """kill -9: no clean shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def restart(self) -> Logd:
        assert self.stop() == 0, self.new_log()
        return self.start()


def serving(tmp: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Logd]:
    """A module fixture's body: a started logd, stopped cleanly (checked) when done."""
    logd = Logd(tmp, *args, env=env).start()
    yield logd
    try:
        if logd.running:
            assert logd.stop() == 0, logd.log()
    finally:
        logd.kill()
