"""Request dispatch: one frame in, the response parts (or nothing, or "close") out.

:func:`Dispatcher.dispatch` decodes the frame, finds the handler by API key and encodes what it
returns. Outcomes:

* a response: a list of parts (bytes and :class:`~tidelog.broker.regions.RegionPart`) without
  the size prefix;
* ``None``: no response (Produce with acks=0);
* :class:`CloseConnection`: the frame cannot be answered (malformed, an API or version this
  broker does not serve, except ApiVersions, which gets Kafka's downgrade answer). The
  connection logs one line and closes; the broker and its other clients carry on.

A handler that raises is a bug: it is logged with its traceback and the request is answered
with the handler's fallback body carrying UNKNOWN_SERVER_ERROR (or the error the exception maps
to), so the client sees an error and never waits for an answer that does not come.

With client quotas in the image, each request (but the exempt ones) runs under
:func:`tidelog.broker.quota.throttle.enforce`: recorded, and throttled when over its quota;
without any quota this costs one attribute read per request.

With metrics on (``core.metrics``), every decoded request is counted by API and version and
timed from decoding to its encoded answer (Kafka's RequestMetrics; ApiVersions downgrade
answers and undecodable frames are not counted).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sized

from tidelog.broker.core import BrokerCore
from tidelog.broker.handlers import HANDLERS
from tidelog.broker.handlers.base import Handler, error_of
from tidelog.broker.quota.throttle import EXEMPT, enforce
from tidelog.broker.regions import close_parts
from tidelog.errors import TidelogError
from tidelog.protocol.apis import ApiKey
from tidelog.protocol.data import Struct
from tidelog.protocol.exceptions import ProtocolError, UnsupportedRequestError
from tidelog.protocol.header import RequestHeader
from tidelog.protocol.wire import answer_unsupported, decode_request, encode_response

log = logging.getLogger("tidelog.broker.dispatch")


class CloseConnection(TidelogError):
    """The request cannot be answered; the connection must close (the message says why).

    ``answer``, when given, is sent first (a refused authentication tells the client why)."""

    def __init__(self, message: str, answer: list[Sized] | None = None) -> None:
        super().__init__(message)
        self.answer = answer


class Dispatcher:
    def __init__(self, core: BrokerCore) -> None:
        self.core = core

    async def dispatch(self, frame: bytes) -> list[Sized] | None:
        try:
            header, body = decode_request(frame)
        except UnsupportedRequestError as exc:
            answer = answer_unsupported(exc)
            if answer is None:
                raise CloseConnection(str(exc)) from None
            return answer
        except ProtocolError as exc:
            raise CloseConnection(f"malformed request: {exc}") from None
        handler = HANDLERS.get(ApiKey(header.api_key))
        if handler is None:
            raise CloseConnection(
                f"API {ApiKey(header.api_key).name} is not served by this broker"
            )
        version = header.api_version
        metrics = self.core.metrics
        if metrics is None:
            return await self._answer(handler, header, body, len(frame))
        started = time.perf_counter()
        try:
            return await self._answer(handler, header, body, len(frame))
        finally:
            metrics.request(header.api_key, version, started)

    async def _answer(self, handler: Handler, header: RequestHeader, body: Struct, size: int
                      ) -> list[Sized] | None:
        version = header.api_version
        try:
            quotas = self.core.image.client_quotas
            if quotas and header.api_key not in EXEMPT:
                result = await enforce(self.core.quotas, quotas,
                                       self.call(handler, header, body), header, body, size)
            else:
                result = await self.call(handler, header, body)
            if result is None:
                return None
            try:
                return encode_response(header, header.api_key, version, result)
            except BaseException:
                close_parts(getattr(r, "records", None) for r in _records_of(result))
                raise
        except CloseConnection:
            raise  # a refusal decided before the handler ran (see SecureDispatcher)
        except Exception as exc:
            code = error_of(exc)
            log.exception(
                "%s v%d (correlation id %d) failed; answering %s",
                ApiKey(header.api_key).name, version, header.correlation_id, code.name,
            )
            try:
                fallback = handler.fallback(body, version, code)
                return encode_response(header, header.api_key, version, fallback)
            except Exception as exc2:
                raise CloseConnection(f"cannot even answer with an error: {exc2}") from exc2

    async def call(self, handler: Handler, header: RequestHeader, body: Struct) -> Struct | None:
        """Run the handler (the secure listeners' dispatcher checks permissions here)."""
        return await handler.handle(self.core, header, body)


def _records_of(result: object) -> list[object]:
    """Structs in a response that may hold region parts (Fetch's partitions)."""
    found: list[object] = []
    responses = getattr(result, "responses", None)
    if isinstance(responses, list):
        for topic in responses:
            partitions = getattr(topic, "partitions", None)
            if isinstance(partitions, list):
                found.extend(partitions)
    return found
