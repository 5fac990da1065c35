"""Schemas: SaslHandshake (17) v0-1, SaslAuthenticate (36) v0-2 (flexible 2+),
DescribeUserScramCredentials (50) v0 and AlterUserScramCredentials (51) v0 (flexible 0+).

SaslHandshake v0 is offered because librdkafka enables SASL only when the broker lists it,
but the v0 exchange (raw SASL tokens after the handshake instead of SaslAuthenticate) is not
served: every client of the matrix sends v1 and then SaslAuthenticate, and raw tokens fail to
decode as requests, which closes the connection.
SCRAM mechanisms travel as Kafka's ScramMechanism ids: 1 SCRAM-SHA-256, 2 SCRAM-SHA-512.
"""

from tidelog.protocol.schema import api, f

SASL_HANDSHAKE = api(
    17, "SaslHandshake", flexible="none",
    request=[f("mechanism", "string")],
    response=[
        f("error_code", "int16"),
        f("mechanisms", "[]string"),
    ],
)

SASL_AUTHENTICATE = api(
    36, "SaslAuthenticate", flexible="2+",
    request=[f("auth_bytes", "bytes")],
    response=[
        f("error_code", "int16"),
        f("error_message", "string", nullable="0+", default=None),
        f("auth_bytes", "bytes"),
        f("session_lifetime_ms", "int64", "1+"),
    ],
)

DESCRIBE_USER_SCRAM_CREDENTIALS = api(
    50, "DescribeUserScramCredentials", flexible="0+",
    request=[f("users", [f("name", "string")], nullable="0+")],
    response=[
        f("throttle_time_ms", "int32"),
        f("error_code", "int16"),
        f("error_message", "string", nullable="0+", default=None),
        f("results", [
            f("user", "string"),
            f("error_code", "int16"),
            f("error_message", "string", nullable="0+", default=None),
            f("credential_infos", [
                f("mechanism", "int8"),
                f("iterations", "int32"),
            ]),
        ]),
    ],
)

ALTER_USER_SCRAM_CREDENTIALS = api(
    51, "AlterUserScramCredentials", flexible="0+",
    request=[
        f("deletions", [
            f("name", "string"),
            f("mechanism", "int8"),
        ]),
        f("upsertions", [
            f("name", "string"),
            f("mechanism", "int8"),
            f("iterations", "int32"),
            f("salt", "bytes"),
            f("salted_password", "bytes"),
        ]),
    ],
    response=[
        f("throttle_time_ms", "int32"),
        f("results", [
            f("user", "string"),
            f("error_code", "int16"),
            f("error_message", "string", nullable="0+", default=None),
        ]),
    ],
)

APIS = (SASL_HANDSHAKE, SASL_AUTHENTICATE, DESCRIBE_USER_SCRAM_CREDENTIALS,
        ALTER_USER_SCRAM_CREDENTIALS)
