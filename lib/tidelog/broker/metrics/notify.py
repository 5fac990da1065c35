"""systemd's readiness protocol (``sd_notify``) without libsystemd.

With ``Type=notify`` systemd passes ``NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract
namespace) and waits for a datagram ``READY=1`` before it counts the service as started;
``STOPPING=1`` says shutdown began and ``STATUS=...`` is shown by ``systemctl status``.
Without the variable every call does nothing. A send that fails is logged once and ignored:
telling systemd is never a reason for a broker to stop.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger("tidelog.broker")


def notify(*fields: str, env: dict[str, str] | None = None) -> bool:
    """Send ``fields`` (``"READY=1"``, ...) to systemd; True when a datagram went out."""
    address = (env if env is not None else os.environ).get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    elif not address.startswith("/"):
        return False  # vsock and other forms are not used by service managers here
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall("\n".join(fields).encode("utf-8"))
    except OSError as exc:
        log.warning("cannot notify systemd on %s: %s", address.replace("\0", "@"), exc)
        return False
    return True
