"""GroupMember's heartbeat loop stops when asked even if the cancellation is lost.

Python 3.11's asyncio.wait_for returns an answer that arrives together with a cancellation and
drops the cancellation (gh-86296). log-consume -g then waited forever in leave() while the
heartbeats went on, so the member never exited and stayed in its group (seen with a slow
reader on stdout, which makes answers and signals land in the same loop iteration). The stand-in
coordinator connection below loses the cancellation the same way, every time."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from tidelog.client.cluster import Cluster
from tidelog.client.group import GroupConfig, GroupMember
from tidelog.protocol import Struct


class LosesCancellation:
    """A coordinator connection whose answer wins over a cancellation, as wait_for's does."""

    closed = False

    def __init__(self) -> None:
        self.heartbeats = 0
        self.in_request = asyncio.Event()

    async def request(self, api_key: int, body: Any, **_: Any) -> Struct:
        self.heartbeats += 1
        self.in_request.set()
        if self.heartbeats > 1:  # later ones behave (so a failing test can clean up)
            await asyncio.sleep(3600)
        # the answer "arrived at the same time": returned, the cancellation dropped
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)
        return Struct(error_code=0, throttle_time_ms=0)

    async def close(self) -> None:
        self.closed = True


def test_stop_returns_although_the_cancellation_was_lost() -> None:
    async def scenario() -> None:
        member = GroupMember(Cluster([("127.0.0.1", 9)]), "g", ["t"],
                             GroupConfig(heartbeat_interval_ms=1))
        conn = LosesCancellation()
        member._conn = conn  # type: ignore[assignment]
        member.member_id, member.generation = "m", 1
        member._heartbeat = asyncio.get_running_loop().create_task(member._heartbeats())
        heartbeat = member._heartbeat
        await asyncio.wait_for(conn.in_request.wait(), 5)
        stop = asyncio.ensure_future(member._stop_heartbeat())
        done, _ = await asyncio.wait({stop}, timeout=10)
        if not done:  # before the fix: still heartbeating; end it for good, then fail
            heartbeat.cancel()
            await asyncio.wait({stop}, timeout=10)
        assert stop in done, f"leave() still waiting after {conn.heartbeats} heartbeats"
        assert conn.heartbeats == 1

    asyncio.run(scenario())
