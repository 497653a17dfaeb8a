"""What the doctor's checks share: sysctl names, the command that edits a backend, the
running containers and bridge networks of a read, the evidence keys of a network."""

from __future__ import annotations

import ipaddress

from netexplorer.correlate import (
    iface_matches,
)
from netexplorer.model import (
    DOCKER_NFT_TABLE,
    Container,
    Endpoint,
    Network,
    Snapshot,
    bridge_key,
)

IP_FORWARD = "net.ipv4.ip_forward"
IP6_FORWARD = "net.ipv6.conf.all.forwarding"
BRIDGE_NF = {
    "ipv4": "net.bridge.bridge-nf-call-iptables",
    "ipv6": "net.bridge.bridge-nf-call-ip6tables",
}
RUNNING = ("running", "paused", "restarting")
RESTRICTIVE = frozenset({"DROP", "REJECT"})


# ------------------------------------------------------------------ helpers
def family_of(cidr: str) -> str | None:
    try:
        return "ipv6" if ipaddress.ip_network(cidr, strict=False).version == 6 else "ipv4"
    except ValueError:
        return None


def nft_family(family: str) -> str:
    """nft's family keyword (``ip``/``ip6``), also its address match's (``ip saddr``)."""
    return "ip6" if family == "ipv6" else "ip"


def nft_table(family: str) -> str:
    """Docker's table in nft's syntax: ``ip docker-bridges``."""
    return f"{nft_family(family)} {DOCKER_NFT_TABLE}"


def iptables_command(backend: str, family: str) -> str:
    """The binary that edits ``backend``/``family``: iptables-nft, ip6tables-legacy ..."""
    tool = "ip6tables" if family == "ipv6" else "iptables"
    return f"{tool}-{backend.removeprefix('iptables-')}"


def running(snap: Snapshot) -> list[Container]:
    return [c for c in snap.containers if c.state in RUNNING]


def bridge_networks(snap: Snapshot) -> list[Network]:
    """Docker bridge networks whose bridge exists on the host."""
    bridges = {b.name for b in snap.bridges}
    return [n for n in snap.networks if n.bridge and n.bridge in bridges]


def running_members(snap: Snapshot, net: Network) -> list[tuple[Container, Endpoint]]:
    """Running containers on ``net`` and their endpoint on it."""
    return [(ct, ep) for ct in running(snap) for ep in ct.endpoints if ep.network_id == net.id]


def net_evidence(snap: Snapshot, net: Network) -> list[str]:
    keys = [net.key]
    if net.bridge:
        keys.append(bridge_key(net.bridge))
    for ct, ep in running_members(snap, net):
        keys += [ct.key, ep.key]
    return keys


def subnets(net: Network, family: str) -> list[str]:
    if family == "ipv6" and not net.enable_ipv6:
        return []
    return [s for s in net.subnets if family_of(s) == family]


def names_interface(pattern: str | None, negated: bool, name: str) -> bool:
    return pattern is not None and not negated and iface_matches(pattern, name)


RESTART = "# or: systemctl restart docker (Docker rewrites its rules)"


def bridge_net_keys(snap: Snapshot, bridge: str) -> list[str]:
    return [k for n in snap.networks if n.bridge == bridge for k in net_evidence(snap, n)]
