"""Fixtures for the compatibility tests: a real ``logd`` per test (the harness of
tests/integration), which tests restart in the middle of their traffic."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))

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
        print(broker.log())  # captured: shown when the test failed


@pytest.fixture(scope="module")
def shared_logd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logd]:
    """One broker for the tests of a module that do not restart it."""
    broker = Logd(tmp_path_factory.mktemp("compat"), env=TEST_BROKER_ENV).start()
    yield broker
    try:
        if broker.running:
            assert broker.stop() == 0, broker.log()
    finally:
        broker.kill()
