"""Schemas: DescribeClientQuotas (48) and AlterClientQuotas (49), v0-1 (flexible 1+).

An entity is a list of (entity_type, entity_name) pairs; types are ``user``, ``client-id``
and ``ip``, a null name is the type's default entity. DescribeClientQuotas filters with
components: match_type 0 EXACT (``match`` names the entity), 1 DEFAULT, 2 ANY (any
specified entity of the type); ``strict`` asks for entities with exactly the components'
types. Quota values are float64 (byte rates per second, request percentage).
"""

from tidelog.protocol.schema import api, f

_ENTITY = [f("entity_type", "string"), f("entity_name", "string", nullable="0+")]

DESCRIBE_CLIENT_QUOTAS = api(
    48, "DescribeClientQuotas", flexible="1+",
    request=[
        f("components", [
            f("entity_type", "string"),
            f("match_type", "int8"),
            f("match", "string", nullable="0+"),
        ]),
        f("strict", "bool"),
    ],
    response=[
        f("throttle_time_ms", "int32"),
        f("error_code", "int16"),
        f("error_message", "string", nullable="0+", default=None),
        f("entries", [
            f("entity", _ENTITY),
            f("values", [f("key", "string"), f("value", "float64")]),
        ], nullable="0+"),
    ],
)

ALTER_CLIENT_QUOTAS = api(
    49, "AlterClientQuotas", flexible="1+",
    request=[
        f("entries", [
            f("entity", _ENTITY),
            f("ops", [f("key", "string"), f("value", "float64"), f("remove", "bool")]),
        ]),
        f("validate_only", "bool"),
    ],
    response=[
        f("throttle_time_ms", "int32"),
        f("entries", [
            f("error_code", "int16"),
            f("error_message", "string", nullable="0+", default=None),
            f("entity", _ENTITY),
        ]),
    ],
)

APIS = (DESCRIBE_CLIENT_QUOTAS, ALTER_CLIENT_QUOTAS)
