"""RequestMemoryPool: reservations wait while the pool is full, are granted whole below the
limit (so a frame larger than what is left still gets read), are served in order, and a
cancelled waiter gives its turn to the next."""

from __future__ import annotations

import asyncio

from tidelog.broker.memory_pool import RequestMemoryPool


def test_waits_while_full_and_grants_whole_reservations_in_order() -> None:
    async def scenario() -> None:
        pool = RequestMemoryPool(10)
        await pool.reserve(6)
        await pool.reserve(6)  # below the limit when asked: granted whole (12 > 10)
        assert pool.used == 12 and pool.full
        order: list[str] = []

        async def want(name: str, size: int) -> None:
            await pool.reserve(size)
            order.append(name)

        a = asyncio.create_task(want("a", 3))
        b = asyncio.create_task(want("b", 1))
        await asyncio.sleep(0)
        assert order == [] and pool.used == 12
        pool.release(6)  # 6 < 10: a is granted, and with room left so is b
        await asyncio.wait_for(asyncio.gather(a, b), 5)
        assert order == ["a", "b"] and pool.used == 10
        pool.take(100)  # frames that arrived whole are counted at once
        assert pool.used == 110
        pool.release(100)
        pool.release(3)
        pool.release(1)
        pool.release(6)
        assert pool.used == 0 and not pool.full

    asyncio.run(scenario())


def test_a_cancelled_waiter_does_not_block_the_next() -> None:
    async def scenario() -> None:
        pool = RequestMemoryPool(4)
        await pool.reserve(4)
        gone = asyncio.create_task(pool.reserve(4))
        kept = asyncio.create_task(pool.reserve(2))
        await asyncio.sleep(0)
        gone.cancel()
        pool.release(4)
        await asyncio.wait_for(kept, 5)
        assert pool.used == 2

    asyncio.run(scenario())


def test_no_bound() -> None:
    async def scenario() -> None:
        pool = RequestMemoryPool(-1)
        for _ in range(10):
            await asyncio.wait_for(pool.reserve(1 << 30), 5)
        assert not pool.full

    asyncio.run(scenario())
