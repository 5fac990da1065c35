"""Quorum connections: carry Raft messages and broker RPCs between nodes (asyncio, TCP).

Every node keeps at most one usable connection per peer id. A controller listens on its quorum
address; any node connects to the voters it needs to reach (from ``--quorum``) and opens with a
``hello`` frame (:mod:`tidelog.broker.quorum.wire`). Non-voters (brokers) are reached over the
connection they opened: replies and fetch responses go back the way requests came.

Raft messages are best effort: a message for a voter without a connection starts a connect
(retried with backoff) and waits for it (at most :data:`MAX_HELD` per peer, oldest dropped);
Raft resends whatever is lost. RPCs (``rpc``/``reply``)
wait for their reply with a timeout.

Misconfiguration is refused: the accepting side compares the hello's voter list and cluster
id with its own and refuses a node whose list or cluster differs, or whose id is already
connected from another live process (a node id used twice). A node refused by a majority of
the voters calls ``on_refused`` (logd then stops with an error); a refusal by fewer means the
refuser is the odd one out, so one bad node cannot stop a healthy cluster.

Invariant: the send buffer of a connection is bounded (:data:`MAX_BUFFERED`); a peer that does
not read is disconnected rather than buffered without limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from tidelog.broker.config import HostPort
from tidelog.broker.quorum.wire import (
    FRAME_LEN,
    MAX_FRAME,
    WireError,
    decode_message,
    encode_message,
    frame,
    parse_frame,
)
from tidelog.errors import TidelogError
from tidelog.raft.messages import Message

log = logging.getLogger("tidelog.quorum")

MAX_BUFFERED = 32 << 20
RECONNECT_S = 0.2
#: How long an RPC waits for a connection to a peer before it fails.
CONNECT_WAIT_S = 0.5
#: Raft messages kept per peer while a connection to it is being opened.
MAX_HELD = 64

RpcHandler = Callable[[int, str, dict[str, Any]], Awaitable[dict[str, Any]]]


class RpcError(TidelogError):
    """An RPC failed: no connection, a timeout, or the peer answered with an error."""

    def __init__(self, message: str, code: str = "NOT_CONTROLLER") -> None:
        super().__init__(message)
        self.code = code


class _Conn:
    def __init__(self, writer: asyncio.StreamWriter, peer: int, incarnation: str) -> None:
        self.writer = writer
        self.peer = peer
        self.incarnation = incarnation

    def send(self, data: bytes) -> bool:
        if self.writer.is_closing():
            return False
        if self.writer.transport.get_write_buffer_size() > MAX_BUFFERED:
            self.writer.close()
            return False
        self.writer.write(data)
        return True


class QuorumTransport:
    """Connections to peers; see the module docstring."""

    def __init__(
        self,
        node_id: int,
        voters: dict[int, HostPort],
        voters_text: str,
        *,
        on_message: Callable[[Message], None],
        on_rpc: RpcHandler,
        on_refused: Callable[[str], None],
        cluster_id: Callable[[], str | None] = lambda: None,
        on_disconnect: Callable[[int], None] = lambda peer: None,
    ) -> None:
        self.node_id = node_id
        self.voters = voters
        self.voters_text = voters_text
        self.incarnation = uuid.uuid4().hex
        self._on_message = on_message
        self._on_rpc = on_rpc
        self._on_refused = on_refused
        self._cluster_id = cluster_id
        self._on_disconnect = on_disconnect
        self._conns: dict[int, _Conn] = {}
        #: Every open connection per peer (both directions may be open at once).
        self._open: dict[int, set[_Conn]] = {}
        self._connecting: dict[int, asyncio.Task[None]] = {}
        self._held: dict[int, list[bytes]] = {}
        self._inbound: dict[int, _Conn] = {}
        self._refused_by: dict[int, str] = {}
        self._rpc_ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    async def start(self, listen: HostPort | None) -> None:
        if listen is not None:
            self._server = await asyncio.start_server(
                self._accept, listen.host, listen.port, reuse_address=True
            )

    async def close(self) -> None:
        self._closed = True
        if self._server is not None:
            self._server.close()
        for conn in list(self._conns.values()):
            conn.writer.close()
        for task in [*self._connecting.values(), *self._tasks]:
            task.cancel()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(RpcError("shutting down"))

    def connected(self, peer: int) -> bool:
        """Whether a connection to or from ``peer`` is open."""
        return any(not c.writer.is_closing() for c in self._open.get(peer, ()))

    # -- sending ---------------------------------------------------------------------------

    def send(self, msg: Message) -> None:
        """Send a Raft message (best effort)."""
        self._send_frame(msg.dst, encode_message(msg), hold=True)

    def _send_frame(self, dst: int, data: bytes, *, hold: bool = False) -> bool:
        conn = self._conns.get(dst)
        if conn is not None and conn.send(data):
            return True
        if dst in self.voters and not self._closed:
            if hold:
                # kept for the connection being opened (a new leader's BeginQuorumEpoch must
                # not be lost to connection set-up); bounded, oldest dropped first
                held = self._held.setdefault(dst, [])
                held.append(data)
                del held[:-MAX_HELD]
            if dst not in self._connecting:
                task = asyncio.get_running_loop().create_task(self._connect(dst))
                self._connecting[dst] = task
        return False

    async def rpc(self, dst: int, op: str, args: dict[str, Any], timeout: float) -> Any:
        """Call ``op`` on node ``dst``; its result, or RpcError."""
        if dst not in self._conns and dst in self.voters:
            self._send_frame(dst, b"")  # starts a connect
            task = self._connecting.get(dst)
            if task is not None:
                # a peer that does not accept at once is down: fail fast, callers retry
                with contextlib.suppress(TimeoutError, Exception):
                    await asyncio.wait_for(asyncio.shield(task), min(timeout, CONNECT_WAIT_S))
        rid = next(self._rpc_ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        try:
            if not self._send_frame(dst, frame({"k": "rpc", "id": rid, "op": op, "args": args})):
                raise RpcError(f"node {dst} is not reachable")
            reply = await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise RpcError(f"node {dst} did not answer {op} within {timeout:g} s",
                           "REQUEST_TIMED_OUT") from None
        finally:
            self._pending.pop(rid, None)
        if not reply.get("ok"):
            raise RpcError(str(reply.get("error")), str(reply.get("code", "UNKNOWN")))
        return reply.get("result")

    # -- connections -----------------------------------------------------------------------

    async def _connect(self, dst: int) -> None:
        addr = self.voters[dst]
        try:
            while not self._closed and dst not in self._conns:
                try:
                    reader, writer = await asyncio.open_connection(addr.host, addr.port)
                except OSError:
                    await asyncio.sleep(RECONNECT_S)
                    continue
                writer.write(frame({"k": "hello", "node": self.node_id,
                                    "voters": self.voters_text,
                                    "incarnation": self.incarnation,
                                    "cluster": self._cluster_id()}))
                conn = _Conn(writer, dst, "")
                self._conns[dst] = conn
                self._open.setdefault(dst, set()).add(conn)
                for data in self._held.pop(dst, []):
                    conn.send(data)
                task = asyncio.get_running_loop().create_task(self._read(reader, conn))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                return
        finally:
            self._connecting.pop(dst, None)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head, _ = await asyncio.wait_for(self._read_frame(reader), 10)
            if head.get("k") != "hello":
                raise WireError("the first frame is not hello")
            peer = int(head["node"])
            reason = None
            if head.get("voters") != self.voters_text:
                reason = (f"node {peer} has quorum {head.get('voters')!r}, node "
                          f"{self.node_id} has {self.voters_text!r}")
            elif (head.get("cluster") and self._cluster_id()
                  and head.get("cluster") != self._cluster_id()):
                reason = (f"node {peer} belongs to cluster {head.get('cluster')}, node "
                          f"{self.node_id} to cluster {self._cluster_id()}")
            elif peer == self.node_id:
                reason = f"node id {peer} is used by two nodes"
            else:
                old = self._inbound.get(peer)
                if (old is not None and old.incarnation != head.get("incarnation")
                        and not old.writer.is_closing()):
                    reason = f"node id {peer} is already connected from another process"
            if reason is not None:
                log.error("refusing a quorum connection: %s", reason)
                writer.write(frame({"k": "refuse", "reason": reason}))
                await writer.drain()
                writer.close()
                return
        except (TimeoutError, WireError, KeyError, TypeError, ValueError, OSError,
                asyncio.IncompleteReadError) as exc:
            log.warning("dropping a quorum connection: %s", exc)
            writer.close()
            return
        conn = _Conn(writer, peer, str(head.get("incarnation", "")))
        self._conns[peer] = conn
        self._open.setdefault(peer, set()).add(conn)
        self._inbound[peer] = conn
        try:
            await self._read(reader, conn)
        finally:
            if self._inbound.get(peer) is conn:
                del self._inbound[peer]

    async def _read_frame(self, reader: asyncio.StreamReader) -> tuple[dict[str, Any], bytes]:
        (n,) = FRAME_LEN.unpack(await reader.readexactly(FRAME_LEN.size))
        if n > MAX_FRAME:
            raise WireError(f"frame of {n} bytes exceeds {MAX_FRAME}")
        return parse_frame(await reader.readexactly(n))

    async def _read(self, reader: asyncio.StreamReader, conn: _Conn) -> None:
        try:
            while True:
                head, payload = await self._read_frame(reader)
                kind = head["k"]
                if kind == "rpc":
                    task = asyncio.get_running_loop().create_task(self._serve_rpc(conn, head))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                elif kind == "reply":
                    fut = self._pending.get(int(head["id"]))
                    if fut is not None and not fut.done():
                        fut.set_result(head)
                elif kind == "refuse":
                    self._refused(conn.peer, str(head.get("reason")))
                    return
                else:
                    self._on_message(decode_message(head, payload))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except (WireError, KeyError, TypeError, ValueError) as exc:
            log.warning("dropping the quorum connection of node %d: %s", conn.peer, exc)
        finally:
            conn.writer.close()
            if self._conns.get(conn.peer) is conn:
                del self._conns[conn.peer]
            others = self._open.get(conn.peer, set())
            others.discard(conn)
            if not others:
                self._open.pop(conn.peer, None)
                if not self._closed:
                    self._on_disconnect(conn.peer)
            elif conn.peer not in self._conns:
                self._conns[conn.peer] = next(iter(others))  # the other direction still works

    def _refused(self, peer: int, reason: str) -> None:
        """A voter refused this node. A majority of the voters refusing it means this node
        is the misconfigured one (it stops); fewer means the refuser is (this node logs it
        once and goes on without that peer)."""
        if peer not in self._refused_by:
            log.error("node %d refuses this node: %s", peer, reason)
        self._refused_by[peer] = reason
        if len(self._refused_by) >= len(self.voters) // 2 + 1:
            self._on_refused(reason)

    async def _serve_rpc(self, conn: _Conn, head: dict[str, Any]) -> None:
        rid = head.get("id")
        try:
            result = await self._on_rpc(conn.peer, str(head["op"]), dict(head.get("args") or {}))
            reply: dict[str, Any] = {"k": "reply", "id": rid, "ok": True, "result": result}
        except RpcError as exc:
            reply = {"k": "reply", "id": rid, "ok": False, "error": str(exc), "code": exc.code}
        except TidelogError as exc:
            code = getattr(exc, "error_name", "UNKNOWN_SERVER_ERROR")
            reply = {"k": "reply", "id": rid, "ok": False,
                     "error": getattr(exc, "detail", str(exc)), "code": code}
        conn.send(frame(reply))
