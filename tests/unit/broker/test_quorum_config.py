"""Roles, voters and quorum addresses: accepted combinations and refused ones (exit 2)."""

from __future__ import annotations

import pytest
from tidelog.broker.config import BrokerConfig, ConfigError, HostPort, parse_quorum

Q = "1@127.0.0.1:9100,2@127.0.0.2:9101,3@127.0.0.3:9102"


def load(**overrides: object) -> BrokerConfig:
    return BrokerConfig.load(env={}, overrides=overrides)


def test_default_is_a_single_node() -> None:
    c = load()
    assert c.roles == "broker,controller" and not c.is_cluster
    assert c.is_broker and c.is_controller and c.voters == {}


def test_parse_quorum() -> None:
    assert parse_quorum(" 1@a:1 , 2@[::1]:2,") == ((1, HostPort("a", 1)), (2, HostPort("::1", 2)))
    for bad in ("1:a:1", "x@a:1", "1@a", "1@a:1,1@b:2"):
        with pytest.raises(ValueError):
            parse_quorum(bad)


def test_controller_address_comes_from_the_quorum() -> None:
    c = load(node_id=2, quorum=Q)
    assert c.is_cluster and c.controller_address == HostPort("127.0.0.2", 9101)
    c = load(node_id=2, quorum=Q, controller_listen="0.0.0.0:9101")
    assert c.controller_address == HostPort("0.0.0.0", 9101)
    b = load(node_id=7, quorum=Q, roles="broker")
    assert b.controller_address is None and not b.is_controller


def test_roles_are_normalised() -> None:
    assert load(node_id=1, quorum=Q, roles="controller, broker").roles == "broker,controller"


@pytest.mark.parametrize("overrides,message", [
    ({"roles": "broker"}, "needs a quorum"),
    ({"roles": "controller"}, "needs a quorum"),
    ({"roles": "leader"}, "not broker, controller"),
    ({"node_id": 7, "quorum": Q}, "not a voter"),
    ({"node_id": 2, "quorum": Q, "roles": "broker"}, "runs no controller"),
    ({"node_id": 2, "quorum": Q, "controller_listen": "127.0.0.2:9999"}, "quorum address"),
    ({"node_id": 2, "quorum": Q, "controller_listen": "127.0.0.2:0"}, "quorum address"),
    ({"quorum": "1@a:1,1@b:2"}, "listed twice"),
    ({"node_id": 1, "quorum": Q, "broker_heartbeat_interval_ms": 4000}, "twice"),
])
def test_misconfiguration_is_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(**overrides)
