"""One client connection: frames in, responses out in request order.

Two tasks per connection. The reader receives bytes, splits them into frames with a
:class:`~tidelog.protocol.framing.FrameDecoder` (frames above ``max_request_size`` are refused)
and starts one dispatch task per request; at most ``max_inflight`` requests are in flight,
after which the reader stops reading (TCP pushes back on the client), so a connection holds
bounded memory; and the bytes of requests being read or served count against the broker-wide
:class:`~tidelog.broker.memory_pool.RequestMemoryPool` (``queued_max_request_bytes``): a
frame's whole announced size is reserved before the rest of it is read, waiting while the pool
is full, so many clients announcing large frames cannot hold more than that together. The
writer awaits the dispatch tasks in the order the requests arrived and sends each response, so
answers keep Kafka's per-connection order even when a later request (a short Produce) finishes
before an earlier one (a long-polling Fetch).

Sending: bytes parts are joined and written with ``sock_sendall``; record regions go with
``sendfile`` from the segment files. TCP_CORK holds a response's pieces together so they leave
in full packets.

A request over its client's quota mutes the connection (a
:class:`~tidelog.broker.quota.throttle.Mute`): the reader waits out the throttle time before
it serves the next request (Kafka's KIP-219); what arrives meanwhile waits in the socket.

A connection that sends nothing for ``idle_timeout`` seconds while no answer is pending is
closed (Kafka's connections.max.idle.ms).

On a TLS listener a :class:`~tidelog.broker.tls.TlsChannel` does the handshake first (bounded
by :data:`HANDSHAKE_TIMEOUT_S`) and then en- and decrypts; regions are read and encrypted
instead of ``sendfile``d. The connection's :class:`~tidelog.broker.session.Session` is set in
the context its request tasks inherit. A :class:`CloseConnection` carrying an answer (a failed
authentication) has that answer sent before the connection closes.

Failure behaviour: a malformed or oversized frame, or a request that cannot be answered, logs
one line (at most ten a minute, then a count of those left out);
the responses to earlier requests are still sent, then the connection closes. A
client that disconnects ends both tasks; region descriptors are always released.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import ssl
from collections.abc import Sized

from tidelog.broker.dispatch import CloseConnection, Dispatcher
from tidelog.broker.groups.coordinator import CLIENT_PEER
from tidelog.broker.listeners import principal_of
from tidelog.broker.memory_pool import RequestMemoryPool
from tidelog.broker.quota.throttle import MUTE, Mute
from tidelog.broker.ratelimit import RateLimitedLog
from tidelog.broker.regions import RegionPart, close_parts
from tidelog.broker.session import SESSION, Session
from tidelog.broker.tls import TlsChannel
from tidelog.protocol.exceptions import ProtocolError
from tidelog.protocol.framing import FrameDecoder, frame

log = logging.getLogger("tidelog.broker.connection")
#: What a client can provoke at will (bad frames, refused authentications) is rate-limited.
_refusals = RateLimitedLog(log)

RECV_SIZE = 256 * 1024
_END = None  # queue sentinel: no more requests

_CORK = getattr(socket, "TCP_CORK", None)
HANDSHAKE_TIMEOUT_S = 10.0


def _release(pool: RequestMemoryPool, size: int, _task: object) -> None:
    pool.release(size)


class Connection:
    def __init__(
        self,
        sock: socket.socket,
        dispatcher: Dispatcher,
        *,
        max_frame_size: int,
        max_inflight: int,
        peer: str,
        idle_timeout: float | None = None,
        pool: RequestMemoryPool | None = None,
        tls: TlsChannel | None = None,
        session: Session | None = None,
    ) -> None:
        self.sock = sock
        self.tls = tls
        self.session = session
        self.dispatcher = dispatcher
        self.peer = peer
        self.idle_timeout = idle_timeout
        self._decoder = FrameDecoder(max_frame_size)
        self._queue: asyncio.Queue[asyncio.Task[list[Sized] | None] | None] = asyncio.Queue(
            max_inflight
        )
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self._inflight = 0  # requests read whose answers are not sent yet
        self._pool = pool if pool is not None else RequestMemoryPool(-1)
        #: Set by a throttled request (client quotas): nothing is read before it ends.
        self.mute = Mute()

    @property
    def inflight(self) -> int:
        """Requests read whose answers are not sent yet."""
        return self._inflight

    async def run(self) -> None:
        """Serve the connection until either side ends it."""
        # The request tasks inherit this context: the group coordinator records client hosts.
        CLIENT_PEER.set(self.peer)
        MUTE.set(self.mute)
        if self.session is not None:
            SESSION.set(self.session)
        if self.tls is not None:
            try:
                await asyncio.wait_for(self.tls.handshake(), HANDSHAKE_TIMEOUT_S)
            except (OSError, ssl.SSLError, TimeoutError) as exc:
                log.info("closing connection from %s: TLS handshake failed: %s",
                         self.peer, exc or type(exc).__name__)
                self._close_socket()
                return
            if self.session is not None:
                self.session.principal = principal_of(self.tls.peer_certificate())
        self._reader = asyncio.create_task(self._read_loop())
        self._writer = asyncio.create_task(self._write_loop())
        try:
            await self._writer
        finally:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._drop_queued()
            if self.tls is not None:
                with contextlib.suppress(OSError, TimeoutError):
                    await asyncio.wait_for(self.tls.close(), 1.0)
            self._close_socket()

    def stop_reading(self) -> None:
        """Take no more requests; the answers to those already read are still sent."""
        if self._reader is not None:
            self._reader.cancel()

    async def _read_loop(self) -> None:
        loop = asyncio.get_running_loop()
        pool = self._pool
        reserved = 0  # pool bytes held for the frame being received (its announced size)
        try:
            while True:
                pending = self._decoder.pending_size
                if pending and not reserved and pending <= self._decoder.max_frame_size:
                    # A frame has begun: hold its whole size before reading the rest, so the
                    # requests being read broker-wide stay within queued_max_request_bytes.
                    await pool.reserve(pending)
                    reserved = pending
                try:
                    data = await asyncio.wait_for(
                        loop.sock_recv(self.sock, RECV_SIZE) if self.tls is None
                        else self.tls.recv(),
                        self.idle_timeout,
                    )
                except TimeoutError:
                    if self._inflight == 0 and self._decoder.buffered == 0:
                        log.info("closing connection from %s: idle", self.peer)
                        return
                    continue  # answers still pending: not idle
                except (ConnectionError, OSError):  # ssl.SSLError is an OSError
                    return
                if not data:
                    return
                try:
                    frames = self._decoder.feed(data)
                except ProtocolError as exc:
                    _refusals.warning("closing connection from %s: %s", self.peer, exc)
                    return
                for payload in frames:
                    wait = self.mute.until - loop.time()
                    if wait > 0:  # a throttled client (KIP-219): its channel is muted
                        await asyncio.sleep(wait)
                    # The first frame completed is the one reserved for, if any; frames that
                    # arrived whole in this receive are counted now. All are released when
                    # their handler is done.
                    size = reserved if reserved else len(payload)
                    if reserved:
                        reserved = 0
                    else:
                        pool.take(size)
                    task = asyncio.create_task(self.dispatcher.dispatch(payload))
                    task.add_done_callback(functools.partial(_release, pool, size))
                    if self.mute.watched:
                        await asyncio.sleep(0)  # let it count itself against its quota
                    self._inflight += 1
                    try:
                        await self._queue.put(task)
                    except asyncio.CancelledError:
                        task.cancel()
                        raise
        finally:
            if reserved:
                pool.release(reserved)
            # Never blocks for long: the writer keeps draining the queue.
            with contextlib.suppress(asyncio.CancelledError):
                await self._queue.put(_END)

    async def _write_loop(self) -> None:
        while True:
            task = await self._queue.get()
            if task is _END:
                return
            try:
                parts = await self._answer(task)
            except CloseConnection as exc:
                _refusals.warning("closing connection from %s: %s", self.peer, exc)
                if exc.answer is not None:
                    with contextlib.suppress(ConnectionError, OSError):
                        await self._send(exc.answer)
                return
            except asyncio.CancelledError:
                return
            if parts is None:
                continue
            try:
                await self._send(parts)
            except (ConnectionError, OSError) as exc:
                log.info("connection from %s lost while sending: %s", self.peer, exc)
                return
            finally:
                close_parts(parts)

    async def _answer(
        self, task: asyncio.Task[list[Sized] | None]
    ) -> list[Sized] | None:
        try:
            return await task
        finally:
            self._inflight -= 1

    async def _send(self, parts: list[Sized]) -> None:
        loop = asyncio.get_running_loop()
        framed = frame(parts)
        if self.tls is not None:
            await self.tls.sendall(b"".join(bytes(p) for p in framed))  # type: ignore[call-overload]
            return
        if not any(isinstance(p, RegionPart) for p in framed):
            await loop.sock_sendall(self.sock, b"".join(framed))  # type: ignore[arg-type]
            return
        corked = self._cork(True)
        try:
            pending: list[bytes] = []
            for part in framed:
                if isinstance(part, RegionPart):
                    if pending:
                        await loop.sock_sendall(self.sock, b"".join(pending))
                        pending = []
                    sent = await loop.sock_sendfile(
                        self.sock, part, part.position, len(part),  # type: ignore[arg-type]
                        fallback=False,
                    )
                    if sent != len(part):
                        raise ConnectionError(
                            f"segment shrank under a fetch ({sent} of {len(part)} bytes sent)"
                        )
                else:
                    pending.append(bytes(part))  # type: ignore[call-overload]
            if pending:
                await loop.sock_sendall(self.sock, b"".join(pending))
        finally:
            if corked:
                self._cork(False)

    def _cork(self, on: bool) -> bool:
        if _CORK is None:
            return False
        try:
            self.sock.setsockopt(socket.IPPROTO_TCP, _CORK, 1 if on else 0)
        except OSError:
            return False
        return True

    def _drop_queued(self) -> None:
        while not self._queue.empty():
            task = self._queue.get_nowait()
            if task is None:
                continue
            if task.done():
                if not task.cancelled() and task.exception() is None:
                    close_parts(task.result() or [])
            else:
                task.cancel()

    def _close_socket(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(OSError):
                self.sock.close()
