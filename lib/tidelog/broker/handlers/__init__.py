"""Request handlers, one module per family, and the dispatch table by API key.

``HANDLERS`` maps every API logd serves to its :class:`~tidelog.broker.handlers.base.Handler`;
it must equal :data:`~tidelog.broker.handlers.cluster.SERVED`, the set ApiVersions advertises.
"""

from __future__ import annotations

from tidelog.broker.groups import handlers as groups
from tidelog.broker.handlers import (
    acls,
    admin,
    cluster,
    delete_records,
    fetch,
    log_dirs,
    offsets,
    produce,
    quorum,
    quotas,
    reassign,
    sasl,
)
from tidelog.broker.handlers.base import Handler
from tidelog.broker.txn import handlers as txn
from tidelog.protocol.apis import ApiKey

HANDLERS: dict[ApiKey, Handler] = {
    **cluster.HANDLERS,
    **admin.HANDLERS,
    **log_dirs.HANDLERS,
    **acls.HANDLERS,
    **produce.HANDLERS,
    **fetch.HANDLERS,
    **offsets.HANDLERS,
    **delete_records.HANDLERS,
    **groups.HANDLERS,
    **quorum.HANDLERS,
    **txn.HANDLERS,
    **reassign.HANDLERS,
    **sasl.HANDLERS,
    **quotas.HANDLERS,
}

assert set(HANDLERS) == cluster.SERVED, "every advertised API needs a handler"

__all__ = ["HANDLERS", "Handler"]
