"""logd logs one line per event on stderr, tracebacks included."""

from __future__ import annotations

import logging

import pytest
from tidelog.broker.daemon import setup_logging


def test_a_traceback_stays_on_its_events_line(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("info")
        log = logging.getLogger("tidelog.test")
        log.debug("hidden at info")
        try:
            raise ValueError("bad\nvalue")
        except ValueError:
            log.exception("handler failed")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert " ERROR tidelog.test: handler failed | Traceback" in lines[0]
    assert "ValueError: bad | value" in lines[0]
