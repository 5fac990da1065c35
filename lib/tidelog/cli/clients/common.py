"""What the client programs share: delimiter escapes, ``key=value`` options, the cluster from
``-b``, and running the async body with Ctrl-C and SIGTERM turned into a clean stop.

Escapes in delimiters and format strings: ``\\n``, ``\\r``, ``\\t``, ``\\0``, ``\\\\`` and
``\\xHH``; any other backslash sequence is kept as written.

Ctrl-C and SIGTERM: :func:`run_async` installs handlers that set :attr:`Stop.event` instead
of raising, so a producer can flush what it read and a consumer can flush what it printed,
commit it and leave its group; the body returns, and the program exits 130
(:data:`~tidelog.cli.exit_codes.ExitCode.INTERRUPTED`) when the stop was asked for. A second
signal raises KeyboardInterrupt at once.

Timeouts: ``--timeout`` bounds every retried step (:class:`~tidelog.client.retry.RetryPolicy`
``budget``), and :func:`run_async` with ``timeout`` bounds a whole one-shot command (log-topics,
log-groups, log-quorum), so no command outlives its ``--timeout``. What a program waits for
(each retry and its reason) is said on stderr with ``-v`` (:class:`Waits`), and the error at the
end names the last reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tidelog.cli.bootstrap import parse_bootstrap
from tidelog.cli.errors import CliError, UsageError
from tidelog.cli.exit_codes import ExitCode

if TYPE_CHECKING:
    from tidelog.cli.diagnostics import Diagnostics
    from tidelog.client.cluster import Cluster
    from tidelog.client.errors import ClientError

_ESCAPE = re.compile(rb"\\(x[0-9a-fA-F]{2}|.)", re.S)
_SIMPLE = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"0": b"\0", b"\\": b"\\"}


def unescape(text: str) -> bytes:
    """The bytes a delimiter or format written on the command line stands for."""
    raw = text.encode("utf-8", "surrogateescape")

    def one(match: re.Match[bytes]) -> bytes:
        code = match.group(1)
        if code in _SIMPLE:
            return _SIMPLE[code]
        if code[:1] == b"x" and len(code) == 3:
            return bytes([int(code[1:], 16)])
        return match.group(0)

    return _ESCAPE.sub(one, raw)


def parse_pairs(items: list[str], what: str) -> list[tuple[str, str]]:
    """``name=value`` options, in order; a missing ``=`` is a usage error."""
    pairs = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"bad {what} {item!r}: expected NAME=VALUE")
        pairs.append((name, value))
    return pairs


@dataclass
class Waits:
    """Hears of every retry: says on stderr (``-v``) what the program waits for, and keeps the
    last reason for the error a timeout ends with."""

    diag: Diagnostics | None = None
    last: str | None = None

    def __call__(self, error: ClientError, delay: float) -> None:
        self.last = str(error)
        if self.diag is not None:
            self.diag.info(f"waiting {delay:.2g} s to retry: {error}")


def make_cluster(bootstrap: str, timeout: float, waits: Waits | None = None) -> Cluster:
    """A cluster client for ``-b`` whose requests and retried steps end within ``timeout``
    seconds: a leader change or a lost broker is retried for up to ``timeout`` seconds (the
    budget), a bootstrap list that never answers fails after 8 tries (a few seconds); ``waits``
    hears of every retry."""
    from tidelog.cli.client_security import security
    from tidelog.client.cluster import Cluster
    from tidelog.client.retry import RetryPolicy

    servers = parse_bootstrap(bootstrap)
    return Cluster(
        [(s.host, s.port) for s in servers], client_id="tidelog-cli", security=security(),
        connect_timeout=min(timeout, 10.0), request_timeout=timeout,
        retry=RetryPolicy(attempts=None, backoff=0.05, max_backoff=1.0, budget=timeout,
                          unreached_attempts=8, on_retry=waits),
    )


#: Signals that ask a program to stop cleanly: flush what was accepted, commit what was
#: consumed, leave the group, then exit 130. SIGTERM (systemd, kill, CI) is handled like
#: Ctrl-C so a consumer never leaves its group to the session timeout.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class Stop:
    """Set by Ctrl-C or SIGTERM; bodies check it between chunks of work."""

    event: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def requested(self) -> bool:
        return self.event.is_set()


def run_async(body: Callable[[Stop], Awaitable[int]], *, timeout: float | None = None,
              waits: Waits | None = None) -> int:
    """Run ``body`` in a fresh event loop; returns its status, or 130 after Ctrl-C/SIGTERM.

    With ``timeout``, a body still running after that many seconds is cancelled and the run
    fails (status 1) with an error naming the timeout and the last thing ``waits`` heard of.
    """

    async def main() -> int:
        stop = Stop()
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def on_stop_signal() -> None:
            if stop.requested and task is not None:
                task.cancel()  # a second signal: give up waiting
            stop.event.set()

        # Not in the main thread (tests running a body in-process): no handler, no harm.
        for signum in STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, on_stop_signal)
        try:
            async with asyncio.timeout(timeout) as deadline:
                status = await body(stop)
        except asyncio.CancelledError:
            raise KeyboardInterrupt from None
        except TimeoutError:
            if not deadline.expired():
                raise
            why = f" (last: {waits.last})" if waits is not None and waits.last else ""
            raise CliError(f"no answer within --timeout {timeout:g} s{why}") from None
        finally:
            for signum in STOP_SIGNALS:
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(signum)
        return int(ExitCode.INTERRUPTED) if stop.requested else status

    return asyncio.run(main())
