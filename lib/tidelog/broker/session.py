"""Who is on the other end of a connection, and through which listener.

A :class:`Session` is made per connection (:class:`~tidelog.broker.connection.Connection`) and
set in :data:`SESSION`; the request tasks of the connection inherit it (a context variable), so
a handler can ask which listener the request came in on (Metadata answers that listener's
endpoints) and who sent it. On a PLAINTEXT or SSL listener a session is authenticated from the
start (principal ``User:ANONYMOUS``, or the client certificate's subject with mTLS); on a SASL
listener it becomes authenticated when the SASL exchange succeeds (:mod:`tidelog.broker.sasl`).

Nothing here is read on the produce or fetch path of a PLAINTEXT listener: only the SASL
listener's dispatcher checks ``authenticated`` per request.
"""

from __future__ import annotations

import contextvars
import dataclasses
from typing import Any

from tidelog.broker.listeners import ANONYMOUS, PRIMARY


@dataclasses.dataclass(slots=True)
class Session:
    listener: str = PRIMARY
    protocol: str = "PLAINTEXT"
    principal: str = ANONYMOUS
    authenticated: bool = True
    #: The client's IP address, as ACLs name hosts.
    host: str = "*"
    #: The SASL mechanism chosen by SaslHandshake (None before it).
    mechanism: str | None = None
    #: The mechanism's server-side state between SaslAuthenticate rounds.
    exchange: Any = None
    #: Why authentication was refused (the connection closes after the answer).
    failure: str | None = None


_DEFAULT = Session()
SESSION: contextvars.ContextVar[Session] = contextvars.ContextVar("session", default=_DEFAULT)


def current() -> Session:
    return SESSION.get()
