"""Fixtures for the CLI layer tests."""

from __future__ import annotations

import pytest
from cli_capture import Runner, dump_runner


@pytest.fixture
def dump() -> Runner:
    """Run the dump engine in-process: ``dump(files, print_data=True, ...)`` -> Captured."""
    return dump_runner()
