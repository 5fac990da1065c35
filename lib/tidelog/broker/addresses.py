"""Network addresses in settings: ``HOST:PORT``, IPv6 hosts in brackets (``[::1]:9092``).

A leaf module (the settings and the listener specs both parse addresses with it).
"""

from __future__ import annotations

import dataclasses
import re


@dataclasses.dataclass(frozen=True, slots=True)
class HostPort:
    """A ``HOST:PORT`` address; IPv6 hosts are written in brackets: ``[::1]:9092``."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def is_wildcard(self) -> bool:
        return self.host in ("0.0.0.0", "::")


_HOST_PORT = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^\s:\[\]]+)):(?P<port>\d{1,5})$")


def parse_host_port(text: str) -> HostPort:
    match = _HOST_PORT.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not HOST:PORT")
    port = int(match["port"])
    if port > 65535:
        raise ValueError(f"port {port} is above 65535")
    return HostPort(match["v6"] or match["host"], port)
