"""Throttling a client over its quota, as Kafka does since KIP-219.

:func:`enforce` runs one request's handler for the dispatcher when the image has client
quotas: it records the Produce request's bytes, the Fetch answer's record bytes and (when a
``request_percentage`` quota applies) the time the handler's coroutine actually ran on the
event loop (:class:`Timed`: the steps it took, not the waits between them, like Kafka's
request-handler thread time). If the client is over a quota, the answer carries
``throttle_time_ms`` and the connection is muted (:class:`Mute`: its reader serves nothing
more until the time is over), so a client that ignores the hint cannot send more either.
Produce bytes are counted when the request starts, and a connection with a quota has each
request start before the next is read, so a client pipelining many requests is stopped at
its first one over the quota, not after all it had in flight. A
client whose request version predates KIP-219 (Produce < 6, Fetch < 8, ...) does not throttle
itself: its answer is held back for the throttle time instead, as Kafka does.

Unlike Kafka, a Fetch that goes over the consumer quota is still answered with its records
(Kafka answers it empty); the mute that follows keeps the client's average at its quota.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Coroutine, Generator
from typing import Any, Generic, TypeVar

from tidelog.broker import session
from tidelog.broker.quota.manager import FETCH, PRODUCE, REQUEST, QuotaManager
from tidelog.metadata.records import QuotaEntity
from tidelog.protocol.apis import ApiKey
from tidelog.protocol.data import Struct
from tidelog.protocol.header import RequestHeader

T = TypeVar("T")

#: What quotas never count (Kafka exempts them: the SASL exchange, ApiVersions, the
#: brokers' own WriteTxnMarkers).
EXEMPT = frozenset({ApiKey.API_VERSIONS, ApiKey.SASL_HANDSHAKE, ApiKey.SASL_AUTHENTICATE,
                    ApiKey.WRITE_TXN_MARKERS})

#: The first version of an API whose client throttles itself (KIP-219); older versions get
#: their answers held back. APIs not listed were born after KIP-219 (version 0 throttles).
_CLIENT_THROTTLES = {
    ApiKey.PRODUCE: 6, ApiKey.FETCH: 8, ApiKey.LIST_OFFSETS: 3, ApiKey.METADATA: 6,
    ApiKey.OFFSET_COMMIT: 4, ApiKey.OFFSET_FETCH: 4, ApiKey.FIND_COORDINATOR: 2,
    ApiKey.JOIN_GROUP: 3, ApiKey.HEARTBEAT: 2, ApiKey.LEAVE_GROUP: 2, ApiKey.SYNC_GROUP: 2,
    ApiKey.DESCRIBE_GROUPS: 2, ApiKey.LIST_GROUPS: 2, ApiKey.CREATE_TOPICS: 3,
    ApiKey.DELETE_TOPICS: 2, ApiKey.DELETE_RECORDS: 1, ApiKey.INIT_PRODUCER_ID: 1,
    ApiKey.OFFSET_FOR_LEADER_EPOCH: 1, ApiKey.ADD_PARTITIONS_TO_TXN: 1,
    ApiKey.ADD_OFFSETS_TO_TXN: 1, ApiKey.END_TXN: 1, ApiKey.TXN_OFFSET_COMMIT: 1,
    ApiKey.DESCRIBE_ACLS: 1, ApiKey.CREATE_ACLS: 1, ApiKey.DELETE_ACLS: 1,
    ApiKey.DESCRIBE_CONFIGS: 1, ApiKey.ALTER_CONFIGS: 1, ApiKey.DESCRIBE_LOG_DIRS: 1,
    ApiKey.CREATE_PARTITIONS: 1, ApiKey.DELETE_GROUPS: 1,
}


def client_throttles(api_key: int, version: int) -> bool:
    return version >= _CLIENT_THROTTLES.get(ApiKey(api_key), 0)


class Mute:
    """A connection's reader serves nothing before ``until`` (the event loop's clock).

    ``watched``: a quota applies to the connection, so the reader lets each request start
    (and count itself) before it takes the next; without quotas nothing changes per request.
    """

    __slots__ = ("until", "watched")

    def __init__(self) -> None:
        self.until = 0.0
        self.watched = False


#: The connection's Mute, inherited by its request tasks (None outside a connection).
MUTE: contextvars.ContextVar[Mute | None] = contextvars.ContextVar("mute", default=None)


class Timed(Generic[T]):
    """Awaits a coroutine and adds up the time its steps ran (``elapsed``, seconds)."""

    __slots__ = ("_coro", "elapsed")

    def __init__(self, coro: Coroutine[Any, Any, T]) -> None:
        self._coro = coro
        self.elapsed = 0.0

    def __await__(self) -> Generator[Any, Any, T]:
        inner = self._coro.__await__()
        clock = time.perf_counter
        value: Any = None
        error: BaseException | None = None
        while True:
            start = clock()
            try:
                signal = inner.send(value) if error is None else inner.throw(error)
            except StopIteration as stop:
                self.elapsed += clock() - start
                return stop.value  # type: ignore[no-any-return]
            except BaseException:
                self.elapsed += clock() - start
                raise
            self.elapsed += clock() - start
            try:
                value, error = (yield signal), None
            except GeneratorExit:
                inner.close()
                raise
            except BaseException as exc:  # a cancellation, passed on to the handler
                value, error = None, exc


def _follower(key: int, body: Struct) -> bool:
    """A broker's own replication request (exempt: replication has its own throttles)."""
    if key == ApiKey.FETCH:
        state = getattr(body, "replica_state", None)
        replica = state.replica_id if state is not None else getattr(body, "replica_id", -1)
        return int(replica) >= 0
    return key == ApiKey.OFFSET_FOR_LEADER_EPOCH and int(getattr(body, "replica_id", -1)) >= 0


def _mute(mute: Mute | None, throttle: float, now: float) -> float:
    if mute is not None:
        mute.watched = True
        if throttle > 0:
            mute.until = max(mute.until, now + throttle)
    return throttle


def _fetched_bytes(result: Struct) -> int:
    return sum(len(p.records) for t in result.responses for p in t.partitions
               if p.records is not None)


async def enforce(
    manager: QuotaManager, quotas: Any, call: Coroutine[Any, Any, Struct | None],
    header: RequestHeader, body: Struct, size: int,
) -> Struct | None:
    """Run ``call`` (the handler) under the client's quotas (see the module docstring)."""
    key = header.api_key
    if _follower(key, body):
        return await call
    principal = session.current().principal
    user = principal.split(":", 1)[1] if ":" in principal else principal
    client = header.client_id or ""
    entities: dict[QuotaEntity, Any] = quotas
    loop = asyncio.get_running_loop()
    mute = MUTE.get()
    throttle = 0.0
    if key == ApiKey.PRODUCE:
        # Counted before the append, so that the reader, which lets this task start before
        # it takes the next request (Mute.watched), sees the mute of a client over its rate.
        throttle = _mute(mute, manager.record(entities, PRODUCE, user, client, size,
                                              loop.time()), loop.time())
    timed = manager.applies(entities, REQUEST, user, client)
    elapsed = 0.0
    if timed:
        waited = Timed(call)
        result = await waited
        elapsed = waited.elapsed
    else:
        result = await call
    now = loop.time()
    if key == ApiKey.FETCH and result is not None:
        throttle = _mute(mute, manager.record(entities, FETCH, user, client,
                                              _fetched_bytes(result), now), now)
    if timed:
        throttle = max(throttle, _mute(mute, manager.record(entities, REQUEST, user, client,
                                                            elapsed * 100, now), now))
    if throttle <= 0:
        return result
    if result is not None:
        result.throttle_time_ms = max(int(getattr(result, "throttle_time_ms", 0) or 0),
                                      int(throttle * 1000))
        if not client_throttles(key, header.api_version):
            await asyncio.sleep(throttle)
    return result
