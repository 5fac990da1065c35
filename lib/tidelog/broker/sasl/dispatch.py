"""The dispatcher of the secure listeners: SASL first where the listener asks for it, then
ACL checks where an authorizer is configured.

SASL (Kafka's rule): until SaslAuthenticate succeeds, a request of any API but ApiVersions,
SaslHandshake and SaslAuthenticate closes the connection (no answer: the client did not
follow the protocol). A refused authentication is answered (SASL_AUTHENTICATION_FAILED,
after ``connection_failed_authentication_delay_ms``, which the handler waits) and then the
connection closes.

Authorization (``authorizer = "standard"``): each request's resources
(:mod:`tidelog.broker.acl.requests`) are checked for the session's principal and host; a
refused one answers the handler's fallback with the resource type's *_AUTHORIZATION_FAILED
code on every entry (a refused acks=0 Produce closes the connection, as Kafka does, since it
gets no answer). CreateTopics is allowed by CREATE on the cluster or on the topic. Metadata
lists only the topics the principal may DESCRIBE (one it named and may not gets
TOPIC_AUTHORIZATION_FAILED, and auto-creation needs CREATE); ListGroups lists the groups it
may DESCRIBE, DescribeTopicPartitions the topics.

The primary PLAINTEXT listener uses this class only with an authorizer (its clients are
``User:ANONYMOUS``, checked like any principal); without one its requests cost nothing extra.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Sized

from tidelog.broker import session
from tidelog.broker.acl.authorizer import (
    CLUSTER,
    CLUSTER_NAME,
    CREATE,
    DESCRIBE,
    GROUP,
    TOPIC,
    Authorizer,
)
from tidelog.broker.acl.requests import CHECKS, ERRORS
from tidelog.broker.core import BrokerCore
from tidelog.broker.dispatch import CloseConnection, Dispatcher
from tidelog.broker.handlers.base import Handler
from tidelog.protocol.apis import ApiKey
from tidelog.protocol.data import Struct
from tidelog.protocol.errors import ErrorCode
from tidelog.protocol.header import RequestHeader

_ZERO_UUID = uuid.UUID(int=0)
_BEFORE_AUTH = frozenset({ApiKey.API_VERSIONS, ApiKey.SASL_HANDSHAKE, ApiKey.SASL_AUTHENTICATE})


class SecureDispatcher(Dispatcher):
    def __init__(self, core: BrokerCore, *, sasl: bool, authorizer: Authorizer | None) -> None:
        super().__init__(core)
        self.sasl = sasl
        self.authorizer = authorizer

    async def dispatch(self, frame: bytes) -> list[Sized] | None:
        s = session.current()
        if s.authenticated:
            return await super().dispatch(frame)
        key = int.from_bytes(frame[:2], "big", signed=True) if len(frame) >= 2 else -1
        if key not in _BEFORE_AUTH:
            name = ApiKey(key).name if key in ApiKey._value2member_map_ else f"API {key}"
            raise CloseConnection(f"{name} before SASL authentication")
        parts = await super().dispatch(frame)
        if s.failure is not None:
            raise CloseConnection(f"authentication failed: {s.failure}", answer=parts)
        return parts

    def allowed(self, operation: int, rtype: int, name: str) -> bool:
        assert self.authorizer is not None
        s = session.current()
        return self.authorizer.authorize(
            self.core.image.acls.values(), s.principal, s.host, operation, rtype, name)

    async def call(self, handler: Handler, header: RequestHeader, body: Struct) -> Struct | None:
        if self.authorizer is None:
            return await super().call(handler, header, body)
        key = header.api_key
        if key == ApiKey.METADATA:
            return await self._metadata(handler, header, body)
        checks = CHECKS.get(ApiKey(key))
        if checks is not None:
            for operation, rtype, name in checks(body, header.api_version,
                                                 self.core.topic_name_of):  # type: ignore[arg-type]
                if self.allowed(operation, rtype, name):
                    continue
                if key == ApiKey.CREATE_TOPICS and self.allowed(CREATE, CLUSTER, CLUSTER_NAME):
                    continue
                if key == ApiKey.PRODUCE and body.acks == 0:
                    raise CloseConnection(f"acks=0 Produce to {name} is not authorized")
                return handler.fallback(body, header.api_version, ERRORS[rtype])
        result = await super().call(handler, header, body)
        if result is not None and key == ApiKey.LIST_GROUPS and not self.allowed(
                DESCRIBE, CLUSTER, CLUSTER_NAME):
            result.groups = [g for g in result.groups if self.allowed(DESCRIBE, GROUP, g.group_id)]
        if result is not None and key == ApiKey.DESCRIBE_TOPIC_PARTITIONS:
            result.topics = [t for t in result.topics if self.allowed(DESCRIBE, TOPIC, t.name)]
        return result

    async def _metadata(self, handler: Handler, header: RequestHeader, body: Struct
                        ) -> Struct | None:
        refused: list[str] = []
        if body.topics is not None:
            body = copy.copy(body)
            wanted = []
            for entry in body.topics:
                name = entry.name or self.core.topic_name_of(entry.topic_id) or ""
                if self.allowed(DESCRIBE, TOPIC, name):
                    wanted.append(entry)
                    if self.core.image.topic(name) is None and not (
                            self.allowed(CREATE, TOPIC, name)
                            or self.allowed(CREATE, CLUSTER, CLUSTER_NAME)):
                        body.allow_auto_topic_creation = False
                else:
                    refused.append(name)
            body.topics = wanted
        result = await super().call(handler, header, body)
        if result is None:
            return None
        result.topics = [t for t in result.topics
                         if t.name is None or self.allowed(DESCRIBE, TOPIC, t.name)]
        code = int(ErrorCode.TOPIC_AUTHORIZATION_FAILED)
        for name in refused:
            result.topics.append(Struct(error_code=code, name=name,
                                        topic_id=_ZERO_UUID, partitions=[]))
        return result

