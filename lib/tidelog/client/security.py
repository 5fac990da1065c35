"""How the client reaches a secured listener: TLS and SASL settings, in librdkafka's names.

:class:`ClientSecurity` is built from client properties as kcat and librdkafka spell them
(``security.protocol``, ``sasl.mechanism`` or ``sasl.mechanisms``, ``sasl.username``,
``sasl.password``, ``ssl.ca.location``, ``ssl.certificate.location``, ``ssl.key.location``,
``ssl.endpoint.identification.algorithm`` = ``https`` or ``none``). A connection with TLS
checks the broker's certificate against ``ssl.ca.location`` (else the system's CAs) and, by
default, its host name; with SASL it runs SaslHandshake v1 and SaslAuthenticate after
ApiVersions (:func:`authenticate`), PLAIN or SCRAM-SHA-256/512 (RFC 5802's client side: the
server's final signature is checked too, so a broker that does not hold the key is refused).

Errors: a property that cannot be used raises :class:`SecurityConfigError` naming it; a refused
login raises :class:`~tidelog.client.errors.AuthenticationFailed` (not retried) with the
broker's message.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import secrets
import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from tidelog.client.errors import AuthenticationFailed, ClientError

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = {"PLAIN": None, "SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}
#: The property names this module reads (kcat's -X names).
PROPERTIES = (
    "security.protocol", "sasl.mechanism", "sasl.mechanisms", "sasl.username", "sasl.password",
    "ssl.ca.location", "ssl.certificate.location", "ssl.key.location",
    "ssl.endpoint.identification.algorithm",
)


class SecurityConfigError(ClientError):
    """A security property that cannot be used."""


@dataclasses.dataclass(frozen=True)
class ClientSecurity:
    protocol: str = "PLAINTEXT"
    mechanism: str = "PLAIN"
    username: str | None = None
    password: str | None = None
    ca_location: str | None = None
    certificate_location: str | None = None
    key_location: str | None = None
    check_hostname: bool = True

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    @classmethod
    def from_properties(cls, props: Mapping[str, str]) -> ClientSecurity:
        unknown = sorted(set(props) - set(PROPERTIES))
        if unknown:
            raise SecurityConfigError(f"unknown security properties: {', '.join(unknown)}")
        protocol = props.get("security.protocol", "PLAINTEXT").upper()
        if protocol not in PROTOCOLS:
            raise SecurityConfigError(
                f"security.protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}")
        mechanism = props.get("sasl.mechanism", props.get("sasl.mechanisms", "PLAIN")).upper()
        if mechanism not in MECHANISMS:
            raise SecurityConfigError(
                f"sasl.mechanism {mechanism!r} is not one of {', '.join(MECHANISMS)}")
        algorithm = props.get("ssl.endpoint.identification.algorithm", "https").lower()
        if algorithm not in ("https", "none", ""):
            raise SecurityConfigError(
                "ssl.endpoint.identification.algorithm is https or none")
        security = cls(protocol, mechanism, props.get("sasl.username"),
                       props.get("sasl.password"), props.get("ssl.ca.location"),
                       props.get("ssl.certificate.location"), props.get("ssl.key.location"),
                       algorithm == "https")
        if security.uses_sasl and (security.username is None or security.password is None):
            raise SecurityConfigError(f"{protocol} needs sasl.username and sasl.password")
        return security

    def ssl_context(self) -> ssl.SSLContext | None:
        """The context for TLS connections (None without TLS); raises SecurityConfigError."""
        if not self.uses_tls:
            return None
        try:
            context = ssl.create_default_context(cafile=self.ca_location)
            context.check_hostname = self.check_hostname
            if self.certificate_location is not None:
                context.load_cert_chain(self.certificate_location, self.key_location)
        except (OSError, ssl.SSLError) as exc:
            raise SecurityConfigError(f"cannot load the TLS files: {exc}") from None
        return context


Send = Callable[[int, int, dict[str, Any]], Awaitable[Any]]
_SASL_HANDSHAKE, _SASL_AUTHENTICATE = 17, 36


async def authenticate(send: Send, security: ClientSecurity, versions: Mapping[int, Any]) -> None:
    """The SASL exchange on a new connection (``send(api_key, version, body)`` answers)."""
    if _SASL_AUTHENTICATE not in versions:
        raise ClientError("the broker offers no SaslAuthenticate")
    version = min(2, int(versions[_SASL_AUTHENTICATE][1]))
    answer = await send(_SASL_HANDSHAKE, 1, {"mechanism": security.mechanism})
    if answer.error_code:
        raise AuthenticationFailed(f"SASL mechanism {security.mechanism} refused (error "
                          f"{answer.error_code}); the broker offers {', '.join(answer.mechanisms)}")

    async def step(token: bytes) -> bytes:
        reply = await send(_SASL_AUTHENTICATE, version, {"auth_bytes": token})
        if reply.error_code:
            raise AuthenticationFailed(
                f"SASL authentication failed: {reply.error_message or 'refused'}")
        return bytes(reply.auth_bytes)

    assert security.username is not None and security.password is not None
    user, password = security.username, security.password.encode()
    hash_name = MECHANISMS[security.mechanism]
    if hash_name is None:
        await step(b"\0" + user.encode() + b"\0" + password)
        return
    name = user.replace("=", "=3D").replace(",", "=2C")
    nonce = secrets.token_urlsafe(24)
    bare = f"n={name},r={nonce}"
    server_first = (await step(f"n,,{bare}".encode())).decode()
    attrs = dict(part.split("=", 1) for part in server_first.split(","))
    if not attrs.get("r", "").startswith(nonce):
        raise ClientError("the broker's SCRAM nonce does not extend ours")
    salted = hashlib.pbkdf2_hmac(hash_name, password, base64.b64decode(attrs["s"]),
                                 int(attrs["i"]))
    without_proof = f"c=biws,r={attrs['r']}"
    auth = f"{bare},{server_first},{without_proof}".encode()
    client_key = hmac.digest(salted, b"Client Key", hash_name)
    signature = hmac.digest(hashlib.new(hash_name, client_key).digest(), auth, hash_name)
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    final = await step(f"{without_proof},p={base64.b64encode(proof).decode()}".encode())
    expected = hmac.digest(hmac.digest(salted, b"Server Key", hash_name), auth, hash_name)
    if final.decode(errors="replace") != "v=" + base64.b64encode(expected).decode():
        raise AuthenticationFailed(
            "the broker's SCRAM signature is wrong: it does not hold the key")
