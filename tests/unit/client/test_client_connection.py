"""Connection and retry behaviour against a scripted in-process broker: version negotiation
(including Kafka's v0 answer to an unknown ApiVersions version), correlation, dropped
connections, timeouts, bounded in-flight requests and bounded retries."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from tidelog.client.cluster import Cluster
from tidelog.client.connection import connect
from tidelog.client.errors import BrokerError, ClientError, ConnectionLost, RequestTimedOut
from tidelog.client.retry import RetryPolicy, retrying
from tidelog.protocol import (
    ApiKey,
    RequestHeader,
    Struct,
    api_versions_entries,
    decode_request,
    encode_response,
    join_parts,
)
from tidelog.protocol.errors import ErrorCode

Handler = Callable[[RequestHeader, Struct], Awaitable[Any]]
_SIZE = struct.Struct(">i")


class FakeBroker:
    """Answers requests with ``handler``; None closes the connection, "silent" ignores it."""

    def __init__(self, handler: Handler, *, api_versions_max: int = 4) -> None:
        self.handler = handler
        self.api_versions_max = api_versions_max
        self.requests: list[tuple[int, int]] = []
        self.concurrent = 0
        self.max_concurrent = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                size = _SIZE.unpack(await reader.readexactly(4))[0]
                payload = await reader.readexactly(size)
                asyncio.get_running_loop().create_task(self._answer(payload, writer))
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def _answer(self, payload: bytes, writer: asyncio.StreamWriter) -> None:
        api_key, version = struct.unpack_from(">hh", payload)
        self.requests.append((api_key, version))
        if api_key == ApiKey.API_VERSIONS and version > self.api_versions_max:
            # Kafka's answer: a v0 body with UNSUPPORTED_VERSION.
            cid = struct.unpack_from(">i", payload, 4)[0]
            body = struct.pack(">ihi", cid, 35, 1) + struct.pack(">hhh", 18, 0,
                                                                 self.api_versions_max)
            writer.write(_SIZE.pack(len(body)) + body)
            return
        header, body = decode_request(payload)
        if api_key == ApiKey.API_VERSIONS:
            answer: Any = Struct(error_code=0, api_keys=api_versions_entries())
        else:
            self.concurrent += 1
            self.max_concurrent = max(self.max_concurrent, self.concurrent)
            try:
                answer = await self.handler(header, body)
            finally:
                self.concurrent -= 1
        if answer is None:
            writer.close()
            return
        if answer == "silent":
            return
        data = join_parts(encode_response(header, api_key, version, answer))
        writer.write(_SIZE.pack(len(data)) + data)


def _metadata(port: int, topics: list[str]) -> Struct:
    return Struct(
        brokers=[Struct(node_id=1, host="127.0.0.1", port=port, rack=None)],
        cluster_id="c", controller_id=1,
        topics=[Struct(error_code=0, name=t, topic_id=None, is_internal=False, partitions=[
            Struct(error_code=0, partition_index=0, leader_id=1, leader_epoch=0,
                   replica_nodes=[1], isr_nodes=[1], offline_replicas=[])])
            for t in topics],
    )


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))  # type: ignore[arg-type]


def test_negotiates_versions_and_matches_answers() -> None:
    async def main() -> None:
        async def handler(header: RequestHeader, body: Struct) -> Any:
            await asyncio.sleep(0.05 if header.correlation_id % 2 else 0)
            return _metadata(port, [t.name for t in body.topics or []])

        broker = FakeBroker(handler)
        port = await broker.start()
        conn = await connect("127.0.0.1", port)
        assert conn.version(ApiKey.FETCH) == 12  # capped: topic ids are not tracked
        answers = await asyncio.gather(*(
            conn.request(ApiKey.METADATA, {"topics": [{"name": f"t{i}"}]}) for i in range(6)))
        assert [a.topics[0].name for a in answers] == [f"t{i}" for i in range(6)]
        assert broker.requests[0] == (ApiKey.API_VERSIONS, 3)
        await conn.close()
        await broker.stop()

    run(main())


def test_falls_back_to_api_versions_v0() -> None:
    async def main() -> None:
        async def handler(header: RequestHeader, body: Struct) -> Any:
            return _metadata(port, [])

        broker = FakeBroker(handler, api_versions_max=2)
        port = await broker.start()
        conn = await connect("127.0.0.1", port)
        assert broker.requests[:2] == [(ApiKey.API_VERSIONS, 3), (ApiKey.API_VERSIONS, 0)]
        assert conn.version(ApiKey.METADATA) == 13
        await conn.close()
        await broker.stop()

    run(main())


def test_dropped_connection_fails_waiting_requests() -> None:
    async def main() -> None:
        async def handler(header: RequestHeader, body: Struct) -> Any:
            await asyncio.sleep(0.05)
            return None

        broker = FakeBroker(handler)
        port = await broker.start()
        conn = await connect("127.0.0.1", port)
        with pytest.raises(ConnectionLost) as info:
            await conn.request(ApiKey.METADATA, {"topics": None})
        assert info.value.retriable
        assert conn.closed
        with pytest.raises(ConnectionLost):
            await conn.request(ApiKey.METADATA, {"topics": None})
        await conn.close()
        await broker.stop()

    run(main())


def test_timeout_and_in_flight_bound() -> None:
    async def main() -> None:
        async def handler(header: RequestHeader, body: Struct) -> Any:
            await asyncio.sleep(0.1)
            return "silent" if body.topics and body.topics[0].name == "never" else \
                _metadata(port, [])

        broker = FakeBroker(handler)
        port = await broker.start()
        conn = await connect("127.0.0.1", port, max_in_flight=2, request_timeout=5)
        await asyncio.gather(*(conn.request(ApiKey.METADATA, {"topics": []})
                               for _ in range(6)))
        assert broker.max_concurrent <= 2
        await conn.close()
        slow = await connect("127.0.0.1", port, request_timeout=0.3)
        with pytest.raises(RequestTimedOut, match="no answer to METADATA"):
            await slow.request(ApiKey.METADATA, {"topics": [{"name": "never"}]})
        await slow.close()
        await broker.stop()

    run(main())


def test_unreachable_bootstrap_names_every_server() -> None:
    async def main() -> None:
        cluster = Cluster([("127.0.0.1", 1), ("127.0.0.1", 2)],
                          retry=RetryPolicy(attempts=2, backoff=0.01), connect_timeout=1)
        with pytest.raises(ConnectionLost) as info:
            await cluster.refresh()
        assert "127.0.0.1:1" in str(info.value) and "127.0.0.1:2" in str(info.value)
        await cluster.close()

    run(main())


def test_retries_are_bounded_and_only_for_retriable_errors() -> None:
    calls: list[int] = []

    async def flaky() -> int:
        calls.append(1)
        if len(calls) < 3:
            raise BrokerError(ErrorCode.NOT_LEADER_OR_FOLLOWER)
        return 7

    assert run(retrying(flaky, RetryPolicy(attempts=5, backoff=0.001))) == 7
    assert len(calls) == 3

    async def always() -> int:
        calls.append(1)
        raise BrokerError(ErrorCode.LEADER_NOT_AVAILABLE)

    calls.clear()
    with pytest.raises(BrokerError):
        run(retrying(always, RetryPolicy(attempts=4, backoff=0.001)))
    assert len(calls) == 4

    async def fatal() -> int:
        calls.append(1)
        raise ClientError("no")

    calls.clear()
    with pytest.raises(ClientError):
        run(retrying(fatal, RetryPolicy(attempts=4, backoff=0.001)))
    assert len(calls) == 1


def test_unknown_topic_after_retries() -> None:
    async def main() -> None:
        async def handler(header: RequestHeader, body: Struct) -> Any:
            meta = _metadata(port, [])
            meta.topics = [Struct(error_code=3, name="nope", topic_id=None, is_internal=False,
                                  partitions=[])]
            return meta

        broker = FakeBroker(handler)
        port = await broker.start()
        cluster = Cluster([("127.0.0.1", port)], retry=RetryPolicy(attempts=3, backoff=0.01))
        with pytest.raises(BrokerError, match="UNKNOWN_TOPIC_OR_PARTITION"):
            await cluster.topic("nope")
        await cluster.close()
        await broker.stop()

    run(main())
