"""One asyncio TCP connection to one broker: framing, correlation ids, version negotiation.

Protocol: every request is ``int32 size`` + header + body (see :mod:`tidelog.protocol`); the
broker answers each request in order with the same correlation id. On open the connection sends
ApiVersions (v3, falling back to v0 when the broker answers UNSUPPORTED_VERSION as Kafka does)
and from then on :meth:`Connection.version` picks, per API, the highest version both sides
support (capped by :data:`CLIENT_MAX_VERSIONS` where newer versions need topic ids).

Invariants: at most ``max_in_flight`` requests wait for an answer at once (a semaphore, so a
producer cannot queue unbounded bytes in the socket); answers are matched by correlation id.

Crash behaviour: when the socket fails, closes, or delivers a malformed frame, every waiting
request fails with :class:`~tidelog.client.errors.ConnectionLost` and the connection is closed
for good (the cluster opens a new one). A request not answered in ``request_timeout`` seconds
raises :class:`~tidelog.client.errors.RequestTimedOut` and closes the connection too, since the
stream's answers can no longer be trusted to line up.

Security (:mod:`tidelog.client.security`): with TLS the stream is an ``ssl`` one from the
start; with SASL the login runs right after ApiVersions, before the connection is handed out.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import struct
from typing import Any

from tidelog.client.errors import ClientError, ConnectionLost, RequestTimedOut
from tidelog.client.security import ClientSecurity, authenticate
from tidelog.errors import TidelogError
from tidelog.protocol import (
    SUPPORTED_VERSIONS,
    ApiKey,
    FrameDecoder,
    RequestHeader,
    Struct,
    decode_response,
    encode_request,
    frame,
)
from tidelog.protocol.errors import ErrorCode

#: Versions above which an API needs topic ids this client does not track.
CLIENT_MAX_VERSIONS: dict[int, int] = {ApiKey.FETCH: 12, ApiKey.DELETE_TOPICS: 5}

_CORRELATION_AND_ERROR = struct.Struct(">ih")
_READ_SIZE = 1 << 20
_API_VERSIONS_FIRST = 3


class Connection:
    """A connection to one broker; create with :func:`connect`."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        client_id: str = "tidelog",
        max_in_flight: int = 16,
        request_timeout: float = 30.0,
        security: ClientSecurity | None = None,
    ) -> None:
        self.host = host
        self.security = security
        self.port = port
        self.client_id = client_id
        self.request_timeout = request_timeout
        self._slots = asyncio.Semaphore(max_in_flight)
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[int, int, asyncio.Future[Struct]]] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._error: ClientError | None = None
        self.versions: dict[int, tuple[int, int]] = {}

    def __repr__(self) -> str:
        return f"Connection({self.host}:{self.port})"

    @property
    def closed(self) -> bool:
        return self._error is not None

    async def open(self, timeout: float) -> None:
        try:
            context = None if self.security is None else self.security.ssl_context()
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(
                    self.host, self.port, ssl=context,
                    server_hostname=self.host if context is not None else None),
                timeout,
            )
        except (OSError, TimeoutError) as exc:
            self._error = ConnectionLost(f"cannot connect to {self.host}:{self.port}: {exc}")
            raise self._error from None
        self._task = asyncio.get_running_loop().create_task(self._read_loop())
        await self._negotiate()
        if self.security is not None and self.security.uses_sasl:
            await authenticate(self._send, self.security, self.versions)

    async def _negotiate(self) -> None:
        answer = await self._send(ApiKey.API_VERSIONS, _API_VERSIONS_FIRST, {
            "client_software_name": "tidelog",
            "client_software_version": "0.1.0",
        })
        if answer.error_code == ErrorCode.UNSUPPORTED_VERSION:
            answer = await self._send(ApiKey.API_VERSIONS, 0, {})
        if answer.error_code != ErrorCode.NONE:
            raise ClientError(
                f"{self.host}:{self.port} refused ApiVersions (error {answer.error_code})"
            )
        self.versions = {
            int(entry.api_key): (int(entry.min_version), int(entry.max_version))
            for entry in answer.api_keys
        }

    def version(self, api_key: int) -> int:
        """The highest version of ``api_key`` both this client and the broker speak."""
        ours = SUPPORTED_VERSIONS.get(ApiKey(api_key))
        theirs = self.versions.get(int(api_key))
        if ours is None or theirs is None:
            raise ClientError(f"{self.host}:{self.port} does not serve {ApiKey(api_key).name}")
        top = min(ours[1], theirs[1], CLIENT_MAX_VERSIONS.get(int(api_key), ours[1]))
        if top < max(ours[0], theirs[0]):
            raise ClientError(
                f"{self.host}:{self.port} speaks {ApiKey(api_key).name} "
                f"v{theirs[0]}-{theirs[1]}, this client v{ours[0]}-{ours[1]}"
            )
        return top

    async def request(
        self, api_key: int, body: Struct | dict[str, Any], *, version: int | None = None
    ) -> Struct:
        """Send one request and wait for its answer."""
        return await self._send(api_key, self.version(api_key) if version is None else version,
                                body)

    async def send_only(
        self, api_key: int, body: Struct | dict[str, Any], *, version: int | None = None
    ) -> None:
        """Send a request that gets no answer (Produce with acks=0)."""
        if self._error is not None:
            raise self._error
        v = self.version(api_key) if version is None else version
        self._write(RequestHeader(api_key, v, next(self._ids), self.client_id), body)
        assert self._writer is not None
        await self._drain()

    def _write(self, header: RequestHeader, body: Struct | dict[str, Any]) -> None:
        assert self._writer is not None
        try:
            parts = frame(encode_request(header, body))
        except TidelogError:
            raise
        # writelines hands the record batches to the transport without joining them.
        self._writer.writelines(parts)  # type: ignore[arg-type]

    async def _drain(self) -> None:
        assert self._writer is not None
        try:
            await self._writer.drain()
        except (OSError, RuntimeError) as exc:
            self._fail(ConnectionLost(f"{self.host}:{self.port}: {exc}"))
            assert self._error is not None
            raise self._error from None

    async def _send(self, api_key: int, version: int, body: Struct | dict[str, Any]) -> Struct:
        async with self._slots:
            if self._error is not None:
                raise self._error
            cid = next(self._ids)
            future: asyncio.Future[Struct] = asyncio.get_running_loop().create_future()
            self._pending[cid] = (api_key, version, future)
            self._write(RequestHeader(api_key, version, cid, self.client_id), body)
            await self._drain()
            try:
                return await asyncio.wait_for(asyncio.shield(future), self.request_timeout)
            except TimeoutError:
                name = ApiKey(api_key).name
                self._fail(RequestTimedOut(
                    f"{self.host}:{self.port}: no answer to {name} in {self.request_timeout:g}s"
                ))
                assert self._error is not None
                raise self._error from None

    async def _read_loop(self) -> None:
        assert self._reader is not None
        decoder = FrameDecoder()
        try:
            while True:
                data = await self._reader.read(_READ_SIZE)
                if not data:
                    decoder.close()
                    raise ConnectionLost(f"{self.host}:{self.port} closed the connection")
                for payload in decoder.feed(data):
                    self._dispatch(payload)
        except ClientError as exc:
            self._fail(exc)
        except (OSError, TidelogError) as exc:
            self._fail(ConnectionLost(f"{self.host}:{self.port}: {exc}"))

    def _dispatch(self, payload: bytes) -> None:
        if len(payload) < 4:
            raise ConnectionLost(f"{self.host}:{self.port} sent a frame of {len(payload)} bytes")
        (cid,) = struct.unpack_from(">i", payload)
        entry = self._pending.pop(cid, None)
        if entry is None:
            raise ConnectionLost(f"{self.host}:{self.port} answered unknown correlation id {cid}")
        api_key, version, future = entry
        if api_key == ApiKey.API_VERSIONS and version > 0 and len(payload) >= 6:
            # A broker that does not know our ApiVersions version answers with a v0 body.
            _, code = _CORRELATION_AND_ERROR.unpack_from(payload)
            if code == ErrorCode.UNSUPPORTED_VERSION:
                version = 0
        _, body = decode_response(api_key, version, payload)
        if not future.done():
            future.set_result(body)

    def _fail(self, error: ClientError) -> None:
        if self._error is None:
            self._error = error
        for _, _, future in self._pending.values():
            if not future.done():
                future.set_exception(error)
                # Mark retrieved: a waiter may already be gone (timed out, cancelled).
                future.exception()
        self._pending.clear()
        if self._writer is not None:
            self._writer.close()

    async def close(self) -> None:
        self._fail(ConnectionLost(f"{self.host}:{self.port}: connection closed by the client"))
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()


async def connect(
    host: str,
    port: int,
    *,
    client_id: str = "tidelog",
    timeout: float = 10.0,
    request_timeout: float = 30.0,
    max_in_flight: int = 16,
    security: ClientSecurity | None = None,
) -> Connection:
    """Open and negotiate a connection (TLS and SASL first when ``security`` asks); raises
    ConnectionLost when the broker is unreachable, ClientError when the login is refused."""
    conn = Connection(
        host, port, client_id=client_id, request_timeout=request_timeout,
        max_in_flight=max_in_flight, security=security,
    )
    try:
        await conn.open(timeout)
    except BaseException:
        await conn.close()
        raise
    return conn
