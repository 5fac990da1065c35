"""A broker's own Kafka-protocol connection to another broker (replica fetches).

The broker may not import :mod:`tidelog.client` (layering: ``broker → protocol``), and a
replica fetcher needs very little of a client: one TCP connection, one request at a time,
answers matched by correlation id, every frame bounded. :class:`BrokerLink` is that.

Failure behaviour: any socket error, timeout, malformed or oversized frame closes the
connection and raises :class:`LinkError`; the next :meth:`request` opens a new one. A request
never waits longer than its timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import struct

from tidelog.errors import TidelogError
from tidelog.protocol.data import Struct
from tidelog.protocol.exceptions import ProtocolError
from tidelog.protocol.framing import frame, join_parts
from tidelog.protocol.header import RequestHeader
from tidelog.protocol.wire import decode_response, encode_request

_SIZE = struct.Struct(">i")
#: Largest answer accepted: a fetch answer holds at most replica_fetch_response_max_bytes.
MAX_RESPONSE = 256 << 20


class LinkError(TidelogError):
    """The other broker could not be reached, or answered nothing usable."""


class BrokerLink:
    """One connection from this broker to ``host:port`` (opened on first use)."""

    def __init__(self, host: str, port: int, client_id: str, connect_timeout: float = 2.0
                 ) -> None:
        self.host = host
        self.port = port
        self.client_id = client_id
        self.connect_timeout = connect_timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._ids = itertools.count(1)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def request(self, api_key: int, version: int, body: Struct, timeout: float) -> Struct:
        """Send one request and return the decoded answer's body."""
        try:
            return await asyncio.wait_for(self._request(api_key, version, body), timeout)
        except TimeoutError:
            self.close()
            raise LinkError(f"{self.address} did not answer within {timeout:.1f} s") from None
        except (OSError, asyncio.IncompleteReadError, ProtocolError) as exc:
            self.close()
            raise LinkError(f"{self.address}: {exc}") from None

    async def _request(self, api_key: int, version: int, body: Struct) -> Struct:
        if self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.connect_timeout
            )
        reader, writer = self._reader, self._writer
        assert reader is not None and writer is not None
        correlation_id = next(self._ids) & 0x7FFFFFFF
        header = RequestHeader(api_key, version, correlation_id, self.client_id)
        writer.write(join_parts(frame(encode_request(header, body))))
        await writer.drain()
        (size,) = _SIZE.unpack(await reader.readexactly(4))
        if not 0 < size <= MAX_RESPONSE:
            raise ProtocolError(f"answer of {size} bytes")
        data = await reader.readexactly(size)
        resp_header, resp = decode_response(api_key, version, data)
        if resp_header.correlation_id != correlation_id:
            raise ProtocolError(
                f"answer for request {resp_header.correlation_id}, expected {correlation_id}"
            )
        return resp

    def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        self._reader = self._writer = None
