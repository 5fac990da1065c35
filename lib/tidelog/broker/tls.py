"""TLS over a connection's non-blocking socket: :class:`ssl.SSLObject` between two memory BIOs.

The connection keeps its own socket calls (``sock_recv``/``sock_sendall``) and this channel
only turns ciphertext into plaintext and back, so a TLS connection has the same two tasks,
limits and order rules as a plain one. Record regions cannot be ``sendfile``d through TLS: the
connection reads them (``os.pread``) and encrypts them like any other bytes.

Ordering: the reader (which may have to answer a TLS message such as a key update) and the
writer both flush the outgoing BIO; one lock covers taking bytes out of it and sending them,
so ciphertext leaves in the order it was made.

Failure behaviour: a failed handshake, a peer that closes mid-handshake or sends garbage
raises :class:`ssl.SSLError` or :class:`ConnectionError`; the connection logs it and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl

RECV_SIZE = 256 * 1024
#: TLS records carry at most 16 KiB; writing in such pieces keeps each encryption call short.
_WRITE_CHUNK = 256 * 1024


class TlsChannel:
    def __init__(self, sock: socket.socket, context: ssl.SSLContext) -> None:
        self.sock = sock
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._send_lock = asyncio.Lock()

    async def handshake(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                self._tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                await self._flush()
                data = await loop.sock_recv(self.sock, RECV_SIZE)
                if not data:
                    raise ConnectionError("the client closed during the TLS handshake") from None
                self._incoming.write(data)
        await self._flush()

    def peer_certificate(self) -> dict[str, object] | None:
        cert = self._tls.getpeercert()
        return dict(cert) if cert else None

    async def recv(self) -> bytes:
        """Plaintext bytes, or b"" when the client has closed."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                return self._tls.read(RECV_SIZE)
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                return b""
            if self._outgoing.pending:
                await self._flush()
            data = await loop.sock_recv(self.sock, RECV_SIZE)
            if not data:
                return b""
            self._incoming.write(data)

    async def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        async with self._send_lock:
            for start in range(0, len(view), _WRITE_CHUNK):
                self._tls.write(view[start:start + _WRITE_CHUNK])
                out = self._outgoing.read()
                if out:
                    await asyncio.get_running_loop().sock_sendall(self.sock, out)

    async def close(self) -> None:
        """Answer the client's close_notify with ours (TLS clients wait for it before they
        consider the connection closed); failures only mean the peer is gone already."""
        with contextlib.suppress(ssl.SSLError, ValueError):
            self._tls.unwrap()
        await self._flush()

    async def _flush(self) -> None:
        async with self._send_lock:
            out = self._outgoing.read()
            if out:
                await asyncio.get_running_loop().sock_sendall(self.sock, out)
