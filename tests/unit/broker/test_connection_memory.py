"""Connection + RequestMemoryPool over socket pairs: with a budget of 8 MiB and four clients
sending 6 MiB requests that the handler holds, two are read whole and dispatched while the
other two stay unread past their first receive (TCP holds the rest); once the handler lets go,
every request is read and the budget returns to zero."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Sized

from tidelog.broker.connection import RECV_SIZE, Connection
from tidelog.broker.memory_pool import RequestMemoryPool

MIB = 1 << 20


class HeldDispatcher:
    def __init__(self) -> None:
        self.seen: list[int] = []
        self.release = asyncio.Event()
        self.arrived = asyncio.Condition()

    async def dispatch(self, payload: bytes) -> list[Sized] | None:
        async with self.arrived:
            self.seen.append(len(payload))
            self.arrived.notify_all()
        await self.release.wait()
        return None  # no answer (as for acks=0)


def test_requests_being_read_stay_within_the_budget() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        pool = RequestMemoryPool(8 * MIB)
        dispatcher = HeldDispatcher()
        frame = struct.pack(">i", 6 * MIB) + bytes(6 * MIB)
        conns, runs, senders, clients = [], [], [], []
        for i in range(4):
            server_side, client_side = socket.socketpair()
            server_side.setblocking(False)
            client_side.setblocking(False)
            conn = Connection(
                server_side, dispatcher,  # type: ignore[arg-type]  # a stand-in dispatcher
                max_frame_size=100 * MIB, max_inflight=4, peer=f"client-{i}", pool=pool,
            )
            conns.append(conn)
            clients.append(client_side)
            runs.append(asyncio.create_task(conn.run()))
            senders.append(asyncio.create_task(loop.sock_sendall(client_side, frame)))
        async with dispatcher.arrived:
            await asyncio.wait_for(dispatcher.arrived.wait_for(
                lambda: len(dispatcher.seen) == 2), 30)
        assert dispatcher.seen == [6 * MIB, 6 * MIB]
        assert pool.used == 12 * MIB  # the limit plus less than one frame
        # the two read whole hold nothing in their decoders; the others one receive at most
        assert all(c._decoder.buffered <= RECV_SIZE for c in conns)
        dispatcher.release.set()
        async with dispatcher.arrived:
            await asyncio.wait_for(dispatcher.arrived.wait_for(
                lambda: len(dispatcher.seen) == 4), 30)
        await asyncio.wait_for(asyncio.gather(*senders), 30)
        for c in clients:
            c.close()
        await asyncio.wait_for(asyncio.gather(*runs), 30)
        assert pool.used == 0

    asyncio.run(scenario())
