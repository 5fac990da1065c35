"""Separate hosts for fault tests: one network namespace per node, joined by a bridge.

Topology (``T`` is a random tag, so parallel runs never share a name; ``S`` a free /24):

    root namespace: bridge  tlT-br  10.213.S.254/24   (the test process and its clients)
                      ports tlT-vI  ── veth ──  eth0 10.213.S.I/24 in namespace tlT-nI

Every address lives on interfaces this harness made (design.md: traffic only to addresses
inside namespaces the test made). Faults act on node ``I``'s link, so they separate it from the
other nodes *and* from the clients:

- :meth:`Network.cut` sets the bridge end of the veth down: the node's end loses its carrier;
- :meth:`Network.blackhole` takes the veth off the bridge: the link stays up and every frame
  vanishes without an error, as with netem ``loss 100%`` (which this works without);
- :meth:`Network.throttle` shapes both directions of the node's link with ``tc tbf`` (a
  token bucket: a slow link whose queue adds delay and, once full, drops packets). tbf, not
  netem's fixed delay: kernels without the netem module (this project's CI machines) have it;
- :meth:`Network.heal` undoes all three.

Cleanup: :meth:`Network.close` deletes the namespaces (which deletes their veth ends, and with
them the pairs) and the bridge; it runs even when creation failed half way, and a failing step
does not stop the others. :func:`unavailable` says why a machine cannot do this (not root, no
``ip``, ``ip netns add`` refused), so a test can skip saying why.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess

#: The third octet is chosen per network among those no interface uses.
PREFIX = "10.213"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if check and out.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {out.stderr.strip()}")
    return out


def unavailable() -> str | None:
    """Why this machine cannot make network namespaces, or None if it can."""
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs as root)"
    if shutil.which("ip") is None or shutil.which("tc") is None:
        return "no ip/tc (apt-get install iproute2)"
    probe = f"tl{secrets.token_hex(3)}-probe"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


def _free_subnet() -> int:
    used = _ip("-o", "addr").stdout
    for _ in range(100):
        octet = 1 + secrets.randbelow(250)
        if f"{PREFIX}.{octet}." not in used:
            return octet
    raise RuntimeError(f"no free {PREFIX}.x.0/24")


class Network:
    """``nodes`` hosts (ids 1..nodes) on one bridge; see the module docstring."""

    def __init__(self, nodes: int) -> None:
        tag = secrets.token_hex(2)
        self.subnet = _free_subnet()
        self.bridge = f"tl{tag}-br"
        self.ids = list(range(1, nodes + 1))
        self._ns = {i: f"tl{tag}-n{i}" for i in self.ids}
        self._port = {i: f"tl{tag}-v{i}" for i in self.ids}
        try:
            self._make()
        except BaseException:
            self.close()
            raise

    def _make(self) -> None:
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{PREFIX}.{self.subnet}.254/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for i in self.ids:
            ns, port = self._ns[i], self._port[i]
            _ip("netns", "add", ns)
            _ip("link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
            _ip("link", "set", port, "master", self.bridge, "up")
            _ip("-n", ns, "addr", "add", f"{self.address(i)}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")

    # -- Hosts (cluster_harness) -----------------------------------------------------------

    def address(self, node_id: int) -> str:
        return f"{PREFIX}.{self.subnet}.{node_id}"

    def prefix(self, node_id: int) -> list[str]:
        # ip netns exec execs the command (no fork): the pid the test signals is logd's
        return ["ip", "netns", "exec", self._ns[node_id]]

    # -- faults ----------------------------------------------------------------------------

    def cut(self, node_id: int) -> None:
        _ip("link", "set", self._port[node_id], "down")

    def blackhole(self, node_id: int) -> None:
        _ip("link", "set", self._port[node_id], "nomaster")

    def throttle(self, node_id: int, kbit: int, queue_ms: int) -> None:
        """Limit the node's link to ``kbit`` kbit/s each way; a packet that would wait in the
        queue longer than ``queue_ms`` is dropped."""
        shape = ["qdisc", "replace", "dev", "DEV", "root", "tbf", "rate", f"{kbit}kbit",
                 "burst", "8kb", "latency", f"{queue_ms}ms"]
        for prefix, dev in ((["-n", self._ns[node_id]], "eth0"), ([], self._port[node_id])):
            subprocess.run(["tc", *prefix, *[dev if a == "DEV" else a for a in shape]],
                           check=True, capture_output=True, timeout=30)

    def heal(self, node_id: int) -> None:
        for prefix, dev in ((["-n", self._ns[node_id]], "eth0"), ([], self._port[node_id])):
            subprocess.run(["tc", *prefix, "qdisc", "del", "dev", dev, "root"],
                           capture_output=True, timeout=30, check=False)
        _ip("link", "set", self._port[node_id], "master", self.bridge, "up")

    # -- cleanup ---------------------------------------------------------------------------

    def close(self) -> None:
        for ns in self._ns.values():
            _ip("netns", "del", ns, check=False)
        for port in self._port.values():  # only left if its namespace was never made
            _ip("link", "del", port, check=False)
        _ip("link", "del", self.bridge, check=False)

    def leftovers(self) -> list[str]:
        """Names of this network's namespaces and links that still exist (none after close)."""
        names = [*self._ns.values(), *self._port.values(), self.bridge]
        listing = _ip("netns", "list").stdout + _ip("-o", "link").stdout
        return [n for n in names if n in listing]
