"""Handlers: DescribeClientQuotas (48) and AlterClientQuotas (49).

The quotas are metadata records (``client_quota``), changed through the active controller
(:func:`tidelog.broker.quorum.ops.alter_client_quotas`, rules in
:mod:`tidelog.broker.quota.changes`) and enforced by every broker from its image
(:mod:`tidelog.broker.quota.throttle`). An invalid filter answers INVALID_REQUEST on the
response; a refused alteration INVALID_REQUEST on its entry, the others being stored.
"""

from __future__ import annotations

from tidelog.broker.core import BrokerCore
from tidelog.broker.handlers.base import Handler
from tidelog.broker.quorum import ops
from tidelog.broker.quota import changes
from tidelog.protocol.apis import ApiKey
from tidelog.protocol.data import Struct
from tidelog.protocol.errors import ErrorCode
from tidelog.protocol.header import RequestHeader


def _entity(pairs: object) -> list[Struct]:
    return [Struct(entity_type=t, entity_name=n) for t, n in pairs]  # type: ignore[attr-defined]


async def describe_client_quotas(core: BrokerCore, header: RequestHeader, req: Struct
                                 ) -> Struct:
    found = changes.describe(
        core.image.client_quotas,
        [(c.entity_type, c.match_type, c.match) for c in req.components], req.strict)
    if isinstance(found, str):
        return Struct(throttle_time_ms=0, error_code=int(ErrorCode.INVALID_REQUEST),
                      error_message=found, entries=None)
    entries = [Struct(entity=_entity(entity),
                      values=[Struct(key=k, value=v) for k, v in sorted(values.items())])
               for entity, values in found]
    return Struct(throttle_time_ms=0, error_code=0, error_message=None, entries=entries)


def describe_client_quotas_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(error_code=int(code), error_message=code.message, entries=None)


async def alter_client_quotas(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    args = {
        "entries": [{"entity": [[e.entity_type, e.entity_name] for e in entry.entity],
                     "ops": [[o.key, o.value, o.remove] for o in entry.ops]}
                    for entry in req.entries],
        "validate_only": bool(req.validate_only),
    }
    errors = await ops.alter_client_quotas(core, args)
    code = int(ErrorCode.INVALID_REQUEST)
    return Struct(throttle_time_ms=0, entries=[
        Struct(error_code=0 if why is None else code, error_message=why, entity=entry.entity)
        for entry, why in zip(req.entries, errors, strict=True)])


def alter_client_quotas_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(entries=[Struct(error_code=int(code), error_message=code.message,
                                  entity=entry.entity) for entry in req.entries])


HANDLERS = {
    ApiKey.DESCRIBE_CLIENT_QUOTAS: Handler(describe_client_quotas,
                                           describe_client_quotas_fallback),
    ApiKey.ALTER_CLIENT_QUOTAS: Handler(alter_client_quotas, alter_client_quotas_fallback),
}
