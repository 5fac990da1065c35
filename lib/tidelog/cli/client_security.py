"""The security properties of the client programs: ``-X KEY=VALUE`` as kcat spells them, and
Kafka's ``--command-config FILE``.

Every client program takes them (:func:`tidelog.cli.app.run_app` takes them off the command
line before the program's own options are parsed, so they mean the same everywhere):
``-X security.protocol=SASL_SSL -X sasl.mechanism=SCRAM-SHA-512 -X sasl.username=alice
-X sasl.password=... -X ssl.ca.location=ca.pem`` (the names of
:data:`tidelog.client.security.PROPERTIES`). ``--command-config FILE`` reads the same
properties from a Java properties file (``key=value`` or ``key: value`` lines, ``#`` and ``!``
comments), where ``sasl.jaas.config`` may carry ``username="..."`` and ``password="..."`` as
Kafka's tools write them. ``-X`` beats the file. Anything else in the file, or a value that
cannot be used, is a usage error (exit 2).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tidelog.client.security import ClientSecurity

_properties: dict[str, str] = {}
_JAAS = re.compile(r'\b(username|password)\s*=\s*"((?:[^"\\]|\\.)*)"')


class PropertiesError(Exception):
    """Client properties that cannot be used (a usage error)."""


def read_properties_file(path: str) -> dict[str, str]:
    from tidelog.client.security import PROPERTIES

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PropertiesError(f"--command-config {path}: {exc.strerror or exc}") from None
    props: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        match = re.match(r"([^=:\s]+)\s*[=:]\s*(.*)$", line)
        if match is None:
            raise PropertiesError(f"{path}:{number}: not KEY=VALUE")
        key, value = match.group(1), match.group(2).strip()
        if key == "sasl.jaas.config":
            for name, found in _JAAS.findall(value):
                props[f"sasl.{name}"] = found.replace('\\"', '"')
            continue
        if key not in PROPERTIES:
            raise PropertiesError(f"{path}:{number}: property {key!r} is not taken (known: "
                                  f"{', '.join(PROPERTIES)}, sasl.jaas.config)")
        props[key] = value
    return props


def take(args: list[str]) -> list[str]:
    """``args`` without the security ``-X`` properties and ``--command-config``, which are
    kept for :func:`security`; raises PropertiesError. Imports the client's security module
    only when such an option is there (start-up stays fast)."""
    _properties.clear()  # one program run per call: nothing carries over
    if not any(a.startswith(("-X", "--command-config")) for a in args):
        return args
    from tidelog.client.security import PROPERTIES, ClientSecurity, SecurityConfigError

    out: list[str] = []
    given: dict[str, str] = {}
    files: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            out += args[i - 1:]
            break
        value = None
        if arg in ("-X", "--command-config") and i < len(args):
            value = args[i]
        elif arg.startswith("--command-config="):
            files.append(arg.split("=", 1)[1])
            continue
        elif arg.startswith("-X") and len(arg) > 2:
            value = arg[2:]
        if arg == "--command-config" and value is not None:
            files.append(value)
            i += 1
            continue
        if value is not None and value.split("=", 1)[0] in PROPERTIES:
            key, _, prop = value.partition("=")
            given[key] = prop
            if arg == "-X":
                i += 1
            continue
        out.append(arg)
    merged: dict[str, str] = {}
    for path in files:
        merged.update(read_properties_file(path))
    merged.update(given)
    try:
        ClientSecurity.from_properties(merged)
    except SecurityConfigError as exc:
        raise PropertiesError(str(exc)) from None
    _properties.update(merged)
    return out


def security() -> ClientSecurity | None:
    """What the command line asked for (None: plain PLAINTEXT connections)."""
    if not _properties:
        return None
    from tidelog.client.security import ClientSecurity

    return ClientSecurity.from_properties(_properties)
