"""The metrics listener: a small HTTP/1.1 server for Prometheus and orchestrators.

Served on ``metrics_listen`` (off when unset), its own socket, on the broker's event loop:

* ``GET /metrics`` -- the Prometheus text format (:mod:`tidelog.broker.metrics.collect`);
* ``GET /healthz`` -- 200 ``ok`` while the process runs;
* ``GET /readyz`` -- 200 ``ready``, or 503 with one line per unmet condition
  (:mod:`tidelog.broker.metrics.health`);
* anything else 404, a method other than GET/HEAD 405, a request that is not HTTP 400.

Every answer closes the connection (``Connection: close``): scrapers open one per scrape, so
keep-alive buys nothing and a closed connection cannot be held. Bounds: the request head is
at most :data:`MAX_HEAD` bytes and must arrive within :data:`READ_TIMEOUT_S`; a client that
misbehaves loses its connection, never the broker. Request bodies are not read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable

from tidelog.broker.metrics.exposition import CONTENT_TYPE

log = logging.getLogger("tidelog.broker.metrics")

MAX_HEAD = 8192
READ_TIMEOUT_S = 10.0

#: path -> function giving (status, content type, body); called on the event loop.
Routes = dict[str, Callable[[], tuple[int, str, bytes]]]

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            500: "Internal Server Error", 503: "Service Unavailable"}
TEXT = "text/plain; charset=utf-8"


class MetricsServer:
    def __init__(self, sock: socket.socket, routes: Routes) -> None:
        self.sock = sock
        self.routes = routes
        self._server: asyncio.Server | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()[:2]
        return str(host), int(port)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, sock=self.sock,
                                                  limit=MAX_HEAD)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                    ConnectionError):
                return
            status, ctype, body, head_only = self._answer(head)
            lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
                     f"Content-Type: {ctype}", f"Content-Length: {len(body)}",
                     "Connection: close", "", ""]
            writer.write("\r\n".join(lines).encode("ascii"))
            if not head_only:
                writer.write(body)
            await asyncio.wait_for(writer.drain(), READ_TIMEOUT_S)
        except (ConnectionError, TimeoutError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _answer(self, head: bytes) -> tuple[int, str, bytes, bool]:
        try:
            method, target, version = head.split(b"\r\n", 1)[0].decode("ascii").split(" ")
        except (UnicodeDecodeError, ValueError):
            return 400, TEXT, b"not an HTTP request\n", False
        if not version.startswith("HTTP/1."):
            return 400, TEXT, b"not an HTTP/1.x request\n", False
        path = target.split("?", 1)[0]
        route = self.routes.get(path)
        if route is None:
            return 404, TEXT, f"no {path} here: try /metrics\n".encode(), method == "HEAD"
        if method not in ("GET", "HEAD"):
            return 405, TEXT, b"only GET and HEAD\n", False
        try:
            status, ctype, body = route()
        except Exception:
            log.exception("%s failed", path)
            return 500, TEXT, b"internal error (see the broker's log)\n", method == "HEAD"
        return status, ctype, body, method == "HEAD"


def metrics_body(text: str) -> tuple[int, str, bytes]:
    return 200, CONTENT_TYPE, text.encode("utf-8")


def check_body(problems: list[str], ok: str) -> tuple[int, str, bytes]:
    if problems:
        return 503, TEXT, ("".join(p + "\n" for p in problems)).encode("utf-8")
    return 200, TEXT, (ok + "\n").encode("ascii")
