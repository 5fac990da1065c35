"""Message schemas, one module per area, declared as data with :func:`tidelog.protocol.schema.f`.

Written from Apache Kafka's JSON message definitions (field names in snake_case, Kafka's
version ranges); fields that exist only in versions below tidelog's floor (KIP-896) are left
out. ``ALL`` lists every API schema; the supported version ranges live in
:mod:`tidelog.protocol.apis`, not here.
"""

from tidelog.protocol.messages import (
    acls,
    admin,
    fetch,
    groups,
    metadata,
    produce,
    quorum,
    quotas,
    reassign,
    security,
    txn,
)
from tidelog.protocol.schema import ApiSchema

ALL: tuple[ApiSchema, ...] = (
    *metadata.APIS,
    *produce.APIS,
    *fetch.APIS,
    *admin.APIS,
    *acls.APIS,
    *groups.APIS,
    *quorum.APIS,
    *txn.APIS,
    *reassign.APIS,
    *security.APIS,
    *quotas.APIS,
)
