"""log-access against one logd with an authorizer and a SASL_PLAINTEXT listener (the plain
listen address is User:ANONYMOUS, a super user here, so the program manages access there): a
user made by set-user logs in with tidelog's own client over SCRAM-SHA-512, sees a topic once
an ACL made by allow lets it, not after revoke; quotas set, listed and deleted; JSON lines;
the exit statuses. The installed program runs twice (set-user through a real pipe, users);
the other runs call its main in-process, a second each less on a loaded machine."""

from __future__ import annotations

import importlib
import io
import re
import sys
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import orjson
import pytest
from client_tools_env import run
from logd_harness import Logd

_MODULES = {"log-access": "tidelog.tools.log_access", "log-topics": "tidelog.tools.log_topics"}


@pytest.fixture
def inproc(broker: Logd, capfd: pytest.CaptureFixture[str],
           monkeypatch: pytest.MonkeyPatch) -> Callable[..., SimpleNamespace]:
    """``inproc(prog, *args, stdin=b"", check=0)``: the program's main in this process."""
    monkeypatch.setenv("TIDELOG_BOOTSTRAP", broker.bootstrap)

    def call(prog: str, *args: str, stdin: bytes = b"", check: int = 0) -> SimpleNamespace:
        capfd.readouterr()
        monkeypatch.setattr(sys, "argv", [prog, *args])
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        try:
            importlib.import_module(_MODULES[prog]).main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capfd.readouterr()
        assert code == check, (code, err)
        return SimpleNamespace(stdout=out.encode(), stderr=err.encode())

    return call


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logd]:
    logd = Logd(tmp_path_factory.mktemp("access"), "--listeners",
                "SASL_PLAINTEXT://127.0.0.1:0",
                env={"TIDELOG_AUTHORIZER": "standard",
                     "TIDELOG_SUPER_USERS": "User:ANONYMOUS"}).start()
    try:
        yield logd
        assert logd.stop() == 0, logd.log()
    finally:
        logd.kill()


Run = Callable[..., SimpleNamespace]


def _as_alice(broker: Logd, inproc: Run, password: str, check: int = 0) -> list[str]:
    port = re.search(r"listener SASL_PLAINTEXT \(\w+\) on 127\.0\.0\.1:(\d+)", broker.log())
    assert port
    done = inproc("log-topics", "-b", f"127.0.0.1:{port.group(1)}", "list",
                  "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanism=SCRAM-SHA-512",
                  "-X", "sasl.username=alice", "-X", f"sasl.password={password}",
                  "--timeout", "10", check=check)
    return done.stdout.decode().split()


def test_users_and_acls(broker: Logd, inproc: Run) -> None:
    inproc("log-topics", "create", "secret-t", "other-t")
    run(broker, "log-access", "set-user", "alice", stdin=b"alice-pw\n")
    users = [orjson.loads(line) for line in
             run(broker, "log-access", "users", "--json").stdout.splitlines()]
    assert users == [{"user": "alice", "mechanism": "SCRAM-SHA-512", "iterations": 4096}]
    assert _as_alice(broker, inproc, "alice-pw") == []  # logged in; no ACL: sees nothing
    _as_alice(broker, inproc, "wrong", check=1)
    inproc("log-access", "allow", "--principal", "User:alice", "--operation", "Describe",
           "--topic", "secret-t")
    assert _as_alice(broker, inproc, "alice-pw") == ["secret-t"]
    table = inproc("log-access", "acls", "--topic", "secret-t").stdout.decode()
    assert table.splitlines() == [
        "PRINCIPAL\tHOST\tOPERATION\tPERMISSION\tRESOURCE-TYPE\tRESOURCE\tPATTERN",
        "User:alice\t*\tdescribe\tallow\ttopic\tsecret-t\tliteral"]
    removed = inproc("log-access", "revoke", "--principal", "User:alice", "--json").stdout
    assert [orjson.loads(line)["resource"] for line in removed.splitlines()] == ["secret-t"]
    assert _as_alice(broker, inproc, "alice-pw") == []
    inproc("log-access", "delete-user", "alice")
    _as_alice(broker, inproc, "alice-pw", check=1)
    assert b"no such SCRAM credential" in inproc("log-access", "delete-user", "alice",
                                                  check=5).stderr


def test_quotas(inproc: Run) -> None:
    inproc("log-access", "set-quota", "--user", "bob", "--client-default",
           "--producer-byte-rate", "1048576", "--request-percentage", "50")
    inproc("log-access", "set-quota", "--client-id", "app1", "--consumer-byte-rate", "2048")
    listed = inproc("log-access", "quotas").stdout.decode().splitlines()
    assert listed == ["USER\tCLIENT-ID\tKEY\tVALUE", "-\tapp1\tconsumer_byte_rate\t2048",
                      "bob\t<default>\tproducer_byte_rate\t1048576",
                      "bob\t<default>\trequest_percentage\t50"]
    (doc,) = [orjson.loads(line) for line in inproc(
        "log-access", "quotas", "--user", "bob", "--json").stdout.splitlines()]
    assert doc == {"user": "bob", "client_id": None,
                   "quotas": {"producer_byte_rate": 1048576.0, "request_percentage": 50.0}}
    inproc("log-access", "delete-quota", "--client-id", "app1")
    inproc("log-access", "delete-quota", "--client-id", "app1", check=5)
    inproc("log-access", "set-quota", "--user", "bob", "--consumer-byte-rate", "0", check=2)


def test_usage_errors(inproc: Run) -> None:
    assert b"needs --principal" in inproc("log-access", "allow", "--topic", "t",
                                          check=2).stderr
    assert b"unknown operation" in inproc("log-access", "deny", "--principal", "User:x",
                                          "--operation", "fly", "--topic", "t", check=2).stderr
    assert b"remove every ACL" in inproc("log-access", "revoke", check=2).stderr
    assert b"standard input" in inproc("log-access", "set-user", "carol", check=2).stderr
