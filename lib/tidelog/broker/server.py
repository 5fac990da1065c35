"""The listener: accepts connections and serves each with a :class:`Connection`.

At most ``max_connections`` clients are served at once, and at most ``max_connections_per_ip``
from one address (Kafka's max.connections.per.ip), so one host cannot lock the others out; a
connection beyond either is accepted and closed at once with a log line (the client retries, as
it does after any disconnect). All connections share one
:class:`~tidelog.broker.memory_pool.RequestMemoryPool` of ``queued_max_request_bytes``.
:meth:`Server.stop` is the first half of a clean shutdown: stop accepting, stop reading
requests, wake long-polling fetches, and wait (bounded) until every connection has sent the
answers to the requests it had read.

One Server per listener (:mod:`tidelog.broker.listeners`): the primary PLAINTEXT one, and one
for each of ``listeners``. A TLS listener gives each connection a
:class:`~tidelog.broker.tls.TlsChannel` over its context; a SASL listener serves with an
:class:`~tidelog.broker.sasl.dispatch.SecureDispatcher`, which refuses every request
but ApiVersions and the SASL exchange until the connection has authenticated, and which also
checks ACLs on every listener when an authorizer is configured. The primary (PLAINTEXT)
listener serves every client as ``User:ANONYMOUS`` from its address (Kafka's rule): without an
authorizer it keeps the plain :class:`Dispatcher` and no per-request check at all; with one
its requests are checked like any other listener's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl

from tidelog.broker.connection import Connection
from tidelog.broker.core import BrokerCore
from tidelog.broker.dispatch import Dispatcher
from tidelog.broker.listeners import ANONYMOUS, PRIMARY, ListenerSpec
from tidelog.broker.memory_pool import RequestMemoryPool
from tidelog.broker.session import Session
from tidelog.broker.tls import TlsChannel

log = logging.getLogger("tidelog.broker.server")

DRAIN_TIMEOUT_S = 10.0


def bind(host: str, port: int, backlog: int = 512) -> socket.socket:
    """A listening, non-blocking TCP socket (raises OSError, e.g. address in use)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class Server:
    def __init__(
        self,
        core: BrokerCore,
        sock: socket.socket,
        listener: ListenerSpec | None = None,
        context: ssl.SSLContext | None = None,
        pool: RequestMemoryPool | None = None,
    ) -> None:
        self.core = core
        self.sock = sock
        self.listener = listener
        self.context = context
        self.dispatcher = Dispatcher(core)
        sasl = listener is not None and listener.uses_sasl
        if sasl or core.authorizer is not None:
            from tidelog.broker.sasl.dispatch import SecureDispatcher

            self.dispatcher = SecureDispatcher(
                core, sasl=sasl, authorizer=core.authorizer)
        self._connections: dict[Connection, asyncio.Task[None]] = {}
        self._per_ip: dict[str, int] = {}
        # One pool for every listener: queued_max_request_bytes is broker-wide.
        self.pool = pool or RequestMemoryPool(core.config.queued_max_request_bytes)
        self._accept_task: asyncio.Task[None] | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()[:2]
        return str(host), int(port)

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    @property
    def inflight(self) -> int:
        """Requests read from clients whose answers are not sent yet."""
        return sum(conn.inflight for conn in self._connections)

    def start(self) -> None:
        self._accept_task = asyncio.create_task(self._accept_loop())

    async def _accept_loop(self) -> None:
        loop = asyncio.get_running_loop()
        config = self.core.config
        while True:
            try:
                client, addr = await loop.sock_accept(self.sock)
            except asyncio.CancelledError:
                raise
            except OSError as exc:  # EMFILE and friends: back off instead of spinning
                log.error("accept failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            peer = f"{addr[0]}:{addr[1]}"
            if len(self._connections) >= config.max_connections:
                log.warning("refusing %s: %d connections open", peer, len(self._connections))
                client.close()
                continue
            ip = str(addr[0])
            if self._per_ip.get(ip, 0) >= config.max_connections_per_ip:
                log.warning("refusing %s: %d connections open from %s", peer,
                            self._per_ip[ip], ip)
                client.close()
                continue
            self._per_ip[ip] = self._per_ip.get(ip, 0) + 1
            client.setblocking(False)
            with contextlib.suppress(OSError):
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Connection(
                client,
                self.dispatcher,
                max_frame_size=config.max_request_size,
                max_inflight=config.max_inflight_per_connection,
                peer=peer,
                idle_timeout=config.connections_max_idle_ms / 1000,
                pool=self.pool,
                tls=TlsChannel(client, self.context) if self.context is not None else None,
                session=self._session(str(addr[0])),
            )
            log.debug("connection from %s", peer)
            task = asyncio.create_task(self._serve(conn, ip))
            self._connections[conn] = task

    def _session(self, host: str) -> Session | None:
        """A fresh session on a named listener, or on the primary one when ACLs name hosts
        (None: the default session, ANONYMOUS from anywhere, costs nothing per connection)."""
        spec = self.listener
        if spec is None or spec.name == PRIMARY:
            if self.core.authorizer is None:
                return None
            return Session(PRIMARY, "PLAINTEXT", ANONYMOUS, authenticated=True, host=host)
        return Session(spec.name, spec.protocol, ANONYMOUS, authenticated=not spec.uses_sasl,
                       host=host)

    async def _serve(self, conn: Connection, ip: str) -> None:
        try:
            await conn.run()
        except Exception:
            log.exception("connection from %s failed", conn.peer)
        finally:
            self._connections.pop(conn, None)
            left = self._per_ip.get(ip, 1) - 1
            if left > 0:
                self._per_ip[ip] = left
            else:
                self._per_ip.pop(ip, None)
            log.debug("connection from %s closed", conn.peer)

    async def stop(self) -> None:
        """Stop accepting and reading, then wait for in-flight answers to go out."""
        if self._accept_task is not None:
            self._accept_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accept_task
        self.sock.close()
        for conn in list(self._connections):
            conn.stop_reading()
        self.core.wake_all()
        tasks = list(self._connections.values())
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=DRAIN_TIMEOUT_S)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
