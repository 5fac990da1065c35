"""Bounded retries with exponential backoff for retriable client errors.

Policy: an operation is tried until it succeeds, fails with an error that is not retriable,
or its budget runs out. A retriable failure (:class:`~tidelog.client.errors.ClientError` with
``retriable`` true: a dropped connection, a timeout, NOT_LEADER_OR_FOLLOWER,
FENCED_LEADER_EPOCH, LEADER_NOT_AVAILABLE, ...) runs the ``before_retry`` hook (callers
refresh metadata there) and the next try waits ``backoff * 2**n`` seconds, capped at
``max_backoff``. The budget is ``attempts`` tries (None: no count limit) and, when ``budget``
is set, that many seconds from the first try: a retry whose wait would end past the deadline
is not made, so a leader change is followed for as long as a request may take (the programs
set the budget to their request timeout, as Kafka's producer bounds a send by its delivery
timeout) and never longer. Before any broker has answered
(:class:`~tidelog.client.errors.NeverReached`) at most ``unreached_attempts`` tries are made:
a wrong ``-b`` fails in seconds, not after the whole budget.

Nesting: a retry loop run inside another (a metadata refresh inside a produce retry) shares
the outer loop's deadline through a context variable, so nesting never multiplies the budget.

``on_retry`` (optional) hears of each retry before its wait, with the error and the delay,
so a program can say what it is waiting for.

Non-retriable errors and the last failure propagate unchanged.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from tidelog.client.errors import ClientError, NeverReached

T = TypeVar("T")

#: The deadline (time.monotonic) of the outermost retry loop running in this context.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "tidelog_retry_deadline", default=None)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int | None = 8
    backoff: float = 0.05
    max_backoff: float = 1.0
    #: Seconds from the first try after which no retry starts (None: attempts only).
    budget: float | None = None
    #: Tries while no broker of the cluster has ever answered.
    unreached_attempts: int = 8
    #: Hears of each retry before its wait (the error and the delay).
    on_retry: Callable[[ClientError, float], None] | None = field(default=None, compare=False)

    def delay(self, failures: int) -> float:
        return float(min(self.max_backoff, self.backoff * (2 ** max(0, failures - 1))))


def current_deadline() -> float | None:
    """The deadline of the retry loop the caller runs in, if any (time.monotonic)."""
    return _DEADLINE.get()


async def retrying(
    operation: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    before_retry: Callable[[ClientError], Awaitable[None]] | None = None,
) -> T:
    """Run ``operation`` until it succeeds, fails for good, or the budget runs out."""
    outer = _DEADLINE.get()
    deadline = None if policy.budget is None else time.monotonic() + policy.budget
    if outer is not None and (deadline is None or outer < deadline):
        deadline = outer
    token = _DEADLINE.set(deadline)
    try:
        failures = 0
        while True:
            try:
                return await operation()
            except ClientError as exc:
                failures += 1
                if not exc.retriable:
                    raise
                if policy.attempts is not None and failures >= policy.attempts:
                    raise
                if isinstance(exc, NeverReached) and failures >= policy.unreached_attempts:
                    raise
                pause = policy.delay(failures)
                if deadline is not None and time.monotonic() + pause >= deadline:
                    raise
                if policy.on_retry is not None:
                    policy.on_retry(exc, pause)
                await asyncio.sleep(pause)
                if before_retry is not None:
                    await before_retry(exc)
    finally:
        _DEADLINE.reset(token)
