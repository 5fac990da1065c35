"""-X security properties and --command-config, as every client program takes them."""

from __future__ import annotations

from pathlib import Path

import pytest
from tidelog.cli import client_security
from tidelog.cli.client_security import PropertiesError, take


def test_security_properties_are_taken_and_the_rest_left(tmp_path: Path) -> None:
    config = tmp_path / "c.properties"
    config.write_text("! comment\nsecurity.protocol : SASL_SSL\nsasl.mechanism=SCRAM-SHA-256\n"
                      'sasl.jaas.config=x.ScramLoginModule required username="al\\"ice" '
                      'password="p=w";\n')
    rest = take(["-b", "h:1", "-X", "acks=all", "--command-config", str(config),
                 "-Xsasl.password=override", "--", "-X", "security.protocol=SSL"])
    assert rest == ["-b", "h:1", "-X", "acks=all", "--", "-X", "security.protocol=SSL"]
    security = client_security.security()
    assert security is not None
    assert (security.protocol, security.mechanism, security.username, security.password) == (
        "SASL_SSL", "SCRAM-SHA-256", 'al"ice', "override")
    assert take(["list"]) == ["list"]  # the next program run starts from nothing
    assert client_security.security() is None


@pytest.mark.parametrize("args, message", [
    (["-X", "security.protocol=SASL_SSL"], "needs sasl.username"),
    (["-X", "sasl.mechanism=GSSAPI"], "GSSAPI"),
    (["--command-config", "/nonexistent/file"], "--command-config"),
])
def test_unusable_properties(args: list[str], message: str) -> None:
    with pytest.raises(PropertiesError, match=message):
        take(args)


def test_unknown_file_property(tmp_path: Path) -> None:
    config = tmp_path / "c.properties"
    config.write_text("linger.ms=5\n")
    with pytest.raises(PropertiesError, match=r"linger\.ms"):
        take(["--command-config", str(config)])
