"""Schemas: DescribeAcls (29), CreateAcls (30), DeleteAcls (31), versions 1-3 (flexible 2+).

Kafka 4.0's range (KIP-896 removed v0). ``pattern_type`` fields exist from v1, default 3
(LITERAL). tidelog has no authorizer and answers all three with SECURITY_DISABLED, as Kafka
does without one, but decodes every field so a request is judged, not dropped.
"""

from tidelog.protocol.schema import api, f

_FILTER = [
    f("resource_type_filter", "int8"),
    f("resource_name_filter", "string", nullable="0+"),
    f("pattern_type_filter", "int8", "1+", default=3),
    f("principal_filter", "string", nullable="0+"),
    f("host_filter", "string", nullable="0+"),
    f("operation", "int8"),
    f("permission_type", "int8"),
]

DESCRIBE_ACLS = api(
    29, "DescribeAcls", flexible="2+",
    request=list(_FILTER),
    response=[
        f("throttle_time_ms", "int32"),
        f("error_code", "int16"),
        f("error_message", "string", nullable="0+", default=None),
        f("resources", [
            f("resource_type", "int8"),
            f("resource_name", "string"),
            f("pattern_type", "int8", "1+", default=3),
            f("acls", [
                f("principal", "string"),
                f("host", "string"),
                f("operation", "int8"),
                f("permission_type", "int8"),
            ]),
        ]),
    ],
)

CREATE_ACLS = api(
    30, "CreateAcls", flexible="2+",
    request=[
        f("creations", [
            f("resource_type", "int8"),
            f("resource_name", "string"),
            f("resource_pattern_type", "int8", "1+", default=3),
            f("principal", "string"),
            f("host", "string"),
            f("operation", "int8"),
            f("permission_type", "int8"),
        ]),
    ],
    response=[
        f("throttle_time_ms", "int32"),
        f("results", [
            f("error_code", "int16"),
            f("error_message", "string", nullable="0+", default=None),
        ]),
    ],
)

DELETE_ACLS = api(
    31, "DeleteAcls", flexible="2+",
    request=[f("filters", list(_FILTER))],
    response=[
        f("throttle_time_ms", "int32"),
        f("filter_results", [
            f("error_code", "int16"),
            f("error_message", "string", nullable="0+", default=None),
            f("matching_acls", [
                f("error_code", "int16"),
                f("error_message", "string", nullable="0+", default=None),
                f("resource_type", "int8"),
                f("resource_name", "string"),
                f("pattern_type", "int8", "1+", default=3),
                f("principal", "string"),
                f("host", "string"),
                f("operation", "int8"),
                f("permission_type", "int8"),
            ]),
        ]),
    ],
)

APIS = (DESCRIBE_ACLS, CREATE_ACLS, DELETE_ACLS)
