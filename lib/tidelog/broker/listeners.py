"""Named listeners, Kafka's way: ``NAME://HOST:PORT`` and a map from name to security protocol.

A broker always has its primary listener, ``listen``, named ``PLAINTEXT`` and speaking plain
TCP: replica fetchers, transaction markers and the project's defaults use it, so a cluster
keeps working whatever the client listeners ask for. It follows Kafka's rule for a PLAINTEXT
listener: no authentication, every client is ``User:ANONYMOUS`` from its address, and with an
authorizer it is checked like any listener (no ACL for ANONYMOUS, no access), so the plain
address is no way around SASL and ACLs. :func:`plain_listener_warnings` names, at start, the
configurations where it still is (or where followers will be refused).

``listeners`` adds more, each named and bound on its own address;
``listener_security_protocol_map`` (Kafka's ``listener.security.protocol.map``) says what each
name speaks: PLAINTEXT, SSL (TLS through the standard library's :mod:`ssl`), SASL_PLAINTEXT or
SASL_SSL (SASL authentication first, see :mod:`tidelog.broker.sasl`). ``advertised_listeners``
gives a listener the address clients are told (default: where it is bound). A Metadata answer
lists, for every broker, the endpoint of the listener the request came in on, as Kafka does.

Parsing is pure (no socket, no file); :func:`ssl_context` reads the certificate files and raises
:class:`ListenerError` naming the file when one is unusable, so a misconfigured broker stops at
start instead of failing each handshake.
"""

from __future__ import annotations

import dataclasses
import re
import ssl
from collections.abc import Mapping
from pathlib import Path

from tidelog.broker.addresses import parse_host_port
from tidelog.errors import TidelogError
from tidelog.metadata.records import Endpoint

PRIMARY = "PLAINTEXT"
PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
DEFAULT_PROTOCOL_MAP = ",".join(f"{p}:{p}" for p in PROTOCOLS)
CLIENT_AUTH = ("none", "requested", "required")

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_URL = re.compile(r"^(?P<name>[^:/\s]+)://(?P<addr>\S+)$")


class ListenerError(TidelogError):
    """A listener setting that cannot be used."""


@dataclasses.dataclass(frozen=True, slots=True)
class ListenerSpec:
    """One listener: its name, what it speaks, where it binds and what clients are told."""

    name: str
    protocol: str
    host: str
    port: int
    advertised_host: str
    advertised_port: int

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")


def parse_protocol_map(text: str) -> dict[str, str]:
    """``NAME:PROTOCOL,...`` -> {NAME: PROTOCOL} (raises ValueError)."""
    out: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, protocol = part.partition(":")
        name, protocol = name.strip().upper(), protocol.strip().upper()
        if not sep or not _NAME.match(name):
            raise ValueError(f"{part!r} is not NAME:PROTOCOL")
        if protocol not in PROTOCOLS:
            raise ValueError(f"{protocol!r} is not one of {', '.join(PROTOCOLS)}")
        if name in out:
            raise ValueError(f"listener {name} is mapped twice")
        out[name] = protocol
    return out


def parse_listeners(text: str) -> dict[str, tuple[str, int]]:
    """``NAME://HOST:PORT,...`` -> {NAME: (host, port)} in order (raises ValueError).

    IPv6 hosts are written in brackets, ``SSL://[::1]:9093``."""
    out: dict[str, tuple[str, int]] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        match = _URL.match(part)
        if match is None or not _NAME.match(match["name"]):
            raise ValueError(f"{part!r} is not NAME://HOST:PORT")
        name = match["name"].upper()
        if name in out:
            raise ValueError(f"listener {name} is listed twice")
        addr = parse_host_port(match["addr"])
        out[name] = (addr.host, addr.port)
    return out


def build(
    listeners: str, advertised: str, protocol_map: str
) -> tuple[ListenerSpec, ...]:
    """The extra listeners (beyond the primary), checked against each other and the map."""
    protocols = parse_protocol_map(protocol_map)
    bound = parse_listeners(listeners)
    told = parse_listeners(advertised)
    if PRIMARY in bound:
        raise ValueError(
            f"{PRIMARY} is the primary listener (the listen address); name this one otherwise")
    for name in told:
        if name not in bound:
            raise ValueError(f"advertised listener {name} is not in listeners")
    specs = []
    for name, (host, port) in bound.items():
        protocol = protocols.get(name)
        if protocol is None:
            raise ValueError(
                f"listener {name} has no security protocol: add {name}:PROTOCOL to "
                "listener_security_protocol_map")
        adv_host, adv_port = told.get(name, (host, port))
        if adv_host in ("0.0.0.0", "::"):
            raise ValueError(f"listener {name} binds a wildcard address: advertise it")
        specs.append(ListenerSpec(name, protocol, host, port, adv_host, adv_port))
    if protocols.get(PRIMARY, PRIMARY) != PRIMARY:
        raise ValueError(f"the primary listener {PRIMARY} speaks PLAINTEXT")
    return tuple(specs)


def with_port(spec: ListenerSpec, port: int) -> ListenerSpec:
    """``spec`` once bound: a port 0 becomes the kernel's choice, also where it is advertised."""
    if spec.port != 0:
        return spec
    adv = port if spec.advertised_port == 0 else spec.advertised_port
    return dataclasses.replace(spec, port=port, advertised_port=adv)


def ssl_context(
    certificate: Path | None, key: Path | None, ca: Path | None, client_auth: str
) -> ssl.SSLContext:
    """The server context of every TLS listener (TLS 1.2 or later)."""
    if certificate is None:
        raise ListenerError("a TLS listener needs ssl_certificate_location (a PEM file)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(certificate), str(key) if key is not None else None)
    except (OSError, ssl.SSLError) as exc:
        raise ListenerError(f"{certificate}: cannot load the certificate and key: {exc}") from None
    if client_auth != "none":
        if ca is None:
            raise ListenerError(
                f"ssl_client_auth = {client_auth} needs ssl_ca_location to check client "
                "certificates")
        try:
            context.load_verify_locations(str(ca))
        except (OSError, ssl.SSLError) as exc:
            raise ListenerError(f"{ca}: cannot load the CA certificates: {exc}") from None
        context.verify_mode = (
            ssl.CERT_REQUIRED if client_auth == "required" else ssl.CERT_OPTIONAL)
    return context


def principal_of(cert: Mapping[str, object] | None) -> str:
    """Kafka's default SSL principal: ``User:`` and the subject's distinguished name
    (``CN=alice,OU=eng,O=example``, most specific first), or ``User:ANONYMOUS``."""
    if not cert:
        return ANONYMOUS
    subject = cert.get("subject")
    if not isinstance(subject, tuple):
        return ANONYMOUS
    names = {"commonName": "CN", "organizationalUnitName": "OU", "organizationName": "O",
             "localityName": "L", "stateOrProvinceName": "ST", "countryName": "C",
             "emailAddress": "EMAILADDRESS"}
    parts = [f"{names.get(k, k)}={v}" for rdn in reversed(subject) for k, v in rdn]
    return "User:" + ",".join(parts) if parts else ANONYMOUS


ANONYMOUS = "User:ANONYMOUS"


def plain_listener_warnings(
    listen: str, loopback: bool, specs: tuple[ListenerSpec, ...], authorizer: bool,
    super_users: frozenset[str], cluster: bool,
) -> list[str]:
    """What logd warns about the primary (PLAINTEXT) listener at start, given its address
    (``loopback``: only this host reaches it), the extra listeners and the security settings."""
    warnings = []
    sasl = [s.name for s in specs if s.uses_sasl]
    if sasl and not authorizer and not loopback:
        warnings.append(
            f"listen address {listen} is PLAINTEXT: its clients are not authenticated and, "
            f"without an authorizer, may do everything, whatever SASL on {', '.join(sasl)} "
            "asks for (set authorizer = \"standard\", or listen on a loopback address)")
    if authorizer and ANONYMOUS in super_users and not loopback:
        warnings.append(
            f"{ANONYMOUS} is a super user: every client reaching the PLAINTEXT listen address "
            f"{listen} may do everything (listen on an address only the brokers reach)")
    if authorizer and cluster and ANONYMOUS not in super_users:
        warnings.append(
            f"followers fetch from the PLAINTEXT listen address {listen} as {ANONYMOUS}: "
            "they are refused unless an ACL allows it CLUSTER_ACTION on the cluster from the "
            "brokers' hosts")
    return warnings


#: Kafka's SecurityProtocol ids, as metadata endpoints carry them.
PROTOCOL_IDS = {"PLAINTEXT": 0, "SSL": 1, "SASL_PLAINTEXT": 2, "SASL_SSL": 3}


def endpoint_args(specs: tuple[ListenerSpec, ...]) -> list[list[object]]:
    """The extra listeners as the broker registers them: ``[name, host, port, protocol id]``."""
    return [[s.name, s.advertised_host, s.advertised_port, PROTOCOL_IDS[s.protocol]]
            for s in specs]


def endpoints_from(args: object) -> tuple[Endpoint, ...]:
    """Endpoints from :func:`endpoint_args`' form (an RPC argument; anything else: none)."""
    if not isinstance(args, list):
        return ()
    return tuple(Endpoint(str(a[0]), str(a[1]), int(a[2]), int(a[3])) for a in args)


def endpoint_for(endpoints: tuple[Endpoint, ...], listener: str) -> Endpoint | None:
    """A broker's endpoint on ``listener`` (None: it has none there, and is not listed)."""
    for endpoint in endpoints:
        if endpoint.name == listener:
            return endpoint
    return None
