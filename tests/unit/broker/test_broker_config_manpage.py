"""man/tidelog.toml.5 documents every setting, with its variable and default, and its example
is a valid config: the page cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tidelog.broker.config import SECTIONS, SETTINGS, BrokerConfig, Setting

MAN = Path(__file__).resolve().parents[3] / "man" / "tidelog.toml.5"


def _text() -> str:
    return MAN.read_text(encoding="utf-8")


def _entry(setting: Setting) -> str:
    """The roff paragraph of ``setting``: from its .BR line to the next .TP/.SS/.SH."""
    text = _text()
    match = re.search(
        rf"^\.BR {setting.name} \"[^\n]*\n(.*?)(?=^\.(?:TP|SS|SH)\b)", text, re.M | re.S
    )
    assert match, f"{setting.name} is not documented in {MAN.name}"
    return match.group(0)


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_documented(setting: Setting) -> None:
    entry = _entry(setting)
    assert f".B {setting.env}" in entry
    if setting.topic_config:
        assert f"({setting.topic_config})" in entry
    if setting.name not in ("data_dir", "advertised_listen"):
        default = setting.default
        shown = str(default).lower() if isinstance(default, bool) else str(default)
        assert f"default {shown}" in entry or f"default \\(dq{shown}\\(dq" in entry, entry
    # It sits under the heading of its own section.
    text = _text()
    heading = f".SS [{setting.section}]" if setting.section else ".SS Top level"
    start = text.index(heading)
    following = [text.find(".SS", start + 1), text.find(".SH", start + 1)]
    end = min(i for i in following if i != -1)
    assert start < text.index(f'.BR {setting.name} "') < end


def test_sections_are_documented() -> None:
    text = _text()
    for section in SECTIONS:
        assert f".SS [{section}]" in text


def test_example_is_a_valid_config(tmp_path: Path) -> None:
    example = re.search(r"^\.EX\n(.*?)^\.EE", _text(), re.M | re.S)
    assert example
    path = tmp_path / "example.toml"
    path.write_text(example.group(1), encoding="utf-8")
    config = BrokerConfig.load(path, {})
    assert str(config.advertised) == "broker1.example.net:9092"
    assert config.num_partitions == 3
