"""tidelog.broker.liveness: what Metadata answers say of a broker that has just died.

A broker this node lost a connection to and whose listener refuses connections is a suspect
(its partitions answered without a leader before the controller fences it); a fenced broker
stays listed a while (librdkafka's handle teardown of a broker missing from an answer takes
partitions off their new leader). Both found by the failover benchmark's client traces.
"""

from __future__ import annotations

import asyncio
import socket
import uuid

from tidelog.broker.liveness import BrokerLiveness, FencedGrace, ListenerProbe
from tidelog.metadata.image import MetadataImage
from tidelog.metadata.records import Endpoint, RegisterBrokerRecord


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def refused_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


async def listening_server() -> asyncio.Server:
    def on_connect(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.close()
    return await asyncio.start_server(on_connect, "127.0.0.1", 0)


class CountingProbe(ListenerProbe):
    attempts = 0

    async def _probe(self, host: str, port: int) -> bool:
        self.attempts += 1
        return await super()._probe(host, port)


def test_the_probe_tells_a_refusing_listener_from_a_listening_one() -> None:
    async def body() -> None:
        server = await listening_server()
        port = server.sockets[0].getsockname()[1]
        probe = CountingProbe(cache_s=0.0)
        try:
            assert await probe.refuses("127.0.0.1", refused_port())
            assert not await probe.refuses("127.0.0.1", port)
            # concurrent askers share one connection attempt
            results = await asyncio.gather(*(probe.refuses("127.0.0.1", port) for _ in range(5)))
            assert results == [False] * 5 and probe.attempts == 3
            # a result is reused for cache_s
            cached = CountingProbe(cache_s=60.0)
            assert not await cached.refuses("127.0.0.1", port)
            assert not await cached.refuses("127.0.0.1", port)
            assert cached.attempts == 1
        finally:
            server.close()
            await server.wait_closed()
    asyncio.run(body())


def test_a_fenced_broker_stays_listed_for_the_grace_then_goes() -> None:
    clock = Clock()
    grace = FencedGrace(3.0, clock)
    inc = uuid.UUID(int=1)
    assert grace.listed(2, inc, fenced=False)
    assert grace.listed(2, inc, fenced=True)  # just fenced
    clock.now += 2.9
    assert grace.listed(2, inc, fenced=True)
    clock.now += 0.2
    assert not grace.listed(2, inc, fenced=True)
    # a new incarnation fenced (it died again) gets its own grace
    assert grace.listed(2, uuid.UUID(int=2), fenced=True)
    # back and unfenced: listed, and a later fence starts a fresh grace
    assert grace.listed(2, inc, fenced=False)
    assert grace.listed(2, inc, fenced=True)
    grace.forget_except([])
    assert not grace._fenced_since


def image(ports: dict[int, int], fenced: frozenset[int] = frozenset()) -> MetadataImage:
    return MetadataImage().apply_all(
        RegisterBrokerRecord(b, uuid.UUID(int=b), b, (Endpoint("PLAINTEXT", "127.0.0.1", port),),
                             None, b in fenced)
        for b, port in ports.items())


def test_suspects_are_lost_brokers_whose_listener_refuses() -> None:
    async def body() -> None:
        server = await listening_server()
        alive = server.sockets[0].getsockname()[1]
        dead = refused_port()
        liveness = BrokerLiveness(1, ListenerProbe(cache_s=0.0))
        try:
            img = image({1: dead, 2: dead, 3: alive, 4: dead}, fenced=frozenset({4}))
            # 1 is this node, 3 still listens (a hung broker, or one just restarted), 4 is
            # fenced already (the metadata says it), 5 is unknown
            assert await liveness.suspects(img, {1, 2, 3, 4, 5}) == {2}
            assert await liveness.suspects(img, set()) == set()  # nothing lost: no probe
        finally:
            server.close()
            await server.wait_closed()
    asyncio.run(body())
