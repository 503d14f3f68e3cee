"""The lab's network: a bridge on the machine, one namespace and veth pair per host."""

from __future__ import annotations

import ipaddress
import json
import time
from pathlib import Path

from ops.lab.system import LabError, run

PREFIX = "ptflab"  # every link and namespace the lab creates starts with it
BRIDGE = f"{PREFIX}0"
SUBNET = ipaddress.ip_network("10.250.1.0/24")
GATEWAY = "10.250.1.1"
FIRST_HOST = 11
NETNS_DIR = Path("/run/netns")


def host_ip(index: int) -> str:
    """The address of the index-th host (0-based): 10.250.1.11, .12, ..."""
    return str(SUBNET.network_address + FIRST_HOST + index)


def netns_name(host: str) -> str:
    return f"{PREFIX}-{host}"


def veth_name(host: str) -> str:
    """The machine-side end of a host's veth pair (at most 15 characters)."""
    name = f"{PREFIX}-{host}"
    if len(name) > 15:
        raise LabError(f"host name {host!r} too long for a link name")
    return name


def _links() -> list[dict]:
    return json.loads(run(["ip", "-j", "link", "show"]).stdout or "[]")


def check_free() -> None:
    """Stop when the lab's subnet is already used by a link that is not the lab's."""
    for entry in json.loads(run(["ip", "-j", "-4", "addr", "show"]).stdout or "[]"):
        for addr in entry.get("addr_info", []):
            net = ipaddress.ip_interface(f"{addr['local']}/{addr['prefixlen']}").network
            if net.overlaps(SUBNET) and entry["ifname"] != BRIDGE:
                raise LabError(f"{SUBNET} is already in use on {entry['ifname']} "
                               f"({addr['local']}): remove it or stop what uses it")


def create_bridge() -> None:
    """Create the bridge with the machine's lab address (the hosts' apt proxy)."""
    if not any(link["ifname"] == BRIDGE for link in _links()):
        run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    run(["ip", "addr", "replace", f"{GATEWAY}/{SUBNET.prefixlen}", "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"])


def add_host(host: str, ip: str) -> None:
    """A namespace for the host, with eth0 at `ip`, linked to the bridge by a veth pair."""
    ns, veth = netns_name(host), veth_name(host)
    remove_host(host)  # stale leftovers of a crashed lab
    run(["ip", "netns", "add", ns])
    run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns])
    run(["ip", "link", "set", veth, "master", BRIDGE, "up"])
    run(["ip", "-n", ns, "addr", "add", f"{ip}/{SUBNET.prefixlen}", "dev", "eth0"])
    run(["ip", "-n", ns, "link", "set", "lo", "up"])
    run(["ip", "-n", ns, "link", "set", "eth0", "up"])


def remove_host(host: str) -> None:
    """Delete a host's veth (explicitly: namespace deletion is asynchronous) and namespace."""
    veth = veth_name(host)
    if any(link["ifname"] == veth for link in _links()):
        run(["ip", "link", "delete", veth])
    if (NETNS_DIR / netns_name(host)).exists():
        run(["ip", "netns", "delete", netns_name(host)])


def sweep() -> list[str]:
    """Delete every namespace, veth and bridge of the lab, whatever state says; return them."""
    removed = []
    for link in _links():
        name = link["ifname"].split("@")[0]
        if name.startswith(f"{PREFIX}-"):
            run(["ip", "link", "delete", name], check=False)
            removed.append(name)
    if NETNS_DIR.is_dir():
        for ns in sorted(NETNS_DIR.iterdir()):
            if ns.name.startswith(f"{PREFIX}-"):
                run(["ip", "netns", "delete", ns.name], check=False)
                removed.append(f"netns {ns.name}")
    if any(link["ifname"] == BRIDGE for link in _links()):
        run(["ip", "link", "delete", BRIDGE])
        removed.append(BRIDGE)
    _wait_gone()
    return removed


def leftovers() -> list[str]:
    """Namespaces and links of the lab that still exist."""
    found = [link["ifname"] for link in _links() if link["ifname"].startswith(PREFIX)]
    if NETNS_DIR.is_dir():
        found += [f"netns {ns.name}" for ns in NETNS_DIR.iterdir()
                  if ns.name.startswith(f"{PREFIX}-")]
    return found


def _wait_gone(timeout: float = 5) -> None:
    """Wait until the deleted links really disappeared."""
    deadline = time.monotonic() + timeout
    while leftovers() and time.monotonic() < deadline:
        time.sleep(0.1)
