"""Errors the client raises: every one a :class:`~tidelog.errors.TidelogError`.

* :class:`BrokerError` carries a Kafka error code the broker answered with; ``retriable``
  follows Kafka's table (:class:`~tidelog.protocol.ErrorCode`).
* :class:`ConnectionLost` (retriable): a connection could not be opened, or closed with
  requests in flight; :class:`NeverReached` when no broker of the cluster ever answered.
* :class:`RequestTimedOut` (retriable): no answer within the request timeout.
* :class:`ClientError`: anything else the client gives up on (retries exhausted, no broker
  speaks a usable version, bad arguments such as an unknown partition).

Retry loops (:func:`tidelog.client.retry.retrying`) look only at ``retriable``.
"""

from __future__ import annotations

from tidelog.errors import TidelogError
from tidelog.protocol.errors import ErrorCode, error_name, lookup


class ClientError(TidelogError):
    """A client-side failure that retrying will not fix."""

    retriable = False


class BrokerError(ClientError):
    """The broker answered with a Kafka error code."""

    def __init__(self, code: int, context: str = "", message: str | None = None) -> None:
        self.code = int(code)
        member = lookup(self.code)
        self.retriable = bool(member is not None and member.retriable)
        detail = message or (member.message if member is not None else "")
        prefix = f"{context}: " if context else ""
        super().__init__(f"{prefix}{error_name(self.code)}" + (f" ({detail})" if detail else ""))


class ConnectionLost(ClientError):
    """The connection failed or dropped; the request may be retried on a new one."""

    retriable = True


class NeverReached(ConnectionLost):
    """No bootstrap server has answered yet: retriable, but a wrong address is likelier than
    a failover, so retry loops bound these by ``RetryPolicy.unreached_attempts``."""


class AuthenticationFailed(ClientError):
    """The broker refused the SASL login (or the TLS peer): not retriable, as in Kafka's
    clients, since the same credentials will be refused again."""


class RequestTimedOut(ClientError):
    """The broker did not answer in time."""

    retriable = True


def check(code: int, context: str = "", message: str | None = None) -> None:
    """Raise :class:`BrokerError` unless ``code`` is NONE (0)."""
    if code != ErrorCode.NONE:
        raise BrokerError(code, context, message)
