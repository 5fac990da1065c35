"""What every request handler shares: its signature, the fallback answer, error mapping.

A handler is ``async def handle(core, header, request) -> Struct | None``: it gets the decoded
request body and returns the response body (``None`` means "send no response", which only
Produce with acks=0 uses). A handler answers per-partition and per-topic problems inside its
response; an exception it lets escape is a bug, and the dispatcher answers it with the
handler's *fallback*: ``fallback(request, version, error_code) -> Struct``, the same response
shape with ``error_code`` on every entry, so the client sees an error, never a hang.

:func:`error_of` (from :mod:`tidelog.broker.error_codes`) maps the project's exceptions to
Kafka error codes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import NamedTuple

from tidelog.broker.core import BrokerCore
from tidelog.broker.error_codes import error_of, message_of
from tidelog.protocol.data import Struct
from tidelog.protocol.errors import ErrorCode
from tidelog.protocol.header import RequestHeader

__all__ = ["FallbackFn", "HandleFn", "Handler", "error_of", "message_of"]

HandleFn = Callable[[BrokerCore, RequestHeader, Struct], Awaitable[Struct | None]]
FallbackFn = Callable[[Struct, int, ErrorCode], Struct]


class Handler(NamedTuple):
    handle: HandleFn
    fallback: FallbackFn
