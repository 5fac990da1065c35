"""Parse a bootstrap server list: ``host:port[,host:port...]``.

Format: comma-separated entries; ``host`` is a name, an IPv4 address or a bracketed IPv6
address (``[::1]:9092``); the port defaults to 9092 when omitted; blanks around entries are
ignored. Anything else raises :class:`~tidelog.cli.errors.UsageError` (exit status 2) naming
the bad entry.
"""

from __future__ import annotations

from typing import NamedTuple

from tidelog.cli.errors import UsageError

DEFAULT_PORT = 9092


class HostPort(NamedTuple):
    host: str
    port: int


def parse_bootstrap(text: str) -> list[HostPort]:
    """The servers named by ``text``, in order, without duplicates."""
    servers: list[HostPort] = []
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        server = _parse_entry(entry)
        if server not in servers:
            servers.append(server)
    if not servers:
        raise UsageError("no bootstrap server given (use -b HOST:PORT or TIDELOG_BOOTSTRAP)")
    return servers


def _parse_entry(entry: str) -> HostPort:
    if entry.startswith("["):
        host, sep, rest = entry[1:].partition("]")
        if not sep or not host or (rest and not rest.startswith(":")):
            raise UsageError(f"bad bootstrap server {entry!r}: expected [IPv6]:PORT")
        port_text = rest[1:] if rest else ""
    else:
        host, _, port_text = entry.rpartition(":") if ":" in entry else (entry, "", "")
        if ":" in host:
            raise UsageError(f"bad bootstrap server {entry!r}: write IPv6 addresses as [addr]:port")
    if not host or any(ch.isspace() for ch in host):
        raise UsageError(f"bad bootstrap server {entry!r}: empty or blank host")
    if not port_text:
        return HostPort(host, DEFAULT_PORT)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError(f"bad bootstrap server {entry!r}: port must be 1-65535")
    return HostPort(host, int(port_text))
