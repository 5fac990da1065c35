"""Bounded retries with exponential backoff for retriable client errors.

Policy: an operation is tried up to ``attempts`` times; after a retriable failure
(:class:`~tidelog.client.errors.ClientError` with ``retriable`` true: a dropped connection, a
timeout, NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE, ...) the ``before_retry`` hook runs
(callers refresh metadata there) and the next try waits ``backoff * 2**n`` seconds, capped at
``max_backoff``. Non-retriable errors and the last failure propagate unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tidelog.client.errors import ClientError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 8
    backoff: float = 0.05
    max_backoff: float = 1.0

    def delay(self, failures: int) -> float:
        return float(min(self.max_backoff, self.backoff * (2 ** max(0, failures - 1))))


async def retrying(
    operation: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    before_retry: Callable[[ClientError], Awaitable[None]] | None = None,
) -> T:
    """Run ``operation`` until it succeeds, fails for good, or the attempts run out."""
    failures = 0
    while True:
        try:
            return await operation()
        except ClientError as exc:
            failures += 1
            if not exc.retriable or failures >= policy.attempts:
                raise
            await asyncio.sleep(policy.delay(failures))
            if before_retry is not None:
                await before_retry(exc)
