"""Fixtures: a running ``logd`` (clean shutdown checked at the end) and a raw wire client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from logd_harness import TEST_BROKER_ENV, Logd


@pytest.fixture
def logd(tmp_path: Path) -> Iterator[Logd]:
    broker = Logd(tmp_path, env=TEST_BROKER_ENV).start()
    yield broker
    try:
        if broker.running:
            assert broker.stop() == 0, broker.log()
    finally:
        broker.kill()
        print(broker.log())  # captured: pytest shows it when the test failed


@pytest.fixture(scope="module")
def shared_logd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logd]:
    """One broker for a whole module of tests that do not restart it (faster)."""
    broker = Logd(tmp_path_factory.mktemp("shared"), "--num-partitions", "1",
                  env=TEST_BROKER_ENV).start()
    yield broker
    try:
        if broker.running:
            assert broker.stop() == 0, broker.log()
    finally:
        broker.kill()
