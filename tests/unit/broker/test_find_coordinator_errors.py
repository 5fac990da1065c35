"""FindCoordinator while ``__consumer_offsets`` cannot be created yet (no active controller,
a controller that does not answer in time): the answer is COORDINATOR_NOT_AVAILABLE, which
every client retries, as Kafka answers it. NOT_CONTROLLER or REQUEST_TIMED_OUT are not
FindCoordinator errors: librdkafka's admin client failed describe_consumer_groups with
NOT_CONTROLLER during a cluster's first seconds."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from tidelog.broker.config import BrokerConfig
from tidelog.broker.core import BrokerCore
from tidelog.broker.handlers import HANDLERS
from tidelog.broker.quorum.cluster import NotControllerError
from tidelog.protocol.apis import ApiKey
from tidelog.protocol.data import Struct
from tidelog.protocol.errors import ErrorCode
from tidelog.protocol.header import RequestHeader


@pytest.fixture
def core(tmp_path: Path) -> Iterator[BrokerCore]:
    broker = BrokerCore(BrokerConfig.load(env={}, overrides={"data_dir": str(tmp_path)}))
    broker.start()
    yield broker
    broker.shutdown()


@pytest.mark.parametrize("refusal", [
    NotControllerError("no active controller"),
    NotControllerError("no answer in 10 s", "REQUEST_TIMED_OUT", 7),
])
@pytest.mark.parametrize("version", [0, 3, 4])
def test_offsets_topic_not_creatable_is_coordinator_not_available(
        core: BrokerCore, monkeypatch: pytest.MonkeyPatch, refusal: NotControllerError,
        version: int) -> None:
    async def refuse() -> None:
        raise refusal
    monkeypatch.setattr(core.groups.store, "ensure_topic", refuse)
    header = RequestHeader(ApiKey.FIND_COORDINATOR, version, 1, "unit")
    req = Struct(key="g", key_type=0, coordinator_keys=["g", "h"])
    resp = asyncio.run(HANDLERS[ApiKey.FIND_COORDINATOR].handle(core, header, req))
    assert resp.error_code == ErrorCode.COORDINATOR_NOT_AVAILABLE
    assert {c.error_code for c in resp.coordinators} == {ErrorCode.COORDINATOR_NOT_AVAILABLE}
    assert resp.node_id == -1
