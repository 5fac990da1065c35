"""Named listeners: parsing ``listeners``/``advertised_listeners`` and the protocol map, the
config checks around them, the SSL principal, and the start-up warnings about the plain
listen address."""

from __future__ import annotations

import pytest
from tidelog.broker import listeners as L
from tidelog.broker.config import BrokerConfig, ConfigError
from tidelog.broker.listeners import (
    ListenerSpec,
    build,
    parse_protocol_map,
    principal_of,
    with_port,
)

MAP = "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL"


def test_listeners_with_advertised_addresses() -> None:
    specs = build("SSL://127.0.0.1:9093, client://[::1]:0", "CLIENT://example.net:19094",
                  MAP + ",CLIENT:SASL_SSL")
    assert specs == (
        ListenerSpec("SSL", "SSL", "127.0.0.1", 9093, "127.0.0.1", 9093),
        ListenerSpec("CLIENT", "SASL_SSL", "::1", 0, "example.net", 19094),
    )
    assert specs[1].uses_tls and specs[1].uses_sasl and not specs[0].uses_sasl
    bound = with_port(ListenerSpec("SSL", "SSL", "h", 0, "h", 0), 4242)
    assert (bound.port, bound.advertised_port) == (4242, 4242)


@pytest.mark.parametrize("listeners, advertised, protocols, message", [
    ("SSL:/127.0.0.1:1", "", MAP, "not NAME://HOST:PORT"),
    ("SSL://127.0.0.1", "", MAP, "not HOST:PORT"),
    ("SSL://h:1,ssl://h:2", "", MAP, "listed twice"),
    ("PLAINTEXT://h:1", "", MAP, "primary listener"),
    ("OTHER://h:1", "", MAP, "no security protocol"),
    ("SSL://h:1", "SASL_SSL://h:2", MAP, "not in listeners"),
    ("SSL://0.0.0.0:1", "", MAP, "wildcard"),
    ("SSL://h:1", "", "SSL:TLS", "is not one of"),
    ("SSL://h:1", "", MAP + ",PLAINTEXT:SSL", "mapped twice"),
    ("SSL://h:1", "", "PLAINTEXT:SSL,SSL:SSL", "speaks PLAINTEXT"),
])
def test_bad_listeners(listeners: str, advertised: str, protocols: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(listeners, advertised, protocols)


def test_protocol_map_names_are_case_insensitive() -> None:
    assert parse_protocol_map("client:sasl_ssl") == {"CLIENT": "SASL_SSL"}


def test_config_refuses_tls_without_a_certificate() -> None:
    with pytest.raises(ConfigError, match="TLS listener needs ssl_certificate_location"):
        BrokerConfig.load(env={"TIDELOG_LISTENERS": "SSL://127.0.0.1:0"})
    with pytest.raises(ConfigError, match=r"TIDELOG_LISTENERS: .*no security protocol"):
        BrokerConfig.load(env={"TIDELOG_LISTENERS": "X://127.0.0.1:0"})
    with pytest.raises(ConfigError, match="needs ssl_ca_location"):
        BrokerConfig.load(env={"TIDELOG_SSL_CLIENT_AUTH": "required"})
    with pytest.raises(ConfigError, match="SASL mechanisms"):
        BrokerConfig.load(env={"TIDELOG_SASL_ENABLED_MECHANISMS": "GSSAPI"})
    config = BrokerConfig.load(env={"TIDELOG_LISTENERS": "SASL_PLAINTEXT://127.0.0.1:0"})
    assert [s.protocol for s in config.listener_specs()] == ["SASL_PLAINTEXT"]


def test_principal_from_a_certificate() -> None:
    cert = {"subject": ((("countryName", "NO"),), (("organizationName", "example"),),
                        (("commonName", "alice"),))}
    assert principal_of(cert) == "User:CN=alice,O=example,C=NO"
    assert principal_of(None) == "User:ANONYMOUS"


def _sasl_spec() -> L.ListenerSpec:
    return L.ListenerSpec("SASL_SSL", "SASL_SSL", "0.0.0.0", 9094, "b1", 9094)


def test_plain_listener_warnings_name_what_undoes_the_security_settings() -> None:
    warn = L.plain_listener_warnings
    anonymous = frozenset({L.ANONYMOUS})
    # SASL without an authorizer: only when others can reach the plain address
    assert warn("10.0.0.1:9092", False, (_sasl_spec(),), False, frozenset(), False)[0].startswith(
        "listen address 10.0.0.1:9092 is PLAINTEXT")
    assert warn("127.0.0.1:9092", True, (_sasl_spec(),), False, frozenset(), False) == []
    # ANONYMOUS a super user on a reachable address
    (only,) = warn("10.0.0.1:9092", False, (), True, anonymous, True)
    assert "User:ANONYMOUS is a super user" in only
    assert warn("127.0.0.1:9092", True, (), True, anonymous, False) == []
    # a cluster with an authorizer: followers fetch as ANONYMOUS
    (only,) = warn("127.0.0.1:9092", True, (), True, frozenset({"User:admin"}), True)
    assert "CLUSTER_ACTION" in only
    assert warn("127.0.0.1:9092", True, (), True, frozenset({"User:admin"}), False) == []
    assert warn("10.0.0.1:9092", False, (), False, frozenset(), True) == []
