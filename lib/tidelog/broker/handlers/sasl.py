"""Handlers: SaslHandshake (17), SaslAuthenticate (36), DescribeUserScramCredentials (50),
AlterUserScramCredentials (51).

The exchange, per connection (:class:`~tidelog.broker.session.Session`): SaslHandshake picks a
mechanism of ``sasl_enabled_mechanisms`` (UNSUPPORTED_SASL_MECHANISM lists them otherwise),
then SaslAuthenticate rounds carry the mechanism's messages: one for PLAIN, two for SCRAM. On
success the session is authenticated as ``User:NAME`` (session lifetime 0: no
re-authentication is required). On failure the answer is SASL_AUTHENTICATION_FAILED with a
generic message, sent after ``connection_failed_authentication_delay_ms`` (a password guesser
gets one try per delay and connection), and the connection closes; the reason goes to the log
(rate-limited). Handshakes on a listener without SASL, a second handshake or an authenticate
without one are ILLEGAL_SASL_STATE.

Credentials are read from the metadata image at each exchange, so a change made through any
broker applies to the next authentication everywhere. DescribeUserScramCredentials reports
mechanisms and iterations, never salts or keys.
"""

from __future__ import annotations

import asyncio
import logging

from tidelog.broker import session
from tidelog.broker.core import BrokerCore
from tidelog.broker.handlers.base import Handler
from tidelog.broker.quorum import ops
from tidelog.broker.ratelimit import RateLimitedLog
from tidelog.broker.sasl import credentials, plain
from tidelog.broker.sasl.scram import MECHANISMS, Credential, ScramError, ScramServer
from tidelog.protocol.apis import ApiKey
from tidelog.protocol.data import Struct
from tidelog.protocol.errors import ErrorCode
from tidelog.protocol.header import RequestHeader

log = logging.getLogger("tidelog.broker.sasl")
_refusals = RateLimitedLog(log)

_FAILED = "Authentication failed: invalid credentials"


def _lookup(core: BrokerCore, user: str, mechanism: int) -> Credential | None:
    record = core.image.scram_credentials.get((user, mechanism))
    if record is None:
        return None
    return record.salt, record.stored_key, record.server_key, record.iterations


async def sasl_handshake(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    s = session.current()
    enabled = core.config.sasl_enabled_mechanisms.split(",")
    if s.protocol not in ("SASL_PLAINTEXT", "SASL_SSL") or s.authenticated or s.mechanism:
        return Struct(error_code=int(ErrorCode.ILLEGAL_SASL_STATE), mechanisms=enabled)
    if req.mechanism not in enabled:
        return Struct(error_code=int(ErrorCode.UNSUPPORTED_SASL_MECHANISM), mechanisms=enabled)
    s.mechanism = req.mechanism
    if req.mechanism in MECHANISMS:
        mech_id = MECHANISMS[req.mechanism][1]
        s.exchange = ScramServer(req.mechanism, lambda user: _lookup(core, user, mech_id))
    return Struct(error_code=0, mechanisms=enabled)


def sasl_handshake_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(error_code=int(code), mechanisms=[])


async def sasl_authenticate(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    s = session.current()
    if s.mechanism is None or s.authenticated:
        return Struct(error_code=int(ErrorCode.ILLEGAL_SASL_STATE),
                      error_message="SaslAuthenticate without a SaslHandshake", auth_bytes=b"")
    try:
        if s.mechanism == "PLAIN":
            user, password = plain.parse(req.auth_bytes)
            await asyncio.get_running_loop().run_in_executor(
                None, plain.check, user, password, lambda u, m: _lookup(core, u, m))
            answer = b""
        else:
            exchange: ScramServer = s.exchange
            answer = exchange.step(req.auth_bytes)
            if not exchange.done:
                return Struct(error_code=0, auth_bytes=answer, session_lifetime_ms=0)
            assert exchange.user is not None
            user = exchange.user
    except ScramError as exc:
        s.failure = str(exc)
        _refusals.warning("%s: %s authentication refused: %s",
                          s.listener, s.mechanism, exc)
        await asyncio.sleep(core.config.connection_failed_authentication_delay_ms / 1000)
        return Struct(error_code=int(ErrorCode.SASL_AUTHENTICATION_FAILED),
                      error_message=_FAILED, auth_bytes=b"")
    s.principal = f"User:{user}"
    s.authenticated = True
    s.exchange = None
    return Struct(error_code=0, auth_bytes=answer, session_lifetime_ms=0)


def sasl_authenticate_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    s = session.current()
    if s.protocol.startswith("SASL"):  # never the shared session of the primary listener
        s.failure = code.name
    return Struct(error_code=int(code), error_message=code.message, auth_bytes=b"")


async def describe_user_scram_credentials(
    core: BrokerCore, header: RequestHeader, req: Struct
) -> Struct:
    stored = core.image.scram_credentials
    by_user: dict[str, list[Struct]] = {}
    for (user, mech), record in sorted(stored.items()):
        by_user.setdefault(user, []).append(
            Struct(mechanism=mech, iterations=record.iterations))
    if req.users is None or not req.users:
        results = [Struct(user=u, error_code=0, credential_infos=infos)
                   for u, infos in by_user.items()]
        return Struct(throttle_time_ms=0, error_code=0, results=results)
    names = [u.name for u in req.users]
    results = []
    for name in dict.fromkeys(names):
        if names.count(name) > 1:
            code, why = ErrorCode.DUPLICATE_RESOURCE, f"user {name} is asked for twice"
        elif name not in by_user:
            code, why = ErrorCode.RESOURCE_NOT_FOUND, f"user {name} has no SCRAM credential"
        else:
            results.append(Struct(user=name, error_code=0, credential_infos=by_user[name]))
            continue
        results.append(Struct(user=name, error_code=int(code), error_message=why,
                              credential_infos=[]))
    return Struct(throttle_time_ms=0, error_code=0, results=results)


def describe_user_scram_credentials_fallback(req: Struct, version: int, code: ErrorCode
                                             ) -> Struct:
    return Struct(error_code=int(code), error_message=code.message, results=[])


async def alter_user_scram_credentials(
    core: BrokerCore, header: RequestHeader, req: Struct
) -> Struct:
    args = {
        "deletions": [{"name": d.name, "mechanism": d.mechanism} for d in req.deletions],
        "upsertions": [
            credentials.upsertion_args(u.name, u.mechanism, u.iterations, u.salt,
                                       u.salted_password)
            for u in req.upsertions
        ],
    }
    users = list(dict.fromkeys([d.name for d in req.deletions] + [u.name for u in req.upsertions]))
    refused = await ops.alter_scram(core, args)
    results = []
    for user in users:
        if user in refused:
            name, why = refused[user]
            results.append(Struct(user=user, error_code=int(ErrorCode[name]), error_message=why))
        else:
            results.append(Struct(user=user, error_code=0, error_message=None))
    return Struct(throttle_time_ms=0, results=results)


def alter_user_scram_credentials_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    users = list(dict.fromkeys([d.name for d in req.deletions] + [u.name for u in req.upsertions]))
    return Struct(results=[Struct(user=u, error_code=int(code), error_message=code.message)
                           for u in users])


HANDLERS = {
    ApiKey.SASL_HANDSHAKE: Handler(sasl_handshake, sasl_handshake_fallback),
    ApiKey.SASL_AUTHENTICATE: Handler(sasl_authenticate, sasl_authenticate_fallback),
    ApiKey.DESCRIBE_USER_SCRAM_CREDENTIALS: Handler(
        describe_user_scram_credentials, describe_user_scram_credentials_fallback),
    ApiKey.ALTER_USER_SCRAM_CREDENTIALS: Handler(
        alter_user_scram_credentials, alter_user_scram_credentials_fallback),
}

